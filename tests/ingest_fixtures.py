"""Real input files for the ingest tests, made from known text: text PDFs (one and two
columns), a mixed PDF, a scanned PDF, scans with noise and skew, a multi-page TIFF, a DOCX
with letterhead, footer and table, TXT in several encodings, RTF, zips, and bad files."""

from __future__ import annotations

import io
import textwrap
import zipfile
from pathlib import Path

from medllm_local.core.demo_reports import render_scan

ONE_COLUMN = [
    "CHIEF COMPLAINT: Shortness of breath on exertion for three weeks.",
    "HISTORY: 71-year-old woman with ankle swelling and orthopnoea.",
    "EXAMINATION: Raised JVP, bibasal crackles, pitting oedema to the knees.",
    "RESULTS: NT-proBNP 2400 ng/L. Echo: ejection fraction 35 percent.",
    "ASSESSMENT: Heart failure with reduced ejection fraction.",
]
LEFT_COLUMN = [f"Left column line {i}: anticoagulation review item {i}." for i in range(1, 16)]
RIGHT_COLUMN = [f"Right column line {i}: renal function trend {i}." for i in range(1, 16)]
SCAN_TEXT = """Patient: Taylor Synthetic   MRN: 3390-1122
CHIEF COMPLAINT: Painful swollen right knee for two days.
HISTORY: 63-year-old man, no injury. Similar episode last year.
Takes bendroflumethiazide for hypertension.
EXAMINATION: Hot, red, swollen right knee with an effusion.
RESULTS: Joint aspirate shows needle-shaped negatively
birefringent crystals. Serum urate 0.52 mmol/L.
ASSESSMENT: Acute gout of the right knee.
PLAN: Naproxen with omeprazole, rest, ice. Review diuretic."""


def text_pdf(lines: list[str], encrypt: str | None = None) -> bytes:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    page = canvas.Canvas(buffer, pagesize=A4, encrypt=encrypt, invariant=1)
    y = A4[1] - 60
    for line in lines:
        for wrapped in textwrap.wrap(line, 95) or [""]:
            if y < 60:
                page.showPage()
                y = A4[1] - 60
            page.setFont("Helvetica", 9)
            page.drawString(50, y, wrapped)
            y -= 12
    page.save()
    return buffer.getvalue()


def two_column_pdf() -> bytes:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    page = canvas.Canvas(buffer, pagesize=A4, invariant=1)
    page.setFont("Helvetica", 9)
    for column_x, lines in ((50, LEFT_COLUMN), (310, RIGHT_COLUMN)):
        y = A4[1] - 80
        for line in lines:
            page.drawString(column_x, y, line)
            y -= 13
    page.save()
    return buffer.getvalue()


SECTIONS = {  # heading -> text; the first three go left, the rest right
    "CHIEF COMPLAINT": "Breathless on exertion for three weeks, worse when lying flat at night.",
    "HISTORY": "Seventy-one-year-old woman with hypertension and type 2 diabetes; ankle "
               "swelling for a month, two pillows at night, no chest pain or palpitations.",
    "EXAMINATION": "Pulse 96 irregular, blood pressure 150/90, raised venous pressure, fine "
                   "crackles at both bases and pitting oedema to the knees.",
    "RESULTS": "NT-proBNP 2400 ng/L. Echo: ejection fraction 35 percent.",
    "ASSESSMENT": "Heart failure with reduced ejection fraction, new atrial fibrillation.",
    "PLAN": "Furosemide 40 mg daily, start apixaban, review in two weeks.",
}
HEADER = "RIVERSIDE TEST CLINIC - CARDIOLOGY OUTPATIENT LETTER - FICTITIOUS DEMO DATA ONLY"


def _column(page, x: float, y: float, width: float, sections: list[str]) -> None:
    """Headings and wrapped paragraphs in a column ``width`` points wide."""
    from reportlab.pdfbase.pdfmetrics import stringWidth

    for heading in sections:
        page.setFont("Helvetica-Bold", 10)
        page.drawString(x, y, heading)
        y -= 14
        page.setFont("Helvetica", 9)
        line = ""
        for word in SECTIONS[heading].split():
            if line and stringWidth(f"{line} {word}", "Helvetica", 9) > width:
                page.drawString(x, y, line)
                y, line = y - 12, ""
            line = f"{line} {word}".strip()
        page.drawString(x, y, line)
        y -= 24


def column_layouts_pdf() -> bytes:
    """Page 1: a full-width header above two columns 60/40 wide; page 2: two columns
    40/60 wide; page 3: one column. The left column holds the first sections."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    names = list(SECTIONS)
    buffer = io.BytesIO()
    page = canvas.Canvas(buffer, pagesize=A4, invariant=1)
    top, text_width, gutter = A4[1] - 60, A4[0] - 100, 24
    page.setFont("Helvetica-Bold", 11)
    page.drawString(50, top, HEADER)
    left = 0.6 * text_width - gutter / 2
    _column(page, 50, top - 40, left, names[:3])
    _column(page, 50 + left + gutter, top - 40, text_width - left - gutter, names[3:])
    page.showPage()
    left = 0.4 * text_width - gutter / 2
    _column(page, 50, top, left, names[:3])
    _column(page, 50 + left + gutter, top, text_width - left - gutter, names[3:])
    page.showPage()
    _column(page, 50, top, text_width, names)
    page.save()
    return buffer.getvalue()


def image_bytes(image, fmt: str = "PNG", append_images: list | None = None) -> bytes:
    buffer = io.BytesIO()
    if append_images:  # more frames (TIFF)
        image.save(buffer, format=fmt, dpi=(300, 300), save_all=True, append_images=append_images)
    else:
        image.save(buffer, format=fmt, dpi=(300, 300))
    return buffer.getvalue()


def scanned_pdf(text: str = SCAN_TEXT) -> bytes:
    buffer = io.BytesIO()
    render_scan(text, seed="pdf").save(buffer, format="PDF", resolution=300.0)
    return buffer.getvalue()


def mixed_pdf() -> bytes:
    """Page 1 has a text layer, page 2 is a scanned image."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    page = canvas.Canvas(buffer, pagesize=A4, invariant=1)
    y = A4[1] - 60
    for line in ONE_COLUMN:
        page.drawString(50, y, line)
        y -= 14
    page.showPage()
    scan = render_scan(SCAN_TEXT, seed="mixed")
    page.drawImage(ImageReader(scan), 0, 0, width=A4[0], height=A4[1])
    page.save()
    return buffer.getvalue()


def multipage_tiff() -> bytes:
    first = render_scan(SCAN_TEXT, seed="t1")
    second = render_scan("FOLLOW-UP: Pain settled after five days.\nUrate 0.31 mmol/L on allopurinol.",
                         seed="t2")
    buffer = io.BytesIO()
    first.save(buffer, format="TIFF", save_all=True, append_images=[second],
               compression="tiff_deflate", dpi=(300, 300))
    return buffer.getvalue()


def docx_with_letterhead() -> bytes:
    import docx

    document = docx.Document()
    section = document.sections[0]
    section.header.paragraphs[0].text = "Riverside Test Practice, Tel 555-0199"
    section.footer.paragraphs[0].text = "Dr. Alex Testwriter, MD - confidential"
    document.add_paragraph("CHIEF COMPLAINT: Cough for six weeks.")
    table = document.add_table(rows=2, cols=2)
    table.rows[0].cells[0].text, table.rows[0].cells[1].text = "Test", "Result"
    table.rows[1].cells[0].text, table.rows[1].cells[1].text = "Sputum AFB", "Positive"
    document.add_paragraph("ASSESSMENT: Pulmonary tuberculosis.")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def inflated_docx(megabytes: int, compressible: bool = True) -> bytes:
    """The letterhead DOCX with ``megabytes`` of filler in an XML comment of
    word/document.xml: zeros inflate about 1000-fold, hex digits about 2-fold."""
    import random

    size = megabytes * 1024 * 1024
    filler = b"0" * size if compressible else random.Random(7).randbytes(size // 2).hex().encode()
    source = zipfile.ZipFile(io.BytesIO(docx_with_letterhead()))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "word/document.xml":
                declaration, rest = data.split(b"?>", 1)
                data = declaration + b"?><!--" + filler + b"-->" + rest
            target.writestr(item.filename, data)
    return buffer.getvalue()


def rtf_bytes() -> bytes:
    return (rb"{\rtf1\ansi\deff0 {\fonttbl {\f0 Times;}}\f0 "
            rb"ASSESSMENT: Iron deficiency anaemia.\par PLAN: Ferrous sulfate 200 mg daily.\par}")


def write_good_corpus(folder: Path) -> dict[str, Path]:
    """Every supported format, one file each, in ``folder`` (a sub-folder too)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sub").mkdir(exist_ok=True)
    files = {
        "one-column.pdf": text_pdf(ONE_COLUMN),
        "two-column.pdf": two_column_pdf(),
        "mixed.pdf": mixed_pdf(),
        "scanned.pdf": scanned_pdf(),
        "scan.png": image_bytes(render_scan(SCAN_TEXT, seed="png")),
        "scan.jpg": image_bytes(render_scan(SCAN_TEXT, seed="jpg").convert("RGB"), "JPEG"),
        "sub/two-pages.tiff": multipage_tiff(),
        "letter.docx": docx_with_letterhead(),
        "utf8.txt": "Café visit: naïve patient, 37.5 °C.\n".encode(),
        "utf16.txt": "Temperatur 38,2 °C – Bronchitis.\n".encode("utf-16"),
        "cp1252.txt": "Diagnose: Gastro-entérite aiguë, fièvre à 38,5 °C, patient très fatigué; "
                      "réhydratation orale conseillée.\n".encode("cp1252"),
        "sub/note.rtf": rtf_bytes(),
    }
    paths = {}
    for name, data in files.items():
        path = folder / name
        path.write_bytes(data)
        paths[name] = path
    return paths


def zip_of(paths: list[Path], root: Path, target: Path) -> Path:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in paths:
            archive.write(path, str(path.relative_to(root)))
    return target


def cer(reference: str, hypothesis: str) -> float:
    """Character error rate: edit distance / reference length, whitespace normalised."""
    ref, hyp = " ".join(reference.split()), " ".join(hypothesis.split())
    previous = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        current = [i]
        for j, h in enumerate(hyp, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h)))
        previous = current
    return previous[-1] / max(len(ref), 1)
