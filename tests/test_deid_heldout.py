"""The independent held-out de-identification benchmark (bench/deid_heldout.py).

It is written without the rules' own forms: the generator's gold spans are checked for
consistency here, then the engine's recall on the held-out half must stay above a floor
measured on the current engine, and clinical words must survive."""

from __future__ import annotations

import hashlib
import os
import random
import re
import subprocess
import sys
from types import SimpleNamespace

import pytest

from conftest import ROOT, SHARED_DATA

pytestmark = pytest.mark.skipif(not SHARED_DATA.exists() and not os.environ.get("CI"),
                                reason="shared data (../shared/data) not present")

SEED = 11
N_NOTES = 60

# Measured with SEED/N_NOTES (30 held-out notes, 322 gold spans): on the engine of commit
# fa262e7 recall 0.870, clinical-word removal 0.016, over-removal 0.022; on commit 9ac6e44
# recall 0.981 (the same with Unicode noise), clinical-word removal 0.0, over-removal 0.009;
# with the clinical NER (stages/deid/ner.py) recall 0.985, clinical 0.0, over-removal 0.011.
# The floors sit a little below; raise them as the engine improves.
RECALL_FLOOR = 0.97
UNICODE_MAX_DROP = 0.005
CLINICAL_MAX = 0.005
# The second benchmark (bench/deid_realistic.py), on a seed nobody tuned on (2), 40 notes,
# 477 gold spans, commit 9ac6e44: recall 0.958, over-removal 0.015, clinical words 0.005;
# with the clinical NER: recall 0.960, over-removal 0.019, clinical words 0.0.
REALISTIC_FLOOR, REALISTIC_OVER_MAX, REALISTIC_CLINICAL_MAX = 0.95, 0.025, 0.01


@pytest.fixture(scope="module")
def bench():
    from bench import deid_heldout

    return deid_heldout


@pytest.fixture(scope="module")
def notes(bench):
    return bench.make_notes(N_NOTES, SEED)


@pytest.fixture(scope="module")
def engine():
    from medllm_local.stages.deid.engine import DeidEngine

    return DeidEngine()


_MONTHISH = re.compile(r"jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec|mon|tue|wed|thu|fri|sat|sun|"
                       r"christmas|xmas|thanksgiving|easter|year|memorial|labor", re.IGNORECASE)


def test_gold_spans_are_consistent(bench, notes):
    assert len(notes) == N_NOTES
    types_seen = set()
    for note in notes:
        assert len(note.forms) == len(note.spans)
        spans = sorted(note.spans)
        for a, b in zip(spans, spans[1:]):
            assert a.end <= b.start, note.text[a.start:b.end]
        for sp in note.spans:
            assert 0 <= sp.start < sp.end <= len(note.text)
            assert sp.type in bench.TYPES
            text = note.text[sp.start:sp.end]
            assert text and text == text.strip() and any(ch.isalnum() for ch in text), repr(text)
            types_seen.add(sp.type)
            if sp.type in ("PHONE", "ID"):
                assert any(ch.isdigit() for ch in text), text
            elif sp.type == "AGE":
                assert (text.isdigit() and int(text) >= 90) or text.lower().startswith("ninety"), text
            elif sp.type == "DATE":
                assert any(ch.isdigit() for ch in text) or _MONTHISH.search(text), text
            elif sp.type == "CONTACT":
                assert re.fullmatch(r"[\w.+-]+@[\w-]+(\.[\w-]+)+|(https?://|www\.)\S+|\d+\.\d+\.\d+\.\d+",
                                    text, re.IGNORECASE), text
            elif sp.type in ("PERSON", "FACILITY"):
                assert any(ch.isalpha() for ch in text), text
            if sp.type == "PERSON":
                assert text.lower() not in {w.lower() for w in bench.CLINICAL_WORDS}, text
    assert types_seen == set(bench.TYPES)


def test_generation_is_fixed_by_seed_and_split_half_and_half(bench, notes):
    again = bench.make_notes(N_NOTES, SEED)
    assert [n.text for n in again] == [n.text for n in notes]
    assert [n.spans for n in again] == [n.spans for n in notes]
    tuning, heldout = bench.split(notes, SEED)
    assert len(tuning) == len(heldout) == N_NOTES // 2
    assert {id(n) for n in tuning}.isdisjoint({id(n) for n in heldout})
    assert all(n.half == "tuning" for n in tuning) and all(n.half == "heldout" for n in heldout)
    t2, h2 = bench.split(notes, SEED)
    assert [n.text for n in h2] == [n.text for n in heldout]
    # the held-out half draws its identifiers from pools the tuning half never uses
    pool_t, pool_h = bench._pools(SEED)
    for attr in ("firsts", "lasts", "cities", "streets", "facilities", "homes"):
        assert set(getattr(pool_t, attr)).isdisjoint(getattr(pool_h, attr)), attr


def _digest(notes) -> str:
    return hashlib.sha256(repr([(n.text, n.spans) for n in notes]).encode()).hexdigest()


def test_generation_is_reproducible_across_processes(notes):
    code = ("import hashlib; from bench import deid_heldout as b; "
            f"n = b.make_notes({N_NOTES}, {SEED}); "
            "print(hashlib.sha256(repr([(x.text, x.spans) for x in n]).encode()).hexdigest())")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         env={**os.environ, "PYTHONHASHSEED": "12345"}, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == _digest(notes)


def test_filler_carries_clinical_vocabulary(bench, notes):
    words = [w.lower() for n in notes for _, _, w in bench.clinical_occurrences(n)]
    assert len(words) > 300
    assert len(set(words)) >= 60


def test_unicode_variant_covers_the_same_identifiers(bench, notes):
    odd = 0
    for i, note in enumerate(notes):
        noisy = bench.with_unicode_noise(note, random.Random(i))
        assert len(noisy.spans) == len(note.spans)
        assert bench.canon(noisy.text) == bench.canon(note.text)
        for a, b in zip(note.spans, noisy.spans):
            assert a.type == b.type
            assert bench.canon(noisy.text[b.start:b.end]) == bench.canon(note.text[a.start:a.end])
        odd += sum(1 for ch in noisy.text if ord(ch) > 127) - sum(1 for ch in note.text if ord(ch) > 127)
    assert odd > 100


def test_scorer(bench, notes):
    note = notes[0]
    exact = [SimpleNamespace(start=s.start, end=s.end) for s in note.spans]
    result = bench.score([note], [exact])
    assert result["recall"] == 1.0 and result["over_removal"] == 0.0
    assert bench.score([note], [[]])["recall"] == 0.0
    # covering only the alphanumeric characters of a span is enough; half of it is not
    sp = note.spans[0]
    alnum = [SimpleNamespace(start=i, end=i + 1) for i in range(sp.start, sp.end)
             if note.text[i].isalnum()]
    assert bench.score([note], [alnum])["by_type"][sp.type]["found"] >= 1
    half = [SimpleNamespace(start=sp.start, end=sp.start + max(1, (sp.end - sp.start) // 2))]
    if sum(ch.isalnum() for ch in note.text[sp.start:sp.end]) > 1:
        assert bench.score([note], [half])["by_type"][sp.type]["found"] == 0
    everything = [SimpleNamespace(start=0, end=len(note.text))]
    full = bench.score([note], [everything])
    assert full["over_removal"] == 1.0
    assert full["clinical_removal"] == (1.0 if full["clinical_occurrences"] else 0.0)


def test_engine_recall_on_heldout_half(bench, notes, engine):
    _, heldout = bench.split(notes, SEED)
    plain = bench.score(heldout, engine.find_many([n.text for n in heldout]))
    noisy = [bench.with_unicode_noise(n, random.Random(f"uni-{SEED}-{i}")) for i, n in enumerate(heldout)]
    uni = bench.score(noisy, engine.find_many([n.text for n in noisy]))
    # numbers only: the held-out misses themselves are never printed
    summary = {t: (v["found"], v["total"]) for t, v in plain["by_type"].items()}
    assert plain["recall"] >= RECALL_FLOOR, (plain["recall"], summary)
    assert uni["recall"] >= plain["recall"] - UNICODE_MAX_DROP, (uni["recall"], plain["recall"])
    assert plain["clinical_removal"] <= CLINICAL_MAX, plain["clinical_touched_words"]


def test_engine_on_the_second_benchmark_seed_nobody_tuned_on(engine):
    from bench import deid_realistic

    notes, _ = deid_realistic.generate(2, 40)
    per_type, _, _, (covered, other), (clinical_total, clinical_touched), _ = deid_realistic.score(
        notes, engine.find_many([text for _, text, _ in notes]))
    total = sum(v[0] for v in per_type.values())
    found = sum(v[1] for v in per_type.values())
    assert total > 400
    assert found / total >= REALISTIC_FLOOR, {t: (v[1], v[0]) for t, v in per_type.items()}
    assert covered / other <= REALISTIC_OVER_MAX
    assert sum(clinical_touched.values()) / sum(clinical_total.values()) <= REALISTIC_CLINICAL_MAX
