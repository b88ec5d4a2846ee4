"""The Dataset tab's pairs (pipeline/pairs.py and revise_pair): only text a person
approved, as it is now, is listed or exported; rebuilds refresh edited pairs; saving a
pair unchanged changes nothing; exports never overwrite each other."""

from __future__ import annotations

import json
import re

import pytest

from medllm_local import pipeline
from medllm_local.stages.dataset.build import BuildSettings
from medllm_local.stages.dataset.formats import FORMATS
from medllm_local.pipeline import pairs as pairs_module
from medllm_local.core.records import to_json
from medllm_local.pipeline.pairs import PairFilter, export_pairs, get_pair, list_pairs
from test_dataset import approved_workspace


def stored_text(workspace) -> str:
    return "\n".join(r["messages"] + r["reference"] for r in workspace.query("SELECT * FROM pairs"))


def exported_text(workspace, pair_filter: PairFilter | None = None) -> str:
    return "\n".join(open(export_pairs(workspace, fmt, pair_filter)["file"]).read() for fmt in FORMATS)


def listed_text(workspace) -> str:
    return json.dumps(to_json(list_pairs(workspace)))


def a_word_only_in(workspace, document_id: int, question: str) -> str:
    """A word of a pair's case that no other document has: the name a reviewer missed."""
    others = " ".join(pipeline.training_text(workspace, r) for r in workspace.document_rows()
                      if r["id"] != document_id).lower()
    case = question.split("\n\n", 1)[1]
    return next(w for w in re.findall(r"\b[a-z]{8,}\b", case) if w not in others)


def test_a_revised_document_leaves_no_old_text_in_pairs_listing_or_export(workspace, tmp_path):
    approved_workspace(workspace, tmp_path)
    pipeline.build_dataset(workspace, BuildSettings(augment="fillers"))
    variant = workspace.query("SELECT * FROM pairs WHERE origin = 'augmented' ORDER BY id LIMIT 1")[0]
    doc = variant["document_id"]
    pipeline.review_augmented(workspace, accept=True)
    pair = workspace.query("SELECT * FROM pairs WHERE document_id = ? AND origin = 'report'"
                           " AND task = ?", (doc, variant["task"]))[0]
    missed = a_word_only_in(workspace, doc, json.loads(pair["messages"])[1]["content"])
    assert missed in json.loads(variant["messages"])[1]["content"]
    pipeline.revise_pair(workspace, pair["id"], answer="Edited by the physician")
    # Another document's pair edited, then that document revised and left unapproved.
    other = workspace.query("SELECT * FROM pairs WHERE document_id != ? AND origin = 'report'"
                            " ORDER BY id LIMIT 1", (doc,))[0]
    pipeline.revise_pair(workspace, other["id"], answer="Edited too")
    pipeline.revise_document(workspace, other["document_id"], add_type="PERSON", add_text=a_word_only_in(
        workspace, other["document_id"], json.loads(other["messages"])[1]["content"]))
    # The reviewer finds the missed word in the document and replaces it.
    pipeline.revise_document(workspace, doc, add_text=missed, add_type="PERSON")
    assert missed in stored_text(workspace)  # still in the rows of the old build, but:
    assert missed not in listed_text(workspace) and get_pair(workspace, pair["id"]) is None
    assert missed not in exported_text(workspace)
    with pytest.raises(ValueError, match="not approved since the last build"):
        export_pairs(workspace, "messages", PairFilter(search=missed))
    pipeline.approve_documents(workspace, [doc])  # approved again, not built yet: still hidden
    assert missed not in listed_text(workspace) and missed not in exported_text(workspace)
    report = pipeline.build_dataset(workspace)  # without augmentation
    assert [d["id"] for d in report.not_approved] == [other["document_id"]]
    assert missed not in stored_text(workspace)
    assert missed not in listed_text(workspace) and missed not in exported_text(workspace)
    edited = workspace.query("SELECT * FROM pairs WHERE id = ?", (pair["id"],))[0]
    assert edited["edited"] == 1 and edited["reference"] == "Edited by the physician"
    assert json.loads(edited["messages"])[2]["content"] == "Edited by the physician"
    assert not workspace.query("SELECT * FROM pairs WHERE origin = 'augmented' AND document_id = ?", (doc,))
    assert not workspace.query("SELECT * FROM pairs WHERE document_id = ?", (other["document_id"],))
    assert "Edited too" not in stored_text(workspace)
    data = "".join(open(info.file).read() for info in report.splits.values())
    assert missed not in data and "Edited by the physician" in data


def test_export_runs_the_residual_scan(workspace, tmp_path):
    from medllm_local.core.demo_reports import DEMO_REPORTS

    approved_workspace(workspace, tmp_path, DEMO_REPORTS[:2])
    pipeline.build_dataset(workspace)
    pair = workspace.query("SELECT id FROM pairs WHERE task = 'treatment' LIMIT 1")[0]["id"]
    pipeline.revise_pair(workspace, pair, answer="Ring the patient on (503) 555-0147 tomorrow.")
    with pytest.raises(pipeline.GateError, match="residual identifiers found, nothing exported"):
        export_pairs(workspace, "messages")
    assert not (workspace.folder("datasets") / pairs_module.EXPORT_FOLDER).exists() or \
        not any((workspace.folder("datasets") / pairs_module.EXPORT_FOLDER).iterdir())


def test_two_exports_in_one_second_keep_both_files(workspace, tmp_path, monkeypatch):
    from medllm_local.core.demo_reports import DEMO_REPORTS

    approved_workspace(workspace, tmp_path, DEMO_REPORTS[:2])
    pipeline.build_dataset(workspace)
    monkeypatch.setattr(pairs_module, "now", lambda: "2025-01-01T10:00:00+0000")
    first = export_pairs(workspace, "messages", PairFilter(task="diagnosis"))
    second = export_pairs(workspace, "messages", PairFilter(task="treatment"))
    assert first["file"] != second["file"]
    assert all(json.loads(line)["task"] == "diagnosis" for line in open(first["file"]))
    assert all(json.loads(line)["task"] == "treatment" for line in open(second["file"]))


def test_saving_a_pair_as_it_is_changes_nothing_and_leaving_out_an_augmented_pair_rejects_it(
        workspace, tmp_path):
    from medllm_local.core.demo_reports import DEMO_REPORTS

    approved_workspace(workspace, tmp_path, DEMO_REPORTS[:3])
    pipeline.build_dataset(workspace, BuildSettings(augment="fillers"))
    report = get_pair(workspace, workspace.query("SELECT id FROM pairs WHERE origin = 'report'"
                                                 " ORDER BY id LIMIT 1")[0]["id"])
    # The Dataset tab fills the answer box with the pair's answer: saved as it is, no edit.
    result = pipeline.revise_pair(workspace, report.id, report.answer, False)
    assert not result["changed"] and not result["edited"]
    assert workspace.query("SELECT edited FROM pairs WHERE id = ?", (report.id,))[0]["edited"] == 0
    assert pipeline.revise_pair(workspace, report.id, report.answer + " ", True)["changed"]
    variant = get_pair(workspace, workspace.query("SELECT id FROM pairs WHERE origin = 'augmented'"
                                                  " ORDER BY id LIMIT 1")[0]["id"])

    def review() -> str:
        return workspace.query("SELECT review FROM pairs WHERE id = ?", (variant.id,))[0]["review"]

    # Saved unchanged, not left out: no accidental accept.
    assert not pipeline.revise_pair(workspace, variant.id, variant.answer, False)["changed"]
    assert review() == "pending"
    assert pipeline.revise_pair(workspace, variant.id, variant.answer, True)["review"] == "rejected"
    assert review() == "rejected"
    assert pipeline.revise_pair(workspace, variant.id, variant.answer, False)["review"] == "pending"
    with pytest.raises(ValueError, match="accept or reject"):
        pipeline.revise_pair(workspace, variant.id, "Another answer", False)
    pipeline.review_augmented(workspace, accept=True, pair_ids=[variant.id])  # the explicit accept
    assert review() == "accepted"
    with pytest.raises(ValueError, match="no augmented pair with id"):
        pipeline.review_augmented(workspace, accept=True, pair_ids=[report.id])
