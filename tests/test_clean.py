"""Cleaning: boilerplate found by counting (headings and clinical lines kept), one form per
abbreviation, only clear typos corrected, every change revertible, the CLI, the dataset
built from the cleaned text, and pages typed by a person replacing OCR text."""

from __future__ import annotations

import csv
import json
import os

import pytest

from conftest import SHARED_DATA, run_cli
from medllm_local import pipeline
from medllm_local.stages import clean
from medllm_local.core.abbreviations import merged_abbreviations
from medllm_local.core.demo_reports import DEMO_REPORTS
from medllm_local.core.records import Document, Page
from medllm_local.core.sections import parse_sections

DICTIONARY = merged_abbreviations()
LETTERHEAD = "Riverside Medical Group - 1 Example Street, Springfield - Tel 555 0100"
NOTICE = ("CONFIDENTIAL: This document contains privileged information intended only for "
          "the addressee.")
CASES = [("Cough for a week.", "Dry cough, no fever.", "Acute bronchitis."),
         ("Chest pain on exertion.", "Pain relieved by rest.", "Stable angina."),
         ("Headache.", "Throbbing, with photophobia.", "Migraine."),
         ("Painful knee.", "Swelling after a fall.", "Knee sprain."),
         ("Burning urine.", "Frequency and urgency.", "Urinary tract infection."),
         ("Tired all the time.", "Weight gain, cold intolerance.", "Hypothyroidism.")]


def letter(index: int, complaint: str, history: str, diagnosis: str) -> str:
    return (f"{LETTERHEAD}\nPage 1 of 2\n\nCHIEF COMPLAINT:\n{complaint}\n\n"
            f"HISTORY OF PRESENT ILLNESS:\n{history}\n\nPHYSICAL EXAMINATION\n"
            "Lungs: clear to auscultation bilaterally.\n\n"  # a template line, clinical: kept
            f"{NOTICE}\nPage 2 of 2\n\nASSESSMENT AND PLAN:\n{diagnosis}\n"
            f"Review in {index + 2} weeks.\n\nElectronically signed by Dr. Sam Example\n")


def test_boilerplate_is_found_by_counting_and_headings_and_clinical_lines_stay():
    texts = {i: letter(i, *case) for i, case in enumerate(CASES)}
    removed = clean.boilerplate_changes(texts)
    for index, text in texts.items():
        gone = {c.before.strip() for c in removed[index]}
        assert gone == {LETTERHEAD, "Page 1 of 2", "Page 2 of 2", NOTICE,
                        "Electronically signed by Dr. Sam Example"}
        cleaned = clean.apply_changes(text, removed[index])
        assert parse_sections(cleaned).found == parse_sections(text).found == \
            ["chief_complaint", "hpi", "examination", "assessment_plan"]
        assert "Lungs: clear to auscultation bilaterally." in cleaned
        assert CASES[index][2] in cleaned and f"Review in {index + 2} weeks." in cleaned
    # page numbers by their form only: a value alone on its line is not one
    lines = "Page 3\n- 4 -\n5 of 9\nBlood pressure\n120/80\nHeart rate\n98\n"
    assert [c.before for c in clean.boilerplate_changes({0: lines})[0]] == \
        ["Page 3\n", "- 4 -\n", "5 of 9\n"]
    # too few documents to count on: only the strong patterns remove anything
    two = clean.boilerplate_changes({0: texts[0], 1: texts[1]})
    assert {c.reason for c in two[0]} == {"page number",
                                          "fax cover, confidentiality notice or signature line"}


def test_a_header_on_every_page_of_one_document_is_boilerplate():
    header = "Department of Examples, report continued"
    text = "\n".join(f"{header}\nPart {n} of the narrative, different each time." for n in "ABC")
    removed = clean.boilerplate_changes({1: text}, pages={1: 3})[1]
    assert [c.before.strip() for c in removed] == [header] * 3
    assert clean.boilerplate_changes({1: text}, pages={1: 1})[1] == []


def aci_notes() -> list[str]:
    path = SHARED_DATA / "aci_bench" / "valid.csv"
    if not path.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{path} is missing in CI")
        pytest.skip(f"{path} not present")
    notes = []
    for split in ("train", "valid"):
        with (SHARED_DATA / "aci_bench" / f"{split}.csv").open(newline="", encoding="utf-8") as handle:
            notes += [row["note"] for row in csv.DictReader(handle)]
    return notes


def test_real_notes_keep_every_clinical_section():
    notes = aci_notes()  # ACI-Bench, CC BY 4.0
    results = clean.clean_texts(dict(enumerate(notes)), dictionary=DICTIONARY)
    removed_words = 0
    for index, note in enumerate(notes):
        result = results[index]
        assert parse_sections(result.text).found == parse_sections(note).found
        for change in result.changes:
            if change.step == "boilerplate":
                assert not clean.is_heading(change.before.strip())
                removed_words += len(change.before.split())
            else:  # a word for a word: nothing clinical is deleted by the other steps
                assert change.after and "\n" not in change.before
        assert clean.apply_changes(note, [c for c in result.changes if c.step != "boilerplate"]) \
            .count("\n") == note.count("\n")
    total = sum(len(n.split()) for n in notes)
    assert removed_words / total < 0.02  # the one templated agreement line, nothing more
    typos = [(c.before, c.after) for r in results.values() for c in r.changes if c.step == "typo"]
    assert ("surigical", "surgical") in typos and ("epsiode", "episode") in typos
    assert len(typos) < 10  # clear typos only: "pedis", "ductal", "coronary arter" stay


def test_abbreviations_get_one_form_whole_words_and_case_aware():
    text = ("Pt with S.O.B. Then sob at rest. Sobbing at night. EKG normal, hba1c 7.1. "
            "Metformin 500 mg bid. She made a bid for the house. Afib on the ECG.")
    changes = clean.abbreviation_changes(text, DICTIONARY)
    assert [(c.before, c.after) for c in changes] == [
        ("S.O.B.", "SOB."), ("sob", "SOB"), ("EKG", "ECG"), ("hba1c", "HbA1c"),
        ("bid", "BID"), ("Afib", "AF")]
    assert clean.apply_changes(text, changes).startswith("Pt with SOB. Then SOB at rest. Sobbing")
    # a user's row for SOB with no variants turns its rewriting off; new rows are added
    user = "SOB\tshortness of breath\t\nLBP\tlow back pain\tlbp\n"
    mine = clean.abbreviation_changes(text + " lbp.", merged_abbreviations(user))
    assert ("sob", "SOB") not in [(c.before, c.after) for c in mine]
    assert ("lbp", "LBP") in [(c.before, c.after) for c in mine]


def test_only_clear_typos_are_corrected_and_drugs_doses_numbers_caps_stay():
    checker = clean.TypoChecker()
    text = ("The pateint has hypertenion. Continue metoprolol 25 mg daily and Lasix 40 mg. "
            "Stop metoprolo 25 mg. BP 140/90, HbA1c 7.1, PATEINT ID absent. Seen with Jonh "
            "Smiht. Lisinoprl was held. Tenderness at the dorsalis pedis; coronary arter stent. "
            "Nontender, nondistended abdomen; normocephalic. The pateint's wife.")
    changes = clean.typo_changes(text, checker)
    assert [(c.before, c.after) for c in changes] == [
        ("pateint", "patient"), ("hypertenion", "hypertension"), ("pateint", "patient")]
    cleaned = clean.apply_changes(text, changes)
    for kept in ("metoprolol 25 mg", "Lasix 40 mg", "metoprolo 25 mg", "BP 140/90", "HbA1c 7.1",
                 "PATEINT ID", "Jonh Smiht", "Lisinoprl", "dorsalis pedis", "arter stent",
                 "Nontender, nondistended abdomen; normocephalic"):
        assert kept in cleaned
    assert cleaned.endswith("The patient's wife.")
    # words never to touch (surrogate names) are left alone whatever their spelling
    assert clean.typo_changes("seen by mrs pateint", clean.TypoChecker(protected={"Pateint"})) == []


def test_reverting_gives_back_the_exact_text():
    texts = {i: letter(i, *case).replace("Dry cough", "Dry cough and sob, the pateint said")
             for i, case in enumerate(CASES)}
    results = clean.clean_texts(texts, dictionary=DICTIONARY)
    changes = results[0].changes
    assert {c.step for c in changes} == {"boilerplate", "abbreviation", "typo"}
    for change in changes:
        change.reverted = True
    assert clean.apply_changes(texts[0], changes) == texts[0]
    for change in changes:  # one step back: only that step's changes are undone
        change.reverted = change.step == "typo"
    assert "the pateint said" in clean.apply_changes(texts[0], changes)
    assert "and SOB" in clean.apply_changes(texts[0], changes)


@pytest.fixture(scope="module")
def approved_workspace(tmp_path_factory):
    """The demo reports (fictitious) with a letterhead line, one typo and one
    abbreviation variant, ingested, de-identified and approved."""
    root = tmp_path_factory.mktemp("clean")
    folder = root / "reports"
    folder.mkdir()
    for report in DEMO_REPORTS:
        text = f"{LETTERHEAD}\n{report.text}\nPage 1 of 1\n"
        if report.slug == "pneumonia":
            text = text.replace("shortness of breath on exertion", "S.O.B. on exertion and the "
                                "pateint is tired")
        (folder / f"{report.slug}.txt").write_text(text)
    workspace = pipeline.open_workspace(root / "ws")
    pipeline.ingest(workspace, [folder])
    pipeline.deid_documents(workspace)
    pipeline.approve_documents(workspace)
    return workspace


def test_cli_clean_json_then_build_uses_the_cleaned_text_and_reverts_stick(approved_workspace):
    workspace = approved_workspace
    out = run_cli("clean", "--workspace", str(workspace.root), "--json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["totals"]["documents"] == 5
    pneumonia = next(d for d in report["documents"] if d["source"].endswith("pneumonia.txt"))
    row = workspace.document_rows([pneumonia["id"]])[0]
    deid_text = (workspace.root / row["deid_file"]).read_text(encoding="utf-8")
    letterhead = deid_text.splitlines()[0]  # with surrogates for the practice's details
    pairs = {(c["before"].strip(), c["after"]) for step in pneumonia["steps"].values() for c in step}
    assert {(letterhead, ""), ("Page 1 of 1", ""), ("S.O.B.", "SOB"),
            ("pateint", "patient")} <= pairs
    for item in report["documents"]:  # no section heading removed, in any document
        removed = [c["before"] for c in item["steps"]["boilerplate"]]
        assert not any(clean.is_heading(line.strip()) for line in removed)
    built = pipeline.build_dataset(workspace)
    data = "".join(open(s.file).read() for s in built.splits.values())
    assert "SOB on exertion and the patient is tired" in data and letterhead not in data
    # the typo step reverted for that document: the next build has the text as written
    typo = [c["id"] for c in pneumonia["steps"]["typo"]]
    out = run_cli("clean", "--workspace", str(workspace.root), "--json",
                  "--revert-step", f"{pneumonia['id']}:typo")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["reverted"] == len(typo)
    row = workspace.document_rows([pneumonia["id"]])[0]  # read again: it changed
    assert "the pateint is tired" in pipeline.training_text(workspace, row)
    pipeline.clean_documents(workspace)  # cleaning again keeps what a person reverted
    built = pipeline.build_dataset(workspace)
    data = "".join(open(s.file).read() for s in built.splits.values())
    assert "SOB on exertion and the pateint is tired" in data
    # all of it reverted: exactly the de-identified text
    pipeline.revert_changes(workspace, document_id=pneumonia["id"])
    assert pipeline.training_text(workspace, row) == deid_text
    bad = run_cli("clean", "--workspace", str(workspace.root), "--json", "--revert", "99999")
    assert bad.returncode == 1 and "no cleaning change with id 99999" in json.loads(bad.stdout)["error"]


def test_cli_clean_without_approved_documents_says_what_to_do(tmp_path):
    out = run_cli("clean", "--workspace", str(tmp_path / "ws"), "--json")
    assert out.returncode == 1
    assert "no approved documents to clean" in json.loads(out.stdout)["error"]


def test_a_typed_page_replaces_the_ocr_text_and_is_de_identified_again(workspace):
    garbled = "Hlstory: c0ugh f0r 3 days, Dr. Jordan Sample saw hirn."
    document = Document(source="scan.pdf", sha256="ab" * 32, kind="pdf", pages=[
        Page(1, "CHIEF COMPLAINT: Cough for three days.", "text"),
        Page(2, garbled, "ocr", 41.0), Page(3, "PLAN: Review in a week.", "text")])
    doc_id, _ = workspace.store_document(document, status="ocr_flagged")
    queue = pipeline.transcription_queue(workspace)
    assert [(q["document"], q["page"], q["text"]) for q in queue] == [(doc_id, 2, garbled)]
    typed = "HISTORY: cough for 3 days, Dr. Jordan Sample saw him."
    report = pipeline.transcribe_page(workspace, doc_id, 2, typed)
    assert report["status"] == "ingested" and not report["deidentified"]
    pages = workspace.load_document(doc_id).pages
    assert [p.text for p in pages] == [document.pages[0].text, typed, document.pages[2].text]
    assert pipeline.transcription_queue(workspace) == []
    # once de-identified, a new transcription is de-identified again and needs approval
    pipeline.deid_documents(workspace, [doc_id])
    pipeline.approve_documents(workspace, [doc_id])
    report = pipeline.transcribe_page(workspace, doc_id, 2, typed.replace("3 days", "4 days"))
    row = workspace.document_rows([doc_id])[0]
    deid_text = (workspace.root / row["deid_file"]).read_text(encoding="utf-8")
    assert report["deidentified"] and row["status"] == "deidentified"
    assert "cough for 4 days" in deid_text and "Jordan Sample" not in deid_text
    # and the OCR text can be put back exactly
    pipeline.transcribe_page(workspace, doc_id, 2, None, deidentify=False)
    assert workspace.load_document(doc_id).text == document.text
    assert [q["page"] for q in pipeline.transcription_queue(workspace)] == [2]


def test_cleaned_status_of_a_document_with_crlf_line_endings(workspace, tmp_path):
    """"\r\n" files keep their line endings through ingest and de-identification; the
    cleaned status compares texts read alike, so it says what cleaning did."""
    from medllm_local.ui.clean_tab import document_rows

    folder = tmp_path / "reports"
    folder.mkdir()
    for report in DEMO_REPORTS[:3]:
        text = f"{LETTERHEAD}\n{report.text}\nPage 1 of 1\n".replace("\n", "\r\n")
        (folder / f"{report.slug}.txt").write_bytes(text.encode("utf-8"))
    pipeline.ingest(workspace, [folder])
    pipeline.deid_documents(workspace)
    pipeline.approve_documents(workspace)
    pipeline.clean_documents(workspace)
    first = pipeline.cleaning_overview(workspace)[0]
    assert first["changes"]["boilerplate"] >= 2 and first["cleaned"] and not first["stale"]
    shown = pipeline.document_cleaning(workspace, first["id"])  # the record both faces render
    assert list(shown.to_json()) == ["id", "source", "changes", "steps", "clean_file", "deid_text", "text",
                                     "stale"]
    assert shown.changes["boilerplate"] == len(shown.steps["boilerplate"]) and "Page 1 of 1" not in shown.text
    reverted = pipeline.revert_changes(workspace, document_id=first["id"])  # nothing of cleaning left
    assert reverted.to_json()["reverted"] == reverted.changed == sum(first["changes"].values())
    overview = {d["id"]: d for d in pipeline.cleaning_overview(workspace)}
    assert not overview[first["id"]]["cleaned"] and sum(overview[first["id"]]["changes"].values()) == 0
    second = next(d for d in overview.values() if d["id"] != first["id"])
    assert second["cleaned"]
    # de-identified again since cleaning: the dataset uses the de-identified text, not cleaned
    pipeline.revise_document(workspace, second["id"], add_text="Riverside Medical Group",
                             add_type="ORGANIZATION")
    overview = {d["id"]: d for d in pipeline.cleaning_overview(workspace)}
    assert overview[second["id"]]["stale"] and not overview[second["id"]]["cleaned"]
    shown = {row[0]: row[-1] for row in document_rows(workspace)}
    assert shown[first["id"]] == "no change"
    assert shown[second["id"]] == "de-identified again: clean again"
    assert pipeline.page_text(workspace, first["id"], 1).startswith(LETTERHEAD)
    with pytest.raises(ValueError, match="no page 2"):
        pipeline.page_text(workspace, first["id"], 2)
