"""Evaluation speed, side by side in one run: cases per second answered through
llama.cpp on the GGUF (what stages/evaluate.py uses) against transformers' generate on the same
model's Hugging Face copy, greedy, same prompts, same token budget.

    .venv/bin/python bench/eval.py [--cases 12]

The cases are the project's own fictitious demo pairs.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import medllm_local  # noqa: E402,F401  (offline guard first)
from tests.support import cases  # noqa: E402
from medllm_local.stages import evaluate
from medllm_local.core import models
from medllm_local.core.prompts import task_of  # noqa: E402


def transformers_answers(folder: Path, cases: list[list[dict]], max_tokens: list[int]) -> float:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    started = time.monotonic()
    for messages, budget in zip(cases, max_tokens):
        ids = tokenizer.apply_chat_template(messages[:-1], add_generation_prompt=True,
                                            return_tensors="pt", return_dict=True)
        with torch.no_grad():
            model.generate(**ids, max_new_tokens=budget, do_sample=False)
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=12)
    args = parser.parse_args()
    pairs = cases.demo_pairs(3)[: args.cases]
    tasks = [task_of(p[1]["content"]) or "diagnosis" for p in pairs]
    budgets = [evaluate.MAX_TOKENS[t] for t in tasks]
    started = time.monotonic()
    evaluate.generate_answers(models.embedded_gguf(), pairs, tasks,
                              evaluate.EvalSettings(perplexity=False))
    llama_seconds = time.monotonic() - started
    hf_seconds = transformers_answers(models.ensure_hf_copy(), pairs, budgets)
    report = {"cases": len(pairs), "llama_cpp_cases_per_second": round(len(pairs) / llama_seconds, 3),
              "transformers_cases_per_second": round(len(pairs) / hf_seconds, 3),
              "speedup": round(hf_seconds / llama_seconds, 2),
              "note": "llama.cpp on the embedded Q4_1 GGUF; transformers on its fp32 copy"}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
