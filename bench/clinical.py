"""The physician's question, end to end: does fine-tuning on one's own cases make the
model diagnose better than its base, on held-out cases?

    .venv/bin/python bench/clinical.py [--epochs 1] [--max-steps 0] [--test-share 0.2]

AgentClinic cases (../shared/data/agentclinic, MIT) are flattened to report text with
their correct diagnosis, made into diagnosis pairs by the project's dataset builder, and
split by case. The embedded model is LoRA-trained on the training cases on this CPU
(stages/train/trainer.py), exported to GGUF (stages/export.py, Q8_0, every check run), and base and tuned are
evaluated (stages/evaluate.py) on the held-out cases twice: asked for the diagnosis (top-1) and
asked for a ranked differential (top-5 and MRR over the list), with 95 % bootstrap
intervals and the paired difference. Prints one JSON report.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import medllm_local  # noqa: E402,F401  (offline guard first)
from tests.support.cases import agentclinic_reports  # noqa: E402
from medllm_local.stages.dataset import build as dataset
from medllm_local.stages import evaluate
from medllm_local.stages import export
from medllm_local.core import models
from medllm_local.core import prompts
from medllm_local.stages.train import trainer as train

CASES = ROOT.parent / "shared" / "data" / "agentclinic" / "agentclinic_medqa_extended.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--max-steps", type=int, default=0)
    parser.add_argument("--test-share", type=float, default=0.2)
    parser.add_argument("--max-test", type=int, default=40)
    args = parser.parse_args()
    if not CASES.exists():
        sys.exit(f"{CASES} not found: this benchmark reads ../shared/data")
    started = time.monotonic()
    built = [dataset.pairs_for_document(i, text, ["diagnosis"])
             for i, (text, _) in enumerate(agentclinic_reports(CASES))]
    pairs = [p for b in built for p in b.pairs]
    split = dataset.assign_splits({p.document_id: f"case {p.document_id}" for p in pairs},
                                  dataset.BuildSettings(validation_fraction=0.0, test_fraction=args.test_share))
    training = [p.messages for p in pairs if split[p.document_id] == "train"]
    held_out = [p for p in pairs if split[p.document_id] == "test"][: args.max_test]
    # The held-out cases asked twice: for the diagnosis, and for a ranked differential.
    cases = [p.messages for p in held_out]
    tasks = ["diagnosis"] * len(held_out)
    for p in held_out:
        report_text = p.messages[1]["content"].split("Report:\n", 1)[1]
        cases.append([p.messages[0], {"role": "user", "content": prompts.case_prompt("differential", report_text)},
                      {"role": "assistant", "content": prompts.differential_answer([p.reference])}])
        tasks.append("differential")
    base = models.ensure_hf_copy()
    work = Path(tempfile.mkdtemp(prefix="bench-clinical-"))
    settings = train.TrainSettings(epochs=args.epochs, max_steps=args.max_steps or -1, batch_size=4,
                                   grad_accum=2, max_length=768, learning_rate=2e-4,
                                   save_every=10_000, eval_every=10_000)
    trained = train.train(base, training, [], work / "run", settings,
                          sink=lambda row: print(f"step {row['step']}/{row['max_steps']} loss "
                                                 f"{row.get('loss', 0):.3f}", file=sys.stderr, flush=True))
    exported = export.export(base, Path(trained.adapter), work / "export", cases[:8],
                             export.ExportSettings(quant="Q8_0"), {"name": "bench-clinical"})
    eval_settings = evaluate.EvalSettings(top_k=5, perplexity=False)
    results = {}
    for name, gguf in (("base", models.embedded_gguf()), ("tuned", Path(exported.gguf))):
        metrics, rows = evaluate.evaluate(gguf, cases, tasks, eval_settings)
        by_task = {}
        for task in ("diagnosis", "differential"):
            mine = [r for r in rows if r["task"] == task]
            by_task[task] = {key: sum(r[key] for r in mine) / len(mine) for key in ("top1", "topk", "mrr")}
            by_task[task]["top1_ci95"] = evaluate.bootstrap_ci([r["top1"] for r in mine])
            by_task[task]["mrr_ci95"] = evaluate.bootstrap_ci([r["mrr"] for r in mine])
        results[name] = {"by_task": by_task, "rows": rows, "cases_per_second": metrics["cases_per_second"]}
    comparison = {task: {key: evaluate.paired_difference(
        [r[key] for r in results["base"]["rows"] if r["task"] == task],
        [r[key] for r in results["tuned"]["rows"] if r["task"] == task]) for key in ("top1", "mrr")}
        for task in ("diagnosis", "differential")}
    formats = {name: sum(1 for r in res["rows"] if r["task"] == "diagnosis" and len(r["answer"].split()) <= 8)
               / max(1, len(held_out)) for name, res in results.items()}
    report = {"training_cases": len(training), "held_out_cases": len(held_out),
              "training": {"steps": trained.steps, "first_loss": trained.losses[0],
                           "last_loss": trained.losses[-1], "seconds": trained.seconds,
                           "tokens_per_second": trained.tokens_per_second},
              "export_checks": {c.name: c.passed for c in exported.checks},
              "base": results["base"]["by_task"], "tuned": results["tuned"]["by_task"],
              "tuned_minus_base": comparison,
              "short_diagnosis_answers": formats,  # format adherence: answers of 8 words or fewer
              "seconds": round(time.monotonic() - started, 1)}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
