"""De-identification on real clinical notes, measured in one run:
- name recall on ACI-Bench notes (../shared/data/aci_bench, CC BY 4.0, Yim et al. 2023),
  whose metadata names each note's patient and doctor: every occurrence of those names
  in the note, in any case, is ground truth;
- how much ordinary text is removed: lower-case word tokens inside findings, as a share
  of all tokens (names and dates are rarely lower case in these notes, so this
  approximates clinical vocabulary removed by mistake);
- findings per note by type, and throughput (notes per second on one process; run it
  under `taskset -c 0` for one core), beside spaCy's English NER alone as spaCy ships it
  and beside the engine whose English NER reads every sentence;
- span recall per Safe Harbor type and a lower bound on precision on the PHI-injection
  benchmark (bench/phi_injection.py: identifiers inserted into ACI-Bench and MTS-Dialog
  notes at known offsets, a quarter of the notes in ALL CAPS).

    .venv/bin/python bench/deid.py [--notes 87]
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import medllm_local  # noqa: E402,F401  (offline guard first)
from medllm_local.core.textnorm import fold  # noqa: E402
from medllm_local.stages.deid.context import truecase  # noqa: E402
from medllm_local.stages.deid.engine import SPACY_MODEL, DeidEngine, DeidSettings  # noqa: E402
from medllm_local.stages.deid.english_ner import kept_runs, ungate_english_ner  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
from phi_injection import make_benchmark, score  # noqa: E402

ACI = ROOT.parent / "shared" / "data" / "aci_bench"


def load_notes(limit: int) -> list[tuple[str, list[str]]]:
    """(note, its patient's and doctor's name words) for train and valid notes."""
    notes = []
    for split in ("train", "valid"):
        meta = {m["encounter_id"]: m for m in csv.DictReader((ACI / f"{split}_metadata.csv").open())}
        for row in csv.DictReader((ACI / f"{split}.csv").open(encoding="utf-8")):
            m = meta.get(row["encounter_id"], {})
            names = [w for key in ("patient_firstname", "patient_familyname", "doctor_name")
                     for w in (m.get(key) or "").replace("Dr.", "").split() if len(w) > 1]
            notes.append((row["note"], names))
    return notes[:limit]


def name_spans(note: str, names: list[str]) -> list[tuple[int, int]]:
    if not names:
        return []
    pattern = re.compile(r"\b(" + "|".join(re.escape(n) for n in names) + r")\b", re.IGNORECASE)
    return [m.span() for m in pattern.finditer(note)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notes", type=int, default=87)
    parser.add_argument("--injected", type=int, default=300, help="notes in the injection benchmark")
    args = parser.parse_args()
    notes = load_notes(args.notes)
    started = time.perf_counter()
    engine = DeidEngine()
    load_seconds = time.perf_counter() - started
    engine.find(notes[0][0])  # warm-up
    # Side by side on the same notes, interleaved, best of three each: spaCy's English NER
    # alone as spaCy ships it (its default matrix ops, every sentence); the engine; and the
    # engine with the English NER reading every sentence (no gate, stages/deid/english_ner.py).
    import spacy

    texts = [note for note, _ in notes]
    stock = spacy.load(SPACY_MODEL, enable=["ner"])
    ungated = DeidEngine()
    ungate_english_ner(ungated.analyzer.nlp_engine.nlp["en"])
    runs: dict[str, list[float]] = {"spacy": [], "engine": [], "ungated": []}
    for _ in range(3):
        for name, run in (("spacy", lambda: list(stock.pipe(texts, batch_size=16))),
                          ("engine", lambda: engine.find_many(texts)),
                          ("ungated", lambda: ungated.find_many(texts))):
            started = time.perf_counter()
            result = run()
            runs[name].append(time.perf_counter() - started)
            if name == "engine":
                all_findings = result
    seconds, spacy_seconds, ungated_seconds = (min(runs[k]) for k in ("engine", "spacy", "ungated"))
    read = sum(e - s for text in texts for s, e in kept_runs(truecase(fold(text).text))) / sum(map(len, texts))

    found = missed = tokens = lower_removed = 0
    by_type: Counter = Counter()
    misses = []
    for (note, names), findings in zip(notes, all_findings):
        covered = [(f.start, f.end) for f in findings]
        for start, end in name_spans(note, names):
            if any(s <= start and end <= e for s, e in covered):
                found += 1
            else:
                missed += 1
                misses.append(note[max(0, start - 30):end + 10].replace("\n", " "))
        words = list(re.finditer(r"[A-Za-z]+", note))
        tokens += len(words)
        lower_removed += sum(1 for w in words if w.group().islower()
                             and any(s <= w.start() < e for s, e in covered))
        by_type.update(f.type for f in findings)
    report = {
        "notes": len(notes),
        "name_spans": found + missed,
        "name_recall": round(found / max(found + missed, 1), 4),
        "lowercase_tokens_removed_fraction": round(lower_removed / max(tokens, 1), 4),
        "findings_per_note_by_type": {k: round(v / len(notes), 2) for k, v in by_type.most_common()},
        "engine_load_seconds": round(load_seconds, 1),
        "notes_per_second_one_process": round(len(notes) / seconds, 1),
        "spacy_ner_alone_notes_per_second": round(len(notes) / spacy_seconds, 1),
        "speed_ratio_to_spacy_ner_alone": round(spacy_seconds / seconds, 2),
        "english_ner_share_of_text_read": round(read, 2),
        "notes_per_second_english_ner_reading_everything": round(len(notes) / ungated_seconds, 1),
        "missed_examples": misses[:10],
    }
    injected = make_benchmark(args.injected)
    started = time.perf_counter()
    injected_findings = engine.find_many([note.text for note in injected])
    report["injection_benchmark"] = {
        "notes": len(injected), **score(injected, injected_findings),
        "notes_per_second_one_process": round(len(injected) / (time.perf_counter() - started), 1)}
    # The optional rare-word pass, side by side: what it adds on the ACI notes (all of it
    # beyond the known names is a cost) and on the injection benchmark.
    greedy = DeidEngine(DeidSettings(recall_zipf=2.5))
    greedy_aci = greedy.find_many([note for note, _ in notes])
    extra = sum(len(g) for g in greedy_aci) - sum(len(f) for f in all_findings)
    report["rare_word_pass_2_5"] = {
        "extra_findings_per_aci_note": round(extra / len(notes), 2),
        "injection": score(injected, greedy.find_many([note.text for note in injected]))}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
