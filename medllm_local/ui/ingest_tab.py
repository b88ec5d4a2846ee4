"""The Documents tab: upload reports (or the demo ones), read them with the reading
settings, see what was stored or why a file failed, stop a long batch, and delete a
document with everything made from it."""

from __future__ import annotations

import threading
from pathlib import Path

from medllm_local import pipeline
from medllm_local.stages.ingest.ocr import ocr_available
from medllm_local.stages.ingest.read import IngestSettings
from medllm_local.ui.forms import settings_form
from medllm_local.workspace.store import Workspace

DOCUMENT_COLUMNS = ["id", "file", "kind", "status", "pages", "OCR pages", "note"]


def document_rows(workspace: Workspace) -> list[list]:
    """The Documents table: stored documents, then files whose last ingest failed."""
    rows = []
    for doc in workspace.list_documents():
        pages = doc.get("pages") or []
        note = doc.get("error") or ""
        if doc["status"] == "ocr_flagged":
            note = "; ".join(w for w in doc.get("warnings", []) if "OCR" in w)
        rows.append([doc["id"] or "", Path(doc["source"].split("!")[-1]).name, doc.get("kind", ""),
                     doc["status"], len(pages), sum(p["method"] == "ocr" for p in pages), note])
    return rows or [["", "(no documents yet)", "", "", 0, 0, ""]]


def ingest_summary(report: pipeline.IngestReport) -> str:
    totals = report.totals
    text = (f"{totals['ok']} ingested, {totals['failed']} failed, "
            f"{totals['duplicate']} skipped as duplicates.")
    if report.stopped:
        text += " Stopped: run it again to continue where it stopped."
    failures = [f"- {Path(d.source.split('!')[-1]).name}: {d.error}" for d in report.failed]
    return "\n".join([text, *failures])


def document_choices(workspace: Workspace) -> list[tuple[str, int]]:
    """Every stored document, by number, file name and status (the delete list)."""
    return [(f"{doc['id']}: {Path(doc['source'].split('!')[-1]).name} ({doc['status']})", doc["id"])
            for doc in workspace.list_documents() if doc["id"]]


def delete_document(workspace: Workspace, document_id, confirmed: bool) -> tuple[list, str, bool]:
    """The Documents tab's delete: one document and everything made from it, only once
    confirmed; the table, what was done, and the confirmation cleared."""
    if not document_id:
        return document_rows(workspace), "Choose the document to delete.", False
    if not confirmed:
        return document_rows(workspace), "Tick the confirmation first: deleting cannot be undone.", False
    try:
        report = pipeline.forget_documents(workspace, [int(document_id)])
    except (ValueError, RuntimeError) as error:
        return document_rows(workspace), f"Not deleted: {error}", False
    lines = [report["message"][0].upper() + report["message"][1:] + "."]
    lines += [f"- build {b['build']} held it" for b in report["builds"]]
    lines += [f"- run {r['run']} held it ({r['reason']})" for r in report["runs"]]
    return document_rows(workspace), "\n".join(lines), False


def build_ingest_tab(workspace: Workspace) -> list[tuple]:
    import gradio as gr

    gr.Markdown("Add reports: PDF (scanned too), images, DOCX, TXT, RTF, or a zip "
                "of a whole folder. Files stay in the workspace on this computer.")
    if not ocr_available():
        gr.Markdown("**Scans cannot be read yet:** Tesseract (the OCR engine) is not installed, so "
                    "scanned PDFs and images will fail. Install it with `sudo apt-get install "
                    "tesseract-ocr tesseract-ocr-eng`, then restart the app; text PDFs, DOCX and TXT "
                    "work now.", elem_id="ingest-no-ocr")
    uploads = gr.File(file_count="multiple", label="Reports", elem_id="ingest-files")
    with gr.Accordion("Reading settings (OCR, size limits)", open=False,
                      elem_id="ingest-settings"):
        reading = settings_form(IngestSettings, "ingest")
    with gr.Row():
        ingest_button = gr.Button("Ingest uploaded files", variant="primary",
                                  elem_id="ingest-run")
        demo_button = gr.Button("Ingest the demo reports", elem_id="ingest-demo")
        stop_ingest = gr.Button("Stop", elem_id="ingest-stop")
    ingest_status = gr.Markdown("", elem_id="ingest-status")
    documents = gr.Dataframe(value=document_rows(workspace), headers=DOCUMENT_COLUMNS,
                             interactive=False, elem_id="documents-table")
    ingest_stop = threading.Event()

    def run_ingest(paths, values, progress):
        settings = reading.checked(*values)
        ingest_stop.clear()
        report = pipeline.ingest(
            workspace, paths, settings,
            progress=lambda done, total, source: progress(
                (done, total), desc=f"Reading {Path(source.split('!')[-1]).name}"),
            stop_event=ingest_stop)
        return document_rows(workspace), ingest_summary(report), report

    def ingest_uploads(files, *values, progress=gr.Progress()):
        if not files:
            return document_rows(workspace), "Choose files to upload first.", gr.skip()
        # an upload is deleted once read: one still listed was ingested by an earlier click
        paths = [path for path in (getattr(f, "name", f) for f in files) if Path(path).exists()]
        if not paths:
            return (document_rows(workspace), "These uploads were ingested already; choose "
                    "new files to add more.", None)
        rows, summary, report = run_ingest(paths, values, progress)
        # Read files are stored (raw copy in the workspace) or reported as
        # failed: drop their uploads. Unread ones (stopped) stay for the rerun.
        for item in report.documents:
            Path(item.source.split("!")[0]).unlink(missing_ok=True)
        left = [path for path in paths if Path(path).exists()]
        return rows, summary, (left or None)

    def ingest_demo(*values, progress=gr.Progress()):
        return run_ingest([workspace.folder("inbox") / pipeline.DEMO_INBOX], values,
                          progress)[:2]

    with gr.Row():
        delete_id = gr.Dropdown(choices=document_choices(workspace), value=None, label="Document",
                                elem_id="documents-delete-id")
        delete_confirm = gr.Checkbox(
            label="Delete it with its texts, findings, pairs and feedback (cannot be undone)",
            elem_id="documents-delete-confirm")
        delete_button = gr.Button("Delete document", variant="stop",
                                  elem_id="documents-delete")
    delete_status = gr.Markdown("", elem_id="documents-delete-status")
    # the list follows the table, whatever changed it (an ingest, a delete, a reload)
    documents.change(lambda: gr.update(choices=document_choices(workspace), value=None), None, delete_id,
                     show_progress="hidden")
    delete_button.click(lambda doc, ok: delete_document(workspace, doc, ok),
                        [delete_id, delete_confirm],
                        [documents, delete_status, delete_confirm],
                        api_name="documents_delete")
    ingest_button.click(ingest_uploads, [uploads, *reading.components], [documents, ingest_status, uploads],
                        api_name="ingest_uploads")
    demo_button.click(ingest_demo, reading.components, [documents, ingest_status],
                      api_name="ingest_demo")
    stop_ingest.click(ingest_stop.set, None, None, api_name="ingest_stop")
    return [(lambda: document_rows(workspace), [documents])]
