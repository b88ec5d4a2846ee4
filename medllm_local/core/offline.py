"""Offline by construction: environment switches and a loopback-only socket guard.

Imported first by every entry point (``medllm_local/__init__.py`` does it), before any
library that might phone home (huggingface_hub, gradio, presidio's tldextract).

The guard wraps the socket calls that reach other hosts (``connect``, ``connect_ex``,
``sendto``, ``sendmsg``) and the name lookups (``getaddrinfo``, ``gethostbyname[_ex]``,
``gethostbyaddr``, ``getnameinfo``): anything but loopback (or an address the user serves
the app on, see ``allow_host``) raises :class:`OfflineViolation`, an ``OSError`` so
libraries handle it like any refused connection, naming the code that tried. Port 53 is
refused on loopback too: a local DNS stub forwards lookups outside. Proxy variables are
cleared, so no library relays through a local proxy.

Scope: Python sockets of this process, which covers every Python library (urllib3,
requests, httpx, asyncio, ssl). Native code and child processes (llama.cpp, Tesseract,
the GGUF converter) are not covered by it; none of them opens network connections.

Modes, from ``MEDLLM_SOCKET_GUARD``:
- ``on`` (default): refuse non-loopback connections.
- ``record``: refuse them too, and also append each attempt as one JSON line to the file
  named by ``MEDLLM_SOCKET_GUARD_LOG``, so a test can check a child process made none.
- ``off``: no guard. Meant for the installer only (it must reach the package index);
  the app never needs it.
"""

from __future__ import annotations

import ipaddress
import json
import os
import socket
import threading
import traceback
from dataclasses import dataclass

OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_DISABLE_IMPLICIT_TOKEN": "1",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "GRADIO_TELEMETRY_ENABLED": "False",
    "TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS": "",
    "DO_NOT_TRACK": "1",
    "DISABLE_TELEMETRY": "1",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "WANDB_MODE": "disabled",
    "TOKENIZERS_PARALLELISM": "false",
}
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "FTP_PROXY")
LOCAL_NAMES = {"", "localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}


class OfflineViolation(ConnectionRefusedError):
    """Raised when code tries to reach a non-loopback address while the guard is on."""


@dataclass(frozen=True)
class Attempt:
    """One refused network attempt: what was asked for and which code asked."""

    kind: str  # connect / sendto / resolve
    target: str
    caller: str


class _GuardState:
    def __init__(self) -> None:
        self.installed = False
        self.mode = "off"
        self.allowed_hosts: set[str] = set()
        self.attempts: list[Attempt] = []
        self.lock = threading.Lock()
        self.originals: dict[str, object] = {}


_state = _GuardState()


def apply_offline_env() -> None:
    """Set the variables that switch every known library to offline mode."""
    for key, value in OFFLINE_ENV.items():
        os.environ[key] = value
    for key in PROXY_VARIABLES:
        os.environ.pop(key, None)
        os.environ.pop(key.lower(), None)
    no_proxy = {p for p in os.environ.get("NO_PROXY", "").split(",") if p}
    no_proxy |= {"127.0.0.1", "localhost", "::1"}
    os.environ["NO_PROXY"] = os.environ["no_proxy"] = ",".join(sorted(no_proxy))
    bind_distributed_to_loopback()


def bind_distributed_to_loopback() -> None:
    """Under ``accelerate launch`` on one machine (the rendezvous on loopback), the
    processes talk over loopback only: gloo and NCCL otherwise pick the first network
    interface and listen on it. Several machines set MASTER_ADDR to a real address (or
    the interface variables themselves), and then nothing is changed."""
    if os.environ.get("WORLD_SIZE", "1") in ("", "1"):
        return
    master = ip_of(os.environ.get("MASTER_ADDR", "127.0.0.1"))
    if master is None and os.environ.get("MASTER_ADDR", "").lower() != "localhost":
        return
    if master is not None and not master.is_loopback:
        return
    os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")
    os.environ.setdefault("NCCL_SOCKET_IFNAME", "lo")
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")


def ip_of(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The IP address a host string names, read as the operating system reads it, or None
    for a host name. Brackets and an IPv6 zone are dropped; IPv4 also in the forms the C
    library accepts (127.000.000.001, 0177.1, 2130706433), so no spelling slips past."""
    name = host.strip().lower()
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    try:
        ip = ipaddress.ip_address(name.split("%")[0])
    except ValueError:
        try:
            ip = ipaddress.IPv4Address(socket.inet_aton(name))
        except (OSError, ValueError):
            return None
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1, ::ffff:0.0.0.0 is 0.0.0.0
    return ip


def is_loopback_host(host: str) -> bool:
    """True when an app served on ``host`` is reachable from this computer only: a loopback
    address in any spelling, or "localhost". Everything else, the unspecified address and
    host names included (only DNS knows where a name points), is not."""
    ip = ip_of(host)
    if ip is None:
        return host.strip().strip("[]").lower() == "localhost"
    return ip.is_loopback


def is_local_address(host: str) -> bool:
    """True for loopback, the unspecified address (which routes to this host) and names
    of this host that need no DNS."""
    name = host.strip("[]").lower()
    if name in LOCAL_NAMES or name.endswith(".localhost"):
        return True
    ip = ip_of(host)
    return ip is not None and (ip.is_loopback or ip.is_unspecified)


def _allowed(host: str) -> bool:
    return is_local_address(host) or host.strip("[]").lower() in _state.allowed_hosts


def allow_host(host: str) -> None:
    """Allow connections to one more address: the one the user chose to serve the app
    on with ``--host`` (the server checks itself there), and the addresses it names."""
    name = host.strip("[]").lower()
    _state.allowed_hosts.add(name)
    lookup = _state.originals.get("getaddrinfo", socket.getaddrinfo)
    try:
        for info in lookup(name, None):
            _state.allowed_hosts.add(str(info[4][0]).lower())
    except OSError:
        pass  # not resolvable: the server's own bind will say so


def _caller() -> str:
    """The innermost frame outside this module and the socket module: who tried."""
    for frame in reversed(traceback.extract_stack()[:-2]):
        name = frame.filename.replace("\\", "/")
        if not name.endswith(("/offline.py", "/socket.py")):
            return f"{frame.filename}:{frame.lineno} in {frame.name}"
    return "unknown"


def _refuse(kind: str, target: str) -> None:
    attempt = Attempt(kind=kind, target=target, caller=_caller())
    with _state.lock:
        _state.attempts.append(attempt)
        log_path = os.environ.get("MEDLLM_SOCKET_GUARD_LOG")
        if _state.mode == "record" and log_path:
            with open(log_path, "a", encoding="utf-8") as log:
                log.write(json.dumps(attempt.__dict__ | {"pid": os.getpid()}) + "\n")
    raise OfflineViolation(
        f"medllm-local is offline: refused {kind} to {target} (from {attempt.caller})"
    )


def _host_of(address: object) -> str | None:
    if isinstance(address, tuple) and address and isinstance(address[0], str):
        return address[0]
    return None  # AF_UNIX paths and the like are local by nature


def _check(sock: socket.socket, kind: str, address: object) -> None:
    if sock.family not in (socket.AF_INET, socket.AF_INET6):
        return
    host = _host_of(address)
    if host is None:
        return
    port = address[1] if isinstance(address, tuple) and len(address) > 1 else "?"
    if not _allowed(host) or port == 53:
        _refuse(kind, f"{host}:{port}")


def install_guard(mode: str | None = None) -> str:
    """Install the socket guard (idempotent) and return the mode in force."""
    mode = (mode or os.environ.get("MEDLLM_SOCKET_GUARD", "on")).strip().lower()
    if mode not in {"on", "record", "off"}:
        raise ValueError(f"MEDLLM_SOCKET_GUARD must be on, record or off, not {mode!r}")
    _state.mode = mode
    if mode == "off" or _state.installed:
        return mode
    orig = _state.originals
    for name in ("connect", "connect_ex", "sendto", "sendmsg"):
        orig[name] = getattr(socket.socket, name)
    for name in ("getaddrinfo", "gethostbyname", "gethostbyname_ex", "gethostbyaddr", "getnameinfo"):
        orig[name] = getattr(socket, name)

    def connect(self, address):
        if _state.mode != "off":
            _check(self, "connect", address)
        return orig["connect"](self, address)

    def connect_ex(self, address):
        if _state.mode != "off":
            _check(self, "connect", address)
        return orig["connect_ex"](self, address)

    def sendto(self, data, *args):
        if _state.mode != "off" and args:
            _check(self, "sendto", args[-1])
        return orig["sendto"](self, data, *args)

    def sendmsg(self, buffers, *args):
        if _state.mode != "off" and len(args) >= 3 and args[2] is not None:
            _check(self, "sendto", args[2])
        return orig["sendmsg"](self, buffers, *args)

    def lookup(function_name):
        # A DNS lookup of an outside name is itself traffic: refuse it before it leaves.
        def guarded(host, *args, **kwargs):
            if _state.mode != "off":
                name = host[0] if isinstance(host, tuple) else host
                name = name.decode() if isinstance(name, bytes) else name
                if name is not None and not _allowed(str(name)):
                    port = args[0] if args and function_name == "getaddrinfo" else kwargs.get("port")
                    _refuse("resolve", f"{name}:{port}" if port is not None else str(name))
            return orig[function_name](host, *args, **kwargs)

        return guarded

    socket.socket.connect = connect
    socket.socket.connect_ex = connect_ex
    socket.socket.sendto = sendto
    socket.socket.sendmsg = sendmsg
    for name in ("getaddrinfo", "gethostbyname", "gethostbyname_ex", "gethostbyaddr", "getnameinfo"):
        setattr(socket, name, lookup(name))
    _state.installed = True
    return mode


def guard_status() -> dict:
    """What the Settings tab and ``models --json`` show about the guard."""
    return {
        "mode": _state.mode if _state.installed or _state.mode == "off" else "not installed",
        "refused_attempts": len(_state.attempts),
        "allowed_hosts": sorted(_state.allowed_hosts),
        "last_refused": _state.attempts[-1].__dict__ if _state.attempts else None,
    }


def refused_attempts() -> list[Attempt]:
    with _state.lock:
        return list(_state.attempts)


def activate() -> str:
    """Everything an entry point needs: offline variables, then the guard."""
    apply_offline_env()
    return install_guard()
