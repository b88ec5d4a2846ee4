"""Training against the workspace: the latest dataset build in, a run (model version)
out, recorded with its base model, data build, settings, parent and metrics."""

from __future__ import annotations

import dataclasses
import json
import os
import threading
from pathlib import Path

from medllm_local.core import models
from medllm_local.core.records import Record

from medllm_local.stages.train import trainer as train
from medllm_local.stages.train.distributed import join_process_group, on_main_process, process_rank
from medllm_local.pipeline.common import GateError
from medllm_local.pipeline.dataset import require_current_build
from medllm_local.core.files import pid_alive
from medllm_local.pipeline.jobs import attach_run, record_progress
from medllm_local.pipeline import tracking
from medllm_local.workspace import paths
from medllm_local.workspace.store import Workspace, atomic_write, now


def base_model_folder(name: str | None) -> Path:
    """The HF folder to train: the embedded model (converted once) or one under models/."""
    if not name or name.lower() == models.EMBEDDED_NAME:
        return models.ensure_hf_copy()
    found = models.resolve_model(name, kind="hf")
    path = Path(found.path)
    if found.kind != "hf" or not (path / "config.json").exists():
        raise train.TrainError(f"{name} is not a Hugging Face model folder (a GGUF cannot be "
                               "trained; put the original model folder under models/)")
    return path


def latest_build(workspace: Workspace) -> dict:
    rows = workspace.query("SELECT build FROM splits WHERE build IS NOT NULL ORDER BY id DESC LIMIT 1")
    if not rows:
        raise GateError("no dataset yet: build one from approved reports first (`build`)")
    build = rows[0]["build"]
    files = {r["name"]: r["file"] for r in workspace.query(
        "SELECT name, file FROM splits WHERE build = ?", (build,))}
    return {"build": build, "files": files}


def plan_training(model: str | None = None, settings: train.TrainSettings | None = None,
                  workspace: Workspace | None = None) -> dict:
    """Before anything is loaded: the device, precision, batch and the memory estimate,
    or why it will not fit and what would; with a workspace, sized for the latest
    build's pairs (their token lengths, from its card)."""
    settings = settings or train.TrainSettings()
    tokens = build_tokens(workspace) if workspace is not None else {}
    base = base_model_folder(model)
    shape = models.ArchShape.from_config(json.loads((base / "config.json").read_text()))
    gpu = models.gpu_memory_gib()
    report = {"base_model": str(base), "parameters_b": round(shape.parameters / 1e9, 3),
              "gpu": {"name": gpu[0], "memory_gib": round(gpu[1], 1)} if gpu else None}
    budget = None
    if gpu:
        budget = min(gpu[1], settings.gpu_memory_gib) if settings.gpu_memory_gib > 0 else gpu[1]
    try:
        plan = train.hardware_plan(settings, shape, cuda=gpu is not None and train.cuda_available(),
                                   gpu_gib=budget, flash=train.flash_attention_installed(),
                                   data_p95=tokens.get("p95"), data_max=tokens.get("max"),
                                   ram_gib=train.available_ram_gib())
    except train.TrainError as error:
        return report | {"fits": False, "advice": str(error), "plan": None}
    return report | {"fits": True, "advice": plan.note, "plan": dataclasses.asdict(plan),
                     "data_tokens": tokens or None}


def build_tokens(workspace: Workspace) -> dict:
    """The latest build's pair lengths in tokens (p95, max) from its card; {} if none."""
    try:
        build = latest_build(workspace)
    except GateError:
        return {}
    card = paths.build_card(workspace, build["build"])
    return json.loads(card.read_text()).get("tokens", {}) if card.exists() else {}


def train_run(workspace: Workspace, model: str | None = None,
              settings: train.TrainSettings | None = None, *, resume_run: int | None = None,
              parent_run: int | None = None, job_id: int | None = None,
              stop: threading.Event | None = None, progress=None) -> TrainReport:
    """Train on the latest build's train split (validation split for validation loss).

    ``resume_run`` continues an interrupted run from its last checkpoint with its own
    settings; ``parent_run`` starts a new version from that run's adapter (retraining
    on new reports). Every pair must still be of approved text as it is now (see
    ``require_current_build``), or nothing is trained.

    Under ``accelerate launch`` (several processes, data parallel) every process trains
    and only rank 0 writes the catalogue, the metrics and the adapter."""
    rank, world = process_rank()
    if job_id is not None and rank == 0:  # the app shows what happens before the first step
        record_progress(workspace, job_id, 0, None, "checking the data and preparing the base model")
    join_process_group(cpu=not train.cuda_available())
    # only rank 0 reads the catalogue and converts models (no races); all get its run
    run_id, folder = on_main_process(lambda: _open_run(workspace, model, settings, resume_run, parent_run))
    # Every rank trains on exactly what rank 0 recorded.
    config = json.loads(paths.run_config(folder).read_text())
    settings = train.TrainSettings(**config["settings"])
    base, files = Path(config["base_model"]), config["files"]
    parent_adapter = Path(config["parent_adapter"]) if config.get("parent_adapter") else None
    train_pairs = train.read_messages(Path(files["train"]))
    validation_pairs = train.read_messages(Path(files["validation"])) if files.get("validation") else []
    if rank != 0:
        result = train.train(base, train_pairs, validation_pairs, folder, settings,
                             resume=resume_run is not None, parent_adapter=parent_adapter,
                             stop=stop)
        return TrainReport(**dataclasses.asdict(result), run=run_id, rank=rank)
    _set_run(workspace, run_id, "running", {"pid": os.getpid(), "world_size": world})
    if job_id is not None:
        attach_run(workspace, job_id, run_id)
        record_progress(workspace, job_id, 0, None, f"run {run_id}: loading the model and "
                                                    "tokenizing the pairs")

    def sink(row: dict) -> None:
        if job_id is not None:
            record_progress(workspace, job_id, row["step"], row["max_steps"], "training", row)
        if progress:
            progress(row)

    try:
        result = train.train(base, train_pairs, validation_pairs, folder, settings,
                             resume=resume_run is not None, parent_adapter=parent_adapter,
                             sink=sink, stop=stop)
    except BaseException as error:  # recorded, then raised on for the CLI to report
        _set_run(workspace, run_id, "failed", {"error": " ".join(str(error).split())[:500]})
        raise
    report = TrainReport(**dataclasses.asdict(result), run=run_id, base_model=str(base), build=config["build"],
                         parent_run=config.get("parent_run"), folder=str(folder),
                         metrics_file=str(folder / train.METRICS_FILE))
    recorded = report.to_json()
    _set_run(workspace, run_id, "stopped" if result.stopped else "done", recorded)
    report.mlflow_run = tracking.track_training(workspace, recorded)  # None without the extra
    return report


@dataclasses.dataclass
class TrainReport(train.TrainResult, Record):
    """A training run as the catalogue records it: the trainer's result (adapter, steps,
    losses, speed, memory) and where it belongs (run id, base model, build, parent)."""

    run: int = 0
    rank: int = 0  # the process that returns it, under accelerate launch (only rank 0 records)
    base_model: str = ""
    build: str = ""
    parent_run: int | None = None
    folder: str = ""
    metrics_file: str = ""
    mlflow_run: str | None = None  # its MLflow run id, with the tracking extra


def _open_run(workspace: Workspace, model: str | None, settings: train.TrainSettings | None,
              resume_run: int | None, parent_run: int | None) -> tuple[int, Path]:
    """The run to train: an interrupted one reopened, or a new one recorded (its
    config.json says what every process trains on). Every pair of the build it reads
    must still be of approved text as it is now."""
    if resume_run is not None:
        run = _run_row(workspace, resume_run)
        if run["status"] == "done":
            raise train.TrainError(f"run {resume_run} has finished; nothing to resume")
        build = json.loads(paths.run_config(run["folder"]).read_text())["build"]
    else:
        latest = latest_build(workspace)
        build, files = latest["build"], latest["files"]
    # Before any model is converted or loaded: the build's own record, not today's pairs,
    # says what its files hold (a resumed run reads the build it started on).
    require_current_build(workspace, build, ("train", "validation"))
    if resume_run is not None:
        return resume_run, Path(run["folder"])
    settings = settings or train.TrainSettings()
    parent_adapter = None
    if parent_run is not None:
        parent = _run_row(workspace, parent_run)
        parent_adapter = Path(parent["folder"]) / train.ADAPTER_FOLDER
        if not (parent_adapter / "adapter_config.json").exists():
            raise train.TrainError(f"run {parent_run} has no adapter to continue from")
        base = Path(json.loads(parent["config"])["base_model"])
    else:
        base = base_model_folder(model)
    counts = {name: len(train.read_messages(Path(files[name]))) if files.get(name) else 0
              for name in ("train", "validation")}
    config = {"settings": dataclasses.asdict(settings), "base_model": str(base), "build": build,
              "files": files, "parent_run": parent_run,
              "parent_adapter": str(parent_adapter) if parent_adapter else None,
              "train_pairs": counts["train"], "validation_pairs": counts["validation"]}
    with workspace.transaction() as conn:
        run_id = conn.execute(
            "INSERT INTO runs (base_model, status, config, folder, created_at, build, parent_id)"
            " VALUES (?, 'running', ?, '', ?, ?, ?)",
            (base.name, json.dumps(config), now(), build, parent_run)).lastrowid
        folder = workspace.folder("runs") / f"run-{run_id}"
        conn.execute("UPDATE runs SET folder = ? WHERE id = ?", (str(folder), run_id))
    folder.mkdir(mode=0o700, exist_ok=True)
    atomic_write(paths.run_config(folder), json.dumps(config, indent=2))
    return run_id, folder


def _run_row(workspace: Workspace, run_id: int):
    rows = workspace.query("SELECT * FROM runs WHERE id = ?", (run_id,))
    if not rows:
        raise train.TrainError(f"no run {run_id}")
    return rows[0]


def _set_run(workspace: Workspace, run_id: int, status: str, result: dict) -> None:
    finished = now() if status in ("done", "stopped", "failed") else None
    with workspace.transaction() as conn:
        conn.execute("UPDATE runs SET status = ?, result = ?, finished_at = ? WHERE id = ?",
                     (status, json.dumps(result), finished, run_id))


@dataclasses.dataclass
class RunSummary:
    """One model version as listed (``train --list``, the Train tab)."""

    run: int
    status: str  # running, done, stopped, failed; interrupted when its process is gone
    base_model: str
    build: int | None
    parent_run: int | None
    created_at: str
    finished_at: str | None
    steps: int | None
    final_loss: float | None
    adapter: str | None
    train_pairs: int | None
    error: str | None


def list_runs(workspace: Workspace) -> list[RunSummary]:
    """Every model version, newest first; a run whose process is gone mid-training shows
    as ``interrupted`` (resume it)."""
    runs = []
    for row in workspace.query("SELECT * FROM runs ORDER BY id DESC"):
        result = json.loads(row["result"] or "{}")
        status = row["status"]
        if status == "running" and not pid_alive(result.get("pid")):
            status = "interrupted"
        config = json.loads(row["config"])
        runs.append(RunSummary(row["id"], status, row["base_model"], row["build"], row["parent_id"],
                               row["created_at"], row["finished_at"], result.get("steps"),
                               (result.get("losses") or [None])[-1], result.get("adapter"),
                               config.get("train_pairs"), result.get("error")))
    return runs


def run_metrics(workspace: Workspace, run_id: int) -> list[dict]:
    path = Path(_run_row(workspace, run_id)["folder"]) / train.METRICS_FILE
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
