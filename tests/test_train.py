"""Training: LoRA on CPU through the same code path as QLoRA on CUDA.

The fast tests train a tiny random llama with SmolLM2's real tokenizer and chat
template (the same architecture as an 8B llama, 2 layers of width 64); the slow test
runs the whole pipeline on the embedded model. The CUDA choices are checked here as
configuration; bench/train_gpu.py runs them on a GPU.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import ROOT, run_cli
from support import tiny_models
from medllm_local.core import models
from medllm_local.stages.train import trainer as train

ANSWERS = ("Community-acquired pneumonia", "Acute bronchitis")


@pytest.fixture(scope="session")
def tokenizer_dir(tmp_path_factory) -> Path:
    """SmolLM2's tokenizer and chat template, read from the embedded GGUF (seconds)."""
    from transformers import AutoTokenizer

    gguf = models.embedded_gguf()
    folder = tmp_path_factory.mktemp("smollm2-tokenizer")
    AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name).save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny(tmp_path_factory, tokenizer_dir) -> Path:
    return tiny_models.tiny_model(tmp_path_factory.mktemp("tiny-llama"), tokenizer_dir)


def toy_pairs(count: int = 12) -> list[list[dict]]:
    from medllm_local.core.prompts import case_prompt, chat_messages

    pairs = []
    for i in range(count):
        report = f"Fever and productive cough for {i + 2} days; crackles at the right base."
        messages = chat_messages(case_prompt("diagnosis", report, phrasing=i))
        pairs.append(messages + [{"role": "assistant", "content": ANSWERS[i % 2]}])
    return pairs


FAST = dict(learning_rate=2e-2, batch_size=4, grad_accum=1, max_length=256, warmup_ratio=0.0,
            save_every=2, eval_every=2)


def completion_loss(model, tokenizer, pairs) -> float:
    """Mean loss of the answers given the prompts, as a user of the model would see it."""
    import torch

    losses = []
    for messages in pairs:
        prompt = tokenizer.apply_chat_template(messages[:-1], add_generation_prompt=True,
                                               return_dict=True)["input_ids"]
        full = tokenizer.apply_chat_template(messages, return_dict=True)["input_ids"]
        labels = [-100] * len(prompt) + full[len(prompt):]
        with torch.no_grad():
            out = model(input_ids=torch.tensor([full]), labels=torch.tensor([labels]))
        losses.append(out.loss.item())
    return sum(losses) / len(losses)


def load(base: Path, adapter: Path | None = None):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(base)
    model = PeftModel.from_pretrained(model, adapter) if adapter else model
    return model.eval()


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_lora_lowers_the_loss_on_its_pairs_and_changes_only_lora_weights(tiny, tmp_path):
    from safetensors import safe_open
    from transformers import AutoTokenizer

    pairs = toy_pairs()
    weights_before = digest(tiny / "model.safetensors")
    tokenizer = AutoTokenizer.from_pretrained(tiny)
    before = completion_loss(load(tiny), tokenizer, pairs)
    result = train.train(tiny, pairs, [], tmp_path / "run", train.TrainSettings(max_steps=12, **FAST))
    after = completion_loss(load(tiny, Path(result.adapter)), tokenizer, pairs)
    assert result.steps == 12 and len(result.losses) == 12 and result.device == "cpu"
    assert after < before * 0.7, (before, after)
    assert digest(tiny / "model.safetensors") == weights_before  # the base is never written
    with safe_open(Path(result.adapter) / "adapter_model.safetensors", "pt") as saved:
        names = list(saved.keys())
        assert names and all("lora_A" in n or "lora_B" in n for n in names)
        # LoRA's B starts at zero: non-zero B means those weights, and only those, moved.
        assert all(saved.get_tensor(n).abs().sum() > 0 for n in names if "lora_B" in n)
    modules = {n.split(".lora_")[0].rsplit(".", 1)[-1] for n in names}
    assert modules == {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}
    assert result.tokens > 0 and result.tokens_per_second > 0
    rows = [json.loads(line) for line in (tmp_path / "run" / train.METRICS_FILE).read_text().splitlines()]
    assert [r["step"] for r in rows if "loss" in r] == list(range(1, 13))
    assert all({"learning_rate", "tokens_per_second", "memory_gib", "eta_seconds"} <= set(r)
               for r in rows if "loss" in r)


def test_a_short_run_trains_from_its_first_step(tiny, tmp_path):
    """The default warm-up (5 % of steps) rounds down: a 2-step run has none, so its
    first step does not train at a learning rate of 0."""
    settings = train.TrainSettings(max_steps=2, **(FAST | {"warmup_ratio": 0.05}))
    train.train(tiny, toy_pairs(), [], tmp_path / "run", settings)
    rows = [json.loads(line) for line in (tmp_path / "run" / train.METRICS_FILE).read_text().splitlines()]
    rates = [r["learning_rate"] for r in rows if "loss" in r]
    assert len(rates) == 2 and rates[0] == pytest.approx(2e-2)


def test_the_answer_only_loss_equals_the_models_own(tiny, tmp_path):
    """On the CPU the loss takes logits of the trained tokens only: the same loss and
    the same gradients as the model's full-vocabulary loss on the same batch."""
    import torch
    from transformers import Trainer

    settings = train.TrainSettings(max_steps=1, **FAST)
    plan, _, _ = train.prepare(tiny, settings)
    trainer = train.build_trainer(tiny, toy_pairs(4), [], tmp_path, settings, plan)
    batch = next(iter(trainer.get_train_dataloader()))
    count = (batch["labels"][:, 1:] != -100).sum()
    trainer.model.eval()  # no LoRA dropout: both passes see the same network
    results = []
    for loss_of in (lambda: trainer.compute_loss(trainer.model, batch, num_items_in_batch=count),
                    lambda: Trainer.compute_loss(trainer, trainer.model, batch, num_items_in_batch=count)):
        trainer.model.zero_grad()
        loss = loss_of()
        loss.backward()
        grads = [p.grad.clone() for p in trainer.model.parameters() if p.requires_grad]
        results.append((loss.item(), grads))
    (ours, our_grads), (stock, stock_grads) = results
    assert ours == pytest.approx(stock, rel=1e-5)
    assert all(torch.allclose(a, b, rtol=1e-4, atol=1e-6) for a, b in zip(our_grads, stock_grads))


def test_only_the_answer_and_its_end_of_turn_carry_loss(tiny, tmp_path):
    pairs = toy_pairs(4)
    rows = train.preview_batch(tiny, pairs, train.TrainSettings(max_steps=1, **FAST), tmp_path)
    assert len(rows) == 4
    for row in rows:
        trained = row["trained_text"]
        assert trained.replace("<|im_end|>", "").strip() in ANSWERS
        assert trained.rstrip().endswith("<|im_end|>")  # it learns to stop
        assert "Report:" in row["text"] and "Report:" not in trained
        masked = [i for i, label in enumerate(row["labels"]) if label == -100]
        assert len(masked) > len(row["labels"]) // 2  # the prompt is the longer part


def test_adapter_reloads_to_identical_outputs(tiny, tmp_path):
    import torch
    from transformers import AutoTokenizer

    result = train.train(tiny, toy_pairs(), [], tmp_path / "run", train.TrainSettings(max_steps=3, **FAST))
    ids = AutoTokenizer.from_pretrained(tiny)("Fever and cough", return_tensors="pt")["input_ids"]
    with torch.no_grad():
        first = load(tiny, Path(result.adapter))(ids).logits
        second = load(tiny, Path(result.adapter))(ids).logits
        base = load(tiny)(ids).logits
    assert torch.equal(first, second)
    assert not torch.allclose(first, base)


def test_stop_checkpoints_and_resume_runs_to_the_end(tiny, tmp_path):
    stop = threading.Event()

    def sink(row):
        if row.get("step", 0) >= 3:
            stop.set()

    settings = train.TrainSettings(max_steps=8, **FAST)
    first = train.train(tiny, toy_pairs(), toy_pairs(4), tmp_path / "run", settings, sink=sink, stop=stop)
    assert first.stopped and first.steps == 3
    assert train.last_checkpoint(tmp_path / "run").name == "checkpoint-3"
    resumed = train.train(tiny, toy_pairs(), toy_pairs(4), tmp_path / "run", settings, resume=True)
    assert not resumed.stopped and resumed.steps == 8
    assert resumed.eval_losses and resumed.best_checkpoint


CHILD = """
import sys
from pathlib import Path
sys.path.insert(0, {root!r}); sys.path.insert(0, {tests!r})
from test_train import toy_pairs, FAST
from medllm_local.stages.train import trainer as train
settings = train.TrainSettings(max_steps=10, **(FAST | dict(save_every=2)))
train.train(Path({tiny!r}), toy_pairs(), [], Path({out!r}), settings, resume={resume})
"""


def run_child(tiny: Path, out: Path, resume: bool) -> subprocess.Popen:
    code = CHILD.format(root=str(ROOT), tests=str(ROOT / "tests"), tiny=str(tiny), out=str(out),
                        resume=resume)
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=os.environ | {"OMP_NUM_THREADS": "1"})


def metrics(out: Path) -> list[dict]:
    path = out / train.METRICS_FILE
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_sigkill_mid_run_then_resume_matches_an_uninterrupted_run(tiny, tmp_path):
    clean = tmp_path / "clean"
    assert run_child(tiny, clean, resume=False).wait(timeout=600) == 0
    killed = tmp_path / "killed"
    child = run_child(tiny, killed, resume=False)
    deadline = time.monotonic() + 600
    while not any(r.get("step", 0) >= 5 for r in metrics(killed)):
        assert child.poll() is None and time.monotonic() < deadline, "child ended before step 5"
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert not (killed / train.ADAPTER_FOLDER).exists()
    resumed_from = train.last_checkpoint(killed)
    assert resumed_from is not None and int(resumed_from.name.split("-")[1]) < 10
    assert run_child(tiny, killed, resume=True).wait(timeout=600) == 0
    final_clean = [r["loss"] for r in metrics(clean) if "loss" in r]
    final_resumed = {r["step"]: r["loss"] for r in metrics(killed) if "loss" in r}
    assert max(final_resumed) == 10 and len(final_clean) == 10
    # Same seed, same batches, same optimizer state: the resumed run retraces the clean one.
    assert [final_resumed[step] for step in range(1, 11)] == pytest.approx(final_clean, rel=1e-5)


# -- the CUDA path, as configuration (bench/train_gpu.py runs it on a GPU) --------------
EIGHT_B = models.REFERENCE_SHAPES["8B (Llama-3.1-8B)"]
SEVENTY_B = models.REFERENCE_SHAPES["70B (Llama-3.1-70B)"]


def test_cuda_plan_is_qlora_as_in_the_paper():
    plan = train.hardware_plan(train.TrainSettings(), EIGHT_B, cuda=True, gpu_gib=24.0)
    assert plan.device == "cuda" and plan.quantize_4bit and plan.optimizer == "paged_adamw_8bit"
    assert plan.compute_dtype == "bfloat16" and plan.gradient_checkpointing
    assert plan.max_length == 2048 and plan.estimate_gib <= 23.0
    assert plan.batching == "packed" and plan.chunked_loss  # measured fastest, leanest there
    config = train.bnb_config(plan)
    assert config.load_in_4bit and config.bnb_4bit_quant_type == "nf4"
    assert config.bnb_4bit_use_double_quant and str(config.bnb_4bit_compute_dtype) == "torch.bfloat16"
    old_card = train.hardware_plan(train.TrainSettings(), EIGHT_B, cuda=True, gpu_gib=24.0, bf16=False)
    assert old_card.compute_dtype == "float16"
    sft = train.sft_arguments(train.TrainSettings(), plan, Path("/nonexistent"), has_validation=True)
    assert sft["optim"] == "paged_adamw_8bit" and sft["bf16"] and not sft["use_cpu"]
    assert sft["gradient_checkpointing"] and sft["completion_only_loss"]
    assert sft["load_best_model_at_end"] and sft["metric_for_best_model"] == "eval_loss"


def test_a_model_too_big_for_the_card_is_refused_with_what_would_fit():
    with pytest.raises(train.TrainError) as refused:
        train.hardware_plan(train.TrainSettings(), SEVENTY_B, cuda=True, gpu_gib=24.0)
    message = str(refused.value)
    assert message.startswith("will not fit") and "8B" in message and "14B" in message
    assert "70B" not in message.split("What would fit")[1]
    smaller = train.hardware_plan(train.TrainSettings(), EIGHT_B, cuda=True, gpu_gib=12.0)
    assert smaller.max_length < 2048 or smaller.batch_size == 1  # it shrinks before refusing


def test_cpu_plan_never_uses_bitsandbytes():
    plan = train.hardware_plan(train.TrainSettings(), EIGHT_B, cuda=False)
    assert plan.device == "cpu" and not plan.quantize_4bit and plan.compute_dtype == "float32"
    assert plan.batching == "grouped" and not plan.chunked_loss
    with pytest.raises(train.TrainError, match="CUDA"):
        train.hardware_plan(train.TrainSettings(quantize="4bit"), EIGHT_B, cuda=False)
    with pytest.raises(train.TrainError, match="no CUDA"):
        train.hardware_plan(train.TrainSettings(device="cuda"), EIGHT_B, cuda=False)
    with pytest.raises(ValueError):
        train.TrainSettings(batching="sideways")


def test_the_sequence_length_follows_the_pairs_and_says_what_it_cuts(tiny):
    # on the CPU the length covers 95 % of the pairs (a multiple of 64), 512 when unknown
    assert train.hardware_plan(train.TrainSettings(), EIGHT_B, cuda=False).max_length == 512
    fitted = train.hardware_plan(train.TrainSettings(), EIGHT_B, cuda=False, data_p95=906, data_max=1500)
    assert fitted.max_length == 960 and "longest pairs (1500 tokens) are cut at 960" in fitted.note
    short = train.hardware_plan(train.TrainSettings(max_length=512), EIGHT_B, cuda=False, data_p95=906)
    assert short.max_length == 512 and "95th percentile 906" in short.note
    gpu = train.hardware_plan(train.TrainSettings(), EIGHT_B, cuda=True, gpu_gib=24.0, data_p95=3000)
    assert "answers are cut" in gpu.note
    # gradient checkpointing on the CPU when the activations would crowd the memory free
    shape = models.ArchShape.from_config(json.loads((tiny / "config.json").read_text()))
    small = models.ArchShape(30, 576, 1536, 49152, 9, 3, True)  # SmolLM2-135M's shape
    roomy = train.hardware_plan(train.TrainSettings(batch_size=4), small, cuda=False, ram_gib=20.0)
    tight = train.hardware_plan(train.TrainSettings(batch_size=8), small, cuda=False, ram_gib=20.0)
    assert not roomy.gradient_checkpointing and tight.gradient_checkpointing
    assert "gradient checkpointing" in tight.note
    assert not train.hardware_plan(train.TrainSettings(), shape, cuda=False, ram_gib=4.0).gradient_checkpointing
    # what training measures itself: the pairs as the chat template writes them
    p95, longest = train.pair_lengths(tiny, toy_pairs(8))
    assert 0 < p95 <= longest < 200


def fake_build(workspace, pairs: list[list[dict]], validation: list[list[dict]],
               documents: dict[int, str] | None = None) -> None:
    """A dataset build as `build` records it (split files plus their catalogue rows, with
    the documents and text hashes the train pairs were made from: none by default)."""
    from medllm_local.workspace.store import atomic_write, now

    folder = workspace.folder("datasets") / "b1"
    folder.mkdir()
    with workspace.transaction() as conn:
        for name, rows in (("train", pairs), ("validation", validation)):
            path = atomic_write(folder / f"{name}.jsonl",
                                "".join(json.dumps({"messages": m}) + "\n" for m in rows))
            sources = {"documents": (documents or {}) if name == "train" else {}, "feedback": {}}
            conn.execute("INSERT INTO splits (name, file, config, created_at, build, sources)"
                         " VALUES (?, ?, '{}', ?, 'b1', ?)", (name, str(path), now(), json.dumps(sources)))


def train_tiny_run(tmp_path, monkeypatch, tiny_folder, max_steps: int):
    """A workspace in ``tmp_path / "ws"`` with a toy build, and a run of ``max_steps`` CPU
    steps on the tiny Llama (copied into this test's own models folder); returns the
    workspace and the run's report."""
    from medllm_local import pipeline

    monkeypatch.setenv("MEDLLM_MODELS_DIR", str(tmp_path / "models"))
    shutil.copytree(tiny_folder, tmp_path / "models" / "tiny-llama")
    workspace = pipeline.open_workspace(tmp_path / "ws")
    fake_build(workspace, toy_pairs(), toy_pairs(4))
    return workspace, pipeline.train_run(workspace, "tiny-llama", train.TrainSettings(max_steps=max_steps, **FAST))


def wait_for(predicate, timeout: float = 300.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("timed out")


def test_the_app_trains_in_a_child_process_that_stops_and_resumes(tiny, tmp_path, monkeypatch):
    """What the Train tab does: start `train` as a job, read its progress rows, stop it
    (it checkpoints), resume it to the end; the runs list tells the story."""
    import shutil

    from medllm_local import pipeline

    models_dir = tmp_path / "models"
    shutil.copytree(tiny, models_dir / "tiny-llama")
    monkeypatch.setenv("MEDLLM_MODELS_DIR", str(models_dir))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    workspace = pipeline.open_workspace(tmp_path / "ws")
    fake_build(workspace, toy_pairs(), toy_pairs(4))
    args = ["train", "--model", "tiny-llama", "--max-steps", "30", "--batch-size", "4",
            "--grad-accum", "1", "--save-every", "2", "--eval-every", "2", "--max-length", "256"]
    job = pipeline.start_job(workspace, "train", args)
    wait_for(lambda: len(pipeline.job_report(workspace, job)["progress"]) >= 3)
    assert pipeline.stop_job(workspace, job)
    report = wait_for(lambda: (r := pipeline.job_report(workspace, job))["job"]["status"] != "stopping" and r)
    assert report["job"]["status"] == "stopped", pipeline.job_log_tail(workspace, job)
    assert report["result"]["stopped"] and report["result"]["steps"] < 30
    run = report["result"]["run"]
    assert pipeline.list_runs(workspace)[0].status == "stopped"
    resumed = pipeline.start_job(workspace, "train", ["train", "--resume", str(run)], run_id=run)
    final = wait_for(lambda: (r := pipeline.job_report(workspace, resumed))["job"]["status"]
                     not in ("starting", "running") and r)
    assert final["job"]["status"] == "done", pipeline.job_log_tail(workspace, resumed)
    assert final["result"]["run"] == run and final["result"]["steps"] == 30
    steps = [row["step"] for row in pipeline.run_metrics(workspace, run) if "loss" in row]
    assert steps[-1] == 30 and set(range(1, 31)) <= set(steps)
    listed = pipeline.list_runs(workspace)
    assert [(r.run, r.status, r.steps) for r in listed] == [(run, "done", 30)]


def test_training_refuses_pairs_from_documents_not_approved(tiny, tmp_path, monkeypatch):
    from medllm_local import pipeline
    from medllm_local.core.records import Document, Page

    monkeypatch.setenv("MEDLLM_MODELS_DIR", str(tiny.parent))
    workspace = pipeline.open_workspace(tmp_path / "ws")
    document, _ = workspace.store_document(Document(source="/inbox/visit.txt", kind="txt", sha256="ab" * 32,
                                                    pages=[Page(number=1, text="HPI: cough")]))
    fake_build(workspace, toy_pairs(), [], documents={document: "cd" * 32})
    with pytest.raises(pipeline.GateError, match=r"visit.txt \(not approved now\).*launch.py build"):
        pipeline.train_run(workspace, tiny.name, train.TrainSettings(max_steps=1, **FAST))
    assert pipeline.list_runs(workspace) == []  # refused before a run was recorded


def test_out_of_memory_advice_names_smaller_settings_and_models():
    plan = train.hardware_plan(train.TrainSettings(), EIGHT_B, cuda=True, gpu_gib=24.0)
    advice = train.out_of_memory_advice(EIGHT_B, plan)
    assert advice.startswith("out of GPU memory") and f"--max-length {plan.max_length // 2}" in advice
    assert "8B" in advice.split("fit this GPU:")[1] and "70B" not in advice


def test_a_new_version_continues_from_its_parent_adapter(tiny, tmp_path, monkeypatch):
    """Retraining as reports arrive: `--parent RUN` starts from that run's adapter (its
    first loss is already low) and is recorded as a new version with its parent."""
    from medllm_local import pipeline

    monkeypatch.setenv("MEDLLM_MODELS_DIR", str(tiny.parent))
    workspace = pipeline.open_workspace(tmp_path / "ws")
    fake_build(workspace, toy_pairs(), [])
    settings = train.TrainSettings(max_steps=9, **FAST)
    first = pipeline.train_run(workspace, tiny.name, settings)
    child = pipeline.train_run(workspace, None, settings, parent_run=first.run)
    assert child.parent_run == first.run and child.base_model == first.base_model
    assert child.losses[0] < first.losses[0] * 0.7
    versions = {r.run: r for r in pipeline.list_runs(workspace)}
    assert versions[child.run].parent_run == first.run
    assert all(r.status == "done" for r in versions.values())


def test_the_train_status_says_a_stop_was_the_users_and_what_to_do():
    from medllm_local.ui.train_tab import progress_text

    metrics = {"step": 3, "max_steps": 30, "loss": 2.5, "tokens_per_second": 100.0, "memory_gib": 1.0}
    report = {"job": {"id": 4, "status": "stopped"}, "progress": [{"metrics": metrics}], "result": {}}
    text = progress_text(report)
    assert "stopped by you at step 3 of 30" in text and "Resume" in text
    report["job"]["status"] = "running"
    assert "step 3/30" in progress_text(report) and "stopped" not in progress_text(report)
