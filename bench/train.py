"""Training throughput, measured side by side in one run on the same model, data and
hardware: our trainer (TRL SFT, pairs packed without padding) against a plain
transformers Trainer that pads each batch (to its longest pair, and to max length),
with the same LoRA adapter, optimizer, prompt masking and step count.

    .venv/bin/python bench/train.py [--model DIR] [--steps 6] [--batch-size 4]

Prints real (non-padding) training tokens per second for each, the ratios, and peak
memory. The data are the project's own fictitious demo reports, made into pairs by the
dataset builder (three phrasings each); nothing is read from patient data.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import medllm_local  # noqa: E402,F401  (offline guard first)
from medllm_local.core import models  # noqa: E402
from medllm_local.stages.train import trainer as train
from tests.support.cases import demo_pairs  # noqa: E402


def ours(base: Path, pairs: list[list[dict]], settings: train.TrainSettings, folder: Path,
         batching: str, attention: str = "auto") -> dict:
    settings = dataclasses.replace(settings, batching=batching, attention=attention)
    result = train.train(base, pairs, [], folder, settings)
    return {"tokens": result.tokens, "seconds": result.seconds,
            "tokens_per_second": result.tokens_per_second,
            "peak_memory_gib": result.peak_memory_gib, "final_loss": result.losses[-1]}


def padded_baseline(base: Path, pairs: list[list[dict]], settings: train.TrainSettings,
                    folder: Path, padding: str) -> dict:
    """transformers Trainer, tokenized with the chat template, prompt labels -100, each
    batch padded (``longest`` or ``max_length``); the same LoRA model and optimizer."""
    import torch
    from datasets import Dataset
    from transformers import AutoTokenizer, DataCollatorForSeq2Seq, Trainer, TrainingArguments

    tokenizer = AutoTokenizer.from_pretrained(base)
    shape = models.ArchShape.from_config(json.loads((base / "config.json").read_text()))
    cuda = train.cuda_available()
    gpu = torch.cuda.get_device_properties(0).total_memory / models.GiB if cuda else None
    plan = train.hardware_plan(settings, shape, cuda=cuda, gpu_gib=gpu)
    rows = []
    for messages in pairs:
        prompt = tokenizer.apply_chat_template(messages[:-1], add_generation_prompt=True, tokenize=True,
                                               return_dict=True)["input_ids"]
        full = tokenizer.apply_chat_template(messages, tokenize=True, return_dict=True)["input_ids"]
        full = full[:plan.max_length]
        labels = [-100] * min(len(prompt), len(full)) + full[len(prompt):]
        rows.append({"input_ids": full, "attention_mask": [1] * len(full), "labels": labels})
    model = train.load_model(base, plan, None, settings)
    args = TrainingArguments(
        output_dir=str(folder), max_steps=settings.max_steps, learning_rate=settings.learning_rate,
        lr_scheduler_type="cosine", warmup_steps=settings.warmup_ratio,
        per_device_train_batch_size=plan.batch_size, gradient_accumulation_steps=settings.grad_accum,
        optim=plan.optimizer, use_cpu=plan.device == "cpu", bf16=plan.compute_dtype == "bfloat16",
        gradient_checkpointing=plan.gradient_checkpointing,
        gradient_checkpointing_kwargs={"use_reentrant": False}, seed=settings.seed,
        logging_steps=1, save_strategy="no", report_to="none",
        include_num_input_tokens_seen="non_padding", remove_unused_columns=False)
    collator = DataCollatorForSeq2Seq(tokenizer, padding=padding, max_length=plan.max_length,
                                      label_pad_token_id=-100)
    trainer = Trainer(model=model, args=args, train_dataset=Dataset.from_list(rows),
                      data_collator=collator)
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    started = time.monotonic()
    trainer.train()
    seconds = time.monotonic() - started
    tokens = trainer.state.num_input_tokens_seen
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    return {"tokens": int(tokens), "seconds": round(seconds, 2),
            "tokens_per_second": round(tokens / seconds, 1),
            "peak_memory_gib": round(train.peak_memory_gib(cuda), 3), "final_loss": losses[-1]}


def _child(queue, job, args) -> None:
    try:
        queue.put(("ok", job(*args)))
    except BaseException as error:  # the parent must hear of it, or it waits forever
        queue.put(("error", f"{type(error).__name__}: {error}"))


def isolated(job, *args) -> dict:
    """Run one measurement in a fresh process, so peak memory is its own and no run
    inherits another's caches."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_child, args=(queue, job, args))
    process.start()
    status, result = queue.get()
    process.join()
    if status == "error":
        raise RuntimeError(result)
    return result


def compare(base: Path, settings: train.TrainSettings, copies: int = 3,
            variants: tuple[tuple[str, str], ...] = (("grouped", "sdpa"), ("packed", "sdpa"))) -> dict:
    """Both padded baselines, then each (batching, attention) variant of ours; ratios of
    real tokens per second against each baseline."""
    pairs = demo_pairs(copies)
    work = Path(tempfile.mkdtemp(prefix="bench-train-"))
    runs: dict[str, dict] = {}
    jobs = [("padded_longest", lambda f: isolated(padded_baseline, base, pairs, settings, f, "longest")),
            ("padded_max_length",
             lambda f: isolated(padded_baseline, base, pairs, settings, f, "max_length"))]
    jobs += [(f"ours_{batching}_{attention}",
              lambda f, b=batching, a=attention: isolated(ours, base, pairs, settings, f, b, a))
             for batching, attention in variants]
    try:
        # The baselines run first, so any warm-up advantage (caches, allocator) is theirs.
        for name, run in jobs:
            try:
                runs[name] = run(work / name)
            except Exception as error:  # a kernel missing here must not lose the other numbers
                runs[name] = {"error": f"{type(error).__name__}: {error}"[:500], "tokens_per_second": None}
            gc.collect()
            print(f"{name}: {runs[name]}", file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    cuda = train.cuda_available()
    default = "ours_" + "_".join(reversed(train.kernel_choice(
        settings, "cuda" if cuda else "cpu", train.flash_attention_installed())))
    def ratio(a: float | None, b: float | None) -> float | None:
        return round(a / b, 2) if a and b else None

    ratios = {name: {base_name: ratio(run["tokens_per_second"], runs[base_name]["tokens_per_second"])
                     for base_name in ("padded_longest", "padded_max_length")}
              for name, run in runs.items() if name.startswith("ours_")}
    return {"pairs": len(pairs), "device": "cuda" if cuda else "cpu", "default": default,
            "settings": {"max_steps": settings.max_steps, "batch_size": settings.batch_size,
                         "max_length": settings.max_length},
            "runs": runs, "speedups": ratios}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None, help="HF folder (default: embedded)")
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--max-length", type=int, default=1024)
    args = parser.parse_args()
    base = args.model or models.ensure_hf_copy()
    settings = train.TrainSettings(max_steps=args.steps, batch_size=args.batch_size, grad_accum=1,
                                   max_length=args.max_length, save_every=10_000, eval_every=10_000)
    report = compare(base, settings)
    print(json.dumps(report, indent=2))
    for name, ratio in report["speedups"].items():
        mark = "  <- default here" if name == report["default"] else ""
        print(f"{name}: {ratio['padded_longest']}x padded-to-longest, "
              f"{ratio['padded_max_length']}x padded-to-max-length{mark}")


if __name__ == "__main__":
    main()
