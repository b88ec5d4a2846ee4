"""Who may talk to the app: the Host-header check and the login throttle.

Both are plain ASGI middleware, handed to Gradio's FastAPI app through
``launch(app_kwargs={"middleware": ...})`` so they sit in front of every route.
"""

from __future__ import annotations

import math
import socket
import time

from medllm_local.core.offline import ip_of

LOOPBACK_NAMES = {"127.0.0.1", "localhost", "[::1]"}


def url_host(host: str) -> str:
    """The host as it appears in a URL and a Host header: an IP address in its usual form
    (IPv6 in brackets), a name in lower case."""
    ip = ip_of(host)
    if ip is None:
        return host.strip().lower()
    return f"[{ip}]" if ip.version == 6 else str(ip)


def allowed_hosts(served_host: str) -> set[str]:
    """Host names a browser may use for this app: loopback and the address it was
    started on; on every interface (0.0.0.0, ::) also this computer's own name."""
    names = LOOPBACK_NAMES | {url_host(served_host)}
    ip = ip_of(served_host)
    if ip is not None and ip.is_unspecified:
        names.add(socket.gethostname().lower())
    return names


def host_allowed(header: str, served_host: str) -> bool:
    """Whether a request's Host header names this app. Refusing other names stops DNS
    rebinding: a web page whose own name was re-pointed at 127.0.0.1 still sends that
    name. A bare IP address cannot be rebound, so on every interface (where the LAN
    address is not known in advance) any IP address is accepted."""
    name = header.strip().lower()
    if name.startswith("["):
        name = name[: name.find("]") + 1]  # "[::1]:7860" -> "[::1]"
    else:
        name = name.rsplit(":", 1)[0]
    if name in allowed_hosts(served_host):
        return True
    served = ip_of(served_host)
    return served is not None and served.is_unspecified and ip_of(name) is not None


async def _plain_response(send, status: int, text: str, headers: dict[str, str] | None = None):
    extra = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"), *extra]})
    await send({"type": "http.response.body", "body": text.encode()})


class HostCheck:
    """Answer 400 to any request whose Host header is not one of ``allowed_hosts``."""

    def __init__(self, app, served_host: str) -> None:
        self.app = app
        self.served_host = served_host

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] in ("http", "websocket"):
            header = dict(scope.get("headers") or []).get(b"host", b"").decode("latin-1")
            if not host_allowed(header, self.served_host):
                if scope["type"] == "websocket":
                    await send({"type": "websocket.close", "code": 1008})
                else:
                    await _plain_response(send, 400, "Invalid host header")
                return
        await self.app(scope, receive, send)


class LoginThrottle:
    """Slow down password guessing, per client address: after the n-th failed login in a
    row the next try is refused (429) for 2**(n-1) seconds, at most ``cap`` seconds. Each
    try reserves its own delay before it is checked, so parallel guesses gain nothing; a
    successful login clears the count."""

    def __init__(self, app, cap: float = 300.0, forget_after: float = 900.0,
                 clock=time.monotonic) -> None:
        self.app = app
        self.cap = cap
        self.forget_after = forget_after
        self.clock = clock
        self.failures: dict[str, tuple[int, float]] = {}  # client -> (failures, not before)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope.get("method") != "POST" \
                or scope.get("path", "").rstrip("/") != "/login":
            await self.app(scope, receive, send)
            return
        client = (scope.get("client") or ("unknown",))[0]
        count, not_before = self.failures.get(client, (0, 0.0))
        wait = not_before - self.clock()
        if wait < -self.forget_after:
            count = 0  # the last failure is long past: a typo today is not part of an attack
        if wait > 0:
            seconds = str(math.ceil(wait))
            await _plain_response(send, 429, f"Too many failed logins: try again in {seconds} s",
                                  {"Retry-After": seconds})
            return
        count += 1
        self.failures[client] = (count, self.clock() + min(self.cap, 2.0 ** (count - 1)))
        status = {}

        async def remember_status(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        await self.app(scope, receive, remember_status)
        if status.get("code") == 200:
            self.failures.pop(client, None)
