"""The Review tab: de-identify, then look at each document's findings highlighted in
its text, reject or add spans, see the de-identified result, and approve."""

from __future__ import annotations

from pathlib import Path

from medllm_local import pipeline
from medllm_local.workspace.store import Workspace

# "finding" is the number within the document (1, 2, ...), in text order: what the
# reviewer types to reject one.
FINDING_COLUMNS = ["finding", "text", "type", "score", "found by", "decision"]


def review_choices(workspace: Workspace) -> list[tuple[str, int]]:
    return [(f"{row['id']}: {Path(row['source'].split('!')[-1]).name} ({row['status']})", row["id"])
            for row in workspace.document_rows() if row["deid_file"]]


def highlighted(view: dict) -> list[tuple[str, str | None]]:
    """The text cut into (piece, label) for gr.HighlightedText; rejected spans unlabelled."""
    return highlighted_pieces(view)[0]


def highlighted_pieces(view: pipeline.DocumentReview) -> tuple[list[tuple[str, str | None]], list[int | None]]:
    """The highlighted pieces, and for each the number of the finding it shows (None
    for the text between findings), so a click on a piece names its finding."""
    pieces, numbers, position = [], [], 0
    for number, finding in enumerate(view.findings, start=1):
        if finding.start < position:
            continue
        pieces.append((view.text[position:finding.start], None))
        label = finding.type if finding.decision != "rejected" else None
        pieces.append((view.text[finding.start:finding.end], label))
        numbers += [None, number]
        position = finding.end
    pieces.append((view.text[position:], None))
    return pieces, numbers + [None]


def toggle_number(numbers_text: str, number: int) -> str:
    """The reject field with ``number`` added, or taken out if it was there (a second
    click undoes the first)."""
    numbers = [int(n) for n in (numbers_text or "").replace(" ", "").split(",") if n.isdigit()]
    numbers = [n for n in numbers if n != number] if number in numbers else numbers + [number]
    return ", ".join(str(n) for n in sorted(numbers))


def finding_rows(view: pipeline.DocumentReview) -> list[list]:
    return [[number, view.text[f.start:f.end], f.type, f.score, f.recognizer, f.decision]
            for number, f in enumerate(view.findings, start=1)]


def finding_ids(view: pipeline.DocumentReview, numbers_text: str) -> list[int]:
    """The catalogue ids of the findings the reviewer numbered (as finding_rows shows
    them); ValueError names a number that is not in the list."""
    ids = []
    for item in numbers_text.replace(" ", "").split(","):
        if not item:
            continue
        if not item.isdigit() or not 1 <= int(item) <= len(view.findings):
            raise ValueError(f"{item!r} is not a finding number of this document "
                             f"(1 to {len(view.findings)})")
        ids.append(view.findings[int(item) - 1].id)
    return ids


def build_deid_tab(workspace: Workspace) -> list[tuple]:
    import gradio as gr

    gr.Markdown("De-identify new documents, then check each one: findings are highlighted "
                "in the original text. Click a wrong finding (in the text or in the table) to "
                "reject it; select anything left in the de-identified text to remove it; then "
                "approve. Only approved documents can be used for training.")
    with gr.Row():
        deid_button = gr.Button("De-identify new documents", variant="primary", elem_id="deid-run")
        bulk_button = gr.Button("Approve all de-identified (without review)", elem_id="deid-bulk")
    status = gr.Markdown("", elem_id="review-status")
    document = gr.Dropdown(choices=review_choices(workspace), label="Document", elem_id="review-doc")
    original = gr.HighlightedText(label="Original with findings", elem_id="review-original",
                                  combine_adjacent=False)
    findings = gr.Dataframe(headers=FINDING_COLUMNS, interactive=False, elem_id="review-findings")
    with gr.Row():
        reject = gr.Textbox(label="Reject findings (numbers, comma-separated)", elem_id="review-reject")
        add = gr.Textbox(label="Also remove this text (every occurrence)", elem_id="review-add")
        add_type = gr.Dropdown(["PERSON", "DATE_TIME", "LOCATION", "ID", "PHONE_NUMBER", "FACILITY",
                                "OTHER"], value="PERSON", label="as", elem_id="review-add-type")
    with gr.Row():
        everywhere = gr.Textbox(label="Not an identifier, in every document (a word the "
                                      "detectors keep taking for a name or place)",
                                elem_id="review-everywhere")
        everywhere_button = gr.Button("Reject everywhere", elem_id="review-everywhere-apply")
    with gr.Row():
        apply_button = gr.Button("Apply changes", elem_id="review-apply")
        approve_button = gr.Button("Approve this document", variant="primary", elem_id="review-approve")
    result = gr.Textbox(label="De-identified text (select a name or number left in it to remove it)",
                        lines=14, interactive=False, elem_id="review-deid")

    def show(doc_id):
        if doc_id is None:
            return [], [], "", ""
        view = pipeline.review_document(workspace, int(doc_id))
        return highlighted(view), finding_rows(view), view.deid_text, f"Status: {view.status}"

    def run_deid(progress=gr.Progress()):
        report = pipeline.deid_documents(
            workspace, progress=lambda done, total, _: progress((done, total), desc="De-identifying"))
        return (gr.update(choices=review_choices(workspace)),
                f"De-identified {len(report.documents)} documents.")

    def apply(doc_id, reject_text, add_text, kind):
        if doc_id is None:
            return [], [], "", "Choose a document first.", gr.skip(), gr.skip()
        if not (reject_text or "").strip() and not (add_text or "").strip():
            return (*show(doc_id)[:3], "Nothing to apply: give the numbers of findings to reject, "
                    "or text to remove.", gr.skip(), gr.skip())
        try:
            ids = finding_ids(pipeline.review_document(workspace, int(doc_id)), reject_text or "")
            view = pipeline.revise_document(workspace, int(doc_id), reject=ids,
                                            add_text=add_text, add_type=kind)
        except ValueError as error:
            return *show(doc_id)[:3], f"Not applied: {error}", gr.skip(), gr.skip()
        done = [f"rejected {len(ids)} finding{'s' * (len(ids) != 1)}"] if ids else []
        done += [f"removed {add_text.strip()!r} wherever it occurs"] if (add_text or "").strip() else []
        return (highlighted(view), finding_rows(view), view.deid_text,
                f"Applied: {' and '.join(done)}; approve when done.", "", "")

    def reject_all(doc_id, value):
        try:
            report = pipeline.reject_everywhere(workspace, value)
        except ValueError as error:
            return (*show(doc_id)[:3], f"Not applied: {error}", gr.update())
        return (*show(doc_id)[:3], report.message.capitalize() + ".",
                gr.update(choices=review_choices(workspace)))

    def approve(doc_id, shown_text):
        """Approve the de-identified text on screen, and only that: if the document was
        de-identified again or revised since it was shown, it is shown again instead."""
        unchanged = (gr.update(),) * 3
        if doc_id is None:
            return gr.update(), *unchanged, "Choose a document first."
        view = pipeline.review_document(workspace, int(doc_id))
        try:
            if view.deid_text != (shown_text or ""):
                raise pipeline.GateError("the de-identified text changed since it was shown")
            # the hash of the text just compared: approve_documents refuses any newer one
            pipeline.approve_documents(workspace, [int(doc_id)], reviewed=True,
                                       expected_hash=view.deid_hash)
        except pipeline.GateError as error:
            return gr.update(), *show(doc_id)[:3], f"Not approved: {error}. Here it is as it is now."
        return gr.update(choices=review_choices(workspace)), *unchanged, "Approved."

    def bulk():
        try:
            report = pipeline.approve_documents(workspace)
        except pipeline.GateError as error:
            return gr.update(), str(error)
        return gr.update(choices=review_choices(workspace)), report.message

    def pick_highlight(doc_id, numbers_text, event):
        if doc_id is None or event.index is None:
            return gr.update()
        _, numbers = highlighted_pieces(pipeline.review_document(workspace, int(doc_id)))
        index = event.index if isinstance(event.index, int) else event.index[0]
        number = numbers[index] if 0 <= index < len(numbers) else None
        return toggle_number(numbers_text, number) if number else gr.update()

    def pick_row(numbers_text, event):
        row = event.row_value or []
        return toggle_number(numbers_text, int(row[0])) if row and str(row[0]).isdigit() else gr.update()

    # Gradio finds the event argument by its annotation, which `from __future__ import
    # annotations` turns into a string it cannot resolve here (gr is a local import).
    pick_highlight.__annotations__["event"] = pick_row.__annotations__["event"] = gr.SelectData
    original.select(pick_highlight, [document, reject], reject)
    findings.select(pick_row, [reject], reject)

    def pick_text(event):
        """Text selected in the de-identified text: what the detectors left, to remove."""
        picked = event.value if isinstance(event.value, str) else ""
        picked = picked.strip(" \t\n.,;:()")
        return picked if 0 < len(picked) <= 80 and "\n" not in picked else gr.update()

    pick_text.__annotations__["event"] = gr.SelectData
    result.select(pick_text, None, add)
    document.change(show, [document], [original, findings, result, status], api_name="review_show")
    # numbers typed for one document never carry over to the next
    document.change(lambda: ("", ""), None, [reject, add], api_visibility="private")
    deid_button.click(run_deid, None, [document, status], api_name="deid_run")
    apply_button.click(apply, [document, reject, add, add_type],
                       [original, findings, result, status, reject, add], api_name="review_apply")
    approve_button.click(approve, [document, result], [document, original, findings, result, status],
                         api_name="review_approve")
    everywhere_button.click(reject_all, [document, everywhere], [original, findings, result, status, document],
                            api_name="review_reject_everywhere")
    bulk_button.click(bulk, None, [document, status], api_name="review_approve_all")
    return [(lambda: gr.update(choices=review_choices(workspace)), [document])]
