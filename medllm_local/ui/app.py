"""The Gradio app: one tab per pipeline stage, in pipeline order, over pipeline.py.

This module only builds widgets and binds events. Every action calls the same pipeline
functions as the CLI; forms are built from the stages' settings dataclasses, so an option
added to a stage appears here with no edit. Served on 127.0.0.1 unless the user says
otherwise, with no outside assets (system fonts, no analytics).
"""

from __future__ import annotations

import hmac
import json
import os
import threading
from pathlib import Path

from medllm_local import pipeline

from medllm_local.core import offline
from medllm_local.core.settings import specs
from medllm_local.pipeline.deid import DEID_OPTIONS
from medllm_local.stages.deid.engine import DeidSettings
from medllm_local.stages.ingest.read import IngestSettings
from medllm_local.ui import access
from medllm_local.ui.chat_tab import build_chat_tab
from medllm_local.ui.clean_tab import build_clean_tab
from medllm_local.ui.dataset_tab import build_dataset_tab
from medllm_local.ui.eval_tab import build_eval_tab
from medllm_local.ui.forms import settings_form
from medllm_local.ui.export_tab import build_export_tab
from medllm_local.ui.review import build_review_tab
from medllm_local.ui.train_tab import build_train_tab
from medllm_local.workspace.store import UPLOADS_FOLDER, Workspace

DISCLAIMER = (
    "This assistant supports, and does not replace, clinical judgement. "
    "Everything runs on this computer; nothing leaves it."
)


DEFAULT_USER = "medllm"  # the login's user name unless --user says otherwise

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


def ingest_summary(report: dict) -> str:
    totals = report["totals"]
    text = (f"{totals['ok']} ingested, {totals['failed']} failed, "
            f"{totals['duplicate']} skipped as duplicates.")
    if report["stopped"]:
        text += " Stopped: run it again to continue where it stopped."
    failures = [f"- {Path(d['source'].split('!')[-1]).name}: {d['error']}"
                for d in report["documents"] if d["status"] == "failed"]
    return "\n".join([text, *failures])


def delete_document(workspace: Workspace, document_id, confirmed: bool) -> tuple[list, str, bool]:
    """The Documents tab's delete: one document and everything made from it, only once
    confirmed; the table, what was done, and the confirmation cleared."""
    if not document_id:
        return document_rows(workspace), "Give the id of the document to delete.", False
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


def build_app(workspace: Workspace):
    import gradio as gr

    with gr.Blocks(title="medllm-local", analytics_enabled=False) as app:
        gr.Markdown(f"# medllm-local\n{DISCLAIMER}", elem_id="header")
        with gr.Tabs(selected="chat"):  # the one stage that works on first launch
            with gr.Tab("Documents", elem_id="tab-documents"):
                gr.Markdown("Add reports: PDF (scanned too), images, DOCX, TXT, RTF, or a zip "
                            "of a whole folder. Files stay in the workspace on this computer.")
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
                    try:
                        settings = reading.settings(*values)
                    except ValueError as error:
                        raise gr.Error(str(error)) from error
                    ingest_stop.clear()
                    report = pipeline.ingest(
                        workspace, paths, settings,
                        progress=lambda done, total, source: progress(
                            (done, total), desc=f"Reading {Path(source.split('!')[-1]).name}"),
                        stop_event=ingest_stop)
                    return document_rows(workspace), ingest_summary(report), report

                def ingest_uploads(files, *values, progress=gr.Progress()):
                    if not files:
                        return document_rows(workspace), "Choose files to upload first."
                    paths = [getattr(f, "name", f) for f in files]
                    rows, summary, report = run_ingest(paths, values, progress)
                    # Read files are stored (raw copy in the workspace) or reported as
                    # failed: drop their uploads. Unread ones (stopped) stay for the rerun.
                    for item in report["documents"]:
                        Path(item["source"].split("!")[0]).unlink(missing_ok=True)
                    return rows, summary

                def ingest_demo(*values, progress=gr.Progress()):
                    return run_ingest([workspace.folder("inbox") / pipeline.DEMO_INBOX], values,
                                      progress)[:2]

                with gr.Row():
                    delete_id = gr.Number(label="Document id", precision=0,
                                          elem_id="documents-delete-id")
                    delete_confirm = gr.Checkbox(
                        label="Delete it with its texts, findings, pairs and feedback (cannot be undone)",
                        elem_id="documents-delete-confirm")
                    delete_button = gr.Button("Delete document", variant="stop",
                                              elem_id="documents-delete")
                delete_status = gr.Markdown("", elem_id="documents-delete-status")
                delete_button.click(lambda doc, ok: delete_document(workspace, doc, ok),
                                    [delete_id, delete_confirm],
                                    [documents, delete_status, delete_confirm],
                                    api_name="documents_delete")
                ingest_button.click(ingest_uploads, [uploads, *reading.components], [documents, ingest_status],
                                    api_name="ingest_uploads")
                demo_button.click(ingest_demo, reading.components, [documents, ingest_status],
                                  api_name="ingest_demo")
                stop_ingest.click(ingest_stop.set, None, None, api_name="ingest_stop")
            with gr.Tab("Review", elem_id="tab-review"):
                build_review_tab(workspace)
            with gr.Tab("Clean", elem_id="tab-clean"):
                build_clean_tab(workspace)
            with gr.Tab("Dataset", elem_id="tab-dataset"):
                build_dataset_tab(workspace)
            with gr.Tab("Train", elem_id="tab-train"):
                build_train_tab(workspace)
            with gr.Tab("Evaluate", elem_id="tab-evaluate"):
                build_eval_tab(workspace)
            with gr.Tab("Export", elem_id="tab-export"):
                build_export_tab(workspace)
            with gr.Tab("Chat", id="chat", elem_id="tab-chat"):
                build_chat_tab(workspace)
            with gr.Tab("Settings", elem_id="tab-settings"):
                gr.Markdown(f"Workspace: `{workspace.root}`")
                saved = workspace.load_settings()
                deny = gr.Textbox(value=saved.get("deny_list", ""), elem_id="settings-deny",
                                  label="Always remove (your name, staff, sites; comma-separated)")
                allow = gr.Textbox(value=saved.get("allow_list", ""), elem_id="settings-allow",
                                   label="Never remove (words wrongly taken for identifiers)")
                save = gr.Button("Save de-identification lists", elem_id="settings-save")
                saved_note = gr.Markdown("", elem_id="settings-saved")

                def save_lists(deny_list: str, allow_list: str) -> str:
                    workspace.save_settings({"deny_list": deny_list, "allow_list": allow_list})
                    return "Saved; used by the next de-identification."

                save.click(save_lists, [deny, allow], [saved_note], api_name="settings_save_lists")
                current = pipeline.saved_deid_settings(workspace)
                # the options a workspace keeps (the lists are above; keep_map is per run)
                deid_form = settings_form(DeidSettings, "settings", current, exclude=tuple(
                    spec.name for spec in specs(DeidSettings) if spec.name not in DEID_OPTIONS))
                save_options = gr.Button("Save de-identification options",
                                         elem_id="settings-save-options")
                options_note = gr.Markdown("", elem_id="settings-options-saved")

                def save_deid(*values) -> str:
                    try:
                        checked = deid_form.settings(*values)
                        pipeline.save_deid_options(workspace, **{name: getattr(checked, name)
                                                                 for name in deid_form.inputs})
                    except ValueError as error:
                        return f"Not saved: {error}"
                    return "Saved; used by the next de-identification (options given on the " \
                           "command line still win there)."

                save_options.click(save_deid, deid_form.components, [options_note],
                                   api_name="settings_save_deid_options")
                guard = gr.JSON(value=offline.guard_status(), label="Offline guard",
                                elem_id="offline-status")
                report = gr.JSON(value=None, label="Models and what fits this GPU")
                refresh = gr.Button("Refresh", elem_id="settings-refresh")
                refresh.click(lambda: (offline.guard_status(), pipeline.models_report()),
                              None, [guard, report], api_name="settings_refresh")
    return app


def offline_theme():
    """The default look with system fonts: the stock theme would fetch web fonts."""
    import gradio as gr

    return gr.themes.Default(font=["system-ui", "sans-serif"], font_mono=["monospace"])


def launch_app(host: str = "127.0.0.1", port: int = 7860, workspace: str | Path | None = None,
               password: str | None = None, block: bool = True, user: str = DEFAULT_USER,
               ssl_certfile: str | None = None, ssl_keyfile: str | None = None):
    """Open the workspace and serve the app; returns the Gradio app when not blocking."""
    loopback = offline.is_loopback_host(host)
    if not loopback and not password:
        raise ValueError(f"serving on {host} makes the app reachable from other computers; "
                         "set a password (MEDLLM_PASSWORD or --password) to do that")
    if bool(ssl_certfile) != bool(ssl_keyfile):
        raise ValueError("TLS needs both --ssl-certfile and --ssl-keyfile")
    served = access.url_host(host)  # one spelling for the bind, the URL and the Host check
    if not loopback:
        offline.allow_host(served)  # the user chose to serve on this address
    ws = pipeline.open_workspace(workspace)
    # Uploads are patient files: keep Gradio's copies inside the owner-only workspace
    # (the UI deletes each upload once ingested), never in a shared /tmp folder.
    os.environ["GRADIO_TEMP_DIR"] = str(ws.temp_folder(UPLOADS_FOLDER))
    app = build_app(ws)
    auth = None
    if password:
        def auth(given_user: str, given_password: str) -> bool:
            # compare_digest: the time taken does not tell how much of a guess was right.
            return (hmac.compare_digest(given_user.encode(), user.encode())
                    & hmac.compare_digest(given_password.encode(), password.encode()))
    from starlette.middleware import Middleware

    middleware = [Middleware(access.HostCheck, served_host=served)]
    if password:
        middleware.append(Middleware(access.LoginThrottle))
    scheme = "https" if ssl_certfile else "http"
    print(json.dumps({"serving": f"{scheme}://{served}:{port}", "workspace": str(ws.root)}),
          flush=True)
    app.queue(default_concurrency_limit=1).launch(
        server_name=served, server_port=port, share=False, inbrowser=False, auth=auth,
        theme=offline_theme(), prevent_thread_lock=not block, show_error=True,
        footer_links=[], ssr_mode=False, app_kwargs={"middleware": middleware},
        ssl_certfile=ssl_certfile, ssl_keyfile=ssl_keyfile,
        # Gradio's one start-up request to itself would reject a self-signed certificate.
        ssl_verify=not ssl_certfile,
        # Exported conversations are the one workspace folder the browser may download from.
        allowed_paths=[str(ws.folder("exports") / pipeline.CONVERSATIONS)],
    )
    return app
