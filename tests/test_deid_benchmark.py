"""De-identification quality on real notes, at a size that fits the test suite: the
targets of the issue, asserted (bench/deid.py measures the full sets)."""

from __future__ import annotations

import os
import sys

import pytest

from conftest import ROOT, SHARED_DATA

sys.path.insert(0, str(ROOT / "bench"))

if not (SHARED_DATA / "aci_bench").exists():
    pytestmark = pytest.mark.skipif(not os.environ.get("CI"), reason="../shared/data not present")


def test_injected_identifiers_are_found_in_real_notes():
    from phi_injection import make_benchmark, score

    from medllm_local.stages.deid.engine import DeidEngine

    notes = make_benchmark(40, seed=11)
    result = score(notes, DeidEngine().find_many([n.text for n in notes]))
    assert result["spans"] > 200
    assert result["span_recall"] >= 0.97, result
    for kind in ("PERSON", "DATE_TIME", "ID"):
        assert result["recall_by_type"][kind] >= 0.99, (kind, result)
    assert result["precision_lower_bound"] >= 0.5, result
