"""spaCy's English NER read only where a hit of it could be kept
(medllm_local/stages/deid/english_ner.py), and the models' matrix ops (ner.numpy_matmul_ops).
The notes here are made up for these tests."""

from __future__ import annotations

import pytest

from medllm_local.stages.deid.engine import DeidEngine
from medllm_local.stages.deid.english_ner import COMPONENT, could_keep_a_hit, kept_runs, ungate_english_ner
from medllm_local.stages.deid.ner import load_phi_ner

NOTE = ("Patient seen in clinic today. She reports feeling better. Her daughter Ngozi Adeyemi "
        "drove her in. No fever, no chills, no cough.\nLungs clear to auscultation. "
        "Abdomen soft and non tender.\nSeen again on the 23rd with Dr. Oyelaran-Whitfield. "
        "Plan is unchanged and she agrees with the plan.\nTolerating a regular diet.\n")


@pytest.fixture(scope="module")
def engine():
    return DeidEngine()


def test_a_sentence_is_read_when_it_holds_a_name_a_number_a_date_word_or_follows_a_title():
    assert could_keep_a_hit("Her daughter Ngozi drove her in.", 0, 32)
    assert could_keep_a_hit("Seen on the 23rd.", 0, 17)
    assert could_keep_a_hit("Seen last Tuesday.", 0, 18)
    assert could_keep_a_hit("Seen at Christmas.", 0, 18)
    text = "Seen by Dr. Cough was there."
    assert could_keep_a_hit(text, 12, len(text))  # "Dr." ends the sentence before it
    for ordinary in ("Lungs clear to auscultation.", "No fever, no chills, no cough.",
                     "Plan is unchanged and she agrees with the plan."):
        assert not could_keep_a_hit(ordinary, 0, len(ordinary))


def test_kept_sentences_next_to_each_other_are_read_as_one_run():
    runs = kept_runs(NOTE)
    read = [NOTE[s:e] for s, e in runs]
    assert read == ["Her daughter Ngozi Adeyemi drove her in.",
                    "Seen again on the 23rd with Dr. Oyelaran-Whitfield."]


def test_the_gated_ner_puts_its_entities_at_their_places_in_the_whole_note(engine):
    nlp = engine.analyzer.nlp_engine.nlp["en"]
    assert COMPONENT in nlp.pipe_names and "ner" not in nlp.pipe_names  # the gate replaces it
    doc = nlp(NOTE)
    people = [ent.text for ent in doc.ents if ent.label_ == "PERSON"]
    assert "Ngozi Adeyemi" in people
    for ent in doc.ents:  # offsets into the note, not into the text the NER read
        assert NOTE[ent.start_char:ent.end_char] == ent.text
        assert "Lungs" not in ent.text and "diet" not in ent.text


def test_the_engine_with_the_gate_finds_what_the_ungated_engine_finds_on_this_note(engine):
    ungated = DeidEngine()
    ungate_english_ner(ungated.analyzer.nlp_engine.nlp["en"])
    gated = {(f.start, f.end, f.type) for f in engine.find(NOTE)}
    assert gated == {(f.start, f.end, f.type) for f in ungated.find(NOTE)}
    assert any(NOTE[s:e] == "Ngozi Adeyemi" for s, e, _ in gated)


def test_the_models_multiply_with_numpy_blas_not_the_default_blis(engine):
    # the token-to-vector layers hold the large products (the parser's step runs in C)
    english_ner = engine.analyzer.nlp_engine.nlp["en"].get_pipe("ner")
    for model in (english_ner.model.get_ref("tok2vec"), load_phi_ner().get_pipe("tok2vec").model):
        assert all(not getattr(layer.ops, "use_blis", True) for layer in model.walk())
