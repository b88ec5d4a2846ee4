"""The Export tab: pick a finished run and a quantization, export it as a child process
(`launch.py export`), and see each check's result, the GGUF and its Ollama Modelfile."""

from __future__ import annotations

from medllm_local import pipeline
from medllm_local.core.settings import to_argv
from medllm_local.stages.export import ExportSettings
from medllm_local.ui import jobs
from medllm_local.ui.forms import settings_form
from medllm_local.workspace.store import Workspace

CHECK_COLUMNS = ["check", "result", "detail"]


def run_choices(workspace: Workspace) -> list[tuple[str, int]]:
    return [(f"run {r.run} ({r.base_model}, {r.steps} steps, {r.status})", r.run)
            for r in pipeline.list_runs(workspace) if r.adapter]


def failed_export_advice(checks: list[dict]) -> str:
    """What to do about the checks that failed, in a physician's words."""
    failed = [c["name"] for c in checks if not c["passed"]]
    advice = [f"**Failed: {', '.join(failed)}.**"]
    if any("stop" in name for name in failed):
        advice.append("The model does not end its answers yet: it has not trained enough. "
                      "Train more steps (or on more reports), then export again.")
    if any("agree" in name or "perplexity" in name for name in failed):
        advice.append("The quantized file differs from the trained model more than allowed: "
                      "export with a larger quantization (Q8_0 or F16).")
    advice.append("The file is kept and offered, labelled, in Evaluate and Chat, so you can "
                  "see how it behaves.")
    return " ".join(advice)


def export_view(report: dict) -> tuple[str, list[list]]:
    job = report["job"]
    text = f"Job {job['id']}: **{job['status']}**"
    if report["progress"]:
        last = report["progress"][-1]
        text += f" · step {last['step']}/{last['total']}: {last['message']}"
    result = report.get("result") or {}
    if result.get("error"):
        text += f"\n\n{result['error']}"
    elif job.get("error") and not result.get("gguf"):  # else the checks below say it
        text += f"\n\n{job['error']}"
    if result.get("gguf"):
        text += (f"\n\nGGUF: `{result['gguf']}`" + (" (all checks passed; listed under Chat after "
                                                     "Refresh models)" if result["passed"] else
                                                     " (a check failed; files kept for inspection)")
                 + f"\n\nOllama Modelfile: `{result['modelfile']}`")
        if not result["passed"]:
            text += "\n\n" + failed_export_advice(result.get("checks", []))
    rows = [[c["name"], "passed" if c["passed"] else "FAILED", c["detail"]]
            for c in result.get("checks", [])]
    return text, rows or [["", "", ""]]


def build_export_tab(workspace: Workspace) -> list[tuple]:
    import gradio as gr

    gr.Markdown("Merge a run's adapter into its base model, convert it to GGUF with the "
                "runtime's own llama.cpp converter, quantize it, and check the result: it "
                "loads with its chat template, stops by itself, leaks no template markup, "
                "agrees with the merged model, and loses little perplexity to quantization.")
    with gr.Row():
        run = gr.Dropdown(choices=run_choices(workspace), label="Run", elem_id="export-run")
        refresh = gr.Button("Refresh runs", elem_id="export-refresh")
        start = gr.Button("Export", variant="primary", elem_id="export-start")
    form = settings_form(ExportSettings, "export")
    status = gr.Markdown(elem_id="export-status")
    checks = gr.Dataframe(headers=CHECK_COLUMNS, interactive=False, label="Checks",
                          elem_id="export-checks")
    timer = jobs.timer(workspace, "export")

    def start_export(run_id, *values):
        if run_id is None:
            raise gr.Error("Choose a finished run first.")
        return jobs.start(workspace, "export", ["export", str(int(run_id)), *to_argv(form.checked(*values))],
                          int(run_id))

    def poll():
        return jobs.poll(workspace, "export", export_view, 2)

    refresh.click(lambda: gr.update(choices=run_choices(workspace)), None, run,
                  api_name="export_refresh_runs")
    start.click(start_export, [run, *form.components], [status, timer], api_name="export_start")
    timer.tick(poll, None, [status, checks, timer], api_name="export_poll")
    return [(lambda: (gr.update(choices=run_choices(workspace)), jobs.timer_state(workspace, "export")),
             [run, timer])]
