"""Chat: streaming answers from a GGUF through llama-cpp-python.

The model's own chat template (stored in the GGUF) formats the conversation; the system
prompt comes from prompts.py. On a CUDA build every layer is offloaded to the GPU.
The UI and the CLI both call ``stream_chat`` (pipeline.chat_answer collects it).
"""

from __future__ import annotations

import atexit
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from medllm_local.prompts import chat_messages
from medllm_local.records import ChatAnswer


@dataclass
class ChatSettings:
    """How answers are generated. The CLI's chat options and the UI's chat settings are
    built from these fields."""

    max_tokens: int = field(default=512, metadata={"help": "most tokens in one answer"})
    temperature: float = field(default=0.2, metadata={"help": "0 is greedy (repeatable)"})
    top_p: float = field(default=0.95, metadata={"help": "nucleus sampling mass"})
    repeat_penalty: float = field(default=1.1, metadata={"help": ">1 discourages loops"})
    seed: int = field(default=0, metadata={"help": "sampling seed, for repeatable answers"})
    n_ctx: int = field(default=4096, metadata={"help": "context window in tokens"})

    def __post_init__(self) -> None:
        if self.max_tokens < 1:
            raise ValueError("max_tokens must be at least 1")
        if not 0.0 <= self.temperature <= 2.0:
            raise ValueError("temperature must be between 0 and 2")
        if not 0.0 < self.top_p <= 1.0:
            raise ValueError("top_p must be in (0, 1]")
        if self.n_ctx < 256:
            raise ValueError("n_ctx must be at least 256")


@dataclass
class ChatChunk:
    """What a stream yields: the answer so far, and at the end the complete answer."""

    text: str
    done: bool = False
    answer: ChatAnswer | None = None


class _ModelCache:
    """The loaded model: loading takes seconds, a chat turn should not. Only one model
    is kept (an 8B model fills most of a 24 GB card): asking for another one, or another
    context size, frees the first. llama.cpp contexts are not thread-safe, so the model
    has a lock held for each answer."""

    def __init__(self) -> None:
        self._key: tuple[str, int] | None = None
        self._model: tuple[object, threading.Lock] | None = None
        self._lock = threading.Lock()
        # Free the model before the interpreter tears down the modules its finalizer
        # needs (else llama.cpp prints a TypeError at every exit).
        atexit.register(self.close_all)

    def get(self, path: Path, n_ctx: int) -> tuple[object, threading.Lock]:
        key = (str(path), n_ctx)
        with self._lock:
            if self._key != key:
                self._close()
                self._model = (load_llama(path, n_ctx), threading.Lock())
                self._key = key
            return self._model

    def _close(self) -> None:
        if self._model is not None:
            llm, lock = self._model
            with lock:  # wait for an answer in progress
                llm.close()
        self._model, self._key = None, None

    def close_all(self) -> None:
        with self._lock:
            self._close()


_cache = _ModelCache()


def gpu_offload_supported() -> bool:
    import llama_cpp

    return bool(llama_cpp.llama_supports_gpu_offload())


def load_llama(path: Path, n_ctx: int = 4096):
    """Open a GGUF with every layer on the GPU when this llama.cpp build has one."""
    import llama_cpp

    if not Path(path).is_file():
        raise FileNotFoundError(f"{path}: no such GGUF file")
    llm = llama_cpp.Llama(model_path=str(path), n_ctx=n_ctx,
                          n_gpu_layers=-1 if gpu_offload_supported() else 0, verbose=False)
    trained = llm._model.n_ctx_train()  # no public accessor in llama-cpp-python 0.3.36
    if n_ctx > trained > 0:  # more context than the model knows: only wasted memory
        llm.close()
        raise ValueError(f"n_ctx {n_ctx} is larger than this model's trained context ({trained})")
    return llm


def stream_chat(
    model_path: Path,
    user_text: str,
    history: list[dict[str, str]] | None = None,
    settings: ChatSettings | None = None,
    stop_event: threading.Event | None = None,
) -> Iterator[ChatChunk]:
    """Stream an answer to ``user_text`` after ``history`` (OpenAI-style messages).

    Yields the growing answer; the last chunk has ``done=True`` and the ChatAnswer.
    Setting ``stop_event`` ends generation early (stop_reason "cancelled")."""
    if not user_text.strip():
        raise ValueError("the question is empty")
    settings = settings or ChatSettings()
    llm, lock = _cache.get(Path(model_path), settings.n_ctx)
    messages = chat_messages(user_text, history)
    started = time.perf_counter()
    text, tokens, stop_reason = "", 0, "length"
    with lock:
        stream = llm.create_chat_completion(
            messages=messages,
            stream=True,
            max_tokens=settings.max_tokens,
            temperature=settings.temperature,
            top_p=settings.top_p,
            repeat_penalty=settings.repeat_penalty,
            seed=settings.seed,
        )
        for chunk in stream:
            choice = chunk["choices"][0]
            delta = choice.get("delta", {}).get("content")
            if delta:
                text += delta
                tokens += 1
                yield ChatChunk(text)
            if choice.get("finish_reason"):
                stop_reason = choice["finish_reason"]
            if stop_event is not None and stop_event.is_set():
                stop_reason = "cancelled"
                break
        prompt_tokens = max(llm.n_tokens - tokens, 0)
    answer = ChatAnswer(
        answer=text.strip(),
        tokens=tokens,
        prompt_tokens=prompt_tokens,
        seconds=round(time.perf_counter() - started, 3),
        stop_reason=stop_reason,
        model=str(model_path),
    )
    yield ChatChunk(answer.answer, done=True, answer=answer)
