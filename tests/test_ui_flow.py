"""The whole workflow in a real browser, as a physician clicks through it on the first
launch: upload the demo reports, de-identify and approve, clean, build the dataset,
train a few LoRA steps on the embedded model (the live loss plot appears), evaluate,
export Q8_0, and chat with the export (a streamed answer). Screenshots of every step go
to test-artifacts/flow/ (git-ignored; CI keeps them); the browser must fetch nothing
from outside 127.0.0.1 and the app must try no outside connection."""

from __future__ import annotations

import shutil
from urllib.parse import urlparse

import pytest

from conftest import ROOT, AppProcess, read_guard_log
from test_ui_browser import browser_page  # noqa: F401 (fixture: Chromium with the flags)

pytestmark = pytest.mark.slow

ARTIFACTS = ROOT / "test-artifacts" / "flow"
JOB_MINUTES = 10  # train, evaluate and export each run as a child process on the CPU
QUESTION = "A 65-year-old man has fever, productive cough and crackles at the right base. Diagnosis?"
# Records every text the last chat message shows, so streaming can be told from one reply.
WATCH_CHAT = """() => {
  window.__chatTexts = new Set();
  const root = document.querySelector('#chat-history');
  new MutationObserver(() => {
    const messages = root.querySelectorAll('.message');
    if (messages.length) window.__chatTexts.add(messages[messages.length - 1].innerText);
  }).observe(root, {subtree: true, childList: true, characterData: true});
}"""


@pytest.fixture
def models_dir(tmp_path, monkeypatch):
    """A models folder of this test's own (the export registers itself there), holding
    the embedded model's converted copy so training does not convert it again."""
    from medllm_local.core import models

    converted = models.ensure_hf_copy()
    folder = tmp_path / "models"
    folder.mkdir()
    (folder / models.EMBEDDED_HF_FOLDER).symlink_to(converted, target_is_directory=True)
    monkeypatch.setenv("MEDLLM_MODELS_DIR", str(folder))
    return folder


def shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def wait_text(page, selector: str, text: str, minutes: float = 2) -> str:
    """Wait until the element's visible text contains ``text`` (Gradio tables also hold
    hidden copies of their cells, so a text locator may find an invisible one first)."""
    page.wait_for_function(
        "([selector, text]) => (document.querySelector(selector)?.innerText || '').includes(text)",
        arg=[selector, text], timeout=int(minutes * 60_000))
    return page.locator(selector).inner_text()


def reload(page) -> None:
    """A reload, as a physician's browser does after a break: every tab must read the
    workspace again, not show what it held when the app started."""
    page.reload(wait_until="networkidle")
    page.wait_for_function("document.title.includes('medllm-local')", timeout=60_000)


def choose(page, dropdown: str, option: str) -> None:
    page.locator(f"{dropdown} input").click()
    page.get_by_role("option", name=option).first.click()


def test_whole_flow_from_upload_to_chat_with_the_export(tmp_path, models_dir, browser_page):  # noqa: F811
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    app = AppProcess(tmp_path).wait()
    try:
        page, requests = browser_page
        page.goto(app.url, wait_until="networkidle")
        page.wait_for_function("document.title.includes('medllm-local')", timeout=60_000)

        # 1. upload the demo reports (copied out of the workspace, as a user's own files)
        reports = tmp_path / "my-reports"
        shutil.copytree(app.workspace / "inbox" / "demo-reports", reports)
        page.get_by_role("tab", name="Documents").click()
        files = sorted(str(p) for p in reports.iterdir())
        page.locator("#ingest-files input[type=file]").set_input_files(files)
        page.wait_for_function(  # every upload listed (Gradio shows them once stored)
            "n => document.querySelectorAll('#ingest-files tbody tr').length >= n",
            arg=len(files), timeout=60_000)
        page.locator("#ingest-run").click()
        assert "6 ingested, 0 failed" in wait_text(page, "#ingest-status", "ingested", 4)
        shot(page, "1-documents")
        reload(page)
        page.get_by_role("tab", name="Documents").click()
        assert wait_text(page, "#documents-table", "demo-pneumonia.txt").count("ingested") >= 6

        # 2. de-identify, look at one document, approve
        page.get_by_role("tab", name="Review").click()
        page.locator("#deid-run").click()
        wait_text(page, "#review-status", "De-identified 6 documents", 4)
        choose(page, "#review-doc", "demo-pneumonia.txt")
        wait_text(page, "#review-findings", "Alex Example", 0.5)
        assert "Alex Example" not in page.locator("#review-deid textarea").input_value()
        shot(page, "2-review")
        page.locator("#deid-bulk").click()
        assert "approved 6 documents" in wait_text(page, "#review-status", "approved")
        reload(page)
        page.get_by_role("tab", name="Review").click()
        choose(page, "#review-doc", "demo-pneumonia.txt")  # the list is read again

        # 3. clean, 4. build the dataset
        page.get_by_role("tab", name="Clean").click()
        page.locator("#clean-run").click()
        wait_text(page, "#clean-status", "Cleaned 6 documents")
        page.get_by_role("tab", name="Dataset").click()
        page.locator("#dataset-build").click()
        wait_text(page, "#dataset-status", "Pairs:")
        shot(page, "3-dataset")
        reload(page)
        page.get_by_role("tab", name="Dataset").click()
        assert "(no pairs)" not in wait_text(page, "#dataset-pairs", "diagnosis")

        # 5. train a few steps; the loss plot fills in while the job runs
        page.get_by_role("tab", name="Train").click()
        for name, value in (("max_steps", "2"), ("batch_size", "2"), ("max_length", "512")):
            page.locator(f"#train-{name} input, #train-{name} textarea").first.fill(value)
        page.locator("#train-start").click()
        status = wait_text(page, "#train-status", "done", JOB_MINUTES)
        assert "step 2/2" in status
        page.locator("#train-plot canvas, #train-plot svg").first.wait_for(timeout=30_000)
        assert "done" in page.locator("#train-runs").inner_text()
        shot(page, "4-train")
        reload(page)
        page.get_by_role("tab", name="Train").click()
        wait_text(page, "#train-runs", "done", 0.5)
        page.locator("#train-run-id input").click()  # resume and retrain choose from the runs
        page.get_by_role("option", name="run 1 (done, 2 steps").wait_for(timeout=30_000)
        page.keyboard.press("Escape")

        # 6. evaluate (the base model, on the held-out test split)
        page.get_by_role("tab", name="Evaluate").click()
        page.locator("#eval-start").click()
        wait_text(page, "#eval-status", "done", JOB_MINUTES)
        wait_text(page, "#eval-metrics", "smollm2-135m-instruct", 0.5)
        # a click on a case shows it in full, ready to mark
        # (Gradio keeps hidden copies of a table's cells: click a visible one)
        page.locator("#eval-cases").get_by_text("smollm2-135m-instruct", exact=True).filter(visible=True).first.click()
        assert "Reference" in wait_text(page, "#eval-case-detail", "Question", 0.5)
        shot(page, "5-evaluate")
        reload(page)

        # 7. export run 1 as Q8_0; every check passes
        page.get_by_role("tab", name="Export").click()
        page.locator("#export-refresh").click()
        choose(page, "#export-run", "run 1 ")
        choose(page, "#export-quant", "Q8_0")
        page.locator("#export-start").click()
        exported = wait_text(page, "#export-status", "all checks passed", JOB_MINUTES)
        assert "run-1-Q8_0" in exported and "Modelfile" in exported
        assert "FAILED" not in page.locator("#export-checks").inner_text()
        shot(page, "6-export")
        reload(page)

        # 8. chat with the export (offered after the reload, no refresh needed): it streams
        page.get_by_role("tab", name="Chat").click()
        choose(page, "#chat-model", "run-1-Q8_0")
        page.evaluate(WATCH_CHAT)
        page.locator("#chat-input textarea").fill(QUESTION)
        page.locator("#chat-send").click()
        done = wait_text(page, "#chat-status", "stopped:", 3)
        assert "tokens" in done
        answer = page.locator("#chat-history .message").last.inner_text().strip()
        assert len(answer) > 5 and "<|im" not in answer
        seen = page.evaluate("window.__chatTexts.size")
        assert seen > 2, f"the answer arrived in {seen} updates: not streamed"
        shot(page, "7-chat")
    except Exception:
        shot(page, "failed")  # where it stopped, beside the log
        raise
    finally:
        app.stop()

    outside = [url for url in requests
               if urlparse(url).scheme in ("http", "https", "ws", "wss")
               and urlparse(url).hostname != "127.0.0.1"]
    assert outside == [], f"the browser fetched from outside 127.0.0.1: {outside[:5]}"
    assert read_guard_log(app.guard_log) == []
