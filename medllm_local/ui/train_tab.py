"""The Train tab: choose a base model and settings, see whether it fits before starting,
then watch the loss live. Training runs as a child process (`launch.py train`), so an
out-of-memory error or a crash never takes the app down; Stop asks it to checkpoint
and end, and Resume continues from that checkpoint."""

from __future__ import annotations

from medllm_local import pipeline
from medllm_local.core import models
from medllm_local.core.settings import specs, to_argv
from medllm_local.stages.train.trainer import TrainSettings
from medllm_local.ui import jobs
from medllm_local.ui.forms import auto_text, settings_form
from medllm_local.workspace.store import Workspace

RUN_COLUMNS = ["run", "status", "base model", "from run", "steps", "final loss", "pairs", "created"]


def base_model_choices() -> list[tuple[str, str]]:
    choices = [(f"{models.EMBEDDED_NAME} ({models.DEMO_NOTE})", models.EMBEDDED_NAME)]
    choices += [(m.name, m.name) for m in models.list_models()
                if m.kind == "hf" and m.path and m.name != models.EMBEDDED_HF_FOLDER]
    return choices


def run_choices(workspace: Workspace) -> list[tuple[str, int]]:
    return [(f"run {r.run} ({r.status}, {r.steps or 0} steps, {r.base_model})", r.run)
            for r in pipeline.list_runs(workspace)]


def run_rows(workspace: Workspace) -> list[list]:
    rows = [[r.run, r.status, r.base_model, r.parent_run or "", r.steps or "",
             r.final_loss if r.final_loss is not None else "", r.train_pairs or "", r.created_at]
            for r in pipeline.list_runs(workspace)]
    return rows or [["", "(no runs yet)", "", "", "", "", "", ""]]


def loss_frame(rows: list[dict]):
    import pandas as pd

    points = [{"step": r["step"], "loss": r[key], "series": key.replace("_", " ")}
              for r in rows for key in ("loss", "eval_loss") if key in r]
    if not points:
        # no chart until the first loss: one laid out on an empty frame keeps the narrow
        # left margin it had then, and clips "3.15" on the loss axis to ".15"
        return None
    frame = pd.DataFrame(points)
    # A number column: with a None among the losses pandas makes it "object", and the
    # plot then draws the losses as categories (unordered axis, the line going up).
    frame["loss"] = pd.to_numeric(frame["loss"], errors="coerce")
    return frame


def progress_text(report: dict) -> str:
    job = report["job"]
    rows = [r for r in report["progress"] if "step" in r["metrics"]]  # training steps
    phases = [r for r in report["progress"] if "step" not in r["metrics"]]  # before them
    line = f"Job {job['id']}: **{job['status']}**"
    if phases and not rows and job["status"] in ("starting", "running"):
        line += f" · {phases[-1]['message']}"
    if rows:
        last = rows[-1]["metrics"]
        losses = [r["metrics"]["loss"] for r in rows if "loss" in r["metrics"]]
        line += f" · step {last['step']}/{last['max_steps']}"
        if losses:
            line += f" · loss {losses[-1]:.4f}"
        line += f" · {last['tokens_per_second']:.0f} tokens/s · memory {last['memory_gib']:.2f} GiB"
        if last.get("eta_seconds") is not None and job["status"] == "running":
            line += f" · about {last['eta_seconds'] / 60:.1f} min left"
    if job["status"] == "stopped" and rows:  # say what happened and what to do next
        last = rows[-1]["metrics"]
        line = (f"Job {job['id']}: **stopped by you at step {last['step']} of {last['max_steps']}** · "
                "a checkpoint is saved: choose the run below and Resume")
    if job.get("error"):
        line += f"\n\n{job['error']}"
    result = report.get("result") or {}
    if result.get("adapter"):
        line += f"\n\nAdapter: `{result['adapter']}`"
    return line


def build_train_tab(workspace: Workspace) -> list[tuple]:
    import gradio as gr

    gr.Markdown("Fine-tune a base model on the latest dataset build: QLoRA (4-bit) on an "
                "NVIDIA GPU, plain LoRA on the CPU (slow; fine for the small embedded model). "
                "Training runs in its own process: Stop saves a checkpoint, Resume goes on "
                "from it.")
    with gr.Row():
        choices = base_model_choices()
        base = gr.Dropdown(choices=choices, value=choices[0][1], label="Base model",
                           elem_id="train-model")
        check = gr.Button("Check fit", elem_id="train-check")
    fit = gr.Markdown(elem_id="train-fit")
    form = settings_form(TrainSettings, "train")
    with gr.Row():
        start = gr.Button("Start training", variant="primary", elem_id="train-start")
        stop = gr.Button("Stop (checkpoint)", elem_id="train-stop")
    status = gr.Markdown(elem_id="train-status")
    plot = gr.LinePlot(loss_frame([]), x="step", y="loss", color="series", label="Loss",
                       elem_id="train-plot")
    runs = gr.Dataframe(value=run_rows(workspace), headers=RUN_COLUMNS, interactive=False,
                        label="Runs (model versions)", elem_id="train-runs")
    with gr.Row():
        run_id = gr.Dropdown(choices=run_choices(workspace), value=None, label="Run", elem_id="train-run-id")
        resume = gr.Button("Resume run", elem_id="train-resume")
        retrain = gr.Button("New version from run (new reports)", elem_id="train-retrain")
    # The job followed is the latest training job in the catalogue (not browser state),
    # so a page opened while training runs shows it too.
    timer = jobs.timer(workspace, "train")

    def check_fit(model, *values):
        settings = form.checked(*values)
        report = pipeline.plan_training(model, settings, workspace)
        if not report["fits"]:
            return f"**Will not fit.** {report['advice']}"
        plan = report["plan"]
        text = (f"Trains on **{plan['device']}**: {report['advice']}; batch {plan['batch_size']}, "
                f"sequence length {plan['max_length']}, {plan['batching']} batches.")
        if plan["estimate_gib"]:
            text += f" Estimated peak GPU memory {plan['estimate_gib']} GiB of {plan['gpu_gib']:.1f}."
        return text

    busy = (gr.update(interactive=False),) * 3  # one training at a time: Start, Resume, New version

    def start_training(model, *values):
        return *jobs.start(workspace, "train", ["train", "--model", model, *to_argv(form.checked(*values))]), *busy

    def resume_run(run):
        if not run:
            raise gr.Error("Choose the run to resume.")
        return *jobs.start(workspace, "train", ["train", "--resume", str(int(run))], int(run)), *busy

    def retrain_run(run):
        if not run:
            raise gr.Error("Choose the run to continue from.")
        return *jobs.start(workspace, "train", ["train", "--parent", str(int(run))]), *busy

    def view(report: dict) -> tuple:
        rows = [r["metrics"] for r in report["progress"]]
        idle = gr.update(interactive=report["job"]["status"] not in jobs.ACTIVE)
        return progress_text(report), loss_frame(rows), run_rows(workspace), idle, idle, idle

    def poll():
        return jobs.poll(workspace, "train", view, 6)

    def stop_training():
        return jobs.stop(workspace, "train", "stopping at the next step (a checkpoint is saved).")

    auto_fields = [name for name in ("batch_size", "max_length") if name in form.inputs]

    def show_picked(model, *values):
        """The fit check's picks in the fields left on auto: "auto (8)", "auto (512)"."""
        try:
            settings = form.settings(*values)
            plan = pipeline.plan_training(model, settings, workspace)["plan"] or {}
        except (ValueError, OSError, RuntimeError):
            return [gr.update() for _ in auto_fields]
        by_name = {spec.name: spec for spec in specs(TrainSettings)}
        return [auto_text(by_name[name], getattr(settings, name), plan.get(name)) for name in auto_fields]

    check.click(check_fit, [base, *form.components], fit, api_name="train_check_fit").then(
        show_picked, [base, *form.components], [form.inputs[name] for name in auto_fields])
    buttons = [start, resume, retrain]
    start.click(start_training, [base, *form.components], [status, timer, *buttons], api_name="train_start")
    resume.click(resume_run, run_id, [status, timer, *buttons], api_name="train_resume")
    retrain.click(retrain_run, run_id, [status, timer, *buttons], api_name="train_retrain")
    stop.click(stop_training, None, status, api_name="train_stop")
    # the list of runs follows the runs table (a run started, finished, a reload)
    runs.change(lambda: gr.update(choices=run_choices(workspace)), None, run_id, show_progress="hidden")
    timer.tick(poll, None, [status, plot, runs, *buttons, timer], api_name="train_poll")
    return [(lambda: (gr.update(choices=base_model_choices()), run_rows(workspace),
                      jobs.timer_state(workspace, "train")), [base, runs, timer])]
