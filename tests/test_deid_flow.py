"""The default flow on ordinary notes, as a new user runs it: every ACI-Bench note and
every MTS-Dialog note section (../shared/data, CC BY 4.0) through ingest, de-identify and
approve all, and build. The build must not be blocked by the engine's own mistakes, and
no clinical word of a fixed list may be replaced on the way."""

from __future__ import annotations

import csv
import os
import re
from collections import Counter

import pytest

from conftest import SHARED_DATA
from medllm_local import pipeline

if not (SHARED_DATA / "aci_bench").exists():
    pytestmark = pytest.mark.skipif(not os.environ.get("CI"), reason="../shared/data not present")

# Drugs (generic and brand), findings, anatomy and section words that spaCy's small model
# has called a person or a place in these notes.
CLINICAL_WORDS = """
denies positive negative evaluation rate slight cough nose mouth throat ears murmur
grade abnormal labs hemoglobin dysphagia glomerulonephritis cornea herniated disc
protonix zoloft nexium toprol lasix metformin lisinopril norvasc flonase claritin
tylenol motrin advil ibuprofen prednisone coumadin eliquis lipitor crestor synthroid
albuterol singulair xarelto plavix aspirin insulin covid pneumonia diabetes
hypertension edema tenderness wheezing rales effusion fracture biopsy mammogram
""".split()


def _notes() -> list[str]:
    notes = []
    for split in ("train", "valid"):
        with (SHARED_DATA / "aci_bench" / f"{split}.csv").open(encoding="utf-8") as handle:
            notes += [row["note"] for row in csv.DictReader(handle)]
    for name in ("MTS-Dialog-TrainingSet.csv", "MTS-Dialog-ValidationSet.csv"):
        with (SHARED_DATA / "mts_dialog" / name).open(encoding="utf-8") as handle:
            notes += [row["section_text"] for row in csv.DictReader(handle)
                      if len(row["section_text"].split()) >= 3]
    return notes


def _counts(text: str) -> Counter:
    words = Counter(w.lower() for w in re.findall(r"[A-Za-z]+", text))
    return Counter({w: words[w] for w in CLINICAL_WORDS if words[w]})


@pytest.mark.slow
def test_every_shared_note_goes_from_ingest_to_a_dataset_with_no_residual_block(workspace, tmp_path):
    notes = _notes()
    assert len(notes) > 1100
    folder = tmp_path / "notes"
    folder.mkdir(mode=0o700)
    for index, note in enumerate(notes):
        (folder / f"note-{index:04d}.txt").write_text(note, encoding="utf-8")
    ingested = pipeline.ingest(workspace, [folder]).documents
    ok = [d for d in ingested if d.status == "ok"]
    assert not [d for d in ingested if d.status == "failed"]

    report = pipeline.deid_documents(workspace)
    pipeline.approve_documents(workspace)
    built = pipeline.build_dataset(workspace)
    assert sum(split.pairs for split in built.splits.values()) > 100

    text_files = {d.id: d.text_file for d in ok}
    replaced, total = Counter(), Counter()
    for document in report.documents:
        raw = open(text_files[document.id], encoding="utf-8").read()
        deid = open(document.deid_file, encoding="utf-8").read()
        before, after = _counts(raw), _counts(deid)
        total.update(before)
        replaced.update({w: n - after[w] for w, n in before.items() if after[w] < n})
    assert sum(total.values()) > 1000
    assert not replaced, f"clinical words replaced: {dict(replaced.most_common(20))}"
