"""Adding a base model from a folder or a GGUF: a good copy is checked and registered, a
bad one is refused with the reason, and nothing half-copied is ever listed."""

from __future__ import annotations

import json
import shutil

import pytest

from conftest import run_cli
from medllm_local.core import model_intake, models
from test_train import tiny, tokenizer_dir  # noqa: F401 (fixtures)


def test_a_good_model_folder_is_checked_and_added_through_the_cli(tmp_path, tiny):  # noqa: F811
    usb = tmp_path / "usb" / "clinic-llama"
    shutil.copytree(tiny, usb)
    (usb / "LICENSE").write_text("Apache-2.0")
    check = model_intake.check_model(usb)
    assert check.ok, check.problems
    assert check.architecture == "LlamaForCausalLM" and check.parameters > 0
    assert check.size_bytes == sum(f.stat().st_size for f in usb.glob("*.safetensors"))
    assert "licence: LICENSE" in check.notes and any("QLoRA training" in n for n in check.notes)
    env = {"MEDLLM_MODELS_DIR": str(tmp_path / "models")}
    out = run_cli("models", "--add", str(usb), "--json", env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    added = json.loads(out.stdout)
    assert added["model"] == "clinic-llama" and (tmp_path / "models" / "clinic-llama" / "config.json").exists()
    listed = json.loads(run_cli("models", "--json", env=env, timeout=300).stdout)["models"]
    assert any(m["name"] == "clinic-llama" and m["kind"] == "hf" for m in listed)
    again = run_cli("models", "--add", str(usb), env=env, timeout=300)
    assert again.returncode != 0 and "already installed" in again.stderr
    assert not list((tmp_path / "models").glob(".adding-*"))


def test_a_bad_copy_is_refused_with_the_reason(tmp_path, tiny, monkeypatch):  # noqa: F811
    monkeypatch.setenv("MEDLLM_MODELS_DIR", str(tmp_path / "models"))
    truncated = tmp_path / "truncated"
    shutil.copytree(tiny, truncated)
    weights = next(truncated.glob("*.safetensors"))
    weights.write_bytes(weights.read_bytes()[:100])
    check = model_intake.check_model(truncated)
    assert any("unreadable (a truncated copy?)" in p for p in check.problems)
    with pytest.raises(models.ModelError, match="was not added: .*truncated copy"):
        model_intake.add_model(truncated)
    assert not (tmp_path / "models" / "truncated").exists()

    base_model = tmp_path / "base-model"
    shutil.copytree(tiny, base_model)
    config = json.loads((base_model / "tokenizer_config.json").read_text())
    config.pop("chat_template", None)
    (base_model / "tokenizer_config.json").write_text(json.dumps(config))
    for template in base_model.glob("chat_template.*"):
        template.unlink()
    assert any("no chat template" in p for p in model_intake.check_model(base_model).problems)

    pickled = tmp_path / "pickled"
    pickled.mkdir()
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json"):
        shutil.copy(tiny / name, pickled / name)
    (pickled / "pytorch_model.bin").write_bytes(b"\x80\x04")
    assert any(".bin weights" in p for p in model_intake.check_model(pickled).problems)
    out = run_cli("models", "--check", str(pickled), timeout=300)
    assert out.returncode != 0 and "problem: only PyTorch .bin weights" in out.stdout


def test_a_gguf_is_checked_by_its_header(tmp_path):
    check = model_intake.check_model(models.embedded_gguf())
    assert check.ok and check.kind == "gguf" and check.architecture == "llama"
    assert 100e6 < check.parameters < 200e6
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(models.embedded_gguf().read_bytes()[:4096])
    assert any("not a readable GGUF" in p for p in model_intake.check_model(broken).problems)
    with pytest.raises(models.ModelError, match="give a model folder"):
        model_intake.check_model(__file__)
