"""The installer's own logic: the up-to-date check, where it finds a built llama.cpp
wheel, the converter it takes from the runtime's sdist, and its system-package advice."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from installer import install


def test_stamp_decides_whether_anything_is_installed(tmp_path, monkeypatch):
    monkeypatch.setattr(install, "STAMP", tmp_path / "stamp.json")
    assert not install.is_installed()
    install.STAMP.write_text(json.dumps({"fingerprint": install.install_fingerprint(), "dev": False}))
    assert install.is_installed()
    assert not install.is_installed(dev=True)  # the test extras were not installed
    install.STAMP.write_text(json.dumps({"fingerprint": "an older pyproject", "dev": True}))
    assert not install.is_installed()


def test_this_checkout_is_installed_with_the_dev_extra():
    assert install.is_installed(dev=True)


def test_a_given_wheel_folder_comes_before_the_cache(tmp_path, monkeypatch):
    given = tmp_path / "wheels"
    given.mkdir()
    wheel = given / f"llama_cpp_python-{install.LLAMA_VERSION}-py3-none-linux_x86_64.whl"
    wheel.write_bytes(b"")
    monkeypatch.setenv("PIP_FIND_LINKS", "")
    assert install.find_llama_wheel([given], "cpu") == wheel
    monkeypatch.setattr(install, "CACHE", tmp_path / "empty-cache")
    assert install.find_llama_wheel([], "cpu") is None


def test_missing_system_package_gets_one_apt_command(monkeypatch, capsys):
    monkeypatch.setattr(install.shutil, "which", lambda name: None)
    missing = install.check_system_packages(dev=False)
    assert missing == ["tesseract-ocr", "tesseract-ocr-eng"]
    out = capsys.readouterr().out
    assert "sudo apt-get install -y --no-install-recommends tesseract-ocr tesseract-ocr-eng" in out


def test_converter_comes_from_the_pinned_sdist(tmp_path, monkeypatch):
    monkeypatch.setattr(install, "TOOLS", tmp_path / "tools" / "llama.cpp")
    install.extract_converter([])
    tools = install.TOOLS
    assert (tools / "VERSION").read_text().strip() == install.LLAMA_VERSION
    assert sorted(p.name for p in tools.iterdir()) == sorted([*install.CONVERTER_FILES, "VERSION"])
    assert (tools / "gguf-py" / "gguf" / "__init__.py").exists()
    assert (tools / "conversion" / "__init__.py").exists()
    out = subprocess.run(
        [os.sys.executable, str(tools / "convert_hf_to_gguf.py"), "--help"],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(tools / "gguf-py"), "HF_HUB_OFFLINE": "1"})
    assert out.returncode == 0, out.stderr[-2000:]
    assert "--outtype" in out.stdout


@pytest.mark.slow
def test_converter_turns_the_embedded_model_into_a_gguf_llama_cpp_loads(tmp_path):
    """The runtime's own converter, offline, on the HF copy of the embedded model."""
    import llama_cpp

    from medllm_local.core import models

    hf = models.ensure_hf_copy(tmp_path / "models")
    tools = install.TOOLS
    out_file = tmp_path / "smol-f16.gguf"
    command = [os.sys.executable, str(tools / "convert_hf_to_gguf.py"), str(hf),
               "--outtype", "f16", "--outfile", str(out_file)]
    if shutil.which("unshare") and os.geteuid() == 0:
        command = ["unshare", "--net", *command]  # no network at all: offline for certain
    result = subprocess.run(command, capture_output=True, text=True, timeout=600,
                            env={**os.environ, "PYTHONPATH": str(tools / "gguf-py"),
                                 "HF_HUB_OFFLINE": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    llm = llama_cpp.Llama(model_path=str(out_file), n_ctx=256, verbose=False)
    try:
        assert "<|im_start|>" in llm.metadata["tokenizer.chat_template"]
        reply = llm.create_chat_completion(
            [{"role": "user", "content": "What is the capital of France?"}],
            max_tokens=32, temperature=0.0)
        assert "Paris" in reply["choices"][0]["message"]["content"]
    finally:
        llm.close()


def test_a_long_build_shows_what_it_does_and_keeps_its_log(tmp_path, capsys):
    """The llama.cpp build's status line: CMake's progress and the time so far, read
    from the build's own output; on failure, the log's tail and where the log is."""
    script = ("import time\n"
              "for p, f in ((10, 'ggml.c'), (55, 'llama.cpp'), (100, 'libllama.so')):\n"
              "    print(f'[{p:3d}%] Building CXX object vendor/llama.cpp/src/CMakeFiles/{f}.o', flush=True)\n"
              "    time.sleep(0.05)\n")
    log = tmp_path / "build.log"
    install.run_with_progress([sys.executable, "-c", script], "2/6", "compiling llama.cpp", log, every=0)
    shown = capsys.readouterr().out
    assert "[install 2/6] compiling llama.cpp: 55% llama.cpp.o, 0 min 00 s so far" in shown
    assert "[100%] Building CXX object" in log.read_text()
    with pytest.raises(install.InstallError, match=f"failed \\(exit 3\\); the whole output is in {log}"):
        install.run_with_progress([sys.executable, "-c", "print('error: no compiler'); raise SystemExit(3)"],
                                  "2/6", "compiling llama.cpp", log)
    assert "error: no compiler" in capsys.readouterr().err
