"""Long jobs (training, and later evaluation and export) run in a child process started
through the CLI, so an out-of-memory error or a crash never takes the app down. The
child writes progress rows into the catalogue; the app polls them and stops the child
by its process id (SIGTERM: the job saves what it has and ends)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from medllm_local.core.files import pid_alive
from medllm_local.core.models import PROJECT_ROOT
from medllm_local.workspace.store import Workspace, now


def is_job_process(pid: int | None, job_id: int) -> bool:
    """The process ``pid`` is alive and is still job ``job_id``'s: a stored process id can
    be reused by an unrelated process after the job ended, which must never be signalled.
    Linux says what a process runs in /proc; elsewhere only liveness can be checked."""
    if not pid_alive(pid):
        return False
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except FileNotFoundError:
        return not Path("/proc/self").exists()  # no /proc here: trust the pid
    except OSError:
        return False
    return b"medllm_local.cli" in command and b"--job" in command \
        and command[command.index(b"--job") + 1:command.index(b"--job") + 2] == [str(job_id).encode()]


def start_job(workspace: Workspace, kind: str, args: list[str], run_id: int | None = None) -> int:
    """Start ``launch.py <args> --json`` for this workspace in a new process group; its
    JSON result goes to logs/job-N.json and its log (progress, warnings) to job-N.log."""
    with workspace.transaction() as conn:
        job_id = conn.execute(
            "INSERT INTO jobs (kind, status, command, started_at, run_id) VALUES (?, 'starting', ?, ?, ?)",
            (kind, json.dumps(args), now(), run_id)).lastrowid
    logs = workspace.folder("logs")
    command = [sys.executable, "-m", "medllm_local.cli", *args, "--workspace", str(workspace.root),
               "--job", str(job_id), "--json"]
    with (logs / f"job-{job_id}.json").open("wb") as out, (logs / f"job-{job_id}.log").open("ab") as err:
        child = subprocess.Popen(command, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                 cwd=PROJECT_ROOT, start_new_session=True)
    with workspace.transaction() as conn:
        conn.execute("UPDATE jobs SET pid = ?, status = 'running' WHERE id = ? AND status = 'starting'",
                     (child.pid, job_id))
    return job_id


def record_progress(workspace: Workspace, job_id: int, step: int, total: int | None,
                    message: str, metrics: dict | None = None) -> None:
    with workspace.transaction() as conn:
        conn.execute("INSERT INTO progress (job_id, step, total, message, metrics, at) VALUES (?, ?, ?, ?, ?, ?)",
                     (job_id, step, total, message, json.dumps(metrics or {}), now()))


def attach_run(workspace: Workspace, job_id: int, run_id: int) -> None:
    with workspace.transaction() as conn:
        conn.execute("UPDATE jobs SET run_id = ? WHERE id = ?", (run_id, job_id))


def finish_job(workspace: Workspace, job_id: int, status: str, error: str | None = None) -> None:
    with workspace.transaction() as conn:
        conn.execute("UPDATE jobs SET status = ?, error = ?, finished_at = ? WHERE id = ?",
                     (status, error, now(), job_id))


def job_report(workspace: Workspace, job_id: int, since_step: int = -1) -> dict:
    """The job's state, its progress rows after ``since_step``, and its result once done.
    A job whose process is gone without finishing is reported as ``died``."""
    rows = workspace.query("SELECT * FROM jobs WHERE id = ?", (job_id,))
    if not rows:
        raise ValueError(f"no job {job_id}")
    job = dict(rows[0])
    if job["status"] in ("running", "stopping") and not is_job_process(job["pid"], job_id):
        job["status"] = "died"
        finish_job(workspace, job_id, "died", "the process ended without reporting "
                                              f"(see logs/job-{job_id}.log)")
    progress = [dict(r) | {"metrics": json.loads(r["metrics"])} for r in workspace.query(
        "SELECT step, total, message, metrics, at FROM progress WHERE job_id = ? AND step > ? ORDER BY id",
        (job_id, since_step))]
    result = None
    result_file = workspace.folder("logs") / f"job-{job_id}.json"
    if job["status"] not in ("running", "starting", "stopping") and result_file.exists():
        text = result_file.read_text(encoding="utf-8").strip()
        result = json.loads(text) if text else None
    return {"job": job, "progress": progress, "result": result}


def stop_job(workspace: Workspace, job_id: int) -> bool:
    """Ask a running job to stop (it checkpoints, then ends). False if it is not running."""
    job = job_report(workspace, job_id)["job"]
    if job["status"] not in ("running", "starting") or not is_job_process(job["pid"], job_id):
        return False
    os.kill(job["pid"], signal.SIGTERM)
    with workspace.transaction() as conn:
        conn.execute("UPDATE jobs SET status = 'stopping' WHERE id = ?", (job_id,))
    return True


def latest_job(workspace: Workspace, kind: str) -> int | None:
    """The newest job of a kind (train, export, eval): the one a tab follows."""
    rows = workspace.query("SELECT id FROM jobs WHERE kind = ? ORDER BY id DESC LIMIT 1", (kind,))
    return rows[0]["id"] if rows else None


def job_log_tail(workspace: Workspace, job_id: int, lines: int = 20) -> str:
    path: Path = workspace.folder("logs") / f"job-{job_id}.log"
    if not path.exists():
        return ""
    return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
