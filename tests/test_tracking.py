"""Experiment tracking with MLflow (the optional extra; the dev extra carries the client):
a few CPU training steps, an export and an evaluation, read back from the workspace's
store with MLflow's own client, equal the catalogue's numbers; nothing reaches the
network; without MLflow nothing is recorded and nothing fails."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from conftest import read_guard_log, run_cli
from medllm_local import pipeline
from medllm_local.pipeline import tracking
from test_train import tiny, tokenizer_dir  # noqa: F401 (fixtures)


def test_a_run_its_export_and_its_evaluation_are_tracked_in_the_workspace(tmp_path, monkeypatch, tiny):  # noqa: F811
    from mlflow.tracking import MlflowClient

    from medllm_local.stages import export
    from test_train import toy_pairs, train_tiny_run

    workspace, report = train_tiny_run(tmp_path, monkeypatch, tiny, max_steps=3)
    run = report.run
    assert report.mlflow_run
    pipeline.export_run(workspace, run, export.ExportSettings(adapter_only=True))
    cases = tmp_path / "cases.jsonl"
    cases.write_text("".join(json.dumps({"messages": m, "task": "diagnosis"}) + "\n" for m in toy_pairs(2)))
    # the evaluation in a child process, as the app runs it, with every socket attempt logged
    guard_log = tmp_path / "guard.jsonl"
    out = run_cli("eval", "--model", f"run:{run}", "--cases", str(cases), "--workspace", str(tmp_path / "ws"),
                  "--json", env={"MEDLLM_MODELS_DIR": str(tmp_path / "models"), "MEDLLM_SOCKET_GUARD": "record",
                                 "MEDLLM_SOCKET_GUARD_LOG": str(guard_log)}, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert read_guard_log(guard_log) == []  # MLflow and its telemetry stayed home

    client = MlflowClient(tracking_uri=tracking.store_uri(workspace))
    experiment = client.get_experiment_by_name(tracking.EXPERIMENT)
    # the MLflow UI opens on the runs table (its GenAI page fetches a video from mlflow.org)
    assert experiment.tags[tracking.KIND_TAG] == "custom_model_development"
    assert tracking.runs_url(workspace, 5000) == f"http://127.0.0.1:5000/#/experiments/{experiment.experiment_id}/runs"
    [tracked] = client.search_runs([experiment.experiment_id])
    assert tracked.info.run_id == report.mlflow_run and tracked.info.status == "FINISHED"
    config = json.loads((Path(report.folder) / "config.json").read_text())
    assert tracked.data.params["max_steps"] == "3"
    assert tracked.data.params["learning_rate"] == str(config["settings"]["learning_rate"])
    losses = [(row["step"], row["loss"]) for row in pipeline.run_metrics(workspace, run) if "loss" in row]
    history = client.get_metric_history(tracked.info.run_id, "loss")
    assert losses and [(m.step, m.value) for m in history] == losses
    # wall-clock times from the run's start, as MLflow's charts read them (not 1970)
    [created] = workspace.query("SELECT created_at FROM runs WHERE id = ?", (run,))
    start_ms = 1000 * datetime.fromisoformat(created["created_at"]).timestamp()
    assert tracked.info.start_time == start_ms and all(m.timestamp >= start_ms for m in history)
    assert tracked.data.tags["build"] == report.build and tracked.data.tags["base_model"] == report.base_model
    assert tracked.data.tags["adapter"].endswith("adapter")
    # the export and the evaluation, as in the catalogue
    [exported] = workspace.query("SELECT status FROM exports WHERE run_id = ?", (run,))
    assert tracked.data.tags["export.LoRA.checks"] == exported["status"]
    [evaluation] = workspace.query("SELECT metrics FROM evaluations WHERE model LIKE ?", (f"run {run}%",))
    metrics = json.loads(evaluation["metrics"])
    assert tracked.data.metrics["eval.file.cases"] == metrics["cases"] == 2
    assert tracked.data.metrics["eval.file.perplexity"] == pytest.approx(metrics["perplexity"])


def test_without_mlflow_nothing_is_tracked_and_nothing_fails(tmp_path, monkeypatch):
    workspace = pipeline.open_workspace(tmp_path / "ws")
    monkeypatch.setattr(tracking, "available", lambda: False)
    assert tracking.track_training(workspace, {"run": 1, "folder": str(tmp_path)}) is None
    assert tracking.track_evaluation(workspace, {"models": [], "on": "file"}) == []
    assert not (tmp_path / "ws" / "mlruns").exists()


def test_a_tracking_failure_is_said_without_failing_the_stage(tmp_path, capsys):
    workspace = pipeline.open_workspace(tmp_path / "ws")
    # a report whose run folder holds no config: the record fails, the caller goes on
    assert tracking.track_training(workspace, {"run": 7, "folder": str(tmp_path / "nowhere")}) is None
    assert "MLflow tracking: could not record run 7: FileNotFoundError" in capsys.readouterr().err
