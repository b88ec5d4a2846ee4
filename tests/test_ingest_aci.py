"""Round trip on a realistic corpus: ACI-Bench clinical notes (../shared/data/aci_bench,
CC BY 4.0, Yim et al. 2023) rendered to PDF, DOCX and a scanned image, then ingested."""

from __future__ import annotations

import csv
import io
import os
import textwrap

import pytest

from conftest import SHARED_DATA
from ingest_fixtures import cer, image_bytes, text_pdf
from medllm_local import pipeline
from medllm_local.core.demo_reports import render_scan

ACI = SHARED_DATA / "aci_bench" / "valid.csv"


@pytest.fixture(scope="module")
def notes():
    if not ACI.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{ACI} is missing in CI")
        pytest.skip(f"{ACI} not present")
    with ACI.open(newline="", encoding="utf-8") as handle:
        return [row["note"] for row in csv.DictReader(handle)][:3]


def squash(text: str) -> str:
    return " ".join(text.split())


def note_docx(note: str) -> bytes:
    import docx

    document = docx.Document()
    for line in note.splitlines():
        document.add_paragraph(line)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def test_aci_notes_round_trip_through_pdf_docx_and_scan(workspace, notes, tmp_path):
    expected = {}
    for i, note in enumerate(notes):
        (tmp_path / f"note{i}.pdf").write_bytes(text_pdf(note.splitlines()))
        (tmp_path / f"note{i}.docx").write_bytes(note_docx(note))
        first_page = "\n".join(textwrap.wrap(note, 90)[:50])
        (tmp_path / f"note{i}.png").write_bytes(image_bytes(render_scan(first_page, seed=str(i))))
        expected |= {f"note{i}.pdf": note, f"note{i}.docx": note, f"note{i}.png": first_page}
    report = pipeline.ingest(workspace, [tmp_path])  # the workspace is in there too
    assert report.totals == {"ok": 9, "failed": 0, "duplicate": 0, "files": 9}
    for item in report.documents:
        name = item.source.split("/")[-1]
        text = workspace.load_document(item.id).text
        if name.endswith(".png"):
            assert cer(expected[name], text) < 0.02, name
        else:
            assert squash(text) == squash(expected[name]), name
