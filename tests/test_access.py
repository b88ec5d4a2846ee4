"""Who can reach the app: 127.0.0.1 by default; another address only with a password,
which Gradio's login then asks for on every route and API call; never a share link."""

from __future__ import annotations

import ast
import json
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from conftest import ROOT, AppProcess, read_guard_log, run_cli

PASSWORD = "correct horse battery staple"


def status_of(url: str, data: bytes | None = None) -> int:
    try:
        with urllib.request.urlopen(url, data=data, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10"])
def test_serving_beyond_loopback_without_a_password_is_refused(host):
    out = run_cli("--host", host, "--port", "7998", env={"MEDLLM_PASSWORD": ""})
    assert out.returncode == 1
    assert "set a password" in out.stderr and host in out.stderr
    assert "serving" not in out.stdout  # refused before anything was opened


def test_with_a_password_every_route_needs_the_login(tmp_path, monkeypatch):
    from gradio_client import Client

    monkeypatch.delenv("MEDLLM_PASSWORD", raising=False)
    app = AppProcess(tmp_path, ("--host", "0.0.0.0", "--password", PASSWORD))
    try:
        app.wait()  # "/" answers 200 with the login page
        assert status_of(app.url + "/config") == 401
        assert status_of(app.url + "/gradio_api/info") == 401
        wrong = urllib.parse.urlencode({"username": "doctor", "password": "guess"}).encode()
        assert status_of(app.url + "/login", wrong) == 400
        with pytest.raises(Exception):
            Client(app.url, verbose=False)
        with pytest.raises(Exception):
            Client(app.url, auth=("doctor", "guess"), verbose=False)
        client = Client(app.url, auth=("doctor", PASSWORD), verbose=False)
        saved = client.predict("Dr Quayle", "", api_name="/settings_save_lists")
        assert saved.startswith("Saved")
        served = json.loads(app.output.read_text().splitlines()[0])
        assert served["serving"].startswith("http://0.0.0.0:")
    finally:
        app.stop()
    assert read_guard_log(app.guard_log) == []
    from medllm_local.workspace import Workspace

    assert Workspace.open(app.workspace).load_settings()["deny_list"] == "Dr Quayle"


def test_no_share_link_is_ever_asked_for():
    """Every Gradio launch in the package passes share=False, written as a constant."""
    launches = []
    for path in sorted((ROOT / "medllm_local").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "launch":
                share = {k.arg: k.value for k in node.keywords}.get("share")
                launches.append((path.name, isinstance(share, ast.Constant) and share.value is False))
    assert launches and all(ok for _, ok in launches), launches
    assert "share=True" not in "".join(p.read_text() for p in (ROOT / "medllm_local").rglob("*.py"))
    assert "share=True" not in Path(ROOT / "launch.py").read_text()
