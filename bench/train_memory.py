"""CPU training memory, measured side by side in one run: the same model, pairs, batch,
sequence length and steps, trained in a fresh child process per configuration, each
reporting its peak resident memory (the process's high-water mark), the memory after
loading (before the first step), and its training tokens per second.

    .venv/bin/python bench/train_memory.py [--model DIR] [--batch-size 8] [--steps 3]

The data are the project's own fictitious demo reports, made into pairs by the dataset
builder and repeated; nothing is read from patient data.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import json, resource, sys, tempfile
from pathlib import Path
sys.path.insert(0, {root!r})
import medllm_local
from medllm_local.core import models
from medllm_local.stages.train import trainer as train
from tests.support.cases import demo_pairs

config = json.loads({config!r})
base = Path(config.pop("model")) if config.get("model") else models.ensure_hf_copy()
config.pop("model", None)
checkpointing = config.pop("gradient_checkpointing")
if not config.pop("answer_only_logits"):  # the stock loss: the model's own, every position
    def full_logits_loss(model, inputs, num_items_in_batch=None):
        return model(**inputs, num_items_in_batch=num_items_in_batch).loss
    train.completion_only_loss = full_logits_loss
pairs = demo_pairs(6)
settings = train.TrainSettings(**config)
original = train.hardware_plan

def plan(*args, **kwargs):  # the configuration under test (None: as the plan chooses)
    import dataclasses
    chosen = original(*args, **kwargs)
    return chosen if checkpointing is None else dataclasses.replace(chosen, gradient_checkpointing=checkpointing)

train.hardware_plan = plan
with tempfile.TemporaryDirectory() as folder:
    result = train.train(base, pairs, [], Path(folder), settings)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
print(json.dumps({{"peak_gib": round(peak, 2), "tokens_per_second": result.tokens_per_second,
                  "gradient_checkpointing": result.plan["gradient_checkpointing"],
                  "tokens": result.tokens, "final_loss": result.losses[-1]}}))
"""


def run(config: dict) -> dict:
    code = CHILD.format(root=str(ROOT), config=json.dumps(config))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    if out.returncode != 0:
        raise SystemExit(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-length", type=int, default=512)
    parser.add_argument("--steps", type=int, default=3)
    args = parser.parse_args()
    common = {"model": args.model, "max_steps": args.steps, "batch_size": args.batch_size,
              "grad_accum": 1, "max_length": args.max_length, "save_every": 1000,
              "device": "cpu"}
    rows = {}
    configurations = (
        ("full logits", {"gradient_checkpointing": False, "answer_only_logits": False}),
        ("answer-only logits", {"gradient_checkpointing": False, "answer_only_logits": True}),
        ("as planned", {"gradient_checkpointing": None, "answer_only_logits": True}),
    )
    for name, extra in configurations:
        rows[name] = run(common | extra)
        print(f"{name:24s} peak {rows[name]['peak_gib']:6.2f} GiB   "
              f"{rows[name]['tokens_per_second']:8.1f} tokens/s", flush=True)
    stock = rows["full logits"]
    print(json.dumps({"batch_size": args.batch_size, "max_length": args.max_length,
                      "steps": args.steps, "runs": rows,
                      "memory_ratio_to_full_logits": {name: round(row["peak_gib"] / stock["peak_gib"], 2)
                                                      for name, row in rows.items()},
                      "speed_ratio_to_full_logits": {
                          name: round(row["tokens_per_second"] / stock["tokens_per_second"], 2)
                          for name, row in rows.items()}}, indent=2))


if __name__ == "__main__":
    main()
