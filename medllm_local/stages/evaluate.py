"""Model + held-out cases -> metrics and a per-case table.

Answers are generated through llama.cpp on a GGUF (greedy, fixed seed), asked exactly as
in training (the pairs' own prompts). Diagnoses match after normalisation (case,
punctuation, articles, the abbreviations in ``ABBREVIATIONS``) and optionally a fuzzy
threshold; each case records why it matched. ROUGE comes from rouge-score and BLEU from
sacrebleu; confidence intervals are bootstrapped over cases, since a physician's test
set is small.
"""

from __future__ import annotations

import difflib
import math
import re
import time
from dataclasses import dataclass
from pathlib import Path

from medllm_local.core.abbreviations import expansions
from medllm_local.core.records import content_of
from medllm_local.core.settings import Settings, setting

# One spelling per concept, for matching only (never written into training data): the
# project's abbreviation dictionary, shared with cleaning.
ABBREVIATIONS = expansions()
SPELLINGS = {"oesophag": "esophag", "haem": "hem", "ischaem": "ischem", "oedema": "edema",
             "diarrhoea": "diarrhea", "tumour": "tumor", "anaemia": "anemia"}
ARTICLES = {"a", "an", "the"}
LEADS = re.compile(r"^(the )?(most likely |most probable |final |working )?(diagnosis|impression|answer)"
                   r"( is)?\s*[:\-]?\s*", re.I)
LIST_ITEM = re.compile(r"^\s*(?:\d+\s*[.)\]:-]|[-*\u2022])\s*(.+?)\s*$")
MAX_TOKENS = {"diagnosis": 48, "differential": 200, "treatment": 320}


class EvalError(RuntimeError):
    """The evaluation cannot run; the message says what is missing."""


def normalise(text: str) -> str:
    """Lower case, British spellings made American, punctuation and articles dropped,
    abbreviations expanded: 'The MI.' and 'myocardial infarction' become one string."""
    text = text.lower()
    for british, american in SPELLINGS.items():
        text = text.replace(british, american)
    words = re.sub(r"[^a-z0-9]+", " ", text).split()
    return " ".join(ABBREVIATIONS.get(w, w) for w in words if w not in ARTICLES)


def main_phrase(answer: str) -> str:
    """The diagnosis itself from an answer line: no lead-in ('The most likely diagnosis
    is'), no numbering, no explanation after a dash, colon, comma or parenthesis."""
    line = next((ln for ln in answer.strip().splitlines() if ln.strip()), "")
    item = LIST_ITEM.match(line)
    line = LEADS.sub("", item.group(1) if item else line).strip().strip("*_")
    return re.split(r"\s+[-\u2013\u2014]\s+|[:(,;]|\.\s", line, maxsplit=1)[0].strip(" .*_")


def diagnosis_match(predicted: str, reference: str, fuzzy: float = 0.0) -> tuple[bool, str]:
    """(matched, why): exact after normalisation, one containing the other as whole
    words, or (when ``fuzzy`` > 0) a similarity ratio at least ``fuzzy``."""
    p, r = normalise(main_phrase(predicted)), normalise(reference)
    if not p or not r:
        return False, "empty answer" if not p else "empty reference"
    if p == r:
        return True, "same after normalisation"
    if re.search(rf"\b{re.escape(r)}\b", p) or (len(p.split()) >= 2 and re.search(rf"\b{re.escape(p)}\b", r)):
        return True, f"'{p}' and '{r}': one contains the other"
    ratio = difflib.SequenceMatcher(None, p, r).ratio()
    if fuzzy and ratio >= fuzzy:
        return True, f"similarity {ratio:.2f} >= {fuzzy}"
    return False, f"'{p}' vs '{r}' (similarity {ratio:.2f})"


def ranked_items(answer: str) -> list[str]:
    """A ranked differential from an answer: numbered or bulleted lines, else the
    answer split at semicolons or commas."""
    lines = [LIST_ITEM.match(line) for line in answer.splitlines()]
    items = [m.group(1) for m in lines if m]
    if not items:
        items = [part for part in re.split(r"[;\n]|,\s", answer) if part.strip()]
    return [main_phrase(item) for item in items if main_phrase(item)]


def rank_of(items: list[str], target: str, fuzzy: float = 0.0) -> int | None:
    return next((i + 1 for i, item in enumerate(items) if diagnosis_match(item, target, fuzzy)[0]), None)


def rouge_l(prediction: str, reference: str) -> float:
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    return scorer.score(reference, prediction)["rougeL"].fmeasure


def bleu(predictions: list[str], references: list[str]) -> float:
    import sacrebleu

    return sacrebleu.corpus_bleu(predictions, [references]).score


def bootstrap_ci(values: list[float], samples: int = 2000, seed: int = 0) -> tuple[float, float]:
    """95 % percentile interval of the mean, resampling cases."""
    import numpy as np

    if not values:
        return (math.nan, math.nan)
    data = np.asarray(values, dtype=float)
    rng = np.random.default_rng(seed)
    means = data[rng.integers(0, len(data), size=(samples, len(data)))].mean(axis=1)
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def paired_difference(a: list[float], b: list[float], samples: int = 2000, seed: int = 0) -> dict:
    """Mean of b - a over the same cases with its bootstrap interval; ``within_noise``
    when the interval holds zero."""
    low, high = bootstrap_ci([y - x for x, y in zip(a, b)], samples, seed)
    diff = sum(y - x for x, y in zip(a, b)) / len(a) if a else math.nan
    return {"difference": diff, "ci95": [low, high], "within_noise": not (low > 0 or high < 0)}


# -- generation ------------------------------------------------------------------------
@dataclass
class EvalSettings(Settings):
    top_k: int = setting(5, "k of top-k accuracy on differentials", minimum=1, maximum=20)
    fuzzy: float = setting(0.0, "fuzzy diagnosis match threshold (0: off; 0.85 is lenient)",
                           minimum=0, maximum=1)
    max_cases: int = setting(0, "evaluate only the first N cases (0: all)", minimum=0)
    perplexity: bool = setting(True, "perplexity of the reference answers")
    n_ctx: int = setting(4096, "context length for the GGUF", minimum=256, advanced=True)


def _answer_nll(llm, prompt_ids: list[int], answer_ids: list[int]) -> tuple[float, int]:
    import numpy as np

    ids = (prompt_ids + answer_ids)[: llm.n_ctx()]
    llm.reset()
    llm.eval(ids)
    logits = llm.scores[: len(ids)].astype(np.float64)
    total, count = 0.0, 0
    for position in range(len(prompt_ids), len(ids)):
        row = logits[position - 1]
        top = row.max()
        total += top + math.log(np.exp(row - top).sum()) - row[ids[position]]
        count += 1
    return total, count


def generate_answers(gguf: Path, cases: list[list[dict]], tasks: list[str], settings: EvalSettings,
                     progress=None, lora: Path | None = None) -> tuple[list[str], list[float], float | None]:
    """Greedy answers from the GGUF to each case's prompt (the pair without its answer),
    and the perplexity of the reference answers given their prompts."""
    import llama_cpp

    llm = llama_cpp.Llama(model_path=str(gguf), n_ctx=settings.n_ctx, n_gpu_layers=-1, seed=0,
                          logits_all=settings.perplexity, verbose=False,
                          lora_path=str(lora) if lora else None)
    answers, seconds = [], []
    nll, count = 0.0, 0
    try:
        for index, (messages, task) in enumerate(zip(cases, tasks)):
            started = time.monotonic()
            reply = llm.create_chat_completion(messages[:-1], temperature=0.0, seed=0,
                                               max_tokens=MAX_TOKENS.get(task, 256))
            answers.append(reply["choices"][0]["message"]["content"] or "")
            seconds.append(time.monotonic() - started)
            if settings.perplexity:
                prompt = llm.tokenize(_chat_prompt(llm, messages[:-1]).encode(), add_bos=False, special=True)
                answer = llm.tokenize(content_of(messages, "assistant").encode(), add_bos=False, special=False)
                part, n = _answer_nll(llm, prompt, answer)
                nll, count = nll + part, count + n
            if progress:
                progress(index + 1, len(cases), "answering")
    finally:
        llm.close()
    perplexity = math.exp(nll / count) if count else None
    return answers, seconds, perplexity


def _chat_prompt(llm, messages: list[dict]) -> str:
    """The prompt text exactly as the GGUF's own chat template renders it."""
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    template = llm.metadata.get("tokenizer.chat_template", "")
    bos = llm._model.token_get_text(llm.token_bos()) if llm.token_bos() >= 0 else ""
    eos = llm._model.token_get_text(llm.token_eos()) if llm.token_eos() >= 0 else ""
    formatter = Jinja2ChatFormatter(template=template, bos_token=bos, eos_token=eos)
    return formatter(messages=messages).prompt


# -- scoring ---------------------------------------------------------------------------
def score_case(task: str, answer: str, reference: str, settings: EvalSettings) -> dict:
    row: dict = {"exact_match": float(normalise(answer) == normalise(reference))}
    if task in ("diagnosis", "differential"):
        target = ranked_items(reference)[0] if task == "differential" else reference
        items = ranked_items(answer) if task == "differential" else [main_phrase(answer)]
        rank = rank_of(items, target, settings.fuzzy)
        matched, why = diagnosis_match(items[0] if items else "", target, settings.fuzzy)
        row |= {"top1": float(matched), "why": why, "rank": rank,
                "topk": float(rank is not None and rank <= settings.top_k),
                "mrr": 1.0 / rank if rank else 0.0}
    else:
        row["rouge_l"] = rouge_l(answer, reference)
    return row


def summarise(rows: list[dict], answers: list[str], references: list[str], tasks: list[str],
              perplexity: float | None) -> dict:
    def values(key: str) -> list[float]:
        return [r[key] for r in rows if key in r]

    metrics: dict = {"cases": len(rows)}
    for key in ("top1", "topk", "mrr", "exact_match", "rouge_l"):
        found = values(key)
        metrics[key] = sum(found) / len(found) if found else None
        if key in ("top1", "mrr") and found:
            metrics[f"{key}_ci95"] = list(bootstrap_ci(found))
    free_text = [i for i, t in enumerate(tasks) if t not in ("diagnosis", "differential")]
    metrics["bleu"] = (bleu([answers[i] for i in free_text], [references[i] for i in free_text])
                       if free_text else None)
    metrics["perplexity"] = perplexity
    return metrics


def evaluate(gguf: Path, cases: list[list[dict]], tasks: list[str], settings: EvalSettings,
             progress=None, lora: Path | None = None) -> tuple[dict, list[dict]]:
    """Metrics and the per-case table of one model (a GGUF, with a LoRA GGUF applied
    when given) on the cases (messages lists whose last turn is the reference answer)."""
    if settings.max_cases:
        cases, tasks = cases[: settings.max_cases], tasks[: settings.max_cases]
    answers, seconds, perplexity = generate_answers(gguf, cases, tasks, settings, progress, lora)
    references = [content_of(c, "assistant") for c in cases]
    rows = []
    for messages, task, answer, reference, spent in zip(cases, tasks, answers, references, seconds):
        rows.append({"task": task, "question": content_of(messages, "user"), "reference": reference,
                     "answer": answer, "seconds": round(spent, 2)}
                    | score_case(task, answer, reference, settings))
    metrics = summarise(rows, answers, references, tasks, perplexity)
    metrics["cases_per_second"] = round(len(rows) / sum(seconds), 3) if seconds and sum(seconds) else None
    return metrics, rows
