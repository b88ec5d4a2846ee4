"""Ingest under hostile or oversized input: DOCX bombs are refused before python-docx
reads them, a file that needs too much memory or time fails alone (files are read in a
child process under limits), enormous pages are rendered under the pixel cap, and OCR
keeps its page images in a private folder it removes."""

from __future__ import annotations

import stat
import tempfile
from pathlib import Path

from ingest_fixtures import (ONE_COLUMN, SCAN_TEXT, docx_with_letterhead, image_bytes,
                             inflated_docx, text_pdf)
from medllm_local import pipeline
from medllm_local.stages.ingest.read import MAX_OCR_PIXELS, IngestSettings, SourceFile, read_document

MiB = 1024 * 1024


def by_name(report) -> dict:
    return {item.source.split("/")[-1]: item for item in report.documents}


def test_docx_bombs_are_refused_before_python_docx_reads_them(workspace, tmp_path):
    bomb = tmp_path / "bomb.docx"
    bomb.write_bytes(inflated_docx(20))  # 20 MB of zeros in ~20 KB
    letter = tmp_path / "letter.docx"
    letter.write_bytes(docx_with_letterhead())
    assert bomb.stat().st_size < 100_000
    results = by_name(pipeline.ingest(workspace, [bomb, letter]))
    assert results["bomb.docx"].error.startswith(
        "DOCX refused as a possible zip bomb: one part expands"), results["bomb.docx"].error
    assert results["bomb.docx"].error.endswith("-fold to 20 MB (limit 100-fold)")
    assert results["letter.docx"].status == "ok"  # the batch went on
    # the zip budget applies too: a DOCX that expands past it is refused, however it packs
    large = tmp_path / "large.docx"
    large.write_bytes(inflated_docx(3, compressible=False))  # 3 MB, about 2-fold
    results = by_name(pipeline.ingest(workspace, [large], IngestSettings(zip_max_total_mb=2)))
    error = results["large.docx"].error
    assert error.startswith("DOCX refused as a possible zip bomb: 19 parts, "), error
    assert error.endswith(" MB uncompressed (limits 5000 parts, 2 MB)"), error
    assert "Riverside Test Practice" in read_document(  # within the default budget: fine
        SourceFile("large.docx", large.read_bytes()), IngestSettings()).text


def test_a_file_that_needs_more_memory_than_the_limit_fails_alone(workspace, tmp_path):
    small = tmp_path / "a-small.txt"
    small.write_text("Diagnosis: cellulitis of the left shin.", encoding="utf-8")
    big = tmp_path / "b-big.txt"  # decoding it alone needs 150 MB
    big.write_bytes(b"Zebra-canary " * (150 * MiB // 13))
    pdf = tmp_path / "c-one-column.pdf"
    pdf.write_bytes(text_pdf(ONE_COLUMN))
    report = pipeline.ingest(workspace, [small, big, pdf], IngestSettings(read_memory_mb=100))
    results = by_name(report)
    assert results["b-big.txt"].status == "failed"
    assert results["b-big.txt"].error == ("reading it needs more than the 100 MB memory limit "
                                             "(--read-memory-mb)")
    assert results["a-small.txt"].status == "ok"
    assert results["c-one-column.pdf"].status == "ok"  # read by a fresh child
    assert workspace.document_count() == 2
    assert "Heart failure" in workspace.load_document(results["c-one-column.pdf"].id).text


def test_a_file_that_takes_too_long_is_stopped_and_the_batch_goes_on(workspace, tmp_path):
    from medllm_local.core.demo_reports import render_scan

    scan = render_scan(SCAN_TEXT, seed="slow")
    slow = tmp_path / "a-slow.tiff"  # eight pages OCR'd one at a time: several seconds
    slow.write_bytes(image_bytes(scan, "TIFF", append_images=[scan] * 7))
    note = tmp_path / "b-note.txt"
    note.write_text("Diagnosis: otitis externa.", encoding="utf-8")
    report = pipeline.ingest(workspace, [slow, note], IngestSettings(read_timeout_s=1, ocr_workers=1))
    results = by_name(report)
    assert results["a-slow.tiff"].error == ("reading it took longer than 1 s (--read-timeout-s); "
                                               "it was stopped")
    assert results["b-note.txt"].status == "ok"  # read by a fresh child


def test_page_image_of_an_enormous_page_stays_under_the_pixel_cap(workspace, tmp_path):
    from reportlab.pdfgen import canvas

    path = tmp_path / "poster.pdf"
    page = canvas.Canvas(str(path), pagesize=(14400, 14400), invariant=1)  # 200 x 200 inches
    page.setFont("Helvetica", 9)
    page.drawString(50, 14000, ONE_COLUMN[0])
    page.save()
    report = pipeline.ingest(workspace, [path])
    assert report.totals["ok"] == 1
    image = pipeline.page_image(workspace, report.documents[0].id, 1)
    assert image.width * image.height <= MAX_OCR_PIXELS
    assert image.width == image.height > 5000  # scaled down, not refused


def test_ocr_outside_a_workspace_keeps_page_images_private_and_removes_them(tmp_path, monkeypatch):
    from pytesseract import pytesseract

    from medllm_local.core.demo_reports import render_scan

    system_temp = tmp_path / "tmp"
    system_temp.mkdir()
    system_temp.chmod(0o755)
    monkeypatch.setattr(tempfile, "tempdir", str(system_temp))
    real, seen = pytesseract.run_tesseract, []

    def spy(input_filename, output_filename_base, *args, **kwargs):
        folder = Path(output_filename_base).parent
        seen.append((folder, stat.S_IMODE(folder.stat().st_mode)))
        return real(input_filename, output_filename_base, *args, **kwargs)

    monkeypatch.setattr(pytesseract, "run_tesseract", spy)
    scan = SourceFile("scan.png", image_bytes(render_scan(SCAN_TEXT, seed="private")))
    document = read_document(scan, IngestSettings())  # no engine given: as deid --file reads
    assert "Acute gout" in document.text
    assert seen and all(folder.parent == system_temp and mode == 0o700 for folder, mode in seen)
    assert list(system_temp.iterdir()) == []

