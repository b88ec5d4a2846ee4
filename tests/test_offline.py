"""Offline by construction: the guard really blocks, and the app, a chat answer and the
CLI make zero attempts to reach anything but loopback."""

from __future__ import annotations

import os
import socket
import subprocess

import pytest

from conftest import PYTHON, ROOT, read_guard_log, run_cli
from medllm_local.core import offline


def test_offline_environment_is_set():
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    assert os.environ["TRANSFORMERS_OFFLINE"] == "1"
    assert os.environ["GRADIO_ANALYTICS_ENABLED"] == "False"
    assert os.environ["TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS"] == ""
    assert "127.0.0.1" in os.environ["NO_PROXY"].split(",")


def test_guard_refuses_a_public_address_and_names_the_caller():
    before = len(offline.refused_attempts())
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        with pytest.raises(offline.OfflineViolation) as refused:
            sock.connect(("93.184.216.34", 443))
    assert "93.184.216.34:443" in str(refused.value)
    assert "test_offline.py" in str(refused.value)  # the caller is named
    assert isinstance(refused.value, OSError)  # libraries treat it as a refused connection
    assert len(offline.refused_attempts()) == before + 1


def test_guard_refuses_dns_lookups_of_outside_names_and_udp():
    with pytest.raises(offline.OfflineViolation, match="resolve to huggingface.co"):
        socket.getaddrinfo("huggingface.co", 443)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        with pytest.raises(offline.OfflineViolation, match="sendto to 8.8.8.8:53"):
            sock.sendto(b"x", ("8.8.8.8", 53))
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
        with pytest.raises(offline.OfflineViolation):
            sock.connect_ex(("2606:4700:4700::1111", 443))


@pytest.mark.parametrize("call", [
    lambda: socket.gethostbyname("pypi.org"),
    lambda: socket.gethostbyname_ex("pypi.org"),
    lambda: socket.gethostbyaddr("8.8.4.4"),
    lambda: socket.getnameinfo(("1.1.1.1", 443), 0),
])
def test_guard_refuses_every_kind_of_name_lookup(call):
    with pytest.raises(offline.OfflineViolation):
        call()


def test_guard_refuses_dns_through_a_local_stub_resolver_and_sendmsg():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        with pytest.raises(offline.OfflineViolation, match="127.0.0.53:53"):
            sock.sendto(b"query", ("127.0.0.53", 53))
        with pytest.raises(offline.OfflineViolation, match="9.9.9.9:53"):
            sock.sendmsg([b"query"], [], 0, ("9.9.9.9", 53))


def test_proxy_variables_are_cleared(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:3128")
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:3128")
    offline.apply_offline_env()
    assert "HTTPS_PROXY" not in os.environ and "http_proxy" not in os.environ


def test_guard_lets_loopback_through():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        port = server.getsockname()[1]
        with socket.create_connection(("localhost", port), timeout=5) as client:
            conn, _ = server.accept()
            client.sendall(b"ping")
            assert conn.recv(4) == b"ping"
            conn.close()


@pytest.mark.parametrize("host,local", [
    ("127.0.0.1", True), ("127.8.9.10", True), ("::1", True), ("localhost", True),
    ("::ffff:127.0.0.1", True), ("0.0.0.0", True), ("10.0.0.5", False),
    ("192.168.1.1", False), ("example.org", False), ("8.8.8.8", False),
])
def test_is_local_address(host, local):
    assert offline.is_local_address(host) is local


def test_record_mode_logs_what_a_child_process_tried(tmp_path):
    """The control for the zero-attempt tests below: a child that does try is logged."""
    log = tmp_path / "guard.jsonl"
    code = ("import socket, medllm_local\n"
            "try:\n    socket.create_connection(('198.51.100.7', 80), timeout=2)\n"
            "except OSError as e:\n    print(type(e).__name__)\n")
    out = subprocess.run([PYTHON, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         env={**os.environ, "MEDLLM_SOCKET_GUARD": "record",
                              "MEDLLM_SOCKET_GUARD_LOG": str(log)})
    assert out.stdout.strip() == "OfflineViolation"
    attempts = read_guard_log(log)
    assert len(attempts) == 1 and attempts[0]["target"] == "198.51.100.7:80"


def test_cli_models_and_chat_make_no_outside_connection(tmp_path):
    log = tmp_path / "guard.jsonl"
    env = {"MEDLLM_SOCKET_GUARD": "record", "MEDLLM_SOCKET_GUARD_LOG": str(log)}
    assert run_cli("models", "--json", env=env).returncode == 0
    chat = run_cli("chat", "--prompt", "What is hypertension?", "--max-tokens", "32",
                   "--json", env=env)
    assert chat.returncode == 0, chat.stderr
    assert read_guard_log(log) == []


def test_app_start_and_chat_make_no_outside_connection(app_process):
    """App start-up, the page, and a chat answer through the app's own API."""
    from gradio_client import Client

    import urllib.request

    with urllib.request.urlopen(app_process.url, timeout=30) as page:
        assert b"medllm-local" in page.read()
    client = Client(app_process.url, verbose=False)
    endpoints = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    assert "/chat" in endpoints
    history, _, _, status = client.predict(
        "A 30-year-old has a sore throat and fever. What is the most likely diagnosis?",
        [], None, 3, 64, 0.0, 0.95, 1.1, 0, 2048, api_name="/chat",
    )
    assert history[-1]["role"] == "assistant" and history[-1]["content"]
    assert "stopped:" in status
    assert read_guard_log(app_process.guard_log) == []


@pytest.mark.parametrize("master, bound", [("127.0.0.1", True), ("localhost", True), ("", True),
                                           ("10.1.2.3", False)])
def test_processes_of_one_training_run_talk_over_loopback_only(master, bound):
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items()
           if k not in ("GLOO_SOCKET_IFNAME", "NCCL_SOCKET_IFNAME", "MASTER_ADDR")}
    env.update({"WORLD_SIZE": "2", "RANK": "0"})
    if master:
        env["MASTER_ADDR"] = master
    out = subprocess.run([sys.executable, "-c", "import os, medllm_local; print(os.environ.get("
                          "'GLOO_SOCKET_IFNAME'), os.environ.get('NCCL_SOCKET_IFNAME'))"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == (["lo", "lo"] if bound else ["None", "None"])
