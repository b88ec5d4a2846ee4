"""The Dataset tab: build pairs from the approved documents (with or without
augmentation), list them with filters and a text search, correct or leave out a pair,
accept or reject augmented pairs in bulk, and export pairs in the common formats.
Every action is a pipeline call; this module only gathers inputs and shows results."""

from __future__ import annotations

from pathlib import Path

from medllm_local import pipeline
from medllm_local.stages.dataset.augment import METHODS
from medllm_local.stages.dataset.build import BuildSettings
from medllm_local.stages.dataset.formats import FORMATS
from medllm_local.ui.forms import settings_form
from medllm_local.pipeline.dataset import BuildResult
from medllm_local.pipeline.pairs import PairFilter, export_pairs, get_pair, list_pairs
from medllm_local.workspace.store import Workspace

PAIR_COLUMNS = ["pair", "split", "task", "document", "origin", "review", "question", "answer",
                "edited", "excluded"]
TASK_CHOICES = ["", "diagnosis", "differential", "treatment", "feedback"]
FLAG_CHOICES = ["", "yes", "no"]


def pair_rows(workspace: Workspace, pair_filter: PairFilter | None = None) -> list[list]:
    rows = list_pairs(workspace, pair_filter)
    return [[r.id, r.split, r.task, r.document_id or "", r.origin + (f" ({r.method})" if r.method else ""),
             r.review, r.question.split("\n\n", 1)[-1][:160], r.answer[:160],
             "yes" if r.edited else "", "yes" if r.excluded or r.review == "rejected" else ""]
            for r in rows] or [["", "", "(no pairs)", "", "", "", "", "", "", ""]]


def build_summary(report: BuildResult) -> str:
    lines = ["Pairs: " + ", ".join(f"{n} {task}" for task, n in report.pairs.items())]
    for name, info in report.splits.items():
        lines.append(f"- {name}: {info.pairs} pairs from {len(info.documents)} documents (`{info.file}`)")
    card = report.card
    lines.append("")
    lines.append(f"Length in tokens: p95 {card['tokens']['p95']}, max {card['tokens']['max']}; "
                 f"duplicate pairs dropped: {card['duplicate_pairs_removed']}.")
    if report.feedback_pairs:
        lines.append(f"Approved chat feedback: {report.feedback_pairs} pairs, in train.")
    counts = report.augmentation
    if counts:
        lines.append(f"Augmented ({', '.join(counts['methods'])}): {counts['pairs']} variants of "
                     f"{counts['source_pairs']} train pairs; {counts['pending']} wait for review, "
                     f"{counts['accepted']} accepted (in train), {counts['rejected']} rejected.")
    if report.not_approved:
        lines.append(f"Left out, not approved: {len(report.not_approved)} documents.")
    for item in report.unparsed:
        lines.append(f"No pairs from {item['source']}: {item['reason']}")
    if report.residual_scan["warnings"]:
        lines.append(f"Residual scan: {report.residual_scan['warnings']} words in approved text "
                     "look like identifiers to the high-recall detectors; worth a look in Review.")
    return "\n".join(lines)


def import_summary(report: pipeline.ImportReport) -> str:
    """What an import (or its preview) found, file by file: the columns read, the cases,
    the rows that failed by number and reason (never their content)."""
    lines = []
    for item in report.files:
        if item.status == "failed":
            lines.append(f"- **{item.file}**: not read: {item.error}")
            continue
        columns = ", ".join(f"{header} → {part}" for header, part in item.mapping.items())
        line = f"- **{item.file}**: {item.cases} cases ({columns})"
        if not report.preview:
            line += f"; {len(item.documents)} imported, {item.duplicates} already here"
        lines.append(line)
        lines += [f"  - row {e.row}: {e.reason}" for e in item.errors[:20]]
    lines.append("")  # a paragraph of its own, not part of the last list item
    if report.preview:
        lines.append("Check the columns, then Import.")
    else:
        lines.append(f"{report.imported} cases imported as documents. Imported text is patient "
                     "text until reviewed: de-identify and approve them in Review, then build.")
    return "\n".join(lines)


def build_dataset_tab(workspace: Workspace) -> list[tuple]:
    import gradio as gr

    gr.Markdown("Build instruction pairs (most likely diagnosis, ranked differential, "
                "treatment plan) from the approved documents, split by patient into train, "
                "validation and test. Documents not approved are left out. Augmentation "
                "adds reworded copies of train pairs; they are trained on only once accepted.")
    with gr.Accordion("Build settings (tasks, splits, augmentation)", open=False,
                      elem_id="dataset-settings"):
        form = settings_form(BuildSettings, "dataset")
    with gr.Accordion("Import cases you keep (CSV, XLSX, ShareGPT/Alpaca JSON)", open=False,
                      elem_id="dataset-import"):
        case_files = gr.File(file_count="multiple", file_types=[".csv", ".tsv", ".xlsx", ".json", ".jsonl"],
                             label="Case files", elem_id="import-files")
        with gr.Row():
            import_task = gr.Dropdown(["auto", "diagnosis", "differential", "treatment"], value="auto",
                                      label="A chat record's answer is", elem_id="import-task")
            preview_button = gr.Button("Preview columns", elem_id="import-preview")
            import_button = gr.Button("Import", elem_id="import-run")
        import_status = gr.Markdown("", elem_id="import-status")
    build = gr.Button("Build dataset", variant="primary", elem_id="dataset-build")
    status = gr.Markdown("", elem_id="dataset-status")
    with gr.Row():
        task = gr.Dropdown(TASK_CHOICES, value="", label="Task", elem_id="filter-task")
        split = gr.Dropdown(["", "train", "validation", "test"], value="", label="Split",
                            elem_id="filter-split")
        edited = gr.Dropdown(FLAG_CHOICES, value="", label="Edited", elem_id="filter-edited")
        augmented = gr.Dropdown(FLAG_CHOICES, value="", label="Augmented", elem_id="filter-augmented")
        review = gr.Dropdown(["", "pending", "accepted", "rejected"], value="", label="Review",
                             elem_id="filter-review")
        excluded = gr.Dropdown(FLAG_CHOICES, value="", label="Left out", elem_id="filter-excluded")
        search = gr.Textbox(label="Search question and answer", elem_id="filter-search")
        show = gr.Button("Show", elem_id="filter-show")
    filters = [task, split, edited, augmented, excluded, review, search]
    table = gr.Dataframe(value=pair_rows(workspace), headers=PAIR_COLUMNS, interactive=False,
                         wrap=True, elem_id="dataset-pairs")

    def shown(*values) -> list[list]:
        return pair_rows(workspace, PairFilter(*values))

    def run(*values, progress=gr.Progress()):
        try:
            settings = form.settings(*values)
            report = pipeline.build_dataset(
                workspace, settings,
                progress=lambda done, total, _: progress((done, total), desc="Building"))
        except (pipeline.GateError, ValueError) as error:
            return pair_rows(workspace), f"Not built: {error}"
        return pair_rows(workspace), build_summary(report)

    with gr.Row():
        pair_id = gr.Number(label="Pair (click its row in the table)", precision=0, elem_id="pair-id")
        answer = gr.Textbox(label="Corrected answer (empty: keep)", elem_id="pair-answer")
        exclude = gr.Checkbox(label="Leave this pair out", elem_id="pair-exclude")
        save = gr.Button("Save pair", elem_id="pair-save")
        accept_one = gr.Button("Accept this augmented pair", elem_id="pair-accept")
    question = gr.Textbox(label="Question of the selected pair", interactive=False, lines=4,
                          elem_id="pair-question")

    def save_pair(pid, new_answer, leave_out):
        if pid is None:
            return pair_rows(workspace), "Give a pair number first."
        try:  # an answer as the pair has it is no change: the pipeline tells
            result = pipeline.revise_pair(workspace, int(pid), new_answer or None, bool(leave_out))
        except ValueError as error:
            return pair_rows(workspace), f"Not saved: {error}"
        if not result["changed"]:
            return pair_rows(workspace), "Nothing changed."
        return pair_rows(workspace), "Saved; build again to write it into the dataset files."

    def accept_pair(pid):
        if pid is None:
            return pair_rows(workspace), "Give a pair number first."
        try:
            pipeline.review_augmented(workspace, accept=True, pair_ids=[int(pid)])
        except ValueError as error:
            return pair_rows(workspace), f"Not accepted: {error}"
        return pair_rows(workspace), "Accepted; build with augmentation again to write it."

    def select_pair(event: gr.SelectData):
        row = event.row_value or []
        pair = get_pair(workspace, int(row[0])) if row and str(row[0]).isdigit() else None
        if pair is None:
            return None, "", False, ""
        return pair.id, pair.answer, pair.excluded or pair.review == "rejected", pair.question

    # Gradio finds the event argument by its annotation, which `from __future__ import
    # annotations` turns into a string that it cannot resolve here (gr is a local import).
    select_pair.__annotations__["event"] = gr.SelectData

    with gr.Row():
        review_method = gr.Dropdown(["", *METHODS], value="", label="Augmented pairs of method (empty: all)",
                                    elem_id="review-method")
        accept = gr.Button("Accept all pending", elem_id="review-accept")
        reject = gr.Button("Reject all pending", elem_id="review-reject")
    with gr.Row():
        fmt = gr.Dropdown(list(FORMATS), value="messages", label="Export format", elem_id="export-format")
        export = gr.Button("Export the pairs shown", elem_id="export-pairs")

    def review_all(verdict: bool, method, *values):
        result = pipeline.review_augmented(workspace, accept=verdict, method=method or None)
        return shown(*values), (f"{result['review'].capitalize()} {len(result['pairs'])} augmented "
                                "pairs; build with augmentation again to write them.")

    def export_shown(chosen_format, *values):
        try:
            result = export_pairs(workspace, chosen_format, PairFilter(*values))
        except (ValueError, pipeline.GateError) as error:
            return f"Not exported: {error}"
        left_out = (f" {result['not_approved']} pairs left out: their documents were revised or "
                    "are not approved since the last build." if result["not_approved"] else "")
        return f"Exported {result['pairs']} pairs ({result['format']}) to `{result['file']}`.{left_out}"

    def import_files(files, task, preview: bool):
        if not files:
            return "Choose case files first."
        paths = [getattr(f, "name", f) for f in files]
        summary = import_summary(pipeline.import_cases(workspace, paths, task, preview=preview))
        if not preview:  # uploads are patient files: kept in the workspace only until read
            for path in paths:
                Path(path).unlink(missing_ok=True)
        return summary

    preview_button.click(lambda f, t: import_files(f, t, True), [case_files, import_task], import_status,
                         api_name="dataset_import_preview")
    import_button.click(lambda f, t: import_files(f, t, False), [case_files, import_task], import_status,
                        api_name="dataset_import").then(  # the uploads were read and deleted
        lambda: None, None, case_files, api_visibility="private")
    build.click(run, form.components, [table, status], api_name="dataset_build")
    show.click(shown, filters, table, api_name="dataset_filter")
    search.submit(shown, filters, table)
    table.select(select_pair, None, [pair_id, answer, exclude, question])
    save.click(save_pair, [pair_id, answer, exclude], [table, status], api_name="dataset_save_pair")
    accept_one.click(accept_pair, [pair_id], [table, status], api_name="dataset_accept_pair")
    accept.click(lambda *v: review_all(True, *v), [review_method, *filters], [table, status],
                 api_name="dataset_accept_augmented")
    reject.click(lambda *v: review_all(False, *v), [review_method, *filters], [table, status],
                 api_name="dataset_reject_augmented")
    export.click(export_shown, [fmt, *filters], status, api_name="dataset_export")
    return [(lambda: pair_rows(workspace), [table])]
