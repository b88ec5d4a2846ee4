"""The demo reports: every format a practice has, readable by the libraries the ingest
stage will use, and clearly fictitious."""

from __future__ import annotations

import shutil

import pytest

from medllm_local import pipeline
from medllm_local.core.demo_reports import DEMO_BANNER, DEMO_REPORTS, write_demo_reports


@pytest.fixture(scope="module")
def demo_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo")
    return {p.name: p for p in write_demo_reports(folder)}


def test_every_format_is_written(demo_files):
    assert set(demo_files) == {"demo-pneumonia.txt", "demo-diabetes.txt", "demo-appendicitis.pdf",
                               "demo-dvt.docx", "demo-migraine-scan.png", "demo-migraine-scan.pdf"}


def test_text_reports_carry_the_banner_and_their_diagnosis(demo_files):
    text = demo_files["demo-pneumonia.txt"].read_text()
    assert text.startswith(DEMO_BANNER)
    assert "Community-acquired pneumonia" in text


def test_pdf_has_a_text_layer_in_reading_order(demo_files):
    from pdfminer.high_level import extract_text
    from pdfminer.layout import LAParams

    text = extract_text(demo_files["demo-appendicitis.pdf"], laparams=LAParams(boxes_flow=0.0))
    assert DEMO_BANNER in text
    assert text.index("CHIEF COMPLAINT") < text.index("ASSESSMENT: Acute appendicitis")


def test_docx_has_letterhead_table_and_body(demo_files):
    import docx

    document = docx.Document(demo_files["demo-dvt.docx"])
    header = document.sections[0].header.paragraphs[0].text
    assert "Lakeside Demo Clinic" in header and "(555) 010-2000" in header
    cells = [cell.text for row in document.tables[0].rows for cell in row.cells]
    assert "Patient: Robin Sample-Doe" in cells
    assert any("Deep vein thrombosis" in p.text for p in document.paragraphs)


def test_scanned_page_has_no_text_layer_and_ocr_reads_it(demo_files):
    import pypdfium2

    pdf = pypdfium2.PdfDocument(str(demo_files["demo-migraine-scan.pdf"]))
    chars = len(pdf[0].get_textpage().get_text_range().strip())
    pdf.close()
    assert chars < 20  # what the ingest stage treats as "needs OCR"
    if not shutil.which("tesseract"):
        pytest.skip("tesseract not installed (installer --dev installs it)")
    import pytesseract
    from PIL import Image

    text = pytesseract.image_to_string(Image.open(demo_files["demo-migraine-scan.png"]))
    assert "Migraine with aura" in text
    assert "Sam Fictional" in text


def test_demo_reports_are_repeatable(tmp_path):
    first = {p.name: p.read_bytes() for p in write_demo_reports(tmp_path / "a")}
    second = {p.name: p.read_bytes() for p in write_demo_reports(tmp_path / "b")}
    assert first["demo-appendicitis.pdf"] == second["demo-appendicitis.pdf"]
    assert first["demo-migraine-scan.png"] == second["demo-migraine-scan.png"]


def test_a_new_workspace_gets_the_demo_reports_once(tmp_path):
    ws = pipeline.open_workspace(tmp_path / "ws")
    inbox = ws.folder("inbox") / pipeline.DEMO_INBOX
    assert len(list(inbox.iterdir())) == 6
    (inbox / "demo-pneumonia.txt").unlink()  # the user removed one: it stays removed
    pipeline.open_workspace(tmp_path / "ws")
    assert not (inbox / "demo-pneumonia.txt").exists()
    assert ws.check_permissions() == []


def test_every_demo_report_names_a_fictitious_patient():
    assert len({r.patient for r in DEMO_REPORTS}) == len(DEMO_REPORTS)
    for report in DEMO_REPORTS:
        assert report.patient in report.text and report.diagnosis in report.text
