"""Cases a physician already keeps, in a real browser: a teaching-case spreadsheet saved
by LibreOffice (UTF-8 BOM, ";" separator, a cell with a line break) is previewed and
imported on the Dataset tab, its bad row reported by number and reason; the imported
cases become documents of kind "imported" that go through de-identification and approval
like any report, so a patient name planted in one case never reaches the pairs. Then a
benchmark file is saved as a named evaluation set on the Evaluate tab, the version
history shows its honest empty state, and after two evaluations on the set (one started
from the tab, one through the pipeline) it shows both. Screenshots go to
test-artifacts/cases/ (git-ignored); the browser fetches nothing from outside 127.0.0.1
and the app tries no outside connection."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from urllib.parse import urlparse

import pytest

from conftest import ROOT, AppProcess, read_guard_log, wait_upload
from test_ui_browser import browser_page  # noqa: F401 (fixture: Chromium with the flags)
from test_ui_flow import choose, reload, wait_text

pytestmark = pytest.mark.slow

ARTIFACTS = ROOT / "test-artifacts" / "cases"
PLANTED = "Henrietta Vandersloot"
# As LibreOffice Calc writes "CSV UTF-8" with ";" as the field separator (where "," is the
# decimal mark): a BOM, cells quoted only when they hold the separator, a quote or a line
# break. Row numbers are the spreadsheet's: the header is row 1, and the
# two-line case in row 2 is one row, so the case without an answer is row 4.
CASES_CSV = (
    "\ufeffcase;diagnosis;differential;plan\n"
    '"A 24-year-old woman has fever, dysuria and right flank pain for two days.\n'
    'Temperature 38.9 °C, tenderness at the right costovertebral angle.";Acute pyelonephritis;'
    "Acute pyelonephritis, renal colic, acute appendicitis;Urine culture, then oral ciprofloxacin for 7 days\n"
    f'"Mrs. {PLANTED}, 67, presents with crushing chest pain radiating to the left arm and sweating; '
    'ST elevation in II, III and aVF.";Inferior STEMI;Inferior STEMI, aortic dissection, pulmonary embolism;'
    "Aspirin, heparin and primary PCI\n"
    "A 45-year-old man has painless jaundice and weight loss over three months.;;;\n"
    "A 19-year-old student has fever, headache, neck stiffness and a petechial rash.;Meningococcal meningitis;"
    "Meningococcal meningitis, viral meningitis, subarachnoid haemorrhage;Ceftriaxone at once, then lumbar puncture\n"
    "A 16-year-old with type 1 diabetes has vomiting, abdominal pain, deep rapid breathing and glucose "
    "32 mmol/L.;Diabetic ketoacidosis;Diabetic ketoacidosis, gastroenteritis, acute pancreatitis;"
    "IV fluids, insulin infusion, potassium replacement\n")
# A small outside benchmark in Alpaca form, one JSON object a line.
BENCHMARK = [
    ("A 30-year-old woman has fever, neck stiffness and photophobia.", "Meningitis"),
    ("A 60-year-old smoker has crushing chest pain and ST elevation in V1 to V4.", "Anterior STEMI"),
    ("A 7-year-old has wheeze and a night cough, relieved by salbutamol.", "Asthma"),
]
SET_NAME = "teaching-cases-2026"
JOB_MINUTES = 4  # the evaluation of 3 cases on the embedded model, as a child process


def shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def outside(requests: list[str]) -> list[str]:
    return [url for url in requests
            if urlparse(url).scheme in ("http", "https", "ws", "wss")
            and urlparse(url).hostname != "127.0.0.1"]


def assert_local(requests: list[str], step: str) -> None:
    assert requests, "no requests recorded: the check would be empty"
    assert outside(requests) == [], f"{step}: the browser fetched from outside 127.0.0.1: {outside(requests)[:5]}"


def open_accordion(page, elem_id: str, label: str) -> None:
    page.locator(f"#{elem_id}").get_by_text(label).first.click()


def table_rows(page, selector: str) -> list[list[str]]:
    """The cells of a Gradio table's rows as shown (its grid cells: the <tbody> beside
    them is a hidden copy, and empty cells leave no line in its text)."""
    return page.evaluate(
        """selector => Array.from(document.querySelectorAll(selector + ' [role=row]'))
             .map(row => Array.from(row.querySelectorAll('[role=gridcell]')).map(c => c.innerText.trim()))
             .filter(cells => cells.length)""", selector)


def wait_rows(page, selector: str, text: str, minutes: float = 0.5) -> list[list[str]]:
    """The table's rows once one of its shown cells holds ``text`` (the grid and its
    hidden copy are redrawn apart: wait on the grid itself)."""
    page.wait_for_function(
        """([selector, text]) => Array.from(document.querySelectorAll(selector + ' [role=gridcell]'))
             .some(cell => cell.innerText.includes(text))""", arg=[selector, text], timeout=int(minutes * 60_000))
    return table_rows(page, selector)


def files_holding(root: Path, text: str) -> list[str]:
    """Every file under ``root`` (the catalogue, its journal, every artefact) whose bytes
    hold ``text``, relative to it."""
    needle = text.encode("utf-8")
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and needle in p.read_bytes())


def test_imported_cases_and_an_evaluation_set_in_the_browser(tmp_path, browser_page):  # noqa: F811
    from medllm_local import pipeline
    from medllm_local.core import models
    from medllm_local.core.files import text_hash
    from medllm_local.pipeline.pairs import list_pairs
    from medllm_local.stages.dataset import formats

    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    cases_file = tmp_path / "my-files" / "teaching-cases.csv"
    cases_file.parent.mkdir()
    cases_file.write_bytes(CASES_CSV.encode("utf-8"))
    assert cases_file.read_bytes().startswith(b"\xef\xbb\xbf")
    benchmark = tmp_path / "my-files" / "teaching-benchmark.jsonl"
    benchmark.write_text("".join(json.dumps({"instruction": "What is the most likely diagnosis?",
                                             "input": case, "output": answer}) + "\n"
                                 for case, answer in BENCHMARK))
    app = AppProcess(tmp_path).wait()
    page, requests = browser_page
    try:
        page.goto(app.url, wait_until="networkidle")
        page.wait_for_function("document.title.includes('medllm-local')", timeout=60_000)
        workspace = pipeline.open_workspace(app.workspace)
        uploads = app.workspace / ".uploads" / str(app.process.pid)

        # 1. Dataset tab: the spreadsheet's columns are shown before anything is stored
        page.get_by_role("tab", name="Dataset").click()
        open_accordion(page, "dataset-import", "Import cases you keep (CSV, XLSX, ShareGPT/Alpaca JSON)")
        page.locator("#import-files input[type=file]").set_input_files(str(cases_file))
        wait_upload(page, "#import-files", cases_file.name)
        page.locator("#import-preview").click()
        preview = wait_text(page, "#import-status", "Check the columns", 1)
        assert ("teaching-cases.csv: 4 cases (case → case, diagnosis → diagnosis, "
                "differential → differential, plan → plan)") in preview, preview
        assert "row 4: no answer (diagnosis, differential or plan)" in preview, preview
        assert "imported" not in preview  # a preview stores nothing...
        assert workspace.list_documents() == []  # ...and the workspace says so
        assert PLANTED.split()[-1] not in preview  # a row is named by number, never by content
        shot(page, "1-import-mapping")
        assert_local(requests, "preview")

        # 2. Import: four cases stored, the bad row reported by number and reason
        page.locator("#import-run").click()
        report = wait_text(page, "#import-status", "cases imported as documents", 2)
        assert "teaching-cases.csv: 4 cases" in report and "4 imported, 0 already here" in report, report
        assert "row 4: no answer (diagnosis, differential or plan)" in report, report
        assert "4 cases imported as documents" in report and "de-identify and approve them in Review" in report
        assert PLANTED.split()[-1] not in report
        assert list(uploads.rglob("teaching-cases.csv")) == []  # the uploaded copy is not kept
        # and the upload box no longer offers the file it read (and deleted)
        page.wait_for_function("!(document.querySelector('#import-files')?.innerText || '')"
                               ".includes('teaching-cases.csv')", timeout=30_000)
        shot(page, "2-import-report")
        stored = workspace.list_documents()
        assert sorted(Path(d["source"].split("!")[-1]).name for d in stored) == [
            f"teaching-cases.csv row {n}" for n in (2, 3, 5, 6)]
        assert {(d["kind"], d["status"]) for d in stored} == {("imported", "ingested")}
        assert_local(requests, "import")

        # the Documents tab lists them as imported documents, waiting for Review
        page.get_by_role("tab", name="Documents").click()
        assert sorted(row[1:4] for row in wait_rows(page, "#documents-table", "teaching-cases.csv row 6")) == [
            [f"teaching-cases.csv row {n}", "imported", "ingested"] for n in (2, 3, 5, 6)]
        assert "reports (4 documents)" in wait_text(page, "#path-line", "4 documents", 0.5)
        assert "0 of 4 approved" in page.locator("#path-line").inner_text()

        # Review: de-identify; the planted name is a finding and gone from the text
        page.get_by_role("tab", name="Review").click()
        page.locator("#deid-run").click()
        wait_text(page, "#review-status", "De-identified 4 documents", 3)
        choose(page, "#review-doc", "teaching-cases.csv row 3")
        wait_text(page, "#review-findings", PLANTED, 0.5)
        page.wait_for_function("document.querySelector('#review-deid textarea').value.includes('crushing chest pain')",
                               timeout=30_000)
        deid_text = page.locator("#review-deid textarea").input_value()
        assert "67, presents with crushing chest pain" in deid_text and "DIAGNOSIS: Inferior STEMI" in deid_text
        assert "Henrietta" not in deid_text and "Vandersloot" not in deid_text
        shot(page, "2b-review-imported-case")
        page.locator("#deid-bulk").click()
        assert "approved 4 documents" in wait_text(page, "#review-status", "approved", 1)
        assert_local(requests, "review")

        # Dataset: build; no pair holds the name, and it is only where originals are kept
        page.get_by_role("tab", name="Dataset").click()
        page.locator("#dataset-build").click()
        built = wait_text(page, "#dataset-status", "Pairs:", 2)
        assert "4 diagnosis" in built and "not approved" not in built, built
        pairs_table = wait_text(page, "#dataset-pairs", "Inferior STEMI", 0.5)
        assert "Vandersloot" not in pairs_table and "Henrietta" not in pairs_table
        shot(page, "2c-dataset-pairs")
        pairs = list_pairs(workspace)
        assert {p.answer for p in pairs if p.task == "diagnosis"} == {
            "Acute pyelonephritis", "Inferior STEMI", "Meningococcal meningitis", "Diabetic ketoacidosis"}
        assert any("flank pain for two days.\nTemperature 38.9 °C" in p.question for p in pairs)
        assert not any("Vandersloot" in p.question + p.answer for p in pairs)
        holding = files_holding(app.workspace, "Vandersloot")
        assert holding, "the original case should be kept (raw copy and its text)"
        assert {name.split("/")[0] for name in holding} <= {"raw", "text"}, holding
        assert_local(requests, "dataset")

        # 3. Evaluate: the history starts honest, then a benchmark file becomes a named set
        page.get_by_role("tab", name="Evaluate").click()
        open_accordion(page, "eval-history", "Model versions over time")
        wait_text(page, "#eval-history-warnings", "No version evaluated on the test split yet.", 0.5)
        open_accordion(page, "eval-save-set", "Save a benchmark file as an evaluation set")
        page.locator("#eval-set-file input[type=file]").set_input_files(str(benchmark))
        wait_upload(page, "#eval-set-file", benchmark.name)
        page.locator("#eval-set-name textarea, #eval-set-name input").first.fill(SET_NAME)
        page.locator("#eval-set-save").click()
        saved = wait_text(page, "#eval-set-status", "Saved set", 1)
        sets = pipeline.eval_sets(workspace)
        assert [(s.set, s.cases, s.source) for s in sets] == [(SET_NAME, 3, "teaching-benchmark.jsonl")]
        expected = text_hash(formats.dump(formats.load(benchmark.read_text()), "messages"))
        assert sets[0].sha256 == expected == text_hash(Path(sets[0].file).read_text())
        assert f"Saved set {SET_NAME}: 3 cases (sha256 {expected[:12]})." in saved, saved
        label = f"Set {SET_NAME} (3 cases, from teaching-benchmark.jsonl)"
        page.wait_for_function("label => document.querySelector('#eval-set input').value === label",
                               arg=label, timeout=30_000)
        assert list(uploads.rglob("teaching-benchmark.jsonl")) == []
        # the history follows the chosen cases: this set has no evaluation yet
        empty = wait_text(page, "#eval-history-warnings", f"No version evaluated on set {SET_NAME} yet.", 0.5)
        page.locator("#eval-set input").click()  # the list offers the test split and the set
        options = page.get_by_role("option")
        options.filter(has_text=label).first.wait_for(timeout=10_000)
        assert options.filter(has_text="The test split (frozen)").count() >= 1
        shot(page, "3-eval-set")
        page.keyboard.press("Escape")
        page.wait_for_function("!document.querySelector('[role=option]')", timeout=10_000)
        # the upload box is emptied: the benchmark now lives in the workspace only
        listed = page.locator("#eval-set-file").text_content()
        assert benchmark.name not in "".join(listed.split())
        assert "Drop File Here" in page.locator("#eval-set-file").inner_text()
        assert_local(requests, "evaluation set")

        # 4. the version history's empty state, on the set
        assert "No version evaluated" in empty
        assert table_rows(page, "#eval-history-table") == [[""] * 8]  # one blank row, no version
        page.locator("#eval-history").scroll_into_view_if_needed()
        shot(page, "4-eval-history")

        # two evaluations on the set: the base model from this tab (a child process), and
        # a second model file through the pipeline (a copy of the base under another name:
        # a trained run would take minutes here)
        page.locator("#eval-start").click()
        wait_text(page, "#eval-status", "done", JOB_MINUTES)
        assert [row[:2] for row in wait_rows(page, "#eval-metrics", models.EMBEDDED_NAME)] == [
            [models.EMBEDDED_NAME, "3"]]
        # the open history follows the job's end: its first version, no reload
        assert wait_rows(page, "#eval-history-table", models.EMBEDDED_NAME)[0][0] == models.EMBEDDED_NAME
        copy = tmp_path / "smollm2-copy.gguf"
        shutil.copyfile(models.embedded_gguf(), copy)
        pipeline.eval_models(workspace, [str(copy)], eval_set=SET_NAME)
        versions = pipeline.model_history(workspace, SET_NAME).versions
        assert [v.model for v in versions] == [models.EMBEDDED_NAME, "smollm2-copy"]
        # a page opened now reads both (an open history does not follow an evaluation made
        # elsewhere): the physician chooses the set and opens it
        reload(page)
        page.get_by_role("tab", name="Evaluate").click()
        choose(page, "#eval-set", label)
        open_accordion(page, "eval-history", "Model versions over time")
        rows = wait_rows(page, "#eval-history-table", "smollm2-copy")
        # both versions, in order, each with its 3 cases and its top-1 as the catalogue has it
        assert [(row[0], row[2], row[3]) for row in rows] == [
            (v.model, "3", f"{v.top1:.3f}") for v in versions], rows
        assert "No version is worse than its parent" in page.locator("#eval-history-warnings").inner_text()
        page.locator("#eval-history-plot canvas, #eval-history-plot svg").first.wait_for(timeout=30_000)
        page.locator("#eval-history").scroll_into_view_if_needed()
        shot(page, "5-eval-history-two-versions")
        # back from another tab, the history is still the one of the set the dropdown shows
        # (the tab's refresher used to draw the test split's beside it)
        page.get_by_role("tab", name="Train").click()
        page.get_by_role("tab", name="Evaluate").click()
        page.wait_for_timeout(3_000)  # the refreshers run as the tab is chosen
        assert page.locator("#eval-set input").input_value() == label
        assert table_rows(page, "#eval-history-table") == rows
        assert_local(requests, "history")
    except Exception:
        shot(page, "failed")
        raise
    finally:
        app.stop()

    assert_local(requests, "the whole session")
    assert read_guard_log(app.guard_log) == []
