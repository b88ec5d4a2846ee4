"""Runs stages against a workspace. The CLI and the UI call only this layer.

Each function here resolves its inputs (a workspace, a model name), calls one stage
function and returns that stage's records; it holds no stage logic of its own.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

from medllm_local import chat, models, offline
from medllm_local.records import ChatAnswer, to_json
from medllm_local.workspace import Workspace

DEMO_INBOX = "demo-reports"

# Stages of the CLI contract that later issues build. Said plainly, never faked.
NOT_BUILT: dict[str, int] = {
    "ingest": 3, "deid": 4, "clean": 5, "build": 5, "train": 6, "export": 7,
    "eval": 8, "demo": 5,
}


class NotBuiltError(RuntimeError):
    """A stage of the contract that this release does not have yet."""


def require_built(stage: str) -> None:
    if stage in NOT_BUILT:
        raise NotBuiltError(
            f"`{stage}` is not built yet in this release (tracked as issue {NOT_BUILT[stage]}); "
            "available now: chat, models, and the app"
        )


def open_workspace(path: str | Path | None = None) -> Workspace:
    """Open the workspace, creating it if needed; a new one gets the demo reports in its
    inbox so the pipeline can be tried before any real report is added."""
    root = Path(path).expanduser() if path else None
    is_new = root is None or not (root / "catalogue.sqlite").exists()
    workspace = Workspace.open(root)
    demo_folder = workspace.folder("inbox") / DEMO_INBOX
    if is_new and not demo_folder.exists():
        from medllm_local.demo import write_demo_reports

        write_demo_reports(demo_folder)
    return workspace


def chat_stream(
    user_text: str,
    history: list[dict[str, str]] | None = None,
    model: str | None = None,
    settings: chat.ChatSettings | None = None,
    stop_event: threading.Event | None = None,
) -> Iterator[chat.ChatChunk]:
    """Stream an answer from ``model`` (a GGUF; default the embedded model)."""
    info = models.resolve_model(model, kind="gguf")
    if info.kind != "gguf":
        raise models.ModelError(
            f"{info.name} is a Hugging Face folder; chat runs on GGUF files (export it first)"
        )
    yield from chat.stream_chat(Path(info.path), user_text, history, settings, stop_event)


def chat_answer(user_text: str, model: str | None = None,
                settings: chat.ChatSettings | None = None) -> ChatAnswer:
    """One complete answer: the UI's stream, collected."""
    final = None
    for chunk in chat_stream(user_text, None, model, settings):
        final = chunk
    assert final is not None and final.answer is not None
    return final.answer


def models_report(seq_len: int = 2048) -> dict:
    """Installed models, this machine's GPU, and which base-model sizes would fit it
    for QLoRA training."""
    gpu = models.gpu_memory_gib()
    return {
        "models": to_json(models.list_models()),
        "models_dir": str(models.models_dir()),
        "gpu": {"name": gpu[0], "memory_gib": round(gpu[1], 1)} if gpu else None,
        "qlora_fit": models.fit_table(gpu[1] if gpu else None, seq_len=seq_len),
        "offline": offline.guard_status(),
    }
