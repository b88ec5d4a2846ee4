"""Chat and model listing: the stages that need no workspace."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

from medllm_local import chat, models, offline
from medllm_local.records import ChatAnswer, to_json


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
