"""The privacy gate holds under every path (issue 16, approval and training data):
training, resuming and evaluating read only text that is approved as it is now; an
approval is of the text a person was shown; a review is stored whole or not at all; and
a rejection in one document leaves the value known in every other."""

from __future__ import annotations

import json
import sqlite3

import pytest

from medllm_local import pipeline

from medllm_local.stages.train import trainer as train
from medllm_local.stages.deid.engine import DeidSettings
from medllm_local.core.demo_reports import DEMO_REPORTS
from medllm_local.pipeline import train as training
from medllm_local.pipeline.evaluate import load_cases
from medllm_local.pipeline.feedback import deidentify_feedback, record_feedback, review_feedback
from medllm_local.stages.deid.surrogates import SurrogateMap
from medllm_local.workspace.store import Workspace, sha256_bytes
from test_dataset import approved_workspace
from test_pairs import a_word_only_in


class ReachedTraining(Exception):
    """Raised by the stand-in trainer: the gate let the run through to the model."""


@pytest.fixture
def trainer(monkeypatch, tmp_path):
    """train_run up to the point where a model would load: the files it would read."""
    read: list[str] = []

    def fake_train(base, train_pairs, validation_pairs, folder, settings, **_):
        read.extend(json.dumps(p) for p in train_pairs + validation_pairs)
        raise ReachedTraining

    monkeypatch.setattr(training, "base_model_folder", lambda name: tmp_path / "base-model")
    monkeypatch.setattr(train, "train", fake_train)
    return read


def run(workspace, **kwargs):
    return pipeline.train_run(workspace, "base", train.TrainSettings(max_steps=1), **kwargs)


def revise_and_approve(workspace, document_id: int) -> str:
    """A reviewer finds a surname the detectors missed, removes it and approves again."""
    pair = workspace.query("SELECT messages FROM pairs WHERE document_id = ? AND origin = 'report'"
                           " ORDER BY id LIMIT 1", (document_id,))[0]
    missed = a_word_only_in(workspace, document_id, json.loads(pair["messages"])[1]["content"])
    pipeline.revise_document(workspace, document_id, add_text=missed, add_type="PERSON")
    pipeline.approve_documents(workspace, [document_id])
    return missed


def source_name(workspace, document_id: int) -> str:
    return workspace.document_rows([document_id])[0]["source"].rsplit("/", 1)[-1]


# -- training data: a build is used only while its text is the approved text ------------
def test_train_and_resume_refuse_a_build_whose_text_was_revised_since(workspace, tmp_path, trainer):
    approved_workspace(workspace, tmp_path)
    first = pipeline.build_dataset(workspace)
    with pytest.raises(ReachedTraining):  # an interrupted run on the first build
        run(workspace)
    older_run = pipeline.list_runs(workspace)[0].run
    doc = first.splits["train"].documents[0]
    missed = revise_and_approve(workspace, doc)
    assert missed in open(first.splits["train"].file).read()
    trainer.clear()
    name = source_name(workspace, doc)
    with pytest.raises(pipeline.GateError, match=rf"{name} \(revised since the build\).*launch.py build"):
        run(workspace)
    with pytest.raises(pipeline.GateError, match=rf"{name} \(revised since the build\)"):
        run(workspace, resume_run=older_run)
    assert trainer == [] and len(pipeline.list_runs(workspace)) == 1  # refused before any run
    pipeline.build_dataset(workspace)
    with pytest.raises(ReachedTraining):
        run(workspace)
    assert trainer and missed not in " ".join(trainer).lower()
    # the older run's build still holds the surname: resuming it stays refused
    with pytest.raises(pipeline.GateError, match="revised since the build"):
        run(workspace, resume_run=older_run)


def test_chat_feedback_withdrawn_after_a_build_is_not_trained(workspace, tmp_path, trainer):
    approved_workspace(workspace, tmp_path, DEMO_REPORTS[:3])
    item = record_feedback(workspace, "Fever and productive cough for three days. Most likely "
                           "diagnosis?", "Viral bronchitis", "base",
                           correction="Pertussis")["id"]
    deidentify_feedback(workspace)
    review_feedback(workspace, item, approve=True)
    assert pipeline.build_dataset(workspace).feedback_pairs == 1
    review_feedback(workspace, item, approve=False)
    with pytest.raises(pipeline.GateError, match=rf"chat feedback {item} \(no longer approved\)"):
        run(workspace)
    assert trainer == []
    pipeline.build_dataset(workspace)
    with pytest.raises(ReachedTraining):
        run(workspace)
    assert "Pertussis" not in " ".join(trainer)


def test_evaluation_on_the_test_split_refuses_text_revised_since_the_build(workspace, tmp_path):
    approved_workspace(workspace, tmp_path)
    report = pipeline.build_dataset(workspace)
    doc = report.splits["test"].documents[0]
    revise_and_approve(workspace, doc)
    with pytest.raises(pipeline.GateError, match=rf"{source_name(workspace, doc)} \(revised since"):
        load_cases(workspace, None)
    assert not workspace.load_settings().get("test_frozen")  # refused before anything changed
    pipeline.build_dataset(workspace)
    assert load_cases(workspace, None)[0]


# -- approval is bound to the text approved ---------------------------------------------
def one_document(workspace, tmp_path, report=DEMO_REPORTS[0]) -> int:
    note = tmp_path / f"{report.slug}.txt"
    note.write_text(report.text)
    doc = pipeline.ingest(workspace, [note]).documents[0].id
    pipeline.deid_documents(workspace, [doc])
    return doc


def test_approve_refuses_text_that_changed_after_it_was_shown(workspace, tmp_path):
    doc = one_document(workspace, tmp_path)
    shown = pipeline.review_document(workspace, doc)
    # meanwhile someone de-identifies it again, with a word added to the deny list
    pipeline.deid_documents(workspace, [doc], DeidSettings(deny_list="productive"))
    with pytest.raises(pipeline.GateError, match="changed since it was shown"):
        pipeline.approve_documents(workspace, [doc], reviewed=True, expected_hash=shown.deid_hash)
    row = workspace.document_rows([doc])[0]
    assert row["status"] == "deidentified" and workspace.pending_findings(doc) > 0
    again = pipeline.review_document(workspace, doc)
    assert again.deid_hash != shown.deid_hash
    pipeline.approve_documents(workspace, [doc], reviewed=True, expected_hash=again.deid_hash)
    row = workspace.document_rows([doc])[0]
    assert row["status"] == "approved" and row["approved_hash"] == again.deid_hash
    assert workspace.pending_findings(doc) == 0
    pipeline.require_approved(workspace, [doc])


def test_the_review_tab_approves_only_the_text_it_showed(workspace, tmp_path):
    import gradio as gr

    from medllm_local.ui.deid_tab import build_deid_tab

    doc = one_document(workspace, tmp_path)
    with gr.Blocks() as blocks:
        build_deid_tab(workspace)
    fns = {f.api_name: f.fn for f in blocks.fns.values()}
    _, _, shown_text, _ = fns["review_show"](doc)
    pipeline.deid_documents(workspace, [doc], DeidSettings(deny_list="productive"))
    _, _, _, text_now, status = fns["review_approve"](doc, shown_text)
    assert status.startswith("Not approved") and text_now != shown_text  # shown again as it is now
    assert workspace.document_rows([doc])[0]["status"] == "deidentified"
    assert fns["review_approve"](doc, text_now)[-1] == "Approved."
    assert workspace.document_rows([doc])[0]["status"] == "approved"


def test_approval_holds_only_for_the_text_approved(workspace, tmp_path):
    doc = one_document(workspace, tmp_path)
    other = one_document(workspace, tmp_path, DEMO_REPORTS[1])
    pipeline.approve_documents(workspace)
    row = workspace.document_rows([doc])[0]
    # the text changes under an approved row (as a crash between the two steps of the old
    # replacement left it, or a hand edit): no longer approved anywhere
    (workspace.root / row["deid_file"]).write_text("Patient: Alex Example. Changed text.")
    with pytest.raises(pipeline.GateError, match=r"\(text changed since approval\)"):
        pipeline.require_approved(workspace, [doc])
    report = pipeline.build_dataset(workspace)
    assert [d["id"] for d in report.not_approved] == [doc]
    assert report.splits["train"].documents + report.splits["test"].documents \
        + report.splits["validation"].documents == [other]


def test_a_crash_while_replacing_the_text_leaves_the_approved_text_approved(workspace, tmp_path,
                                                                            monkeypatch):
    doc = one_document(workspace, tmp_path)
    pipeline.approve_documents(workspace, [doc])
    row = workspace.document_rows([doc])[0]
    approved_text = (workspace.root / row["deid_file"]).read_bytes()
    finding = workspace.findings_for(doc)[0]

    def crash():
        raise KeyboardInterrupt("power cut")

    monkeypatch.setattr(workspace, "transaction", crash)
    with pytest.raises(KeyboardInterrupt):
        workspace.write_deid_text(doc, row["sha256"], "A reviewer's new text.")
    monkeypatch.undo()
    row = workspace.document_rows([doc])[0]
    assert row["status"] == "approved"
    assert (workspace.root / row["deid_file"]).read_bytes() == approved_text
    pipeline.require_approved(workspace, [doc])
    monkeypatch.setattr(workspace, "transaction", crash)
    with pytest.raises(KeyboardInterrupt):
        workspace.write_deid_text(doc, row["sha256"], "A reviewer's new text.", {finding["id"]: "rejected"})
    monkeypatch.undo()
    assert workspace.findings_for(doc)[0]["decision"] != "rejected"
    # done without a crash, the text, its decisions and the status change together
    workspace.write_deid_text(doc, row["sha256"], "A reviewer's new text.", {finding["id"]: "rejected"})
    row = workspace.document_rows([doc])[0]
    assert row["status"] == "deidentified" and row["approved_hash"] is None
    assert (workspace.root / row["deid_file"]).read_text() == "A reviewer's new text."
    assert workspace.findings_for(doc)[0]["decision"] == "rejected"
    assert len(list(workspace.folder("deid").glob("*.txt"))) == 1  # the old version is gone


def test_a_failed_add_stores_nothing_of_the_review(workspace, tmp_path):
    doc = one_document(workspace, tmp_path)
    pipeline.approve_documents(workspace, [doc])
    before = workspace.document_rows([doc])[0]
    phone = next(f for f in workspace.findings_for(doc) if f["type"] == "PHONE_NUMBER")
    with pytest.raises(ValueError, match="does not occur"):
        pipeline.revise_document(workspace, doc, reject=[phone["id"]], add_text="no such words here")
    assert {f["decision"] for f in workspace.findings_for(doc)} == {"pending"}
    with pytest.raises(ValueError, match="no finding 99999"):  # a mistyped number, too
        pipeline.revise_document(workspace, doc, reject=[phone["id"], 99999])
    assert {f["decision"] for f in workspace.findings_for(doc)} == {"pending"}
    after = workspace.document_rows([doc])[0]
    assert (after["status"], after["deid_file"]) == ("approved", before["deid_file"])


def test_approvals_made_before_hashes_were_kept_are_bound_at_the_upgrade(workspace, tmp_path):
    doc = one_document(workspace, tmp_path)
    pipeline.approve_documents(workspace, [doc])
    conn = sqlite3.connect(workspace.catalogue_path)  # the catalogue as release 11 left it
    conn.executescript("ALTER TABLE documents DROP COLUMN approved_hash;"
                       "ALTER TABLE splits DROP COLUMN sources;"
                       "ALTER TABLE chat_feedback DROP COLUMN has_correction;"
                       "ALTER TABLE evaluations DROP COLUMN eval_set; DROP TABLE eval_sets;"
                       "PRAGMA user_version = 11;")
    conn.close()
    reopened = Workspace.open(workspace.root)
    row = reopened.document_rows([doc])[0]
    assert row["approved_hash"] == sha256_bytes((reopened.root / row["deid_file"]).read_bytes())
    pipeline.require_approved(reopened, [doc])


# -- a rejection holds in its own document ----------------------------------------------
def test_a_value_rejected_in_one_document_stays_known_in_the_others(workspace, tmp_path):
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "a.txt").write_text("Patient Jordan Smith seen today for cough. Jordan is improving.")
    (folder / "b.txt").write_text("Recently returned from a trip to Jordan. Cough for 3 days.")
    a, b = (d.id for d in pipeline.ingest(workspace, [folder / "a.txt", folder / "b.txt"]).documents)
    pipeline.deid_documents(workspace)
    if "Jordan" in pipeline.review_document(workspace, a).deid_text:  # the detectors missed it
        pipeline.revise_document(workspace, a, add_text="Jordan")
    b_text = workspace.load_document(b).text
    country = [f["id"] for f in workspace.findings_for(b) if b_text[f["start"]:f["end"]] == "Jordan"]
    if not country:  # as a reviewer would: mark it, then say it is no identifier here
        pipeline.revise_document(workspace, b, add_text="Jordan", add_type="LOCATION")
        country = [f["id"] for f in workspace.findings_for(b) if b_text[f["start"]:f["end"]] == "Jordan"]
    view_b = pipeline.revise_document(workspace, b, reject=country)
    assert "Jordan" in view_b.deid_text
    assert "Jordan" in SurrogateMap(workspace.folder("raw") / pipeline.SURROGATE_MAP).real_values()
    # a text made from document a with the name pasted back in is still caught...
    view_a = pipeline.review_document(workspace, a)
    pasted = {"from a": view_a.deid_text + "\nJordan called back."}
    hits = pipeline.residual_scan(workspace, pasted, {"from a": view_a.deid_text},
                                  {"from a": pipeline.rejected_texts(workspace, a)})
    assert any(h["type"] == "KNOWN_REAL_VALUE" for h in hits)
    # ...while document b's country passes, as its reviewer said
    texts = {"from b": view_b.deid_text}
    hits = pipeline.residual_scan(workspace, texts, texts, {"from b": pipeline.rejected_texts(workspace, b)})
    assert not [h for h in hits if h["blocking"]]
