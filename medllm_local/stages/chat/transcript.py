"""A chat conversation as a document the physician can file: plain text or PDF.

Both carry the date, the model that answered, the statement that the tool supports and
does not replace clinical judgement (the chat's own system prompt, core/prompts.py), and
every turn in order. Pure functions over OpenAI-style messages: the pipeline writes the
bytes into the workspace, the UI offers them for download.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import datetime
from xml.sax.saxutils import escape

from medllm_local.core.prompts import SYSTEM_PROMPT

TITLE = "medllm-local conversation"
SPEAKERS = {"user": "Physician", "assistant": "Assistant"}
FORMATS = ("txt", "pdf")


@dataclass
class Transcript:
    """One conversation and what it needs to be read later."""

    messages: list[dict[str, str]]  # {"role": "user" | "assistant", "content": text}
    model: str
    when: datetime = field(default_factory=lambda: datetime.now().astimezone())

    def __post_init__(self) -> None:
        # System turns are the tool's own prompt, stated once in the header instead.
        self.messages = [{"role": m["role"], "content": str(m.get("content") or "").strip()}
                         for m in self.messages if m.get("role") in SPEAKERS]
        if not any(m["content"] for m in self.messages):
            raise ValueError("the conversation is empty: nothing to export")

    def header(self) -> list[tuple[str, str]]:
        return [("Date", self.when.strftime("%Y-%m-%d %H:%M %Z").strip()),
                ("Model", self.model), ("Note", SYSTEM_PROMPT)]


def transcript_text(transcript: Transcript) -> str:
    """The conversation as plain text (UTF-8), one block per turn."""
    lines = [TITLE, "=" * len(TITLE)]
    lines += [f"{label}: {value}" for label, value in transcript.header()]
    for message in transcript.messages:
        lines += ["", f"{SPEAKERS[message['role']]}:", message["content"]]
    return "\n".join(lines) + "\n"


def transcript_pdf(transcript: Transcript) -> bytes:
    """The conversation as an A4 PDF. Every text is escaped: model output is shown as
    written, never read as reportlab markup."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import cm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer

    styles = getSampleStyleSheet()

    def paragraphs(text: str, style) -> list:
        # One Paragraph per line keeps the model's line breaks and lists readable.
        return [Paragraph(escape(line) or "&nbsp;", style) for line in text.splitlines() or [""]]

    story = [Paragraph(escape(TITLE), styles["Title"])]
    for label, value in transcript.header():
        story.append(Paragraph(f"<b>{escape(label)}:</b> {escape(value)}", styles["Normal"]))
    for message in transcript.messages:
        story += [Spacer(1, 0.3 * cm),
                  Paragraph(escape(SPEAKERS[message["role"]]), styles["Heading4"]),
                  *paragraphs(message["content"], styles["BodyText"])]
    buffer = io.BytesIO()
    document = SimpleDocTemplate(buffer, pagesize=A4, title=TITLE, author="medllm-local",
                                 leftMargin=2 * cm, rightMargin=2 * cm,
                                 topMargin=2 * cm, bottomMargin=2 * cm)
    # reportlab stamps the creation time and a random document id; fine for a record.
    document.build(story)
    return buffer.getvalue()


def render(transcript: Transcript, fmt: str) -> bytes:
    """The transcript's bytes in ``fmt`` (one of FORMATS)."""
    if fmt == "txt":
        return transcript_text(transcript).encode("utf-8")
    if fmt == "pdf":
        return transcript_pdf(transcript)
    raise ValueError(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}")
