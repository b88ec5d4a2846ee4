"""The project's clinical identifier NER (medllm_local/stages/deid/ner.py): the shipped model, its
training script and data generator, and what it adds to the engine on notes written the
way ICU notes are (the examples here are made up for these tests)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import SHARED_DATA
from medllm_local.stages.deid.engine import DeidEngine
from medllm_local.stages.deid.ner import MODEL_DIR, load_phi_ner, phi_ner_results

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "installer"))
# the generator reads its clinical text from ../shared/data (present in CI)
needs_shared_data = pytest.mark.skipif(not SHARED_DATA.exists() and not os.environ.get("CI"),
                                       reason="shared data (../shared/data) not present")


@pytest.fixture(scope="module")
def engine():
    return DeidEngine()


def test_the_shipped_model_loads_from_the_package_and_its_card_states_its_dev_scores():
    nlp = load_phi_ner()
    assert nlp.pipe_names == ["tok2vec", "ner"]
    assert set(nlp.get_pipe("ner").labels) == {"PERSON", "LOCATION", "FACILITY"}
    card = (MODEL_DIR / "README.md").read_text()
    recall = json.loads((MODEL_DIR / "meta.json").read_text())["performance"]["ents_r"]
    assert f"recall {recall:.3f}" in card
    assert "ACI-Bench validation notes and MTS-Dialog validation set are not used" in card


@pytest.mark.parametrize("line, name", [
    ("social: wife nkechi at bedside, updated on poc. will wean as tol", "nkechi"),
    ("plan: f/u w/ pcp dr. amadi in 2 wks", "amadi"),
    ("SPOKE WITH DAUGHTER MARGIT RE: PLAN OF CARE, VERBALIZED UNDERSTANDING", "MARGIT"),
    ("resp: sats 94% on 4L NC. abg sent, results called to Zheng Anwuli NP", "Zheng Anwuli"),
])
def test_the_model_reads_names_from_context_in_any_case(line, name):
    [results] = phi_ner_results([line])
    found = [line[r.start:r.end] for r in results if r.entity_type == "PERSON"]
    assert any(name in span for span in found), found


def test_clinical_words_the_model_might_guess_at_are_kept_by_the_engine(engine):
    note = ("Neuro: Glasgow Coma Scale 15, no focal deficit. Foley catheter draining clear urine.\n"
            "History of Lyme disease in 2019. Tolerating orange juice and water by mouth.\n"
            "RESULTS\nChest x-ray: no infiltrate. Plan: Biopsy next week. Occasionally dizzy.\n"
            "Spoke with Dr. Okafor, who agrees.")
    found = engine.find(note)
    removed = " ".join(f.text for f in found).lower()
    for word in ("glasgow", "foley", "lyme", "orange", "water", "results", "chest", "biopsy", "occasionally"):
        assert word not in removed, (word, found)
    assert any(f.text == "Okafor" for f in found)


@needs_shared_data
def test_the_generator_is_deterministic_and_its_spans_fall_on_token_edges():
    import spacy
    from phi_ner_notes import make_examples

    first, again = make_examples(40, seed=3), make_examples(40, seed=3)
    assert first == again
    nlp = spacy.blank("en")
    labels = set()
    for text, spans in first:
        doc = nlp.make_doc(text)
        ordered = sorted(spans)
        assert all(a[1] <= b[0] for a, b in zip(ordered, ordered[1:]))
        for start, end, label in spans:
            labels.add(label)
            assert text[start:end].strip() == text[start:end] != ""
            assert doc.char_span(start, end) is not None, text[start:end]
    assert labels == {"PERSON", "LOCATION", "FACILITY"}


@needs_shared_data
def test_the_training_script_builds_a_loadable_model_with_its_card(tmp_path):
    out = tmp_path / "phi_ner"
    subprocess.run([sys.executable, str(ROOT / "installer" / "train_phi_ner.py"), "--notes", "60",
                    "--dev-notes", "20", "--max-steps", "20", "--out", str(out)],
                   check=True, capture_output=True, cwd=ROOT, timeout=600)
    import spacy

    nlp = spacy.load(out)
    assert "ner" in nlp.pipe_names
    card = (out / "README.md").read_text()
    assert "60 synthetic notes" in card and "Dev set" in card
