"""Who can reach the app: 127.0.0.1 by default; another address only with a password,
which Gradio's login then asks for on every route and API call; never a share link.
Requests naming a host the app was not started on are refused (DNS rebinding), failed
logins slow the next try, and https is one option away."""

from __future__ import annotations

import ast
import asyncio
import datetime
import json
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from email.message import Message
from pathlib import Path

import pytest

from conftest import ROOT, AppProcess, read_guard_log, run_cli
from medllm_local.core.offline import is_loopback_host
from medllm_local.ui.access import LoginThrottle, host_allowed

PASSWORD = "correct horse battery staple"


def status_of(url: str, data: bytes | None = None, host: str | None = None) -> int:
    return response_of(url, data, host)[0]


def response_of(url: str, data: bytes | None = None, host: str | None = None,
                context: ssl.SSLContext | None = None) -> tuple[int, Message, bytes]:
    """Status, headers and body; ``host`` replaces the Host header, as a rebound page would."""
    request = urllib.request.Request(url, data=data, headers={"Host": host} if host else {})
    try:
        with urllib.request.urlopen(request, timeout=10, context=context) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


@pytest.mark.parametrize("host, loopback", [
    ("127.0.0.1", True), ("localhost", True), ("LocalHost", True), ("127.0.0.2", True),
    ("::1", True), ("[::1]", True), ("0:0:0:0:0:0:0:1", True), ("[0000::0001]", True),
    ("127.000.000.001", True), ("0177.0.0.1", True), ("127.1", True), ("2130706433", True),
    ("::ffff:127.0.0.1", True), ("[::ffff:127.0.0.1]", True),
    ("0.0.0.0", False), ("000.000.000.000", False), ("0", False), ("::", False),
    ("[::]", False), ("0000::", False), ("[0:0:0:0:0:0:0:0]", False),
    ("::ffff:0.0.0.0", False), ("::127.0.0.1", False), ("010.0.0.1", False),
    ("192.0.2.10", False), ("fe80::1%eth0", False), ("workstation.lan", False),
    ("localhost.evil.example", False), ("", False),
])
def test_only_loopback_in_any_spelling_counts_as_loopback(host, loopback):
    """The operating system reads 127.000.000.001 and 0177.1 as 127.0.0.1 but 010.0.0.1 as
    8.0.0.1; a host name could point anywhere, so only "localhost" is trusted."""
    assert is_loopback_host(host) is loopback


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10", "[::]", "0000::",
                                  "::ffff:0.0.0.0", "workstation.lan"])
def test_serving_beyond_loopback_without_a_password_is_refused(host):
    # A short timeout: a spelling that slipped through would start serving and hang here.
    out = run_cli("--host", host, "--port", "7998", env={"MEDLLM_PASSWORD": ""}, timeout=120)
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
        # On every interface the LAN address is not known in advance: IP literals pass
        # (they cannot be rebound), foreign names do not.
        assert status_of(app.url + "/config", host=f"192.0.2.10:{app.port}") == 401
        assert status_of(app.url + "/config", host=f"evil.example:{app.port}") == 400
        wrong = urllib.parse.urlencode({"username": "medllm", "password": "guess"}).encode()
        assert status_of(app.url + "/login", wrong) == 400
        # The next try, even a right one, waits: the server answers 429 until then.
        right = urllib.parse.urlencode({"username": "medllm", "password": PASSWORD}).encode()
        status, headers, _ = response_of(app.url + "/login", right)
        assert status == 429 and int(headers["Retry-After"]) >= 1
        time.sleep(int(headers["Retry-After"]))
        # The user name must match too (default "medllm").
        wrong_user = urllib.parse.urlencode({"username": "doctor", "password": PASSWORD}).encode()
        assert status_of(app.url + "/login", wrong_user) == 400
        status, headers, _ = response_of(app.url + "/login", right)
        assert status == 429 and headers["Retry-After"] == "2"  # the wait doubled
        with pytest.raises(Exception):
            Client(app.url, verbose=False)
        time.sleep(int(headers["Retry-After"]))
        client = Client(app.url, auth=("medllm", PASSWORD), verbose=False)
        saved = client.predict("Dr Quayle", "", api_name="/settings_save_lists")
        assert saved.startswith("Saved")
        served = json.loads(app.output.read_text().splitlines()[0])
        assert served["serving"].startswith("http://0.0.0.0:")
    finally:
        app.stop()
    assert read_guard_log(app.guard_log) == []
    from medllm_local.workspace.store import Workspace

    assert Workspace.open(app.workspace).load_settings()["deny_list"] == "Dr Quayle"


@pytest.mark.parametrize("header, served, allowed", [
    ("127.0.0.1:7860", "127.0.0.1", True), ("127.0.0.1", "127.0.0.1", True),
    ("localhost:7860", "127.0.0.1", True), ("LOCALHOST", "127.0.0.1", True),
    ("[::1]:7860", "127.0.0.1", True), ("[::1]", "::1", True),
    ("evil.example:7860", "127.0.0.1", False), ("evil.example", "127.0.0.1", False),
    ("localhost.evil.example:7860", "127.0.0.1", False), ("127.0.0.1.nip.io", "127.0.0.1", False),
    ("", "127.0.0.1", False), ("10.0.0.5:7860", "127.0.0.1", False),
    ("workstation.lan:7860", "workstation.lan", True), ("evil.example", "workstation.lan", False),
    ("192.0.2.10:7860", "192.0.2.10", True), ("[fe80::1]:7860", "0.0.0.0", True),
    ("10.0.0.5:7860", "::", True), ("[::]:7860", "[::]", True), ("evil.example", "0.0.0.0", False),
])
def test_host_header_names_only_this_app(header, served, allowed):
    assert host_allowed(header, served) is allowed


def test_a_foreign_host_header_is_refused(app_process):
    """DNS rebinding: a page whose name now points at 127.0.0.1 still sends its own name."""
    port = app_process.port
    for host in (f"evil.example:{port}", "evil.example", f"localhost.evil.example:{port}"):
        for path in ("/", "/config", "/gradio_api/info"):
            assert status_of(app_process.url + path, host=host) == 400, (host, path)
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", "localhost", f"[::1]:{port}"):
        assert status_of(app_process.url + "/config", host=host) == 200, host
    assert read_guard_log(app_process.guard_log) == []


class FakeLogin:
    """Stands in for Gradio's /login: answers the statuses it is given, one per call;
    ``gate`` holds a call open so a parallel one can be tried meanwhile."""

    def __init__(self, statuses):
        self.statuses = list(statuses)
        self.calls = 0
        self.gate: asyncio.Event | None = None

    async def __call__(self, scope, receive, send):
        self.calls += 1
        if self.gate is not None:
            await self.gate.wait()
        await send({"type": "http.response.start", "status": self.statuses.pop(0), "headers": []})
        await send({"type": "http.response.body", "body": b""})


def test_failed_logins_make_the_next_try_wait_longer():
    now = [1000.0]
    login = FakeLogin([400, 400, 400, 200, 400])
    throttle = LoginThrottle(login, cap=300, clock=lambda: now[0])

    async def post(client="10.0.0.7", path="/login"):
        sent = []

        async def send(message):
            sent.append(message)

        scope = {"type": "http", "method": "POST", "path": path, "client": (client, 5000)}
        await throttle(scope, None, send)
        return sent[0]["status"], dict(sent[0]["headers"])

    async def scenario():
        assert (await post())[0] == 400
        status, headers = await post()  # at once: refused, Gradio is not even asked
        assert status == 429 and headers[b"retry-after"] == b"1" and login.calls == 1
        assert (await post(client="10.0.0.8"))[0] == 400  # per client address
        now[0] += 1
        assert (await post())[0] == 400
        now[0] += 1.5
        assert (await post())[0] == 429  # two failures: two seconds
        now[0] += 0.5
        login.gate = asyncio.Event()
        first = asyncio.ensure_future(post())  # a try in flight has reserved the next wait
        await asyncio.sleep(0)
        assert (await post())[0] == 429
        login.gate.set()
        assert (await first)[0] == 200  # success clears the count
        login.gate = None
        assert (await post())[0] == 400  # so the next failure waits 1 s again
        now[0] += 1
        status, _ = await post()
        assert status != 429

    login.statuses.append(200)
    asyncio.run(scenario())


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost, made with the cryptography package."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "medllm-local test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([
                x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
                critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    certfile, keyfile = folder / "cert.pem", folder / "key.pem"
    certfile.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    keyfile.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    keyfile.chmod(0o600)
    return certfile, keyfile


def test_tls_serves_https_with_the_given_certificate(tmp_path):
    certfile, keyfile = self_signed_certificate(tmp_path)
    trusting = ssl.create_default_context(cafile=str(certfile))
    app = AppProcess(tmp_path, ("--ssl-certfile", str(certfile), "--ssl-keyfile", str(keyfile)))
    url = f"https://127.0.0.1:{app.port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                status = response_of(url + "/config", context=trusting)[0]
                break
            except OSError:
                assert app.process.poll() is None, app.output.read_text()[-3000:]
                assert time.monotonic() < deadline, app.output.read_text()[-3000:]
                time.sleep(0.5)
        assert status == 200
        with pytest.raises(OSError):  # the certificate is not trusted by default
            response_of(url + "/config", context=ssl.create_default_context())
        with pytest.raises(OSError):  # and plain http is not served
            response_of(f"http://127.0.0.1:{app.port}/config")
        served = json.loads(app.output.read_text().splitlines()[0])
        assert served["serving"] == url
    finally:
        app.stop()
    assert read_guard_log(app.guard_log) == []


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
