"""Chat and model listing: the stages that need no workspace."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

from medllm_local import chat, models, offline
from medllm_local.prompts import CaseForm, case_form_prompt, case_prompt
from medllm_local.records import ChatAnswer, to_json


def _gguf(model: str | None):
    """The GGUF called ``model`` (default the embedded model); chat needs a GGUF."""
    info = models.resolve_model(model, kind="gguf")
    if info.kind != "gguf":
        raise models.ModelError(
            f"{info.name} is a Hugging Face folder; chat runs on GGUF files (export it first)"
        )
    return info


def chat_stream(
    user_text: str,
    history: list[dict[str, str]] | None = None,
    model: str | None = None,
    settings: chat.ChatSettings | None = None,
    stop_event: threading.Event | None = None,
) -> Iterator[chat.ChatChunk]:
    """Stream an answer from ``model`` (a GGUF; default the embedded model)."""
    yield from chat.stream_chat(Path(_gguf(model).path), user_text, history, settings, stop_event)


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


def chat_differential(case: CaseForm | str, model: str | None = None,
                      settings: chat.ChatSettings | None = None,
                      bounds: chat.DifferentialSettings | None = None) -> chat.Differential:
    """A ranked differential for a case form, or for a report's text, asked with the
    training template's differential question and answered as schema-checked JSON."""
    question = (case_form_prompt(case, "differential") if isinstance(case, CaseForm)
                else case_prompt("differential", case))
    return chat.differential(Path(_gguf(model).path), question, settings, bounds)
