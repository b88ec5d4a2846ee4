"""Experiment tracking with MLflow, when the optional ``tracking`` extra is installed.

Every training run becomes an MLflow run in a file store inside the workspace
(``mlruns/``): its settings as params; loss, validation loss, learning rate and tokens
per second per step; the data build and its card, the base model and the adapter as
tags; later its evaluations and exports as metrics and tags on the same MLflow run. No
server, no network: the store is a folder, and MLflow's telemetry is switched off before
MLflow is imported. Without the extra nothing here imports MLflow and nothing changes.

Tracking never stops the work it records: a failure to log is said on stderr (names and
numbers only, no report text) and the stage's result stands.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from datetime import datetime
from pathlib import Path

from medllm_local.pipeline.common import run_of_label
from medllm_local.stages.train.trainer import ADAPTER_FOLDER
from medllm_local.workspace import paths
from medllm_local.workspace.store import Workspace

EXPERIMENT = "medllm-local"
RUN_TAG = "medllm.run"  # the workspace's run id, which ties an MLflow run to it
LOGGED_STEP_TAG = "medllm.logged_step"  # the last training step logged (a resumed run adds the rest)
# Metric names as MLflow shows them, from the trainer's metrics.jsonl keys.
TRAINING_METRICS = {"loss": "loss", "eval_loss": "validation_loss", "learning_rate": "learning_rate",
                    "tokens_per_second": "tokens_per_second", "grad_norm": "grad_norm",
                    "memory_gib": "memory_gib"}
EVAL_METRICS = ("top1", "topk", "mrr", "exact_match", "rouge_l", "bleu", "perplexity", "cases")
# Before MLflow is imported: no telemetry, and the plain-folder store it now asks to opt into.
MLFLOW_ENVIRONMENT = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true",
                      "MLFLOW_ALLOW_FILE_STORE": "true"}


def available() -> bool:
    """Whether the optional MLflow extra is installed (nothing is imported to find out)."""
    return importlib.util.find_spec("mlflow") is not None


KIND_TAG, KIND = "mlflow.experimentKind", "custom_model_development"


def store_uri(workspace: Workspace) -> str:
    return paths.mlflow_store(workspace).as_uri()


def _client(workspace: Workspace):
    os.environ.update(MLFLOW_ENVIRONMENT)
    from mlflow.tracking import MlflowClient

    paths.mlflow_store(workspace).mkdir(mode=0o700, exist_ok=True)
    client = MlflowClient(tracking_uri=store_uri(workspace))
    experiment = client.get_experiment_by_name(EXPERIMENT)
    experiment_id = experiment.experiment_id if experiment else client.create_experiment(EXPERIMENT)
    if experiment is None or experiment.tags.get(KIND_TAG) != KIND:
        # without it MLflow 3's UI opens on its GenAI traces page, which fetches a video
        # from mlflow.org: the runs table loads from this store alone
        client.set_experiment_tag(experiment_id, KIND_TAG, KIND)
    return client, experiment_id


def _mlflow_run(client, experiment_id: str, run_id: int, create: bool = True,
                start_ms: int | None = None) -> str | None:
    found = client.search_runs([experiment_id], filter_string=f"tags.`{RUN_TAG}` = '{run_id}'", max_results=1)
    if found:
        return found[0].info.run_id
    if not create:
        return None
    return client.create_run(experiment_id, start_time=start_ms, run_name=f"run {run_id}",
                             tags={RUN_TAG: str(run_id)}).info.run_id


def _safely(what: str, record) -> str | None:
    """Run ``record``; a failure is reported by its kind only, and never raised."""
    if not available():
        return None
    try:
        return record()
    except Exception as error:  # tracking is a record of the work, never a reason to fail it
        print(f"MLflow tracking: could not record {what}: {type(error).__name__}", file=sys.stderr)
        return None


def _flat(prefix: str, value) -> dict[str, str]:
    if isinstance(value, dict):
        return {k: v for key, item in value.items() for k, v in _flat(f"{prefix}{key}.", item).items()}
    text = json.dumps(value) if isinstance(value, (list, tuple)) else str(value)
    return {prefix.rstrip("."): text[:6000]}


def track_training(workspace: Workspace, report: dict) -> str | None:
    """Record a finished (or stopped) training run; returns the MLflow run id."""
    def record() -> str:
        from mlflow.entities import Metric, Param, RunTag

        client, experiment_id = _client(workspace)
        # the metrics file counts seconds from the run's start; MLflow wants epoch times
        [started] = workspace.query("SELECT created_at FROM runs WHERE id = ?", (report["run"],)) or [None]
        start_ms = int(1000 * datetime.fromisoformat(started["created_at"]).timestamp()) if started else 0
        mlflow_run = _mlflow_run(client, experiment_id, report["run"], start_ms=start_ms or None)
        folder = Path(report["folder"])
        config = json.loads(paths.run_config(folder).read_text())
        existing = client.get_run(mlflow_run).data
        params = [Param(k, v) for k, v in _flat("", config["settings"]).items() if k not in existing.params]
        logged = int(existing.tags.get(LOGGED_STEP_TAG, -1))
        metrics, last, end_ms = [], logged, start_ms
        for line in Path(report["metrics_file"]).read_text().splitlines():
            row = json.loads(line) if line.strip() else {}
            if row.get("step", -1) <= logged:
                continue
            last = max(last, row["step"])
            stamp = start_ms + int(1000 * row.get("seconds", 0))
            end_ms = max(end_ms, stamp)
            metrics += [Metric(name, float(row[key]), stamp, row["step"])
                        for key, name in TRAINING_METRICS.items() if row.get(key) is not None]
        tags = {"base_model": str(report.get("base_model", "")), "build": str(report.get("build", "")),
                "adapter": str(folder / ADAPTER_FOLDER), "parent_run": str(report.get("parent_run") or ""),
                "status": "stopped" if report.get("stopped") else "done", LOGGED_STEP_TAG: str(last)}
        for start in range(0, max(len(params), 1), 100):
            client.log_batch(mlflow_run, params=params[start:start + 100])
        for start in range(0, len(metrics), 1000):
            client.log_batch(mlflow_run, metrics=metrics[start:start + 1000])
        client.log_batch(mlflow_run, tags=[RunTag(k, v) for k, v in tags.items()])
        card = paths.build_card(workspace, str(report.get("build", "")))
        if card.is_file():  # counts and hashes, no report text
            client.log_dict(mlflow_run, json.loads(card.read_text()), "data_card.json")
        client.set_terminated(mlflow_run, "KILLED" if report.get("stopped") else "FINISHED",
                              end_time=end_ms or None)
        return mlflow_run

    return _safely(f"run {report.get('run')}", record)


def track_evaluation(workspace: Workspace, report: dict) -> list[str]:
    """Each evaluated run's metrics on its MLflow run, named by the cases they were
    scored on ("eval.test.top1", "eval.set-NAME.top1")."""
    def record() -> list[str]:
        from mlflow.entities import Metric

        client, experiment_id = _client(workspace)
        on = {"test split": "test", "file": "file"}.get(report["on"], f"set-{report.get('eval_set')}")
        done = []
        for item in report["models"]:
            run = run_of_label(item["model"])
            mlflow_run = _mlflow_run(client, experiment_id, run, create=False) if run else None
            if mlflow_run is None:
                continue  # a base model or a GGUF from elsewhere: not a training run
            metrics = [Metric(f"eval.{on}.{key}", float(item["metrics"][key]), 0, 0) for key in EVAL_METRICS
                       if isinstance(item["metrics"].get(key), (int, float))]
            client.log_batch(mlflow_run, metrics=metrics)
            client.set_tag(mlflow_run, f"eval.{on}.report", report["report"])
            done.append(mlflow_run)
        return done

    return _safely("the evaluation", record) or []


def track_export(workspace: Workspace, run_id: int, report: dict) -> str | None:
    """An export of a run as tags on its MLflow run: the GGUF, its quantisation, and
    whether its checks passed."""
    def record() -> str | None:
        client, experiment_id = _client(workspace)
        mlflow_run = _mlflow_run(client, experiment_id, run_id, create=False)
        if mlflow_run is None:
            return None
        quant = str(report.get("quant") or "gguf")
        client.set_tag(mlflow_run, f"export.{quant}.gguf", str(report.get("gguf", "")))
        client.set_tag(mlflow_run, f"export.{quant}.checks", "passed" if report.get("passed") else "failed")
        return mlflow_run

    return _safely(f"the export of run {run_id}", record)


def runs_url(workspace: Workspace, port: int) -> str:
    """The UI's page of this workspace's training runs: opened at its root, MLflow 3's
    UI shows GenAI tracing pages first (one fetches a video from mlflow.org)."""
    _, experiment_id = _client(workspace)
    return f"http://127.0.0.1:{port}/#/experiments/{experiment_id}/runs"


def ui_command(workspace: Workspace, port: int) -> list[str]:
    """The MLflow UI on 127.0.0.1 for the workspace's store (needs the full `mlflow`
    package: the skinny client has no UI)."""
    if importlib.util.find_spec("mlflow.server") is None:
        raise RuntimeError("the MLflow UI is not installed: install the optional extra "
                           "(`pip install 'medllm-local[tracking]'`, in the offline bundle too)")
    return [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", store_uri(workspace),
            "--host", "127.0.0.1", "--port", str(port)]
