"""What the Train, Evaluate and Export tabs share about a job: start it as a child
process (`launch.py <stage> ...`), poll the latest one of its kind on a timer, and stop
it. The job followed is the latest of its kind in the catalogue (not browser state), so
a page opened while a job runs shows it too."""

from __future__ import annotations

from collections.abc import Callable

from medllm_local import pipeline
from medllm_local.workspace.store import Workspace

ACTIVE = ("starting", "running", "stopping")


def start(workspace: Workspace, kind: str, argv: list[str], run_id: int | None = None):
    """Start a job; the status line and the timer that polls it."""
    import gradio as gr

    job_id = pipeline.start_job(workspace, kind, argv, run_id=run_id)
    return f"Job {job_id}: starting", gr.Timer(active=True)


def poll(workspace: Workspace, kind: str, view: Callable[[dict], tuple], outputs: int) -> tuple:
    """``view(report)``'s values for the tab's ``outputs`` and the timer, kept running
    while the latest job of ``kind`` is; nothing changes when there is no job yet."""
    import gradio as gr

    job_id = pipeline.latest_job(workspace, kind)
    if job_id is None:
        return (*[gr.skip()] * outputs, gr.Timer(active=False))
    report = pipeline.job_report(workspace, job_id)
    return (*view(report), gr.Timer(active=report["job"]["status"] in ACTIVE))


def timer(workspace: Workspace, kind: str):
    """The polling timer; it ticks at once when there is a job of ``kind``, so the tab
    shows the latest one (and goes on polling while it runs)."""
    import gradio as gr

    return gr.Timer(2.0, active=pipeline.latest_job(workspace, kind) is not None)


def timer_state(workspace: Workspace, kind: str):
    """The timer's state for a page just opened: ticking when there is a job to show."""
    import gradio as gr

    return gr.Timer(active=pipeline.latest_job(workspace, kind) is not None)


def stop(workspace: Workspace, kind: str, what: str) -> str:
    """Ask the latest job of ``kind`` to stop; ``what`` says what stopping means."""
    job_id = pipeline.latest_job(workspace, kind)
    if job_id is None or not pipeline.stop_job(workspace, job_id):
        return "Nothing is running."
    return f"Job {job_id}: {what}"
