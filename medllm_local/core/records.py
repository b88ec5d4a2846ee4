"""The small typed records every stage speaks.

Stages take and return these; the workspace stores them; the CLI prints them with
``to_json``. They hold no behaviour beyond conversion, so any stage can be tested alone.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal


def to_json(record: Any) -> Any:
    """A record (or list/dict of records) as plain JSON-ready data."""
    if dataclasses.is_dataclass(record) and not isinstance(record, type):
        return {f.name: to_json(getattr(record, f.name)) for f in dataclasses.fields(record)}
    if isinstance(record, (list, tuple)):
        return [to_json(item) for item in record]
    if isinstance(record, dict):
        return {str(key): to_json(value) for key, value in record.items()}
    if hasattr(record, "__fspath__"):
        return str(record)
    return record


class Record:
    """Base of a stage's result record: the CLI's ``--json`` prints ``to_json()`` and
    the UI renders the same fields, so both faces show one thing."""

    def to_json(self) -> dict[str, Any]:
        return to_json(self)


@dataclass
class Page:
    """One page of a document as ingested."""

    number: int  # 1-based
    text: str
    method: Literal["text", "ocr"] = "text"
    ocr_confidence: float | None = None  # mean word confidence, 0-100, OCR pages only


@dataclass
class Document:
    """One report: where it came from, its text per page, and what went wrong."""

    source: str  # the path the user gave, as given
    sha256: str
    pages: list[Page] = field(default_factory=list)
    kind: str = ""  # pdf / docx / txt / image
    warnings: list[str] = field(default_factory=list)
    id: int | None = None  # catalogue id once stored

    @property
    def text(self) -> str:
        return "\n\n".join(page.text for page in self.pages)


@dataclass
class Finding:
    """One identifier found in a text: a span, its type, and who found it."""

    start: int
    end: int
    type: str  # PERSON, DATE_TIME, MRN, ...
    score: float
    recognizer: str
    text: str = ""


@dataclass
class Pair:
    """One supervised example in chat form (OpenAI-style messages)."""

    task: str  # diagnosis / differential / treatment / ...
    messages: list[dict[str, str]]
    document_id: int | None = None
    reference: str = ""  # the expected answer, for evaluation
    augmented: str = ""  # the augmentation method that made it (stages/dataset/augment.py); "" if none

    @property
    def system(self) -> str:
        return content_of(self.messages, "system")

    @property
    def question(self) -> str:
        return content_of(self.messages, "user")

    @question.setter
    def question(self, text: str) -> None:
        set_content(self.messages, "user", text)

    @property
    def answer(self) -> str:
        return content_of(self.messages, "assistant")

    @answer.setter
    def answer(self, text: str) -> None:
        set_content(self.messages, "assistant", text)


def content_of(messages: list[dict[str, str]], role: str) -> str:
    """The text of the last message of ``role`` in a chat ("" when there is none): a
    pair's question is its last user turn, its answer the last assistant turn."""
    return next((m["content"] for m in reversed(messages) if m["role"] == role), "")


def set_content(messages: list[dict[str, str]], role: str, text: str) -> None:
    for message in reversed(messages):
        if message["role"] == role:
            message["content"] = text
            return
    raise ValueError(f"no {role} message to change")


@dataclass
class ModelInfo:
    """A model the app can use: a base model (HF folder) or a GGUF file."""

    name: str
    kind: Literal["gguf", "hf"]
    path: str
    source: Literal["embedded", "models_dir", "export", "converted"]
    size_bytes: int
    parameters: int | None = None  # when known from the config or GGUF metadata
    architecture: str = ""
    note: str = ""


@dataclass
class ChatAnswer:
    """One complete answer from the chat stage."""

    answer: str
    tokens: int  # generated tokens
    prompt_tokens: int
    seconds: float
    stop_reason: str  # "stop" (end-of-turn token) or "length" (hit max tokens)
    model: str
