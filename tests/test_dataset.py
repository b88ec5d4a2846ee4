"""Pairs from real report text, splits without leakage, the chat-data formats, and the
build stage behind the de-identification gate."""

from __future__ import annotations

import csv
import json

import pytest

from conftest import SHARED_DATA, run_cli
from medllm_local import pipeline
import support.cases
from medllm_local.stages.dataset.build import BuildSettings, assign_splits, pairs_for_document
from medllm_local.stages.dataset.formats import dump, load, to_record
from medllm_local.core.demo_reports import DEMO_REPORTS
from medllm_local.core.sections import main_diagnosis, numbered_items, parse_sections

ALL_TASKS = ["diagnosis", "differential", "treatment"]


def aci_notes() -> list[str]:
    notes = []
    for split in ("train", "valid"):
        path = SHARED_DATA / "aci_bench" / f"{split}.csv"
        if not path.exists():
            pytest.skip("../shared/data not present")
        notes += [row["note"] for row in csv.DictReader(path.open(encoding="utf-8"))]
    return notes


def agentclinic_reports() -> list[tuple[str, str]]:
    """AgentClinic OSCE cases (MIT) flattened to report text, with their diagnosis."""
    path = SHARED_DATA / "agentclinic" / "agentclinic_medqa_extended.jsonl"
    if not path.exists():
        pytest.skip("../shared/data not present")
    return support.cases.agentclinic_reports(path)


@pytest.mark.parametrize("text,expected", [
    ("HPI: cough.\nAssessment - asthma.\nPlan: inhaler.", ["hpi", "assessment", "plan"]),
    ("Chief Complaint\ncough\n\nIMPRESSION:\nviral bronchitis", ["chief_complaint", "diagnosis"]),
    ("history of present illness: two days of fever\nros: negative\nA/P: flu", ["hpi", "ros", "assessment_plan"]),
    ("HISTORY: pain.\nThe plan is to review tomorrow and the history is clear.", ["hpi"]),
])
def test_section_headings_in_any_spelling_and_case(text, expected):
    assert parse_sections(text).found == expected


def test_numbered_differentials_across_lines():
    assert numbered_items("1. Migraine with aura 2. Tension-type\nheadache 3. Cluster headache") == [
        "Migraine with aura", "Tension-type headache", "Cluster headache"]
    assert numbered_items("1) a\n2) b\n4) d") == ["a", "b"]


def test_every_aci_note_gives_a_diagnosis_and_no_answer_leaks_into_its_question():
    notes = aci_notes()
    assert len(notes) == 87
    results = [pairs_for_document(i, note, ALL_TASKS) for i, note in enumerate(notes)]
    parsed = [parse_sections(note) for note in notes]
    assert all(main_diagnosis(parse_sections(n)) for n in notes)
    diagnosis = [p for r in results for p in r.pairs if p.task == "diagnosis"]
    assert len(diagnosis) >= 55  # the rest state their diagnosis in the history: no question left
    for result, report in zip(results, parsed):
        targets = [report.sections[name] for name in ("assessment_plan", "assessment", "plan",
                                                      "diagnosis", "differential") if name in report.sections]
        for pair in result.pairs:
            question, answer = pair.messages[1]["content"], pair.messages[2]["content"]
            assert answer and pair.reference == answer
            if pair.task != "treatment":
                assert answer.lower() not in question.lower()
            for target in targets:  # the target sections stay out of every input
                assert len(target) < 40 or target not in question
            if pair.task == "treatment":
                assert answer not in question


def test_agentclinic_cases_give_their_correct_diagnosis():
    reports = agentclinic_reports()
    assert len(reports) == 214
    produced = matched = 0
    for i, (text, correct) in enumerate(reports):
        result = pairs_for_document(i, text, ["diagnosis"])
        if result.pairs:  # none when the case text itself names its diagnosis (no question)
            produced += 1
            assert correct.lower() not in result.pairs[0].messages[1]["content"].lower()
            matched += result.pairs[0].reference.strip().lower() == correct.strip().rstrip(".").lower()
    assert produced >= 180 and matched == produced


def test_splits_are_by_patient_repeatable_and_small_sets_still_get_a_test_case():
    groups = {i: f"patient {i // 2}" for i in range(40)}  # two documents per patient
    splits = assign_splits(groups, BuildSettings())
    assert assign_splits(groups, BuildSettings()) == splits
    for i in range(0, 40, 2):
        assert splits[i] == splits[i + 1]  # a patient's documents stay together
    assert {"train", "validation", "test"} == set(splits.values())
    tiny = assign_splits({1: "a", 2: "b", 3: "c"}, BuildSettings())
    assert sorted(tiny.values()) == ["test", "train", "train"]


@pytest.mark.parametrize("fmt", ["messages", "sharegpt", "alpaca", "csv"])
def test_formats_round_trip(fmt):
    pairs = pairs_for_document(1, DEMO_REPORTS[0].text, ALL_TASKS).pairs
    assert len(pairs) == 3
    again = load(dump(pairs, fmt))
    assert [p.messages for p in again] == [p.messages for p in pairs]


def test_import_accepts_the_common_shapes():
    text = json.dumps([{"instruction": "Q?", "output": "A."},
                       {"conversations": [{"from": "human", "value": "Q2?"}, {"from": "gpt", "value": "A2."}]},
                       {"prompt": "Q3?", "response": "A3."}])
    pairs = load(text)
    assert [p.messages[1]["content"] for p in pairs] == ["Q?", "Q2?", "Q3?"]
    assert load("question one,answer one\nquestion two,answer two\n")[1].reference == "answer two"
    with pytest.raises(ValueError, match="non-empty answer"):
        load('{"instruction": "Q?", "output": ""}\n')
    assert to_record(pairs[0], "alpaca")["output"] == "A."


def approved_workspace(workspace, tmp_path, reports=DEMO_REPORTS):
    folder = tmp_path / "reports"
    folder.mkdir()
    for report in reports:
        (folder / f"{report.slug}.txt").write_text(report.text)
    pipeline.ingest(workspace, [folder])
    pipeline.deid_documents(workspace)
    return pipeline.approve_documents(workspace)


def test_build_writes_splits_without_leakage(workspace, tmp_path):
    with pytest.raises(pipeline.GateError, match="no approved documents"):
        pipeline.build_dataset(workspace)
    approved_workspace(workspace, tmp_path)
    extra = tmp_path / "extra.txt"
    extra.write_text(DEMO_REPORTS[0].text + "\nAddendum.")
    pipeline.ingest(workspace, [extra])  # ingested, not approved: left out and listed
    report = pipeline.build_dataset(workspace)
    assert report.pairs == {"diagnosis": 5, "differential": 5, "treatment": 5}
    assert [d["source"] for d in report.not_approved] == ["extra.txt"]
    seen: dict[int, str] = {}
    for name, info in report.splits.items():
        lines = open(info.file).read().splitlines()
        assert len(lines) == info.pairs
        for doc in info.documents:
            assert seen.setdefault(doc, name) == name  # no document in two splits
        for line in lines:
            assert [m["role"] for m in json.loads(line)["messages"]] == ["system", "user", "assistant"]
    assert report.splits["test"].pairs > 0 and report.residual_scan["blocking"] == 0
    assert len(workspace.query("SELECT * FROM pairs")) == 15


def test_build_is_blocked_by_a_residual_identifier(workspace, tmp_path):
    approved_workspace(workspace, tmp_path, DEMO_REPORTS[:2])
    workspace.save_settings({"deny_list": "pleuritic"})  # a word still in the approved text
    with pytest.raises(pipeline.GateError, match="residual identifiers found, nothing written"):
        pipeline.build_dataset(workspace)
    assert list(workspace.folder("datasets").iterdir()) == []


def test_cli_build_json(tmp_path):
    ws = str(tmp_path / "ws")
    note = tmp_path / "note.txt"
    note.write_text(DEMO_REPORTS[1].text)
    assert run_cli("ingest", str(note), "--workspace", ws).returncode == 0
    assert run_cli("deid", "--all", "--approve", "--workspace", ws).returncode == 0
    out = run_cli("build", "--workspace", ws, "--json", "--tasks", "diagnosis")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["pairs"] == {"diagnosis": 1}
    assert set(report["splits"]) == {"train", "validation", "test"}
    assert {"pairs", "documents", "file"} <= set(report["splits"]["train"])


def test_dataset_card_counts_lengths_sections_and_dropped_duplicates(workspace, tmp_path):
    folder = tmp_path / "reports"
    folder.mkdir()
    (folder / "a.txt").write_text(DEMO_REPORTS[0].text)
    (folder / "b.txt").write_text(DEMO_REPORTS[0].text + "\n\n")  # another file, same pairs
    (folder / "c.txt").write_text(DEMO_REPORTS[1].text)
    pipeline.ingest(workspace, [folder])
    pipeline.deid_documents(workspace)
    pipeline.approve_documents(workspace)
    report = pipeline.build_dataset(workspace)
    card = report.card
    assert card["duplicate_pairs_removed"] == 3
    assert card["pairs_per_task"] == {"diagnosis": 2, "differential": 2, "treatment": 2}
    assert sum(card["tokens"]["histogram"].values()) == 6
    assert 100 < card["tokens"]["p95"] <= card["tokens"]["max"] < 2048
    assert card["documents_per_section"]["hpi"] == 3
    build_folder = tmp_path / "ws" / "datasets" / report.build
    assert json.loads((build_folder / "card.json").read_text()) == card


def test_documents_keep_their_split_and_a_frozen_test_split_takes_no_newcomers(workspace, tmp_path):
    approved_workspace(workspace, tmp_path)
    first = pipeline.build_dataset(workspace)
    before = {doc: name for name, info in first.splits.items() for doc in info.documents}
    pipeline.freeze_test_split(workspace)
    more = tmp_path / "more"
    more.mkdir()
    for i in range(12):  # twelve new patients
        (more / f"new{i}.txt").write_text(DEMO_REPORTS[i % 5].text.replace(
            DEMO_REPORTS[i % 5].patient, f"Newpatient Number{i}").replace(
            "CHIEF COMPLAINT: ", f"CHIEF COMPLAINT: Referral number {i + 1}. "))
    pipeline.ingest(workspace, [more])
    pipeline.deid_documents(workspace)
    pipeline.approve_documents(workspace)
    second = pipeline.build_dataset(workspace)
    after = {doc: name for name, info in second.splits.items() for doc in info.documents}
    assert all(after[doc] == split for doc, split in before.items())  # nobody moved
    new_docs = set(after) - set(before)
    assert len(new_docs) >= 10
    assert all(after[doc] != "test" for doc in new_docs)
    grown = pipeline.build_dataset(workspace, BuildSettings(grow_test=True, test_fraction=0.5))
    grown_after = {d: n for n, info in grown.splits.items() for d in info.documents}
    assert all(grown_after[doc] == split for doc, split in after.items())  # still nobody moved


def test_a_persons_edits_and_exclusions_survive_rebuilds(workspace, tmp_path):
    approved_workspace(workspace, tmp_path, DEMO_REPORTS[:3])
    pipeline.build_dataset(workspace)
    rows = {(r["document_id"], r["task"]): r["id"] for r in workspace.query("SELECT * FROM pairs")}
    doc = {r["source"].split("/")[-1]: r["id"] for r in workspace.document_rows()}
    pipeline.revise_pair(workspace, rows[(doc["pneumonia.txt"], "diagnosis")], answer="Lobar pneumonia")
    pipeline.revise_pair(workspace, rows[(doc["dvt.txt"], "treatment")], exclude=True)
    with pytest.raises(ValueError, match="may not be empty"):
        pipeline.revise_pair(workspace, rows[(doc["pneumonia.txt"], "treatment")], answer="  ")
    report = pipeline.build_dataset(workspace)
    assert report.pairs == {"diagnosis": 3, "differential": 3, "treatment": 2}
    answers = [json.loads(line)["messages"][2]["content"] for info in report.splits.values()
               for line in open(info.file).read().splitlines()]
    assert "Lobar pneumonia" in answers
    assert "Community-acquired pneumonia, right lower lobe" not in answers
    assert len(workspace.query("SELECT * FROM pairs")) == 9  # 8 used + the excluded one
    again = pipeline.build_dataset(workspace)  # and once more: nothing lost
    assert again.pairs == report.pairs


def test_an_identifier_brought_in_by_an_edit_blocks_the_build(workspace, tmp_path):
    approved_workspace(workspace, tmp_path, DEMO_REPORTS[:2])
    pipeline.build_dataset(workspace)
    pair = workspace.query("SELECT id FROM pairs WHERE task = 'treatment' LIMIT 1")[0]["id"]
    pipeline.revise_pair(workspace, pair, answer="Ring the patient on (503) 555-0147 tomorrow.")
    with pytest.raises(pipeline.GateError, match="residual identifiers found"):
        pipeline.build_dataset(workspace)


def test_spreadsheet_csv_with_a_byte_order_mark():
    pairs = load("\ufeffinstruction,input,output\nWhat is it?,case text,Asthma\n")
    assert len(pairs) == 1 and pairs[0].reference == "Asthma"


def test_a_pair_names_its_parts_by_role():
    from medllm_local.core.records import Pair, content_of

    pair = Pair(task="diagnosis", messages=[{"role": "system", "content": "S"},
                                            {"role": "user", "content": "Q"},
                                            {"role": "assistant", "content": "A"}])
    assert (pair.system, pair.question, pair.answer) == ("S", "Q", "A")
    pair.answer, pair.question = "B", "R"
    assert [m["content"] for m in pair.messages] == ["S", "R", "B"]
    no_system = [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}]
    assert content_of(no_system, "system") == "" and content_of(no_system, "user") == "Q"


def test_the_same_report_twice_stays_in_one_split():
    """A visit ingested as a PDF and as a TXT (other line breaks, a letterhead, an OCR
    slip) is one case: both copies go to one split, whatever their patient field says."""
    from medllm_local.stages.dataset.build import assign_splits, split_groups

    reports = [r.text for r in DEMO_REPORTS]
    pdf_copy = "ST. ELSEWHERE CLINIC - page 1\n" + reports[0].replace("\n", " \n").replace("fever", "fevcr", 1)
    texts = {1: reports[0], 2: pdf_copy, 3: reports[1], 4: reports[2], 5: reports[3]}
    groups = split_groups({1: "patient-a", 2: None, 3: None, 4: "patient-a", 5: None}, texts)
    assert groups[1] == groups[2] == groups[4] == "patient-a"  # the copy, and the patient's other report
    assert len({groups[3], groups[5], groups[1]}) == 3  # other reports stay apart
    # a duplicate found only now: its group goes to the more held-out split of the two
    splits = assign_splits(groups, BuildSettings(), existing={1: "test", 2: "train", 3: "train"})
    assert splits[1] == splits[2] == splits[4] == "test"
