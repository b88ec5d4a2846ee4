"""The Evaluate tab: pick model versions, run `launch.py eval` as a child process on the
frozen test split, and see the metrics side by side, the differences, and the report."""

from __future__ import annotations

from medllm_local import pipeline
from medllm_local.core import models
from medllm_local.core.settings import to_argv
from medllm_local.stages.evaluate import EvalSettings
from medllm_local.ui import jobs
from medllm_local.ui.forms import settings_form
from medllm_local.workspace.store import Workspace

METRIC_COLUMNS = ["model", "cases", "top1", "top1 95% CI", "topk", "mrr", "exact match", "rouge-L",
                  "bleu", "perplexity"]


def model_choices(workspace: Workspace) -> list[tuple[str, str]]:
    choices = [(f"{models.EMBEDDED_NAME} (base; {models.DEMO_NOTE})", models.EMBEDDED_NAME)]
    # Each run once, by its best export (as `eval --model run:N` picks it); one whose
    # checks failed is still offered, labelled: its scores may show why.
    exports = pipeline.list_exports(workspace)
    for run in dict.fromkeys(e.run for e in exports):
        mine = [e for e in exports if e.run == run]
        best = min(mine, key=lambda e: (e.status != "passed", e.quant == "LoRA"))
        label = f"run {run} ({best.quant}" + (", a check failed" if best.status != "passed" else "")
        choices.append((label + ")", f"run:{run}"))
    return list(dict.fromkeys(choices))


TEST_SPLIT = "test split"


def case_choices(workspace: Workspace) -> list[tuple[str, str]]:
    """The workspace's test split, then every saved evaluation set."""
    return [("The test split (frozen)", TEST_SPLIT)] + [
        (f"Set {s.set} ({s.cases} cases, from {s.source})", s.set) for s in pipeline.eval_sets(workspace)]


def _number(value) -> str:
    return "" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


def eval_view(report: dict) -> tuple[str, list[list]]:
    job, result = report["job"], report.get("result") or {}
    text = f"Job {job['id']}: **{job['status']}**"
    if report["progress"]:
        last = report["progress"][-1]
        text += f" · {last['message']} {last['step']}/{last['total']}"
    if result.get("error") or job.get("error"):
        text += f"\n\n{result.get('error') or job['error']}"
    for c in result.get("comparisons", []):
        text += (f"\n- {c['metric']}: {c['to']} minus {c['from']} = {c['difference']:+.3f} "
                 f"(95% CI {c['ci95'][0]:+.3f} to {c['ci95'][1]:+.3f})"
                 + (", within noise" if c["within_noise"] else ""))
    if result.get("report"):
        text += f"\n\nReport: `{result['report']}`"
    rows = []
    for item in result.get("models", []):
        m = item["metrics"]
        ci = m.get("top1_ci95")
        rows.append([item["model"], m["cases"], _number(m.get("top1")),
                     f"{ci[0]:.2f}-{ci[1]:.2f}" if ci else "", _number(m.get("topk")), _number(m.get("mrr")),
                     _number(m.get("exact_match")), _number(m.get("rouge_l")), _number(m.get("bleu")),
                     _number(m.get("perplexity"))])
    return text, rows or [[""] * len(METRIC_COLUMNS)]


CASE_COLUMNS = ["case", "model", "task", "reference", "answer", "automatic"]


def case_rows(result: dict) -> list[list]:
    """One row per case and model, from the evaluation's per-case file."""
    import json
    from pathlib import Path

    path = result.get("results_file")
    if not path or not Path(path).exists():
        return [[""] * len(CASE_COLUMNS)]
    rows = []
    for line in Path(path).read_text().splitlines():
        case = json.loads(line)
        for model, answer in case["models"].items():
            automatic = ("match" if answer.get("top1") else "no match") if "top1" in answer else \
                f"ROUGE-L {answer.get('rouge_l', 0):.2f}"
            rows.append([case["case"], model, case["task"], case["reference"][:300],
                         answer["answer"][:400], automatic])
    return rows


def case_detail(result: dict, case_no: int, model: str) -> str:
    """One case in full (the table cuts long text): the question, the reference and the
    model's whole answer, with why it matched or not."""
    import json
    from pathlib import Path

    path = result.get("results_file")
    if not path or not Path(path).exists():
        return ""
    for line in Path(path).read_text().splitlines():
        case = json.loads(line)
        if case["case"] == case_no and model in case["models"]:
            answer = case["models"][model]
            why = f"\n\n*Automatic: {answer['why']}*" if answer.get("why") else ""
            return (f"**Case {case_no}** ({case['task']})\n\n**Question**\n\n{case['question']}\n\n"
                    f"**Reference**\n\n{case['reference']}\n\n**{model}**\n\n{answer['answer']}{why}")
    return ""


def marks_text(summary: dict) -> str:
    if not summary:
        return "No answers marked yet."
    return "\n".join(f"- {model}: {c['marked']} marked: {c['correct']} correct, {c['partly']} partly, "
                     f"{c['wrong']} wrong (score {c['correct_share']:.2f}, partly counting half)"
                     for model, c in summary.items())


HISTORY_COLUMNS = ["model", "from run", "cases", "top1", "top1 95% CI", "mrr", "rouge-L", "evaluated"]


def history_view(history: pipeline.ModelHistory):
    """The versions as a table, their top-1 as a line in training order, the warnings."""
    import pandas as pd

    rows = [[v.model, v.parent_run or "", v.cases or "", _number(v.top1),
             f"{v.top1_ci95[0]:.2f}-{v.top1_ci95[1]:.2f}" if v.top1_ci95 else "",
             _number(v.mrr), _number(v.rouge_l), v.evaluated_at] for v in history.versions]
    # versions as labels in training order (a numeric axis drew ticks at 1.5, 2.5...);
    # the zero-padded number keeps the plot's alphabetical order the training order
    points = None  # no chart before a version: one laid out empty clips its axis (see train_tab)
    if history.versions:
        points = pd.DataFrame([{"version": f"{position:02d} {v.model}", "model": v.model, "top1": v.top1}
                               for position, v in enumerate(history.versions, start=1)])
        points["top1"] = pd.to_numeric(points["top1"], errors="coerce")
    on = f"set {history.eval_set}" if history.eval_set else "the test split"
    text = "\n".join(f"- **{w}**" for w in history.warnings) or (
        "No version is worse than its parent beyond the interval." if rows else
        f"No version evaluated on {on} yet.")
    return rows or [[""] * len(HISTORY_COLUMNS)], points, text


def build_eval_tab(workspace: Workspace) -> list[tuple]:
    import gradio as gr

    gr.Markdown("Evaluate the base model and your fine-tuned versions on the same held-out "
                "cases (the test split, frozen from the first evaluation on). Small test sets "
                "give wide intervals: differences inside them are noise.")
    with gr.Row():
        chosen = gr.Dropdown(choices=model_choices(workspace), value=[models.EMBEDDED_NAME],
                             multiselect=True, label="Models", elem_id="eval-models")
        refresh = gr.Button("Refresh models", elem_id="eval-refresh")
        start = gr.Button("Evaluate", variant="primary", elem_id="eval-start")
    case_set = gr.Dropdown(choices=case_choices(workspace), value=TEST_SPLIT, label="Cases",
                           elem_id="eval-set")
    with gr.Accordion("Save a benchmark file as an evaluation set", open=False, elem_id="eval-save-set"):
        gr.Markdown("A file of cases (messages, ShareGPT, Alpaca JSON lines or CSV) saved under a "
                    "name is kept in the workspace with its hash and never changes, so every later "
                    "version is scored on exactly the same cases.")
        with gr.Row():
            set_file = gr.File(label="Cases file", file_types=[".jsonl", ".json", ".csv"], elem_id="eval-set-file")
            set_name = gr.Textbox(label="Set name", placeholder="e.g. teaching-cases-2026", elem_id="eval-set-name")
            save_set = gr.Button("Save set", elem_id="eval-set-save")
        set_status = gr.Markdown(elem_id="eval-set-status")
    form = settings_form(EvalSettings, "eval")
    status = gr.Markdown(elem_id="eval-status")
    table = gr.Dataframe(headers=METRIC_COLUMNS, interactive=False, label="Metrics", elem_id="eval-metrics")
    cases = gr.Dataframe(headers=CASE_COLUMNS, interactive=False, label="Cases (mark the answers below)",
                         elem_id="eval-cases", wrap=True)
    detail = gr.Markdown("Click a row to read the case in full and mark it.", elem_id="eval-case-detail")
    with gr.Row():
        mark_case = gr.Number(label="Case (click its row above)", precision=0, elem_id="eval-mark-case")
        mark_model = gr.Dropdown(choices=[], label="Model", elem_id="eval-mark-model")
        mark = gr.Radio(["correct", "partly", "wrong"], label="Your verdict", elem_id="eval-mark")
        save_mark = gr.Button("Save mark", elem_id="eval-mark-save")
    marks = gr.Markdown(elem_id="eval-marks")
    with gr.Accordion("Model versions over time (on the cases chosen above)", open=False,
                      elem_id="eval-history") as history_box:
        shown_history = history_view(pipeline.model_history(workspace))
        history_warnings = gr.Markdown(shown_history[2], elem_id="eval-history-warnings")
        history_plot = gr.LinePlot(shown_history[1], x="version", y="top1", label="Top-1 by version",
                                   elem_id="eval-history-plot")
        history_table = gr.Dataframe(value=shown_history[0], headers=HISTORY_COLUMNS, interactive=False,
                                     elem_id="eval-history-table")
    timer = jobs.timer(workspace, "eval")

    def latest_result() -> dict:
        job = pipeline.latest_job(workspace, "eval")
        return (pipeline.job_report(workspace, job).get("result") or {}) if job else {}

    def save(case_no, model, verdict):
        result = latest_result()
        if not result.get("results_file"):
            raise gr.Error("Run an evaluation first.")
        if not case_no or not model or not verdict:
            raise gr.Error("Give the case, the model and your verdict.")
        try:
            summary = pipeline.mark_answer(workspace, result["results_file"], int(case_no), model, verdict)
        except ValueError as error:
            raise gr.Error(str(error)) from error
        return marks_text(summary)

    def select_case(event):
        row = event.row_value or []
        if len(row) < 2 or not str(row[0]).isdigit():
            return gr.update(), gr.update(), ""
        return int(row[0]), gr.update(value=row[1]), case_detail(latest_result(), int(row[0]), row[1])

    # Gradio finds the event argument by its annotation, which `from __future__ import
    # annotations` turns into a string it cannot resolve here (gr is a local import).
    select_case.__annotations__["event"] = gr.SelectData

    def start_eval(names, chosen_set, *values):
        if not names:
            raise gr.Error("Choose at least one model.")
        args = ["eval"] + [arg for name in names for arg in ("--model", name)] + to_argv(form.checked(*values))
        if chosen_set and chosen_set != TEST_SPLIT:
            args += ["--set", chosen_set]
        return jobs.start(workspace, "eval", args)

    def history_of(chosen_set):
        return history_view(pipeline.model_history(workspace, None if chosen_set in (None, TEST_SPLIT) else chosen_set))

    def save_cases(upload, name):
        import os

        if not upload or not (name or "").strip():
            raise gr.Error("Choose a file of cases and give the set a name.")
        try:
            saved = pipeline.save_eval_set(workspace, name.strip(), upload)
        except (ValueError, OSError) as error:
            raise gr.Error(str(error)) from error
        finally:  # the upload is a copy in Gradio's temporary folder: not kept there
            if os.path.exists(upload):
                os.unlink(upload)
        return (f"Saved set **{saved.set}**: {saved.cases} cases (sha256 {saved.sha256[:12]}).",
                gr.update(choices=case_choices(workspace), value=saved.set), None)

    def view(report: dict) -> tuple:
        text, rows = eval_view(report)
        result = report.get("result") or {}
        names = [m["model"] for m in result.get("models", [])]
        summary = pipeline.marks_summary(workspace, result["results_file"]) if result.get("results_file") else {}
        return (text, rows, case_rows(result), gr.update(choices=names, value=names[0] if names else None),
                marks_text(summary))

    def poll():
        return jobs.poll(workspace, "eval", view, 5)

    refresh.click(lambda: gr.update(choices=model_choices(workspace)), None, chosen,
                  api_name="eval_refresh_models")
    start.click(start_eval, [chosen, case_set, *form.components], [status, timer], api_name="eval_start")
    save_set.click(save_cases, [set_file, set_name], [set_status, case_set, set_file], api_name="eval_save_set")
    # The history is read for the cases chosen, when they change and when it is opened (the
    # tab's refresher cannot see the choice: a test-split history it drew could land beside a
    # chosen set), one read at a time in the order asked, so the last choice is what shows.
    case_set.change(history_of, case_set, [history_table, history_plot, history_warnings],
                    concurrency_id="eval-history")
    history_box.expand(history_of, case_set, [history_table, history_plot, history_warnings],
                       show_progress="hidden", api_visibility="private", concurrency_id="eval-history")
    timer.tick(poll, None, [status, table, cases, mark_model, marks, timer], api_name="eval_poll")
    # new scores (a job ended): the history of the cases chosen is read again
    table.change(history_of, case_set, [history_table, history_plot, history_warnings],
                 show_progress="hidden", api_visibility="private", concurrency_id="eval-history")
    save_mark.click(save, [mark_case, mark_model, mark], marks, api_name="eval_mark")
    cases.select(select_case, None, [mark_case, mark_model, detail])
    return [(lambda: (gr.update(choices=model_choices(workspace)), gr.update(choices=case_choices(workspace)),
                      jobs.timer_state(workspace, "eval")),
             [chosen, case_set, timer])]
