"""Export against the workspace: a finished run's adapter in, a checked GGUF out,
recorded in the catalogue and registered under models/ so chat can pick it."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from pathlib import Path

from medllm_local.stages import export

from medllm_local.core import models
from medllm_local.core.records import Record

from medllm_local.stages.train import trainer as train
from medllm_local.pipeline import tracking
from medllm_local.workspace import paths
from medllm_local.workspace.store import Workspace, atomic_write, now


def held_out_pairs(config: dict) -> list[list[dict]]:
    """The run's own test split (validation if the test split is empty): cases the
    model never trained on, to check the export with."""
    for split in ("test", "validation"):
        path = config["files"].get(split)
        if path and Path(path).exists():
            pairs = train.read_messages(Path(path))
            if pairs:
                return pairs
    return []


def export_run(workspace: Workspace, run_id: int, settings: export.ExportSettings | None = None,
               progress=None) -> ExportReport:
    settings = settings or export.ExportSettings()
    rows = workspace.query("SELECT * FROM runs WHERE id = ?", (run_id,))
    if not rows:
        raise export.ExportError(f"no run {run_id} (see `train --list`)")
    run = rows[0]
    adapter = Path(run["folder"]) / train.ADAPTER_FOLDER
    if not (adapter / "adapter_config.json").exists():
        raise export.ExportError(f"run {run_id} has no adapter yet ({run['status']}): finish or "
                                 "resume its training first")
    config = json.loads(run["config"])
    result = json.loads(run["result"] or "{}")
    name = f"run-{run_id}-" + ("adapter" if settings.adapter_only else settings.quant)
    info = {"name": name, "base_model": Path(config["base_model"]).name, "run": run_id,
            "parent_run": config.get("parent_run"), "dataset_build": config["build"],
            "training_pairs": config.get("train_pairs"), "steps": result.get("steps"),
            "final_training_loss": (result.get("losses") or [None])[-1]}
    folder = workspace.folder("exports") / name
    base = Path(config["base_model"])
    if settings.adapter_only:  # the base GGUF is converted once per base model and reused
        done = export.export_adapter(base, adapter, folder,
                                     workspace.folder("exports") / f"base-{base.name}-f16.gguf",
                                     held_out_pairs(config), settings, info, progress)
    else:
        done = export.export(base, adapter, folder, held_out_pairs(config), settings, info, progress)
    checks = [dataclasses.asdict(c) for c in done.checks]  # as the catalogue keeps them
    status = "passed" if done.passed else "failed"
    with workspace.transaction() as conn:
        export_id = conn.execute(
            "INSERT INTO exports (run_id, gguf, quant, checks, created_at, status, folder)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (run_id, done.lora or done.gguf, "LoRA" if done.lora else settings.quant, json.dumps(checks),
             now(), status, str(folder))).lastrowid
    registered = (register_in_models(Path(done.gguf), f"{workspace_tag(workspace)}-{name}")
                  if done.passed and not done.lora else None)
    # What evaluation needs to find the files again (an adapter-only export is two).
    atomic_write(paths.export_record(folder), json.dumps({"gguf": done.gguf, "lora": done.lora}))
    report = ExportReport(
        export=export_id, run=run_id, gguf=done.gguf, quant=settings.quant, passed=done.passed,
        checks=list(done.checks), seconds=done.seconds, fallbacks=done.fallbacks, f16_gguf=done.f16_gguf,
        merged=done.merged, modelfile=done.modelfile, model_card=done.model_card, lora=done.lora,
        registered_as=registered)
    tracking.track_export(workspace, run_id, report.to_json() | {"quant": "LoRA" if done.lora else settings.quant})
    return report


@dataclasses.dataclass
class ExportReport(Record):
    """One export of a run: the catalogue's export id, the files made, and every check
    with its verdict (``passed`` is all of them)."""

    export: int
    run: int
    gguf: str  # the quantised GGUF, or the base model's f16 GGUF of an adapter-only export
    quant: str
    passed: bool
    checks: list[export.Check]
    seconds: dict[str, float]  # per step
    fallbacks: list[str]
    f16_gguf: str
    merged: str
    modelfile: str
    model_card: str
    lora: str | None  # the adapter's GGUF of an adapter-only export
    registered_as: str | None  # the models/ name chat finds it by (passed full exports only)


def workspace_tag(workspace: Workspace) -> str:
    """The workspace's name and a short hash of its path: export links under the shared
    models/exports/ folder carry it, so the demo workspace's "run-1-Q4_K_M" never replaces
    the real workspace's."""
    name = re.sub(r"[^A-Za-z0-9_-]+", "-", workspace.root.name).strip("-") or "workspace"
    return f"{name}-{hashlib.sha256(str(workspace.root.resolve()).encode()).hexdigest()[:6]}"


def register_in_models(gguf: Path, name: str) -> str:
    """A link under models/exports/ to the GGUF in the workspace: chat and `models` list
    it, while the file itself stays in the owner-only workspace."""
    folder = models.models_dir() / "exports"
    folder.mkdir(parents=True, exist_ok=True)
    link = folder / f"{name}.gguf"
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(gguf)
    return str(link)


@dataclasses.dataclass
class ExportSummary:
    """One export as listed (``export --list``, the Evaluate and Chat tabs' choices)."""

    export: int
    run: int
    quant: str  # a GGUF quantization, or LoRA (the base GGUF and an adapter)
    status: str  # passed / failed (its checks)
    gguf: str
    created_at: str
    checks: list[dict]


def list_exports(workspace: Workspace) -> list[ExportSummary]:
    """Every export, newest first."""
    return [ExportSummary(r["id"], r["run_id"], r["quant"], r["status"], r["gguf"], r["created_at"],
                          json.loads(r["checks"]))
            for r in workspace.query("SELECT * FROM exports ORDER BY id DESC")]
