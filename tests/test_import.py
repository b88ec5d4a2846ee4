"""Cases a physician already keeps, imported through the same gate as reports: files as
spreadsheet programs write them (LibreOffice's CSV with a byte-order mark and ';', an
XLSX with a merged cell), a ShareGPT list, bad rows that fail alone, and a planted
name that never reaches a build."""

from __future__ import annotations

import json

import pytest

from conftest import run_cli
from medllm_local import pipeline
from medllm_local.pipeline.ingest import RowError
from medllm_local.stages.ingest.cases import CaseFileError, read_case_file

HEADER = ["Patient", "Case summary", "Final diagnosis", "Differential", "Plan"]
ROWS = [
    ["Olwen Pritchard", "54-year-old with crushing chest pain radiating to the left arm,\n"
     "sweating; ECG shows ST elevation in II, III and aVF.", "Inferior STEMI",
     "1. Inferior STEMI 2. Aortic dissection 3. Pericarditis", "Aspirin, primary PCI"],
    ["Olwen Pritchard", "Six weeks later: breathless on exertion, bibasal crackles, raised BNP.",
     "Heart failure after myocardial infarction", "", "Furosemide; start an ACE inhibitor"],
    ["", "", "", "", ""],  # an empty row: skipped, not an error
    ["Bram Oyelaran", "Fever, neck stiffness and a petechial rash in a 19-year-old student.",
     "", "", ""],  # no answer: fails alone
]


def libreoffice_csv(rows: list[list[str]]) -> bytes:
    """As LibreOffice writes 'CSV UTF-8' with a European locale: BOM, ';', quoted newlines."""
    def cell(value: str) -> str:
        return '"' + value.replace('"', '""') + '"' if any(c in value for c in ';"\n') else value
    lines = [";".join(cell(v) for v in row) for row in [HEADER, *rows]]
    return ("\ufeff" + "\r\n".join(lines) + "\r\n").encode("utf-8")


def test_a_libreoffice_csv_is_read_by_its_header_and_a_bad_row_fails_alone():
    read = read_case_file("cases.csv", libreoffice_csv(ROWS))
    assert read.mapping == {"Patient": "patient", "Case summary": "case", "Final diagnosis": "diagnosis",
                            "Differential": "differential", "Plan": "plan"}
    assert [c.row for c in read.cases] == [2, 3]
    assert read.errors == [(5, "no answer (diagnosis, differential or plan)")]
    first = read.cases[0]
    assert "left arm,\nsweating" in first.case  # the quoted newline stays inside the cell
    text = first.report_text()
    assert text.startswith("Patient: Olwen Pritchard") and "DIFFERENTIAL DIAGNOSIS: 1. Inferior STEMI" in text


def test_an_xlsx_first_sheet_with_a_merged_patient_cell(tmp_path):
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(HEADER)
    for row in ROWS[:2]:
        sheet.append(row)
    sheet.merge_cells("A2:A3")  # one patient over two rows, as people lay it out
    book.create_sheet("notes").append(["not read"])
    path = tmp_path / "teaching.xlsx"
    book.save(path)
    read = read_case_file(path.name, path.read_bytes())
    assert [c.patient for c in read.cases] == ["Olwen Pritchard", "Olwen Pritchard"]
    assert read.cases[1].plan == "Furosemide; start an ACE inhibitor" and not read.errors


def test_a_sharegpt_list_places_each_answer_by_its_question():
    records = [
        {"conversations": [{"from": "human", "value": "What is the most likely diagnosis?\n\n"
                                                      "Productive cough, fever, right basal crackles."},
                           {"from": "gpt", "value": "Community-acquired pneumonia"}]},
        {"conversations": [{"from": "human", "value": "Give a ranked differential diagnosis.\n\n"
                                                      "Sudden painful red eye with halos."},
                           {"from": "gpt", "value": "1. Acute angle-closure glaucoma 2. Uveitis"}]},
        {"conversations": [{"from": "human", "value": "no answer here"}]},
    ]
    read = read_case_file("course.json", json.dumps(records).encode())
    assert [(c.case, c.diagnosis, c.differential) for c in read.cases] == [
        ("Productive cough, fever, right basal crackles.", "Community-acquired pneumonia", ""),
        ("Sudden painful red eye with halos.", "", "1. Acute angle-closure glaucoma 2. Uveitis")]
    assert [row for row, _ in read.errors] == [3]
    forced = read_case_file("course.json", json.dumps(records[:1]).encode(), task="treatment")
    assert forced.cases[0].plan == "Community-acquired pneumonia"


@pytest.mark.parametrize("name, data, reason", [
    ("cases.csv", b"Name;Age\nAnn;4\n", "no column for the case and the answer"),
    ("cases.xlsx", b"not a zip", "not a readable XLSX"),
    ("cases.json", b"{broken", "not JSON"),
    ("cases.pdf", b"%PDF", "not a case file"),
    ("cases.csv", b"", "empty"),
])
def test_a_file_that_holds_no_cases_says_why(name, data, reason):
    with pytest.raises(CaseFileError, match=reason):
        read_case_file(name, data)


def test_a_file_without_a_header_row_is_refused_without_quoting_its_first_case():
    headless = libreoffice_csv(ROWS).decode("utf-8-sig").split("\r\n", 1)[1].encode()
    with pytest.raises(CaseFileError, match="header row") as error:
        read_case_file("cases.csv", headless)
    assert "Olwen" not in str(error.value) and "STEMI" not in str(error.value)


def test_imported_cases_pass_the_gate_and_their_names_never_reach_a_build(workspace, tmp_path):
    """A planted name is found and replaced before anything is built; one patient's
    cases share a split; a second import of the same file stores nothing again."""
    path = tmp_path / "cases.csv"
    path.write_bytes(libreoffice_csv(ROWS + [
        ["Ines Valcourt", "Polyuria, polydipsia and weight loss; glucose 24 mmol/L. Brought in "
         "by her brother Kasimir Odunsi.",
         "Type 1 diabetes mellitus", "", "Insulin; diabetes education"],
        ["Tomasz Wereszczak", "Itchy, scaly plaques on the elbows and knees.", "Plaque psoriasis",
         "", "Topical steroid and vitamin D analogue"]]))
    preview = pipeline.import_cases(workspace, [path], preview=True)
    assert preview.files[0].cases == 4 and workspace.document_count() == 0
    report = pipeline.import_cases(workspace, [path])
    assert report.imported == 4 and report.failed_rows == 1
    assert report.files[0].errors == [RowError(5, "no answer (diagnosis, differential or plan)")]
    assert pipeline.import_cases(workspace, [path]).duplicates == 4  # nothing stored twice
    with pytest.raises(pipeline.GateError):  # imported text is patient text until approved
        pipeline.build_dataset(workspace)
    pipeline.deid_documents(workspace)
    pipeline.approve_documents(workspace)
    built = pipeline.build_dataset(workspace)
    assert built.pairs["diagnosis"] == 4 and built.pairs["differential"] == 1
    text = "".join((workspace.root / info.file).read_text() for info in built.splits.values()
                   if info.pairs)
    for name in ("Olwen", "Pritchard", "Ines", "Valcourt", "Wereszczak", "Kasimir", "Odunsi"):
        assert name not in text
    assert "Inferior STEMI" in text and "psoriasis" in text
    rows = {r["source"].split("!")[-1]: r for r in workspace.document_rows()}
    assert rows["cases.csv row 2"]["split"] == rows["cases.csv row 3"]["split"]  # one patient


def test_cli_import_reports_the_mapping_and_the_bad_rows(tmp_path):
    path = tmp_path / "cases.csv"
    path.write_bytes(libreoffice_csv(ROWS))
    out = run_cli("import", str(path), "--workspace", str(tmp_path / "ws"), "--json")
    assert out.returncode == 1  # a row failed: said, and the rest imported
    report = json.loads(out.stdout)
    assert report["imported"] == 2 and report["files"][0]["errors"][0]["row"] == 5
    assert "Bram" not in out.stdout + out.stderr  # a failed row is named by number only


def test_the_dataset_tab_previews_the_columns_then_imports(workspace, tmp_path):
    import gradio as gr

    from medllm_local.ui.dataset_tab import build_dataset_tab

    with gr.Blocks() as blocks:
        build_dataset_tab(workspace)
    fns = {f.api_name: f.fn for f in blocks.fns.values()}
    upload = tmp_path / "cases.csv"
    upload.write_bytes(libreoffice_csv(ROWS))
    shown = fns["dataset_import_preview"]([str(upload)], "auto")
    assert "2 cases (Patient → patient, Case summary → case" in shown and "row 5: no answer" in shown
    assert workspace.document_count() == 0 and upload.exists()
    done = fns["dataset_import"]([str(upload)], "auto")
    assert "2 imported" in done and "de-identify and approve them in Review" in done
    assert workspace.document_count() == 2 and not upload.exists()  # the upload is gone once read


def test_a_file_is_imported_all_or_none(tmp_path):
    """A failure while one file's cases are stored (here the third case's text file
    cannot be written: a folder stands in its place) leaves nothing of that file: no
    catalogue row, no raw or text file. The same file imports whole once the cause is gone."""
    from medllm_local.core.files import sha256_bytes

    workspace = pipeline.open_workspace(tmp_path / "ws")
    rows = ROWS[:2] + [["Ines Vidal", "Wheeze and night cough since childhood.", "Asthma", "", ""]]
    cases = tmp_path / "cases.csv"
    cases.write_bytes(libreoffice_csv(rows))
    third = read_case_file("cases.csv", cases.read_bytes()).cases[2].report_text()
    blocker = workspace.root / workspace.text_file_for(sha256_bytes(third.encode("utf-8")))
    blocker.mkdir()
    before = {p for p in workspace.root.rglob("*") if p.is_file()}
    report = pipeline.import_cases(workspace, [cases])
    assert report.imported == 0 and report.files[0].status == "failed"
    assert report.files[0].error.startswith("nothing stored from it")
    assert workspace.document_count() == 0
    assert {p for p in workspace.root.rglob("*") if p.is_file() and "catalogue" not in p.name} == \
        {p for p in before if "catalogue" not in p.name}
    blocker.rmdir()
    assert pipeline.import_cases(workspace, [cases]).imported == 3 == workspace.document_count()


def test_a_libreoffice_csv_whose_cell_holds_a_quote_is_read_by_its_header_separator():
    """LibreOffice writes a quote inside a cell as two quotes; csv.Sniffer then guessed
    ',' and the whole file failed. A row whose unquoted ';' shifted its cells fails alone."""
    data = ("\ufeffcase;diagnosis;plan\n"
            '"Chest pain, ST elevation in II, III and aVF.";Inferior STEMI;"Aspirin and ""door-to-balloon"" PCI"\n'
            "Fever; neck stiffness and rash;Meningococcal meningitis;Ceftriaxone\n").encode("utf-8")
    read = read_case_file("cases.csv", data)
    assert [(c.row, c.diagnosis, c.plan) for c in read.cases] == [
        (2, "Inferior STEMI", 'Aspirin and "door-to-balloon" PCI')]
    assert read.errors == [(3, "4 cells under 3 headers (a cell with the separator in it needs quotes)")]
