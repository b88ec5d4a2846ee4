"""The Dataset tab: build pairs from the approved documents and see what was made."""

from __future__ import annotations

from medllm_local import pipeline
from medllm_local.workspace import Workspace

PAIR_COLUMNS = ["pair", "split", "task", "document", "answer", "edited", "excluded"]


def pair_rows(workspace: Workspace) -> list[list]:
    rows = workspace.query("SELECT * FROM pairs ORDER BY split, id")
    return [[r["id"], r["split"], r["task"], r["document_id"], r["reference"][:160],
             "yes" if r["edited"] else "", "yes" if r["excluded"] else ""] for r in rows] or \
        [["", "", "(no pairs yet)", "", "", "", ""]]


def build_summary(report: dict) -> str:
    lines = ["Pairs: " + ", ".join(f"{n} {task}" for task, n in report["pairs"].items())]
    for name, info in report["splits"].items():
        lines.append(f"- {name}: {info['pairs']} pairs from {len(info['documents'])} documents "
                     f"(`{info['file']}`)")
    card = report["card"]
    lines.append(f"Length in tokens: p95 {card['tokens']['p95']}, max {card['tokens']['max']}; "
                 f"duplicate pairs dropped: {card['duplicate_pairs_removed']}.")
    if report["not_approved"]:
        lines.append(f"Left out, not approved: {len(report['not_approved'])} documents.")
    for item in report["unparsed"]:
        lines.append(f"No pairs from {item['source']}: {item['reason']}")
    if report["residual_scan"]["warnings"]:
        lines.append(f"Residual scan: {report['residual_scan']['warnings']} words in approved text "
                     "look like identifiers to the high-recall detectors; worth a look in Review.")
    return "\n".join(lines)


def build_dataset_tab(workspace: Workspace) -> None:
    import gradio as gr

    gr.Markdown("Build instruction pairs (most likely diagnosis, ranked differential, "
                "treatment plan) from the approved documents, split by patient into train, "
                "validation and test. Documents not approved are left out.")
    build = gr.Button("Build dataset", variant="primary", elem_id="dataset-build")
    status = gr.Markdown("", elem_id="dataset-status")
    table = gr.Dataframe(value=pair_rows(workspace), headers=PAIR_COLUMNS, interactive=False,
                         elem_id="dataset-pairs")

    def run(progress=gr.Progress()):
        try:
            report = pipeline.build_dataset(
                workspace, progress=lambda done, total, _: progress((done, total), desc="Building"))
        except pipeline.GateError as error:
            return pair_rows(workspace), f"Not built: {error}"
        return pair_rows(workspace), build_summary(report)

    with gr.Row():
        pair_id = gr.Number(label="Pair", precision=0, elem_id="pair-id")
        answer = gr.Textbox(label="Corrected answer (empty: keep)", elem_id="pair-answer")
        exclude = gr.Checkbox(label="Leave this pair out", elem_id="pair-exclude")
        save = gr.Button("Save pair", elem_id="pair-save")

    def save_pair(pid, new_answer, leave_out):
        if pid is None:
            return pair_rows(workspace), "Give a pair number first."
        try:
            pipeline.revise_pair(workspace, int(pid), new_answer or None, bool(leave_out))
        except ValueError as error:
            return pair_rows(workspace), f"Not saved: {error}"
        return pair_rows(workspace), "Saved; build again to write it into the dataset files."

    build.click(run, None, [table, status], api_name="dataset_build")
    save.click(save_pair, [pair_id, answer, exclude], [table, status], api_name="dataset_save_pair")
