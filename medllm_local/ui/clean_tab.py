"""The Clean tab: clean the approved documents, see what each step changed in each
document (before and after), revert changes or whole steps, and type the pages that
OCR read poorly. Every action is a pipeline call; this module only shows the results."""

from __future__ import annotations

from pathlib import Path

from medllm_local import pipeline
from medllm_local.stages.clean import STEPS, CleanSettings
from medllm_local.ui.forms import settings_form
from medllm_local.workspace.store import Workspace

DOCUMENT_COLUMNS = ["document", "file", *STEPS, "cleaned"]
CHANGE_COLUMNS = ["change", "step", "line", "before", "after", "why", "reverted"]
QUEUE_COLUMNS = ["document", "page", "file", "OCR confidence", "status"]


def documents_view(workspace: Workspace) -> tuple[list[list], list[tuple[str, int]]]:
    """The cleaned documents' table and the list to choose one from, from one reading of
    the workspace (the overview reads every document's text)."""
    overview = pipeline.cleaning_overview(workspace)
    rows = [[d["id"], d["source"], *d["changes"].values(),
             "de-identified again: clean again" if d["stale"] else "yes" if d["cleaned"] else "no change"]
            for d in overview] or [["", "(nothing cleaned yet)", *([""] * len(STEPS)), ""]]
    choices = [(f"{d['id']}: {d['source']} ({sum(d['changes'].values())} changes)", d["id"]) for d in overview]
    return rows, choices


def document_rows(workspace: Workspace) -> list[list]:
    return documents_view(workspace)[0]


def queue_view(workspace: Workspace) -> tuple[list[list], list[tuple[str, str]]]:
    """The pages waiting to be typed: their table, and the list to choose one from
    ("document:page"), from one reading of the queue."""
    queue = pipeline.transcription_queue(workspace)
    rows = [[q["document"], q["page"], Path(q["source"]).name, round(q["ocr_confidence"] or 0), q["status"]]
            for q in queue] or [["", "", "(no pages wait to be typed)", "", ""]]
    choices = [(f"{q['document']}: {Path(q['source']).name}, page {q['page']} (OCR {round(q['ocr_confidence'] or 0)})",
                f"{q['document']}:{q['page']}") for q in queue]
    return rows, choices


def change_rows(report: pipeline.DocumentCleaning) -> list[list]:
    rows = [[c.id, step, c.line, c.before.rstrip("\n"), c.after, c.reason, "yes" if c.reverted else ""]
            for step, changes in report.steps.items() for c in changes]
    return sorted(rows, key=lambda r: r[2]) or [["", "", "", "(no changes)", "", "", ""]]


def build_clean_tab(workspace: Workspace) -> list[tuple]:
    import gradio as gr

    gr.Markdown("Clean the approved, de-identified documents before building the dataset: "
                "repeated letterheads, footers, page numbers and notices are removed, "
                "abbreviations get one form, and clear typos are corrected. Every change is "
                "listed and can be reverted; the dataset uses the cleaned text.")
    with gr.Accordion("Cleaning settings", open=False, elem_id="clean-settings"):
        form = settings_form(CleanSettings, "clean")
    run = gr.Button("Clean approved documents", variant="primary", elem_id="clean-run")
    status = gr.Markdown("", elem_id="clean-status")
    rows, choices = documents_view(workspace)
    documents = gr.Dataframe(value=rows, headers=DOCUMENT_COLUMNS, interactive=False, elem_id="clean-documents")
    with gr.Row():
        document = gr.Dropdown(choices=choices, value=None, label="Document", elem_id="clean-doc")
        show = gr.Button("Show its changes", elem_id="clean-show")
    changes = gr.Dataframe(value=[["", "", "", "", "", "", ""]], headers=CHANGE_COLUMNS,
                           interactive=False, wrap=True, elem_id="clean-changes")
    with gr.Row():
        change_ids = gr.Textbox(label="Changes (numbers, comma-separated; empty: the step below)",
                                elem_id="clean-change-ids")
        step = gr.Dropdown(choices=["all", *STEPS], value="all", label="Step",
                           elem_id="clean-step")
        revert = gr.Button("Revert", elem_id="clean-revert")
        restore = gr.Button("Apply again", elem_id="clean-restore")
    cleaned = gr.Textbox(label="Cleaned text (what the dataset uses)", lines=12,
                         interactive=False, elem_id="clean-text")

    def view_all() -> tuple:
        """Both tables and both lists, each read once."""
        rows, choices = documents_view(workspace)
        queue_rows, pages = queue_view(workspace)
        return rows, queue_rows, gr.update(choices=choices), gr.update(choices=pages)

    def clean_all(*values, progress=gr.Progress()):
        try:
            report = pipeline.clean_documents(
                workspace, form.settings(*values), progress=lambda done, total, _: progress((done, total), desc="Cleaning"))
        except (pipeline.GateError, ValueError) as error:
            return document_rows(workspace), f"Not cleaned: {error}", queue_view(workspace)[0], gr.update(), gr.update()
        totals = report.totals
        text = (f"Cleaned {totals.documents} documents in {totals.seconds} s: "
                + ", ".join(f"{n} {step}" for step, n in totals.changes.items()) + ".")
        if report.transcription_queue:
            text += f" {len(report.transcription_queue)} OCR pages wait to be typed (below)."
        rows, queue_rows, document_list, page_list = view_all()
        return rows, text, queue_rows, document_list, page_list

    def show_document(doc_id):
        if doc_id is None:
            return [["", "", "", "(choose a document)", "", "", ""]], "", "Choose a document."
        try:
            report = pipeline.document_cleaning(workspace, int(doc_id))
        except Exception as error:  # not cleaned, unknown id: said, not raised
            return [["", "", "", "", "", "", ""]], "", f"Cannot show it: {error}"
        note = " (de-identified again since: clean again)" if report.stale else ""
        return change_rows(report), report.text, f"Document {int(doc_id)}{note}."

    def set_reverted(doc_id, ids_text, step_name, undo: bool):
        try:
            ids = [int(part) for part in ids_text.replace(",", " ").split()]
            if not ids and doc_id is None:
                raise ValueError("give change numbers, or a document and a step")
            pipeline.revert_changes(workspace, ids, None if ids else int(doc_id),
                                    None if ids or step_name == "all" else step_name,
                                    restore=not undo)
        except Exception as error:  # shown; the app keeps running
            rows, text, _ = show_document(doc_id)
            return rows, text, f"Not changed: {error}", document_rows(workspace)
        rows, text, _ = show_document(doc_id)
        return rows, text, "Reverted." if undo else "Applied again.", document_rows(workspace)

    show.click(show_document, [document], [changes, cleaned, status], api_name="clean_show")
    document.input(show_document, [document], [changes, cleaned, status])

    def pick_document(event):  # a click on a row of the documents table chooses it
        row = event.row_value or []
        return int(row[0]) if row and str(row[0]).isdigit() else gr.update()

    pick_document.__annotations__["event"] = gr.SelectData  # see deid_tab: a string otherwise
    documents.select(pick_document, None, document).then(show_document, [document], [changes, cleaned, status])
    revert.click(lambda d, i, s: set_reverted(d, i, s, True), [document, change_ids, step],
                 [changes, cleaned, status, documents], api_name="clean_revert")
    restore.click(lambda d, i, s: set_reverted(d, i, s, False), [document, change_ids, step],
                  [changes, cleaned, status, documents], api_name="clean_restore")

    with gr.Accordion("Pages to type by hand (OCR read them poorly)", open=False):
        gr.Markdown("The page image and what OCR read. Type the page as written and save: the "
                    "document is de-identified again and needs approval again in Review.")
        queue_rows, pages = queue_view(workspace)
        queue = gr.Dataframe(value=queue_rows, headers=QUEUE_COLUMNS, interactive=False, elem_id="clean-queue")
        with gr.Row():
            page_choice = gr.Dropdown(choices=pages, value=None, label="Page to type", elem_id="clean-page")
            load = gr.Button("Load page", elem_id="clean-page-load")
        with gr.Row():
            # No "share" button: it would post a patient's page to Hugging Face.
            image = gr.Image(label="Page", type="pil", interactive=False, elem_id="clean-page-image",
                             buttons=["download", "fullscreen"])
            typed = gr.Textbox(label="The page as written", lines=18, elem_id="clean-transcript")
        save = gr.Button("Save transcription", variant="primary", elem_id="clean-transcribe-save")
        page_status = gr.Markdown("", elem_id="clean-page-status")

    def load_page(choice):
        if not choice:
            return None, "", "Choose a page."
        try:
            doc_id, page = map(int, str(choice).split(":"))
            text = pipeline.page_text(workspace, doc_id, page)
            picture = pipeline.page_image(workspace, doc_id, page)
        except Exception as error:
            return None, "", f"Cannot load it: {error}"
        return picture, text, "" if picture is not None else "No page image for this kind of file."

    def save_page(choice, text, progress=gr.Progress()):
        if not choice:
            return "Choose a page.", queue_view(workspace)[0], gr.update()
        try:
            doc_id, page = map(int, str(choice).split(":"))
            progress(0.1, desc="Saving and de-identifying again")
            report = pipeline.transcribe_page(workspace, doc_id, page, text)
        except Exception as error:
            return f"Not saved: {error}", queue_view(workspace)[0], gr.update()
        queue_rows, pages = queue_view(workspace)
        return f"Page {page}: {report['message']}.", queue_rows, gr.update(choices=pages)

    run.click(clean_all, form.components, [documents, status, queue, document, page_choice], api_name="clean_run")
    load.click(load_page, [page_choice], [image, typed, page_status], api_name="transcribe_load")
    page_choice.input(load_page, [page_choice], [image, typed, page_status])
    save.click(save_page, [page_choice, typed], [page_status, queue, page_choice], api_name="transcribe_save")
    return [(view_all, [documents, queue, document, page_choice])]
