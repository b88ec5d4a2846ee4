"""Conversation export: the text and the PDF carry the date, the model, the disclaimer
and every turn; the PDF parses back; the file lands owner-only in the workspace."""

from __future__ import annotations

import io
import re
import stat
from datetime import datetime, timezone

import pytest

from medllm_local import pipeline
from medllm_local.core.prompts import SYSTEM_PROMPT
from medllm_local.stages.chat.transcript import Transcript, render, transcript_text

WHEN = datetime(2026, 11, 3, 14, 5, tzinfo=timezone.utc)
MESSAGES = [
    {"role": "system", "content": "ignored: the header states the tool's own prompt"},
    {"role": "user", "content": "A 34-year-old woman has fever, dysuria and flank pain. Diagnosis?"},
    {"role": "assistant", "content": "Acute pyelonephritis.\n- culture <b>urine</b> & blood"},
    {"role": "user", "content": "What would change your mind?"},
    {"role": "assistant", "content": "A normal urinalysis."},
]


def flat(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def pdf_text(data: bytes) -> str:
    from pdfminer.high_level import extract_text
    from pdfminer.layout import LAParams

    return extract_text(io.BytesIO(data), laparams=LAParams(boxes_flow=0.0))


def test_text_has_header_and_every_turn_in_order():
    text = transcript_text(Transcript(MESSAGES, "run-1-Q8_0", WHEN))
    assert "Date: 2026-11-03 14:05 UTC" in text and "Model: run-1-Q8_0" in text
    assert flat(SYSTEM_PROMPT) in flat(text)
    assert "ignored:" not in text
    turns = [m["content"] for m in MESSAGES[1:]]
    positions = [text.index(turn) for turn in turns]
    assert positions == sorted(positions)
    assert text.count("Physician:") == 2 and text.count("Assistant:") == 2


def test_pdf_parses_back_with_the_turns_and_shows_markup_as_written():
    data = render(Transcript(MESSAGES, "smollm2-135m-instruct", WHEN), "pdf")
    assert data.startswith(b"%PDF")
    text = flat(pdf_text(data))
    assert "smollm2-135m-instruct" in text and "2026-11-03" in text
    assert flat(SYSTEM_PROMPT) in text
    for message in MESSAGES[1:]:
        for line in message["content"].splitlines():
            assert flat(line) in text
    assert "<b>urine</b> & blood" in text  # escaped, not read as reportlab markup


def test_empty_conversation_and_unknown_format_are_refused():
    with pytest.raises(ValueError, match="empty"):
        Transcript([{"role": "system", "content": "x"}], "m")
    with pytest.raises(ValueError, match="unknown format"):
        render(Transcript(MESSAGES, "m"), "docx")


def test_export_writes_owner_only_files_into_the_workspace(workspace):
    pdf = pipeline.export_conversation(workspace, MESSAGES, "run-1-Q8_0", "pdf")
    txt = pipeline.export_conversation(workspace, MESSAGES, "run-1-Q8_0", "txt")
    folder = workspace.folder("exports") / pipeline.CONVERSATIONS
    assert pdf.parent == folder and txt.parent == folder
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE(pdf.stat().st_mode) == 0o600 == stat.S_IMODE(txt.stat().st_mode)
    assert "What would change your mind?" in flat(pdf_text(pdf.read_bytes()))
    again = pipeline.export_conversation(workspace, MESSAGES, "run-1-Q8_0", "pdf")
    assert again != pdf and pdf.exists()  # a second export in the same second keeps both
    assert not [p for p in folder.iterdir() if p.name.startswith(".tmp-")]
