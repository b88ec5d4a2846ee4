"""Chat speed, side by side in one run on the same GGUF and settings: the app's chat
function (pipeline.chat_stream, what the Chat tab and `chat` call) against raw
llama-cpp-python streaming the same messages, and transformers' generate on the same
model's Hugging Face copy. Generation tokens per second (after the first token) and time
to first token for each; runs are interleaved so load on the machine hits all alike.

    .venv/bin/python bench/chat.py [--runs 3] [--max-tokens 200] [--skip-transformers]

Target: the app at 0.9 or more of raw llama.cpp's generation speed. The questions are
fictitious cases written here; nothing is read from patient data.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import medllm_local  # noqa: E402,F401  (offline guard first)
from medllm_local import pipeline  # noqa: E402
from medllm_local.stages.chat import answer as chat
from medllm_local.core import models
from medllm_local.core.prompts import chat_messages  # noqa: E402

QUESTIONS = [
    "A 58-year-old man has crushing chest pain for 40 minutes, sweating, and ST elevation "
    "in leads II, III and aVF. Outline the immediate management and follow-up.",
    "A 30-year-old woman has fever, dysuria and right flank pain with costovertebral angle "
    "tenderness. Outline the workup and treatment plan.",
    "A 70-year-old woman has sudden right-sided weakness and slurred speech for one hour. "
    "Describe what to do first and why.",
]


def timed(stream) -> dict:
    """Tokens, time to first token and generation rate of a stream of text pieces."""
    started = time.perf_counter()
    first = last = None
    tokens = 0
    for _ in stream:
        last = time.perf_counter()
        first = first or last
        tokens += 1
    if first is None:
        return {"tokens": 0, "ttft_s": None, "gen_tokens_per_s": None}
    rate = (tokens - 1) / (last - first) if tokens > 1 and last > first else None
    return {"tokens": tokens, "ttft_s": first - started, "gen_tokens_per_s": rate}


def app_stream(question: str, settings: chat.ChatSettings):
    for chunk in pipeline.chat_stream(question, None, None, settings):
        if not chunk.done:  # the final chunk repeats the whole answer
            yield chunk.text


def raw_stream(llm, question: str, settings: chat.ChatSettings):
    """llama-cpp-python as its README shows it, with the app's messages and settings."""
    for chunk in llm.create_chat_completion(
            messages=chat_messages(question), stream=True, max_tokens=settings.max_tokens,
            temperature=settings.temperature, top_p=settings.top_p,
            repeat_penalty=settings.repeat_penalty, seed=settings.seed):
        if chunk["choices"][0].get("delta", {}).get("content"):
            yield chunk


class TransformersRunner:
    """generate() on the fp32 HF copy with the same sampling settings; a streamer marks
    each new token as it is produced."""

    def __init__(self, folder: Path):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.torch = torch
        self.tokenizer = AutoTokenizer.from_pretrained(folder)
        self.model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()

    def stream(self, question: str, settings: chat.ChatSettings):
        from transformers.generation.streamers import BaseStreamer

        pieces: list[float] = []
        done = threading.Event()

        class Marks(BaseStreamer):
            prompt_seen = False

            def put(self, value):  # the first call carries the prompt
                if self.prompt_seen:
                    pieces.append(time.perf_counter())
                self.prompt_seen = True

            def end(self):
                done.set()

        ids = self.tokenizer.apply_chat_template(chat_messages(question), add_generation_prompt=True,
                                                 return_tensors="pt", return_dict=True)
        self.torch.manual_seed(settings.seed)
        worker = threading.Thread(target=self._generate, args=(ids, settings, Marks()))
        worker.start()
        seen = 0
        while not (done.is_set() and seen == len(pieces)):
            if seen < len(pieces):
                seen += 1
                yield seen
            else:
                time.sleep(0.0005)
        worker.join()

    def _generate(self, ids, settings, streamer):
        with self.torch.no_grad():
            self.model.generate(**ids, max_new_tokens=settings.max_tokens, do_sample=True,
                                temperature=settings.temperature, top_p=settings.top_p,
                                repetition_penalty=settings.repeat_penalty, streamer=streamer)


def summary(results: list[dict]) -> dict:
    rates = [r["gen_tokens_per_s"] for r in results if r["gen_tokens_per_s"]]
    ttfts = [r["ttft_s"] for r in results if r["ttft_s"] is not None]
    return {"runs": len(results), "tokens": [r["tokens"] for r in results],
            "gen_tokens_per_s": round(statistics.median(rates), 1) if rates else None,
            "ttft_ms": round(1000 * statistics.median(ttfts), 1) if ttfts else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="answers per question and engine")
    parser.add_argument("--max-tokens", type=int, default=200)
    parser.add_argument("--skip-transformers", action="store_true")
    args = parser.parse_args()
    settings = chat.ChatSettings(max_tokens=args.max_tokens)
    gguf = models.embedded_gguf()
    raw = chat.load_llama(gguf, settings.n_ctx)  # the app's own loader: same threads, offload
    hf = None if args.skip_transformers else TransformersRunner(models.ensure_hf_copy())
    engines = {"app_chat_stream": lambda q: app_stream(q, settings),
               "raw_llama_cpp": lambda q: raw_stream(raw, q, settings)}
    if hf:
        engines["transformers_generate"] = lambda q: hf.stream(q, settings)
    for run in engines.values():  # warm-up: model load, first-call allocations
        timed(run("Say hello."))
    results: dict[str, list[dict]] = {name: [] for name in engines}
    for _ in range(args.runs):
        for question in QUESTIONS:
            for name, run in engines.items():  # interleaved, so drift in load hits all
                results[name].append(timed(run(question)))
    report = {name: summary(rows) for name, rows in results.items()}
    app, base = report["app_chat_stream"], report["raw_llama_cpp"]
    report["app_vs_raw_llama_cpp"] = round(app["gen_tokens_per_s"] / base["gen_tokens_per_s"], 3)
    report["app_vs_raw_target"] = 0.9
    if hf:
        report["app_vs_transformers"] = round(
            app["gen_tokens_per_s"] / report["transformers_generate"]["gen_tokens_per_s"], 2)
    report["note"] = (f"{gguf.name} (Q4_1) through llama.cpp, CPU threads as the app sets them; "
                      "transformers on its fp32 HF copy; same messages and sampling settings; "
                      "medians over runs x questions")
    raw.close()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
