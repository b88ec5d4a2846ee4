"""The multi-process path: the same `train` command under `accelerate launch` with two
CPU processes (gloo), as a practice with several GPUs would run it (FSDP/DDP there).
Data parallel means each process takes its share of every step's batch: with two
processes an epoch has half the optimizer steps, and one adapter comes out."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from safetensors.torch import load_file

from conftest import ROOT, free_port
from test_train import fake_build, toy_pairs


@pytest.mark.slow
def test_two_processes_train_one_adapter_on_the_embedded_model(tmp_path):
    from medllm_local import pipeline

    workspace = pipeline.open_workspace(tmp_path / "ws")
    fake_build(workspace, toy_pairs(8), toy_pairs(2))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MEDLLM_SOCKET_GUARD": "record",
           "MEDLLM_SOCKET_GUARD_LOG": str(tmp_path / "guard.jsonl")}
    # --multi_gpu is accelerate's data-parallel launcher (torchrun underneath); with no GPU
    # each process trains on the CPU and they sync gradients over gloo.
    command = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu",
               "--num_processes", "2", "--num_machines", "1", "--mixed_precision", "no",
               "--dynamo_backend", "no", "--main_process_port", str(free_port()),
               "-m", "medllm_local.cli", "train", "--workspace", str(tmp_path / "ws"), "--json",
               "--epochs", "1", "--batch-size", "1", "--grad-accum", "1", "--max-length", "256",
               "--eval-every", "2", "--save-every", "100"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=900, cwd=ROOT,
                            env=env)
    assert result.returncode == 0, result.stderr[-4000:]
    reports = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert len(reports) == 1  # only rank 0 reports
    report = reports[0]
    assert report["world_size"] == 2
    assert report["steps"] == 4  # 8 pairs, 1 per process per step, 2 processes
    assert all(loss == loss and loss > 0 for loss in report["losses"])
    runs = pipeline.list_runs(workspace)
    assert [(r.run, r.status, r.steps) for r in runs] == [(report["run"], "done", 4)]
    steps = [row["step"] for row in pipeline.run_metrics(workspace, report["run"]) if "loss" in row]
    assert steps == sorted(set(steps)) and steps[-1] == 4  # one writer, no duplicate rows
    weights = load_file(os.path.join(report["adapter"], "adapter_model.safetensors"))
    lora_b = [t for name, t in weights.items() if "lora_B" in name]
    assert lora_b and any(t.abs().sum() > 0 for t in lora_b)  # LoRA B starts at zero
    assert not (tmp_path / "guard.jsonl").exists() or not (tmp_path / "guard.jsonl").read_text()


SEVENTY_B = "70B (Llama-3.1-70B)"


def test_fsdp_plan_fits_70b_on_two_24gb_cards_only_with_cpu_offload():
    """The published FSDP-QLoRA recipe: a 70B base on two 24 GB cards needs the shards
    offloaded to CPU memory; on one card, or sharded without offload, it is refused."""
    from medllm_local.core import models
    from medllm_local.stages.train import trainer as train

    shape = models.REFERENCE_SHAPES[SEVENTY_B]
    settings = train.TrainSettings()
    with pytest.raises(train.TrainError, match="will not fit"):
        train.hardware_plan(settings, shape, cuda=True, gpu_gib=24.0)
    with pytest.raises(train.TrainError, match="will not fit"):
        train.hardware_plan(settings, shape, cuda=True, gpu_gib=24.0, shards=2)
    plan = train.hardware_plan(settings, shape, cuda=True, gpu_gib=24.0, shards=2, offload=True)
    assert plan.quantize_4bit and plan.estimate_gib <= 23.0
    assert "FSDP over 2 GPUs" in plan.note and "offloaded" in plan.note


def test_under_fsdp_the_4bit_weights_are_stored_as_16_bit(monkeypatch):
    """FSDP shards only float tensors: bitsandbytes then keeps the packed NF4 bytes in a
    bf16 tensor (bnb_4bit_quant_storage), as FSDP-QLoRA requires; alone, uint8."""
    import torch

    from medllm_local.core import models

    from medllm_local.stages.train import trainer as train

    plan = train.hardware_plan(train.TrainSettings(), models.REFERENCE_SHAPES["8B (Llama-3.1-8B)"],
                               cuda=True, gpu_gib=24.0)
    monkeypatch.delenv("ACCELERATE_USE_FSDP", raising=False)
    assert train.bnb_config(plan).bnb_4bit_quant_storage == torch.uint8
    monkeypatch.setenv("ACCELERATE_USE_FSDP", "true")
    assert train.bnb_config(plan).bnb_4bit_quant_storage == torch.bfloat16
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert train.local_device() == 1


def _stop_vote(rank: int, port: int, results) -> None:
    import torch.distributed as dist

    from medllm_local.stages.train.trainer import stop_everywhere

    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=2)
    try:  # rank 1 was asked to stop (its own SIGTERM), rank 0 was not
        results[rank] = (stop_everywhere(rank == 1, 2), stop_everywhere(False, 2))
    finally:
        dist.destroy_process_group()


def test_a_stop_asked_of_one_process_stops_every_process_at_the_same_step():
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager:
        results = manager.dict()
        port = free_port()
        workers = [context.Process(target=_stop_vote, args=(rank, port, results))
                   for rank in (0, 1)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=120)
        assert [w.exitcode for w in workers] == [0, 0]
        assert dict(results) == {0: (True, False), 1: (True, False)}


def test_when_rank_0_cannot_start_every_process_ends_with_one_report(tmp_path):
    """No dataset: rank 0 refuses; the other process must not wait for it forever, and
    the user sees one error, not one per process."""
    from medllm_local import pipeline

    pipeline.open_workspace(tmp_path / "ws")
    command = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu",
               "--num_processes", "2", "--num_machines", "1", "--mixed_precision", "no",
               "--dynamo_backend", "no", "--main_process_port", str(free_port()),
               "-m", "medllm_local.cli", "train", "--workspace", str(tmp_path / "ws"), "--json"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=ROOT,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode != 0
    reports = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert len(reports) == 1 and "no dataset yet" in reports[0]["error"]
