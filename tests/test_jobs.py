"""Housekeeping of long jobs and exports: a job is stopped by its process id only while
that process is still the job (after it ends, the pid may belong to an unrelated
process), and export links carry their workspace's name."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from medllm_local import pipeline


def test_a_reused_pid_is_never_signalled_and_the_job_counts_as_died(workspace):
    # an unrelated process that now holds the pid the catalogue has for job 1
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        with workspace.transaction() as conn:
            job_id = conn.execute(
                "INSERT INTO jobs (kind, status, command, started_at, pid) "
                "VALUES ('train', 'running', '[]', '2026-01-01', ?)", (stranger.pid,)).lastrowid
        assert pipeline.stop_job(workspace, job_id) is False
        assert stranger.poll() is None  # still running: not signalled
        assert pipeline.job_report(workspace, job_id)["job"]["status"] == "died"
    finally:
        stranger.kill()
        stranger.wait()


def test_a_real_job_process_is_recognised_and_stopped(workspace):
    from medllm_local.pipeline.jobs import is_job_process

    # a stand-in with the command line a job has (launch through the CLI module)
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)",
                              "medllm_local.cli", "--job", "7"])
    try:
        # until the child has exec'd, /proc shows the forking parent's command line
        deadline = time.monotonic() + 10
        while b"--job" not in Path(f"/proc/{child.pid}/cmdline").read_bytes() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert is_job_process(child.pid, 7)
        assert not is_job_process(child.pid, 8)
    finally:
        child.kill()
        child.wait()


def test_export_links_are_named_by_workspace(tmp_path):
    from medllm_local.pipeline.export import workspace_tag

    first = pipeline.open_workspace(tmp_path / "a" / "medllm-demo")
    second = pipeline.open_workspace(tmp_path / "b" / "medllm-demo")
    assert workspace_tag(first) != workspace_tag(second)
    assert workspace_tag(first).startswith("medllm-demo-")
    assert workspace_tag(first) == workspace_tag(pipeline.open_workspace(tmp_path / "a" / "medllm-demo"))


def test_an_export_whose_check_failed_is_offered_labelled_with_advice(workspace, tmp_path):
    """README: an export whose checks failed is still evaluated (its scores may say why),
    and labelled; the Export tab says what to do."""
    from medllm_local.ui.chat_tab import gguf_choices
    from medllm_local.ui.eval_tab import model_choices
    from medllm_local.ui.export_tab import failed_export_advice

    gguf = tmp_path / "run-1-Q4_K_M.gguf"
    gguf.write_bytes(b"GGUF")
    checks = [{"name": "loads_with_chat_template", "passed": True, "detail": ""},
              {"name": "stops_by_itself", "passed": False, "detail": "ran to the token limit"}]
    with workspace.transaction() as conn:
        conn.execute("INSERT INTO runs (id, base_model, status, config, folder, created_at)"
                     " VALUES (1, 'base', 'done', '{}', 'runs/run-1', 'now')")
        conn.execute("INSERT INTO exports (run_id, gguf, quant, checks, created_at, status, folder)"
                     " VALUES (1, ?, 'Q4_K_M', ?, 'now', 'failed', 'exports/run-1-Q4_K_M')",
                     (str(gguf), json.dumps(checks)))
    assert ("run 1 (Q4_K_M, a check failed)", "run:1") in model_choices(workspace)
    assert ("run 1 Q4_K_M (a check failed)", str(gguf)) in gguf_choices(workspace)
    advice = failed_export_advice(checks)
    assert "stops_by_itself" in advice and "Train more steps" in advice and "labelled" in advice
