"""Shared fixtures. Tests run the real parts: llama.cpp, the embedded model, SQLite,
Gradio and Chromium. Importing medllm_local puts this test process under the socket guard."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import medllm_local  # noqa: F401  (activates offline mode for the whole test session)

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"
PYTHON = sys.executable


@pytest.fixture
def workspace(tmp_path):
    from medllm_local.workspace.store import Workspace

    return Workspace.open(tmp_path / "ws")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run_cli(*args: str, env: dict | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    """Run ``launch.py`` as a user would, inside this venv."""
    return subprocess.run([PYTHON, str(ROOT / "launch.py"), *args], capture_output=True,
                          text=True, timeout=timeout, cwd=ROOT, env={**os.environ, **(env or {})})


def read_guard_log(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def wait_upload(page, selector: str, name: str) -> None:
    """Wait until a Gradio upload box lists the file (it shows a name as two spans, stem
    and extension, whose visible text a line break may part); a busy machine takes a while."""
    page.wait_for_function(
        "([selector, name]) => (document.querySelector(selector)?.textContent || '')"
        ".replace(/\\s+/g, '').includes(name)", arg=[selector, name], timeout=60_000)


def wait_for_http(url: str, timeout: float = 120.0) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


class AppProcess:
    """The app started as ``launch.py --workspace W --port P`` in a child process, with
    the socket guard in record mode so every refused attempt is logged."""

    def __init__(self, tmp_path: Path, extra_args: tuple[str, ...] = ()):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.guard_log = tmp_path / "guard.jsonl"
        self.output = tmp_path / "app.log"
        self.workspace = tmp_path / "ws"
        env = {**os.environ, "MEDLLM_SOCKET_GUARD": "record",
               "MEDLLM_SOCKET_GUARD_LOG": str(self.guard_log)}
        self.process = subprocess.Popen(
            [PYTHON, str(ROOT / "launch.py"), "--workspace", str(self.workspace),
             "--port", str(self.port), *extra_args],
            stdout=self.output.open("w"), stderr=subprocess.STDOUT, cwd=ROOT, env=env,
        )

    def wait(self) -> AppProcess:
        try:
            wait_for_http(self.url)
        except TimeoutError:
            self.stop()
            raise AssertionError("app did not start:\n" + self.output.read_text()[-3000:])
        return self

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()


@pytest.fixture
def app_process(tmp_path):
    app = AppProcess(tmp_path).wait()
    yield app
    app.stop()
