"""Export: merge, convert with llama.cpp's own converter, quantize with its quantizer, and
the checks that run at the end of every export. The fast test uses a tiny random llama
(a model that never learned to stop, so one check must fail); the slow one runs the demo
to a Q4_K_M export of the embedded model and chats with it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from conftest import run_cli
from medllm_local.stages import export
from medllm_local.core import models
from medllm_local.stages.train import trainer as train
from test_train import FAST, tiny, tokenizer_dir, toy_pairs, train_tiny_run  # noqa: F401 (fixtures)


def test_a_failed_check_marks_the_export_failed_and_keeps_its_files(tiny, tmp_path, monkeypatch):  # noqa: F811
    from medllm_local import pipeline

    workspace, run = train_tiny_run(tmp_path, monkeypatch, tiny, max_steps=2)
    report = pipeline.export_run(workspace, run.run, export.ExportSettings(quant="Q8_0"))
    checks = {c.name: c for c in report.checks}
    assert list(checks) == ["loads_with_chat_template", "stops_by_itself", "no_template_markup",
                            "agrees_with_merged_model", "perplexity_within_margin"]
    assert checks["loads_with_chat_template"].passed
    assert checks["agrees_with_merged_model"].passed  # f16 GGUF == merged model, token by token
    assert checks["perplexity_within_margin"].passed
    # random weights never produce an end-of-turn token: the check says so, the export fails
    assert not checks["stops_by_itself"].passed and "256 tokens" in checks["stops_by_itself"].detail
    assert not report.passed and report.registered_as is None
    assert Path(report.gguf).exists() and Path(report.f16_gguf).exists()
    assert pipeline.list_exports(workspace)[0].status == "failed"
    modelfile = Path(report.modelfile).read_text()
    assert modelfile.startswith("FROM ./model-Q8_0.gguf") and "<|im_start|>assistant" in modelfile
    assert 'PARAMETER stop "<|im_end|>"' in modelfile and "clinical judgement" in modelfile
    merged = Path(report.merged)
    generation = json.loads((merged / "generation_config.json").read_text())
    assert 2 in generation["eos_token_id"]  # <|im_end|>, the end of an assistant turn
    cli = run_cli("export", str(run.run), "--quant", "Q8_0", "--workspace", str(tmp_path / "ws"),
                  "--json", env={"MEDLLM_MODELS_DIR": str(tmp_path / "models")})
    assert cli.returncode == 1 and json.loads(cli.stdout)["passed"] is False  # full report, exit 1


def test_k_quant_fallbacks_are_reported(tiny, tmp_path):  # noqa: F811
    """Width 64 is not a multiple of the K-quants' 256-wide blocks: llama.cpp falls back
    to another type for those tensors, and the export says so."""
    trained = train.train(tiny, toy_pairs(4), [], tmp_path / "run", train.TrainSettings(max_steps=1, **FAST))
    merged = export.merge_adapter(tiny, Path(trained.adapter), tmp_path / "merged")
    f16 = export.convert_to_gguf(merged, tmp_path / "m-f16.gguf")
    notes = export.quantize(f16, tmp_path / "m-q4.gguf", "Q4_K_M")
    assert notes and "fallback" in notes[0]
    assert (tmp_path / "m-q4.gguf").stat().st_size < f16.stat().st_size


def test_settings_refuse_an_unknown_quantization():
    with pytest.raises(ValueError, match="Q4_K_M"):
        export.ExportSettings(quant="Q3_XS")
    assert export.ExportSettings(quant="q8_0").quant == "Q8_0"


@pytest.mark.slow
def test_the_whole_demo_trains_exports_evaluates_and_chats(tmp_path):
    """The contract end to end: `demo --until chat --json` (ingest, de-identify, build,
    a few LoRA steps, Q4_K_M export with every check passing, base against fine-tune on
    the test split, an answer from the export), then `chat` on the GGUF by hand."""
    hf = models.ensure_hf_copy()
    models_dir = tmp_path / "models"
    models_dir.mkdir()
    os.symlink(hf, models_dir / hf.name)
    env = {"MEDLLM_MODELS_DIR": str(models_dir)}
    workspace = tmp_path / "ws"
    done = run_cli("demo", "--until", "chat", "--workspace", str(workspace), "--json",
                   env=env, timeout=1500)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert list(report) == ["ingest", "deid", "clean", "build", "train", "export", "eval", "chat"]
    evaluated = report["eval"]
    assert [m["model"] for m in evaluated["models"]] == ["smollm2-135m-instruct", f"run {report['train']['run']}"]
    assert {"top1", "mrr", "exact_match", "rouge_l", "bleu", "perplexity"} <= set(evaluated["metrics"])
    assert {c["metric"] for c in evaluated["comparisons"]} >= {"top1", "exact_match"}
    assert report["chat"]["stop_reason"] == "stop" and report["chat"]["answer"].strip()
    trained = report["train"]
    assert Path(trained["adapter"], "adapter_model.safetensors").exists()
    assert len(trained["losses"]) == trained["steps"] == 6
    assert trained["tokens_per_second"] > 0 and trained["peak_memory_gib"] > 0
    exported = report["export"]
    assert exported["passed"], exported["checks"]
    assert {c["name"] for c in exported["checks"]} >= {"stops_by_itself", "agrees_with_merged_model",
                                                     "perplexity_within_margin"}
    assert exported["gguf"].endswith("model-Q4_K_M.gguf") and exported["fallbacks"]
    listed = json.loads(run_cli("models", "--json", env=env).stdout)["models"]
    # the link is named by workspace and run, so another workspace's run 1 never replaces it
    assert any(m["name"].endswith(f"-run-{trained['run']}-Q4_K_M") and m["path"] for m in listed)
    chat = run_cli("chat", "--model", exported["registered_as"], "--prompt",
                   "Fever, cough and crackles at the right base: most likely diagnosis?", "--json", env=env)
    assert chat.returncode == 0, chat.stderr[-2000:]
    answer = json.loads(chat.stdout)
    assert answer["stop_reason"] == "stop" and answer["answer"].strip()
    runs = json.loads(run_cli("train", "--list", "--workspace", str(workspace), "--json", env=env).stdout)["runs"]
    assert runs[0]["run"] == trained["run"] and runs[0]["status"] == "done"


def test_adapter_only_export_applies_the_lora_gguf_on_the_base_gguf(tiny, tmp_path, monkeypatch):  # noqa: F811
    """No merge: the base f16 GGUF (made once) plus the adapter as a LoRA GGUF, which
    llama.cpp applies at load and which must agree with base + adapter in peft."""
    from medllm_local import pipeline

    workspace, run = train_tiny_run(tmp_path, monkeypatch, tiny, max_steps=3)
    report = pipeline.export_run(workspace, run.run, export.ExportSettings(adapter_only=True))
    checks = {c.name: c for c in report.checks}
    assert checks["agrees_with_adapter_model"].passed, checks["agrees_with_adapter_model"]
    assert checks["loads_with_chat_template"].passed
    assert report.lora.endswith("adapter-f16.gguf") and Path(report.lora).exists()
    assert Path(report.gguf).name == "base-tiny-llama-f16.gguf"
    assert "ADAPTER ./adapter-f16.gguf" in Path(report.modelfile).read_text()
    assert pipeline.list_exports(workspace)[0].quant == "LoRA"
    # and the LoRA GGUF is really applied: without it, llama.cpp disagrees with base + adapter
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny)
    texts = [tokenizer.apply_chat_template(m, tokenize=False) for m in toy_pairs(4)]
    without = export.check_agreement(export._hf(tiny, Path(run.adapter)), tokenizer,
                                     Path(report.gguf), texts, 0.99)
    assert not without.passed, without.detail
