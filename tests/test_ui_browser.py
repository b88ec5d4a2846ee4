"""The app in a real browser (Debian's Chromium driven by Playwright): it opens on
127.0.0.1, the chat tab answers on the embedded model, and the page loads nothing from
outside this machine."""

from __future__ import annotations

import os
import shutil
from urllib.parse import urlparse

import pytest

from conftest import read_guard_log, wait_upload
from test_train import tiny, tokenizer_dir  # noqa: F401 (fixtures)

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]

pytestmark = pytest.mark.slow


@pytest.fixture
def browser_page(tmp_path):
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail("chromium is missing in CI: installer --dev should have installed it")
        pytest.skip("chromium not installed (python3 installer/install.py --dev installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=CHROMIUM, headless=True,
            args=CHROMIUM_ARGS, viewport={"width": 1280, "height": 900})
        page = context.pages[0] if context.pages else context.new_page()
        requests: list[str] = []
        page.on("request", lambda request: requests.append(request.url))
        yield page, requests
        context.close()


def test_chat_tab_answers_in_the_browser_and_nothing_leaves_the_machine(
        app_process, browser_page, tmp_path):
    page, requests = browser_page
    page.goto(app_process.url, wait_until="networkidle")
    # Gradio's script sets the title once the app's config is read: wait for it, not a guess.
    page.wait_for_function("document.title.includes('medllm-local')", timeout=60_000)
    assert "medllm-local" in page.title()
    # a new workspace opens on its first step, with the path at the top
    assert page.get_by_role("tab", name="Documents").get_attribute("aria-selected") == "true"
    assert "reports (0 documents)" in page.locator("#path-line").inner_text()
    page.get_by_role("tab", name="Chat").click()
    question = page.locator("#chat-input textarea")
    question.fill("A 25-year-old has a fever, sore throat and swollen tonsils with exudate. "
                  "What is the most likely diagnosis?")
    page.locator("#chat-send").click()
    status = page.locator("#chat-status")
    status.get_by_text("stopped:").wait_for(timeout=120_000)
    assert "stopped: stop" in status.inner_text()  # ended by the model's own end token
    messages = page.locator("#chat-history .message")
    assert messages.count() >= 2
    answer = messages.last.inner_text().strip()
    assert len(answer) > 10
    assert "<|im" not in answer
    page.screenshot(path=str(tmp_path / "chat.png"), full_page=True)

    outside = [url for url in requests
               if urlparse(url).scheme in ("http", "https", "ws", "wss")
               and urlparse(url).hostname not in ("127.0.0.1", "localhost")]
    assert outside == [], f"the page fetched from outside: {outside[:5]}"
    assert read_guard_log(app_process.guard_log) == []


def test_settings_tab_shows_the_guard_on(app_process, browser_page):
    page, _ = browser_page
    page.goto(app_process.url, wait_until="networkidle")
    page.get_by_role("tab", name="Settings").click()
    shown = page.locator("#offline-status").inner_text()
    assert "record" in shown and "refused_attempts" in shown


def test_documents_tab_ingests_uploads_and_the_demo_reports(app_process, browser_page, tmp_path):
    from ingest_fixtures import ONE_COLUMN, text_pdf

    page, requests = browser_page
    report = tmp_path / "heart-failure-letter.pdf"
    report.write_bytes(text_pdf(ONE_COLUMN))
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4 not really")
    page.goto(app_process.url, wait_until="networkidle")
    page.get_by_role("tab", name="Documents").click()
    page.locator("#ingest-files input[type=file]").set_input_files([str(report), str(broken)])
    wait_upload(page, "#ingest-files", "heart-failure-letter.pdf")  # a busy machine takes a while
    page.locator("#ingest-run").click()
    status = page.locator("#ingest-status")
    status.get_by_text("ingested").wait_for(timeout=60_000)
    assert "1 ingested, 1 failed" in status.inner_text()
    assert "broken.pdf: corrupt" in status.inner_text()
    table = page.locator("#documents-table")
    assert "heart-failure-letter.pdf" in table.inner_text()
    # uploads land inside the owner-only workspace, and are deleted once ingested
    uploads = app_process.workspace / ".uploads" / str(app_process.process.pid)
    assert uploads.is_dir()
    assert list(uploads.rglob("*.pdf")) == []
    # the upload box is emptied (the broken file stays reported): a second click adds nothing
    page.locator("#ingest-run").click()
    status.get_by_text("Choose files").wait_for(timeout=30_000)
    assert table.inner_text().count("failed") == 1
    # a reload (or a new browser session) shows the workspace as it is now
    page.reload(wait_until="load")  # the page's load events keep a stream open: no "networkidle"
    # the page reads the workspace as it opens: wait for it
    page.wait_for_function("(document.querySelector('#path-line') || {}).innerText"
                           "?.includes('1 documents')", timeout=60_000)
    page.get_by_role("tab", name="Documents").click()
    page.wait_for_function("document.querySelector('#documents-table').innerText"
                           ".includes('heart-failure-letter.pdf')", timeout=30_000)

    page.locator("#ingest-demo").click()
    status.get_by_text("6 ingested").wait_for(timeout=120_000)
    text = table.inner_text()
    assert "demo-migraine-scan.png" in text and "demo-dvt.docx" in text
    # the path line follows at once, without a change of tab
    page.wait_for_function("document.querySelector('#path-line').innerText.includes('7 documents')",
                           timeout=30_000)
    # a document is deleted by choosing it from the list (no id to type), once confirmed
    page.locator("#documents-delete-id input").click()
    page.get_by_role("option", name="demo-dvt.docx").click()
    page.locator("#documents-delete-confirm input").check()
    page.locator("#documents-delete").click()
    page.locator("#documents-delete-status").get_by_text("Forgot 1 document").wait_for(timeout=60_000)
    page.wait_for_function("!document.querySelector('#documents-table').innerText.includes('demo-dvt.docx')",
                           timeout=30_000)
    page.wait_for_function("document.querySelector('#path-line').innerText.includes('6 documents')",
                           timeout=30_000)
    page.locator("#documents-delete-id input").click()
    page.get_by_role("option", name="demo-migraine-scan.png").wait_for()
    assert page.get_by_role("option", name="demo-dvt.docx").count() == 0
    page.keyboard.press("Escape")
    # the next action is a button under the path line, and it opens its tab
    page.wait_for_function("document.querySelector('#next-step').innerText"
                           ".includes('Next: review and approve (0 of 6 approved)')", timeout=30_000)
    page.locator("#next-step").click()
    page.locator("#deid-run").wait_for(state="visible", timeout=30_000)
    assert read_guard_log(app_process.guard_log) == []


def test_review_tab_deidentifies_rejects_adds_and_approves(app_process, browser_page, tmp_path):
    from conftest import run_cli
    from medllm_local.workspace.store import Workspace

    page, _ = browser_page
    demo = app_process.workspace / "inbox" / "demo-reports" / "demo-pneumonia.txt"
    assert run_cli("ingest", str(demo), "--workspace", str(app_process.workspace)).returncode == 0
    page.goto(app_process.url, wait_until="networkidle")
    page.get_by_role("tab", name="Review").click()
    page.locator("#deid-run").click()
    page.locator("#review-status").get_by_text("De-identified 1 documents").wait_for(timeout=120_000)
    page.locator("#review-doc input").click()
    page.get_by_role("option", name="demo-pneumonia.txt").click()
    findings = page.locator("#review-findings")
    findings.get_by_text("Alex Example").first.wait_for(timeout=30_000)
    assert "Alex Example" not in page.locator("#review-deid textarea").input_value()

    workspace = Workspace.open(app_process.workspace)
    # numbers count within the document, as the table shows them
    number = next(n for n, f in enumerate(workspace.findings_for(1), start=1) if f["type"] == "PHONE_NUMBER")
    page.locator("#review-apply").click()  # nothing given: nothing applied, and it says so
    page.locator("#review-status").get_by_text("Nothing to apply").wait_for(timeout=30_000)
    # a click on a highlighted finding marks it for rejection; a second click takes it back
    from playwright.sync_api import expect

    phone = page.locator("#review-original").get_by_text("(555) 010-4477").first
    reject_box = page.locator("#review-reject textarea")
    phone.click()
    expect(reject_box).to_have_value(str(number), timeout=30_000)
    phone.click()
    expect(reject_box).to_have_value("", timeout=30_000)
    phone.click()
    expect(reject_box).to_have_value(str(number), timeout=30_000)
    # a word left in the de-identified text is selected there: it becomes the text to remove
    deid_box = page.locator("#review-deid textarea")
    start = deid_box.input_value().index("rusty")  # a word no detector removes
    deid_box.evaluate("(el, [s, e]) => { el.focus(); el.setSelectionRange(s, e);"
                      " el.dispatchEvent(new Event('select', {bubbles: true})); }", [start, start + 5])
    expect(page.locator("#review-add textarea")).to_have_value("rusty", timeout=30_000)
    page.locator("#review-apply").click()
    page.locator("#review-status").get_by_text("Applied: rejected 1 finding and removed").wait_for(timeout=30_000)
    assert page.locator("#review-reject textarea").input_value() == ""  # cleared for the next one
    deid_text = page.locator("#review-deid textarea").input_value()
    assert "(555) 010-4477" in deid_text  # the rejected finding stays as written
    assert "rusty" not in deid_text and "Alex Example" not in deid_text
    page.screenshot(path=str(tmp_path / "review.png"), full_page=True)
    page.locator("#review-approve").click()
    page.locator("#review-status").get_by_text("Approved.").wait_for(timeout=30_000)
    assert workspace.document_rows([1])[0]["status"] == "approved"
    assert workspace.pending_findings(1) == 0

    page.get_by_role("tab", name="Dataset").click()
    page.locator("#dataset-build").click()
    page.locator("#dataset-status").get_by_text("Pairs:").wait_for(timeout=60_000)
    assert "1 diagnosis" in page.locator("#dataset-status").inner_text()
    assert "Community-acquired pneumonia" in page.locator("#dataset-pairs").inner_text()


def test_train_tab_checks_the_fit_and_reports_a_job_that_cannot_start(app_process, browser_page):
    """Check fit plans for this machine; Start runs `train` as a child process whose
    failure (no dataset built yet) comes back to the page, and the app lives on."""
    page, _ = browser_page
    page.goto(app_process.url, wait_until="networkidle")
    page.get_by_role("tab", name="Train").click()
    page.locator("#train-check").click()
    fit = page.locator("#train-fit")
    fit.get_by_text("Trains on").wait_for(timeout=180_000)
    assert "cpu" in fit.inner_text() and "LoRA" in fit.inner_text()
    # the fields left on auto say what the check picked: "auto (8)", not 0
    page.wait_for_function("document.querySelector('#train-batch_size textarea').value.startsWith('auto (')",
                           timeout=60_000)
    picked = page.locator("#train-batch_size textarea").input_value()
    assert picked == f"auto ({fit.inner_text().split('batch ')[1].split(',')[0]})"
    page.locator("#train-start").click()
    status = page.locator("#train-status")
    status.get_by_text("failed").wait_for(timeout=180_000)
    assert "no dataset yet" in status.inner_text()
    page.get_by_role("tab", name="Chat").click()  # the app itself is still serving
    assert page.locator("#chat-input textarea").is_visible()


def test_export_tab_exports_a_run_and_shows_every_check(tiny, tmp_path, monkeypatch, browser_page):  # noqa: F811
    """A run trained beforehand (tiny random llama): the Export tab starts `export` as a
    child process and shows the checks; a model that never learned to stop fails one."""
    from conftest import AppProcess
    from test_train import train_tiny_run

    _, report = train_tiny_run(tmp_path, monkeypatch, tiny, max_steps=2)
    run = report.run
    app = AppProcess(tmp_path).wait()
    try:
        page, _ = browser_page
        page.goto(app.url, wait_until="networkidle")
        page.get_by_role("tab", name="Export").click()
        page.locator("#export-run input").click()
        page.get_by_role("option", name=f"run {run} ").click()
        page.locator("#export-quant input").click()
        page.get_by_role("option", name="Q8_0").click()
        page.locator("#export-start").click()
        status = page.locator("#export-status")
        status.get_by_text("a check failed").wait_for(timeout=300_000)
        checks = page.locator("#export-checks")
        checks.get_by_text("stops_by_itself").wait_for(timeout=30_000)  # may render after the status
        table = checks.inner_text()
        assert "agrees_with_merged_model" in table and "stops_by_itself" in table
        assert "FAILED" in table and "Modelfile" in status.inner_text()
    finally:
        app.stop()


def test_evaluate_tab_runs_eval_as_a_job_and_reports_why_it_cannot(app_process, browser_page):
    page, _ = browser_page
    page.goto(app_process.url, wait_until="networkidle")
    page.get_by_role("tab", name="Evaluate").click()
    page.locator("#eval-start").click()
    status = page.locator("#eval-status")
    status.get_by_text("failed").wait_for(timeout=180_000)
    assert "no dataset yet" in status.inner_text()


def test_case_form_gives_a_ranked_differential_table_and_similar_past_cases(
        app_process, browser_page, tmp_path):
    from medllm_local.workspace.store import Workspace
    from test_chat import fill_archive

    fill_archive(Workspace.open(app_process.workspace))  # the app reads the archive per question
    page, _ = browser_page
    page.goto(app_process.url, wait_until="networkidle")
    page.wait_for_function("document.title.includes('medllm-local')", timeout=60_000)
    page.get_by_role("tab", name="Chat").click()
    page.locator("#case-form").get_by_text("Case form").click()
    page.locator("#case-age input").fill("34")
    page.locator("#case-sex textarea").fill("woman")
    page.locator("#case-symptoms textarea").fill("fever and dysuria")
    page.locator("#case-findings textarea").fill("flank pain, <b>tender</b> costovertebral angle")
    page.locator("#case-differential").click()
    page.locator("#chat-status").get_by_text("Ranked differential:").wait_for(timeout=180_000)
    table = page.locator("#chat-differential").inner_text()
    assert any(likelihood in table for likelihood in ("high", "moderate", "low"))
    similar = page.locator("#chat-similar").inner_text()
    assert "Acute pyelonephritis" in similar and "Quayle" not in similar
    assert page.locator("#chat-differential b").count() == 0  # markup shown as text, never HTML
    page.screenshot(path=str(tmp_path / "differential.png"), full_page=True)


def test_clean_tab_cleans_shows_a_documents_changes_and_reverts_one(tmp_path, browser_page):
    """Approved demo reports: the Clean tab cleans them, lists one document's changes
    (the demo banner repeated in every report is boilerplate) and reverts one; documents
    and the pages to type are chosen from lists, not typed as numbers."""
    from conftest import AppProcess
    from medllm_local import pipeline
    from medllm_local.core.records import Document, Page

    workspace = pipeline.open_workspace(tmp_path / "ws")
    pipeline.ingest(workspace, [workspace.folder("inbox") / pipeline.DEMO_INBOX])
    pipeline.deid_documents(workspace)
    pipeline.approve_documents(workspace)
    garbled = "Hlstory: c0ugh f0r 3 days."
    scan, _ = workspace.store_document(Document(source="scan.pdf", sha256="ab" * 32, kind="pdf", pages=[
        Page(1, "CHIEF COMPLAINT: Cough for three days.", "text"), Page(2, garbled, "ocr", 41.0)]),
        status="ocr_flagged")
    app = AppProcess(tmp_path).wait()
    try:
        page, requests = browser_page
        page.goto(app.url, wait_until="networkidle")
        page.get_by_role("tab", name="Clean").click()
        page.locator("#clean-run").click()
        page.locator("#clean-status").get_by_text("Cleaned 6 documents").wait_for(timeout=120_000)
        page.locator("#clean-doc input").click()
        page.get_by_role("option", name="1: demo-").first.click()  # showing it needs no other click
        changes = page.locator("#clean-changes")
        changes.get_by_text("FICTITIOUS DEMO REPORT").first.wait_for(timeout=30_000)
        first = workspace.query("SELECT MIN(id) FROM clean_changes WHERE document_id = 1")[0][0]
        page.locator("#clean-change-ids textarea").fill(str(first))
        page.locator("#clean-revert").click()
        page.locator("#clean-status").get_by_text("Reverted.").wait_for(timeout=30_000)
        assert workspace.query("SELECT reverted FROM clean_changes WHERE id = ?", (first,))[0][0] == 1
        assert "FICTITIOUS DEMO REPORT" in page.locator("#clean-text textarea").input_value()
        # the page OCR read poorly, chosen from the list: its text loads, the typed text is saved
        page.get_by_text("Pages to type by hand").click()
        page.locator("#clean-page input").click()
        page.get_by_role("option", name=f"{scan}: scan.pdf, page 2 (OCR 41)").click()
        page.wait_for_function("t => document.querySelector('#clean-transcript textarea').value === t",
                               arg=garbled, timeout=30_000)
        page.locator("#clean-transcript textarea").fill("History: cough for 3 days.")
        page.locator("#clean-transcribe-save").click()
        page.locator("#clean-page-status").get_by_text("Page 2:").wait_for(timeout=60_000)
        assert workspace.load_document(scan).pages[1].text == "History: cough for 3 days."
        assert pipeline.transcription_queue(workspace) == []
        assert all(urlparse(url).hostname in ("127.0.0.1", "localhost") for url in requests
                   if url.startswith("http"))
    finally:
        app.stop()


def test_dataset_tab_filters_accepts_augmented_pairs_and_edits_an_answer(tmp_path, browser_page):
    """Built with augmentation beforehand: the Dataset tab shows only the augmented pairs,
    searches, accepts them in bulk, and saves a corrected answer."""
    from conftest import AppProcess
    from medllm_local import pipeline
    from medllm_local.stages.dataset.build import BuildSettings

    workspace = pipeline.open_workspace(tmp_path / "ws")
    pipeline.ingest(workspace, [workspace.folder("inbox") / pipeline.DEMO_INBOX])
    pipeline.deid_documents(workspace)
    pipeline.approve_documents(workspace)
    built = pipeline.build_dataset(workspace, BuildSettings(augment="fillers"))
    assert built.augmentation["pending"] > 0
    app = AppProcess(tmp_path).wait()
    try:
        page, requests = browser_page
        page.goto(app.url, wait_until="networkidle")
        page.get_by_role("tab", name="Dataset").click()
        page.locator("#filter-augmented input").click()
        page.get_by_role("option", name="yes", exact=True).click()
        page.locator("#filter-show").click()
        from playwright.sync_api import expect

        table = page.locator("#dataset-pairs")
        expect(table).to_contain_text("augmented (fillers)", timeout=30_000)
        expect(table).not_to_contain_text("validation")  # augmented pairs are train only
        page.locator("#review-accept").click()
        page.locator("#dataset-status").get_by_text("Accepted").wait_for(timeout=30_000)
        assert {r["review"] for r in workspace.query(
            "SELECT review FROM pairs WHERE origin = 'augmented'")} == {"accepted"}
        pair = workspace.query("SELECT id FROM pairs WHERE origin = 'report' AND task = 'diagnosis'"
                               " ORDER BY id LIMIT 1")[0]["id"]
        page.locator("#pair-id input").fill(str(pair))
        page.locator("#pair-answer textarea").fill("Corrected in the browser")
        page.locator("#pair-save").click()
        page.locator("#dataset-status").get_by_text("Saved").wait_for(timeout=30_000)
        row = workspace.query("SELECT edited, reference FROM pairs WHERE id = ?", (pair,))[0]
        assert row["edited"] == 1 and row["reference"] == "Corrected in the browser"
        assert all(urlparse(url).hostname in ("127.0.0.1", "localhost") for url in requests
                   if url.startswith("http"))
    finally:
        app.stop()
