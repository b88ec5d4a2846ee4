"""Where each artefact lives inside a workspace, every name once.

The top-level folders are ``store.FOLDERS``; inside them:

    datasets/<build>/card.json        the build's data card (counts and hashes, no text)
    runs/<run folder>/config.json     what a run was trained on and with
    exports/<export folder>/export.json  the files an export made (GGUF, LoRA GGUF)
    evals/eval-<time>/cases.jsonl     every case's answers; report.html beside it
    evals/sets/<name>.jsonl           a named, frozen evaluation set
    mlruns/                           MLflow's store (with the optional tracking extra)

A run folder's own layout (adapter/, metrics.jsonl, checkpoints) is the trainer's:
stages/train/trainer.py names it.
"""

from __future__ import annotations

from pathlib import Path

from medllm_local.workspace.store import Workspace

BUILD_CARD = "card.json"
RUN_CONFIG = "config.json"
EXPORT_RECORD = "export.json"
EVAL_CASES = "cases.jsonl"
EVAL_REPORT = "report.html"
EVAL_SETS = "sets"
MLFLOW_STORE = "mlruns"


def build_card(workspace: Workspace, build: str) -> Path:
    return workspace.folder("datasets") / build / BUILD_CARD


def run_config(run_folder: str | Path) -> Path:
    return Path(run_folder) / RUN_CONFIG


def export_record(export_folder: str | Path) -> Path:
    return Path(export_folder) / EXPORT_RECORD


def eval_sets_folder(workspace: Workspace) -> Path:
    return workspace.folder("evals") / EVAL_SETS


def eval_set_file(workspace: Workspace, name: str) -> Path:
    return eval_sets_folder(workspace) / f"{name}.jsonl"


def mlflow_store(workspace: Workspace) -> Path:
    return workspace.root / MLFLOW_STORE
