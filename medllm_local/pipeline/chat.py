"""Chat and model listing (no workspace needed), and a conversation exported into the
workspace."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

from medllm_local.stages.chat import answer as chat

from medllm_local.core import models

from medllm_local.core import offline

from medllm_local.stages.chat import transcript
from medllm_local.core.prompts import CaseForm, case_form_prompt, case_prompt
from medllm_local.core.records import ChatAnswer, ModelInfo, to_json
from medllm_local.workspace.store import Workspace, atomic_write

CONVERSATIONS = "conversations"  # under the workspace's exports/ folder


def _gguf(model: str | None):
    """The GGUF called ``model`` (default the embedded model); chat needs a GGUF."""
    if model is None or model.lower() == models.EMBEDDED_NAME:
        # Found directly: resolving by name lists every model and reads each GGUF's
        # tensor table (2.7 s here), which was most of the first token's wait.
        path = models.embedded_gguf()
        return ModelInfo(models.EMBEDDED_NAME, "gguf", str(path), "embedded", path.stat().st_size)
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


def check_model(path: str) -> dict:
    """A model folder or GGUF checked before it is added (nothing is copied)."""
    from medllm_local.core import model_intake

    check = model_intake.check_model(path)
    return to_json(check) | {"ok": check.ok}


def add_model(path: str, name: str | None = None) -> dict:
    """Check a model folder or GGUF and copy it into the models folder."""
    from medllm_local.core import model_intake

    return model_intake.add_model(path, name)


def chat_differential(case: CaseForm | str, model: str | None = None,
                      settings: chat.ChatSettings | None = None,
                      bounds: chat.DifferentialSettings | None = None) -> chat.Differential:
    """A ranked differential for a case form, or for a report's text, asked with the
    training template's differential question and answered as schema-checked JSON."""
    question = (case_form_prompt(case, "differential") if isinstance(case, CaseForm)
                else case_prompt("differential", case))
    return chat.differential(Path(_gguf(model).path), question, settings, bounds)


def export_conversation(workspace: Workspace, messages: list[dict], model: str,
                        fmt: str = "pdf") -> Path:
    """Write a conversation (text or PDF) into the workspace, owner-only and atomically;
    conversations may name patients, so they never go to a shared temp folder."""
    # The model by its file name: the UI passes a GGUF's path, the CLI a name or nothing.
    record = transcript.Transcript(messages, Path(model).name if model else models.EMBEDDED_NAME)
    data = transcript.render(record, fmt)
    folder = workspace.folder("exports") / CONVERSATIONS
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    stamp = record.when.strftime("%Y%m%d-%H%M%S")
    path, n = folder / f"chat-{stamp}.{fmt}", 1
    while path.exists():  # two exports in one second keep both
        n += 1
        path = folder / f"chat-{stamp}-{n}.{fmt}"
    return atomic_write(path, data)
