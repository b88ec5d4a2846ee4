"""Data-parallel training under ``accelerate launch`` (or torchrun): which process this
is, and how what only the main process may do (read the catalogue, convert a model,
record a run) reaches the others. With one process none of this does anything."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TypeVar

from medllm_local.stages.train.plan import TrainError

T = TypeVar("T")


def process_rank() -> tuple[int, int]:
    """(rank, world size) under ``accelerate launch`` or torchrun; (0, 1) otherwise."""
    return int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))


def join_process_group(cpu: bool) -> None:
    """Join the process group now (several processes only): the main process's values
    are shared through it before training starts."""
    if process_rank()[1] > 1:
        from accelerate import PartialState

        PartialState(cpu=cpu)


def on_main_process(make: Callable[[], T]) -> T:
    """``make()`` run on rank 0 only, its value returned in every process. Every rank
    waits for it, also when it fails: rank 0 raises its own error, the others say that
    rank 0 could not go on, and why."""
    rank, world = process_rank()
    shared: list = [None, None]  # [value, rank 0's error as one line]
    failure = None
    if rank == 0:
        try:
            shared = [make(), None]
        except BaseException as error:
            failure, shared = error, [None, " ".join(str(error).split())[:300] or type(error).__name__]
    if world > 1:
        import torch.distributed

        torch.distributed.broadcast_object_list(shared, src=0)
    if failure is not None:
        raise failure
    if shared[1] is not None:
        raise TrainError(f"rank 0 could not start the run: {shared[1]}")
    return shared[0]
