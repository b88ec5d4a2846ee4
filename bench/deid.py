"""De-identification on real clinical notes, measured in one run:
- name recall on ACI-Bench notes (../shared/data/aci_bench, CC BY 4.0, Yim et al. 2023),
  whose metadata names each note's patient and doctor: every occurrence of those names
  in the note, in any case, is ground truth;
- how much ordinary text is removed: lower-case word tokens inside findings, as a share
  of all tokens (names and dates are rarely lower case in these notes, so this
  approximates clinical vocabulary removed by mistake);
- findings per note by type, and throughput (notes per second on one core);
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
from medllm_local.stages.deid.engine import DeidEngine, DeidSettings  # noqa: E402

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
    # spaCy's NER alone on the same notes, interleaved with the engine, best of three each
    nlp = engine.analyzer.nlp_engine.nlp["en"]
    spacy_runs, engine_runs = [], []
    for _ in range(3):
        started = time.perf_counter()
        list(nlp.pipe([note for note, _ in notes], batch_size=16))
        spacy_runs.append(time.perf_counter() - started)
        started = time.perf_counter()
        all_findings = engine.find_many([note for note, _ in notes])
        engine_runs.append(time.perf_counter() - started)
    seconds, spacy_seconds = min(engine_runs), min(spacy_runs)

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
