"""Chat on the embedded model, through the same stream the app's chat tab uses: free chat,
the case form, the ranked differential (JSON grammar) and similar past cases."""

from __future__ import annotations

import hashlib
import json
import re
import threading

import jsonschema
import pytest

from conftest import run_cli
from medllm_local import pipeline
from medllm_local.stages.chat import similar
from medllm_local.stages.chat.answer import (LIKELIHOODS, ChatSettings, DifferentialError, DifferentialSettings,
                               differential_schema, differential_token_budget, is_diagnosis,
                               parse_differential)
from medllm_local.stages.dataset.build import pairs_for_document
from medllm_local.core.prompts import SYSTEM_PROMPT, TASKS, CaseForm, case_form_prompt, chat_messages
from medllm_local.core.records import Document, Page

ENGLISH_WORDS = {"the", "a", "is", "of", "and", "to", "in", "or", "with", "be", "are", "for"}


def test_clinical_question_gets_an_english_answer_that_stops_by_itself():
    chunks = list(pipeline.chat_stream(
        "A 58-year-old man has crushing central chest pain radiating to the left arm, "
        "sweating and ST elevation in leads II, III and aVF. What is the most likely diagnosis?",
        settings=ChatSettings(max_tokens=512, temperature=0.0),
    ))
    final = chunks[-1]
    assert final.done and final.answer is not None
    assert len(chunks) > 3  # it streamed, token by token
    assert all(b.text.startswith(a.text) for a, b in zip(chunks, chunks[1:-1]))
    answer = final.answer
    assert answer.stop_reason == "stop", f"hit max tokens: {answer.answer[-200:]}"
    assert answer.tokens < 512 and answer.prompt_tokens > 50  # system prompt + case
    words = re.findall(r"[a-z]+", answer.answer.lower())
    assert len(words) >= 5
    assert len(ENGLISH_WORDS & set(words)) >= 2
    assert sum(c.isascii() for c in answer.answer) / len(answer.answer) > 0.97
    for markup in ("<|im_start|>", "<|im_end|>", "<|endoftext|>"):
        assert markup not in answer.answer


def test_greedy_answers_are_repeatable():
    settings = ChatSettings(max_tokens=40, temperature=0.0)
    first = pipeline.chat_answer("What is the normal range of adult resting heart rate?", None, settings)
    second = pipeline.chat_answer("What is the normal range of adult resting heart rate?", None, settings)
    assert first.answer == second.answer and first.answer


def test_history_is_part_of_the_prompt():
    settings = ChatSettings(max_tokens=16, temperature=0.0)
    alone = pipeline.chat_answer("Repeat the drug I named.", None, settings)
    history = [{"role": "user", "content": "The drug is metformin."},
               {"role": "assistant", "content": "Noted: metformin."}]
    chunks = list(pipeline.chat_stream("Repeat the drug I named.", history, None, settings))
    assert chunks[-1].answer.prompt_tokens > alone.prompt_tokens + 10


def test_stop_event_cancels_generation():
    stop = threading.Event()
    seen = 0
    final = None
    for chunk in pipeline.chat_stream("Write a long essay on the history of medicine.",
                                      settings=ChatSettings(max_tokens=400, temperature=0.0),
                                      stop_event=stop):
        seen += 1
        if seen == 5:
            stop.set()
        final = chunk
    assert final.answer.stop_reason == "cancelled"
    assert final.answer.tokens <= 6


def test_messages_start_with_the_shared_system_prompt():
    messages = chat_messages("q", [{"role": "user", "content": "a"},
                                   {"role": "system", "content": "ignored"}])
    assert messages[0] == {"role": "system", "content": SYSTEM_PROMPT}
    assert [m["role"] for m in messages] == ["system", "user", "user"]


@pytest.mark.parametrize("bad", [{"max_tokens": 0}, {"temperature": -1}, {"top_p": 0},
                                 {"n_ctx": 10}])
def test_settings_are_checked(bad):
    with pytest.raises(ValueError):
        ChatSettings(**bad)


# -- case form ---------------------------------------------------------------------------
FORM = CaseForm(age=58, sex="man", history="Hypertension; smokes 20 a day.",
                symptoms="crushing central chest pain radiating to the left arm, with sweating",
                findings="ST elevation in leads II, III and aVF; troponin raised")


def test_case_form_asks_in_the_words_of_the_training_pairs():
    """A report with the same content gives, through dataset building, the very user turn
    the case form gives (for the document whose phrasing is the first, as chat uses)."""
    report = ("History of present illness: A 58-year-old man. Crushing central chest pain "
              "radiating to the left arm, with sweating.\n\nPast medical history: Hypertension; "
              "smokes 20 a day.\n\nPhysical examination: ST elevation in leads II, III and aVF; "
              "troponin raised\n\nDiagnosis: Inferior STEMI\n\nDifferential:\n1. Inferior STEMI\n"
              "2. Aortic dissection\n3. Pericarditis")
    doc_id = next(i for i in range(1, 100)
                  if int(hashlib.sha256(str(i).encode()).hexdigest(), 16) % 3 == 0)
    pairs = {p.task: p for p in pairs_for_document(doc_id, report, ["diagnosis", "differential"]).pairs}
    assert case_form_prompt(FORM, "diagnosis") == pairs["diagnosis"].messages[1]["content"]
    assert case_form_prompt(FORM, "differential") == pairs["differential"].messages[1]["content"]
    assert case_form_prompt(FORM).startswith(TASKS["diagnosis"].phrasings[0])


@pytest.mark.parametrize("bad", [{"age": 131, "symptoms": "cough"}, {"sex": "woman"},
                                 {"symptoms": "  ", "findings": ""}])
def test_case_form_is_checked(bad):
    with pytest.raises(ValueError):
        CaseForm(**bad)


# -- ranked differential -----------------------------------------------------------------
SMALL = DifferentialSettings(max_diagnoses=3, max_findings=2, max_chars=40)


def test_differential_is_valid_json_for_its_schema_and_never_cut_off():
    result = pipeline.chat_differential(FORM, settings=ChatSettings(temperature=0.0), bounds=SMALL)
    answer = result.answer
    assert answer.stop_reason == "stop" and answer.tokens <= differential_token_budget(SMALL)
    jsonschema.validate(json.loads(answer.answer), differential_schema(SMALL))  # independent check
    assert 1 <= len(result.items) <= 3
    for item in result.items:
        assert item.diagnosis and item.likelihood in LIKELIHOODS
        assert len(item.supporting_findings) <= 2 and len(item.opposing_findings) <= 2


def test_differential_budget_covers_the_longest_answer_the_schema_allows():
    """The longest valid answer, with a space wherever the grammar allows one, fits the
    budget in bytes; a grammar token is at least one byte, so no answer is cut off."""
    text = "x" * SMALL.max_chars
    longest = {"differential": [{"diagnosis": text, "likelihood": "moderate",
                                 "supporting_findings": [text] * 2, "opposing_findings": [text] * 2}] * 3}
    jsonschema.validate(longest, differential_schema(SMALL))
    spaced = json.dumps(longest, separators=(", ", ": ")).replace("{", "{ ").replace("[", "[ ")
    assert len(spaced.encode()) < differential_token_budget(SMALL)
    with pytest.raises(jsonschema.ValidationError):  # a text the grammar cannot produce
        jsonschema.validate({"differential": [{"diagnosis": "x" * 41, "likelihood": "high",
                                               "supporting_findings": [], "opposing_findings": []}]},
                            differential_schema(SMALL))


@pytest.mark.parametrize("text, problem", [
    ("{\"differential\": [", "not JSON"),
    ('{"differential": []}', "1 to 3 diagnoses"),
    ('{"differential": [{"diagnosis": "MI", "likelihood": "certain", "supporting_findings": [],'
     ' "opposing_findings": []}]}', "likelihood"),
])
def test_a_differential_that_breaks_the_schema_is_refused_with_the_reason(text, problem):
    with pytest.raises(DifferentialError, match=problem):
        parse_differential(text, SMALL)


def entry(diagnosis: str) -> dict:
    return {"diagnosis": diagnosis, "likelihood": "high", "supporting_findings": [],
            "opposing_findings": []}


def test_a_description_of_the_patient_is_no_diagnosis():
    from medllm_local.core.records import ChatAnswer
    from medllm_local.stages.chat.answer import Differential

    # what the small model put first for a stroke case
    items = parse_differential(json.dumps({"differential": [
        entry("A 72-year-old."), entry("Acute ischemic stroke"), entry("Transient ischemic attack")]}), SMALL)
    assert [i.diagnosis for i in items if is_diagnosis(i.diagnosis)] == [
        "Acute ischemic stroke", "Transient ischemic attack"]
    assert not is_diagnosis("The patient presents with weakness") and not is_diagnosis("72 yo male")
    assert is_diagnosis("Child abuse") and is_diagnosis("Male breast cancer")
    nothing = Differential([], ChatAnswer("{}", 10, 50, 0.5, "stop", "m"), ["A 34-year-old woman."])
    assert "named no diagnosis" in nothing.problem and "more training" in nothing.problem


def test_the_case_form_starts_a_new_conversation(workspace):
    """A case asked after a free chat is answered on its own, not as a follow-up."""
    import gradio as gr

    from medllm_local.ui.chat_tab import build_chat_tab

    with gr.Blocks() as blocks:
        build_chat_tab(workspace)
    fns = {f.api_name: f.fn for f in blocks.fns.values()}
    earlier = [{"role": "user", "content": "Crushing chest pain, ST elevation: diagnosis?"},
               {"role": "assistant", "content": "Inferior STEMI"}]
    first = next(fns["chat_case"](earlier, None, 0, 72, "M", "", "sudden left-sided weakness",
                                  "facial droop", *ChatSettings(max_tokens=4).__dict__.values()))
    shown = first[0]
    assert "STEMI" not in json.dumps(shown) and shown[0]["role"] == "user"
    assert "weakness" in shown[0]["content"]


# -- similar past cases ------------------------------------------------------------------
ARCHIVE = [  # (original text, de-identified text, approved)
    ("Patient: Johnathan Quayle, MRN 4417.\nHPI: fever, dysuria, flank pain.\n"
     "Exam: costovertebral angle tenderness.\nDiagnosis: Acute pyelonephritis",
     "Patient: [PERSON], MRN [MRN].\nHPI: fever, dysuria, flank pain.\n"
     "Exam: costovertebral angle tenderness.\nDiagnosis: Acute pyelonephritis", True),
    ("Patient: Marta Ellwood.\nHPI: wheeze and cough at night.\nExam: expiratory wheeze.\n"
     "Diagnosis: Asthma", "Patient: [PERSON].\nHPI: wheeze and cough at night.\n"
     "Exam: expiratory wheeze.\nDiagnosis: Asthma", True),
    ("Patient: Olaf Brennick.\nHPI: crushing chest pain, sweating.\nExam: ST elevation.\n"
     "Diagnosis: Inferior STEMI", "Patient: [PERSON].\nHPI: crushing chest pain, sweating.\n"
     "Exam: ST elevation.\nDiagnosis: Inferior STEMI", True),
    ("Patient: Ida Pyelo.\nHPI: fever, dysuria, flank pain, rigors.\nDiagnosis: Urosepsis",
     "Patient: [PERSON].\nHPI: fever, dysuria, flank pain, rigors.\nDiagnosis: Urosepsis", False),
]


def fill_archive(workspace) -> None:
    """Documents as the pipeline leaves them: original text, de-identified text, status."""
    for number, (original, deidentified, approved) in enumerate(ARCHIVE):
        doc_id, _ = workspace.store_document(Document(
            source=f"/inbox/{original.split()[1].lower()}.txt", kind="txt",
            sha256=f"{number:02d}" * 32, pages=[Page(1, original)]))
        workspace.store_deid(doc_id, f"{number:02d}" * 32, deidentified, [], "patient")
        if approved:
            workspace.set_status([doc_id], "approved")


def test_similar_cases_rank_the_obvious_case_first_and_show_only_deidentified_text(workspace):
    fill_archive(workspace)
    found = pipeline.similar_cases(workspace, CaseForm(age=34, sex="woman", symptoms="fever and "
                                                       "dysuria", findings="flank pain"), 3)
    assert found[0]["diagnosis"] == "Acute pyelonephritis"
    # "pain" is shared with the chest pain case, nothing with the asthma case
    assert [c["diagnosis"] for c in found] == ["Acute pyelonephritis", "Inferior STEMI"]
    assert found[0]["score"] > 2 * found[1]["score"]
    assert found[0]["score"] > 0 and "[PERSON]" not in found[0]["case"]  # the case part only
    shown = json.dumps(pipeline.similar_cases(workspace, "cough, chest pain, fever", 5))
    assert "Asthma" in shown and "Inferior STEMI" in shown
    for original, _, _ in ARCHIVE:  # no name, MRN or file name; the unapproved case not at all
        for identifier in (original.split("\n")[0].split(": ")[1].split(",")[0], "4417", ".txt"):
            assert identifier not in shown
    assert "Urosepsis" not in shown and "rigors" not in shown


def test_similar_ranking_prefers_rare_shared_words():
    texts = ["cough fever", "cough fever", "cough fever erythema migrans", "headache"]
    ranked = similar.rank("erythema migrans after a tick bite, fever", texts, top_n=4)
    assert [m.index for m in ranked] == [2, 0, 1]
    assert similar.rank("tick", texts) == [] and similar.rank("the of", texts) == []


# -- the CLI -----------------------------------------------------------------------------
def test_cli_differential_json_and_similar_cases(tmp_path):
    from medllm_local.workspace.store import Workspace

    fill_archive(Workspace.open(tmp_path / "ws"))
    case = tmp_path / "case.json"
    case.write_text(json.dumps({"age": 34, "sex": "woman", "symptoms": "fever and dysuria",
                                "findings": "flank pain"}))
    out = run_cli("chat", "--workspace", str(tmp_path / "ws"), "--case-json", str(case),
                  "--differential", "--similar", "2", "--temperature", "0", "--max-diagnoses", "3",
                  "--max-findings", "2", "--max-chars", "40", "--json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    jsonschema.validate(json.loads(report["answer"]), differential_schema(SMALL))
    # every entry of the answer is ranked, but for those that describe the patient instead
    assert ([item["diagnosis"] for item in report["differential"]] + report["not_diagnoses"]
            == sorted((item["diagnosis"].strip() for item in json.loads(report["answer"])["differential"]),
                      key=lambda text: not is_diagnosis(text)))
    assert {"tokens", "seconds", "stop_reason"} <= report.keys()
    assert report["similar_cases"][0]["diagnosis"] == "Acute pyelonephritis"
    assert "Quayle" not in out.stdout

    out = run_cli("chat", "--workspace", str(tmp_path / "ws"), "--prompt", "wheeze at night",
                  "--similar", "1", "--max-tokens", "8")
    assert out.returncode == 0, out.stderr
    assert "document 2" in out.stdout and "Asthma" in out.stdout
    out = run_cli("chat", "--prompt", "x", "--age", "40", "--symptoms", "cough", "--json")
    assert out.returncode == 1 and "either --prompt or a case" in json.loads(out.stdout)["error"]


# -- feedback ----------------------------------------------------------------------------
def test_feedback_reaches_training_pairs_only_deidentified_and_approved(workspace):
    from medllm_local.pipeline import feedback

    question = ("Patient Johnathan Quayle, 34, fever, dysuria and flank pain. "
                "What is the most likely diagnosis?")
    corrected = feedback.record_feedback(workspace, question, "Cystitis", "embedded", "down",
                                         "Acute pyelonephritis in Johnathan Quayle")
    liked = feedback.record_feedback(workspace, "What does BP stand for?", "Blood pressure",
                                     "embedded", "up")
    disliked = feedback.record_feedback(workspace, "Name a beta blocker.", "Aspirin", "embedded", "down")
    assert corrected["trainable"] and liked["trainable"] and not disliked["trainable"]
    with pytest.raises(ValueError):
        feedback.record_feedback(workspace, question, "x", "embedded")  # neither rating nor text
    with pytest.raises(pipeline.GateError):  # nothing is approved before de-identification
        feedback.review_feedback(workspace, corrected["id"], approve=True)

    done = feedback.deidentify_feedback(workspace)["deidentified"]
    assert {d["id"] for d in done} == {corrected["id"], liked["id"]}  # nothing to learn from a bare 👎
    assert feedback.feedback_pairs(workspace) == []  # de-identified is not yet approved
    feedback.review_feedback(workspace, corrected["id"], approve=True)
    feedback.review_feedback(workspace, liked["id"], approve=False)
    pairs = feedback.feedback_pairs(workspace)
    assert len(pairs) == 1
    text = json.dumps([p.messages for p in pairs])
    assert "Quayle" not in text and "Johnathan" not in text
    assert "pyelonephritis" in pairs[0].reference and "dysuria" in pairs[0].question
    assert pairs[0].system == SYSTEM_PROMPT
    # the text as typed lives only in the owner-only raw/ folder, never in the catalogue
    workspace.query("PRAGMA wal_checkpoint(TRUNCATE)")
    for path in workspace.root.glob("catalogue.sqlite*"):
        assert b"Quayle" not in path.read_bytes(), path.name
    typed = workspace.root / workspace.raw_feedback_file(corrected["id"])
    assert typed.parent == workspace.folder("raw") and typed.stat().st_mode & 0o077 == 0
    assert workspace.read_raw_feedback(corrected["id"])["correction"] == "Acute pyelonephritis in Johnathan Quayle"
