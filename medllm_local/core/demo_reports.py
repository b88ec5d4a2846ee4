"""Clearly fictitious demo reports, written by the project in every format a practice has
(plain text, a PDF with a text layer, a DOCX with a letterhead and a table, and a scanned
page with no text layer), so a new user can click through the whole pipeline.

Every person, number and place below is invented. The identifiers are there on purpose:
de-identification has something real to find and replace.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from medllm_local.core.files import atomic_write

DEMO_BANNER = "FICTITIOUS DEMO REPORT - NOT A REAL PATIENT"
DEMO_CLINIC = "Lakeside Demo Clinic, 12 Example Road, Springfield 99999"


@dataclass(frozen=True)
class DemoReport:
    """One invented case: the report text and the diagnosis it leads to."""

    slug: str
    format: str  # txt / pdf / docx / scan
    patient: str
    text: str
    diagnosis: str


DEMO_REPORTS: list[DemoReport] = [
    DemoReport(
        "pneumonia", "txt", "Alex Example",
        """Patient: Alex Example    DOB: 03/14/1961    MRN: 4471-0923
Date of visit: 09/02/2026    Physician: Dr. Jordan Sample

CHIEF COMPLAINT: Fever and productive cough for four days.

HISTORY OF PRESENT ILLNESS: 65-year-old man with four days of fever to 39.2 C, cough
with rusty sputum, right-sided pleuritic chest pain and shortness of breath on exertion.
No recent travel or hospital stay. Non-smoker.

PAST HISTORY: Hypertension. Type 2 diabetes on metformin.

EXAMINATION: Temperature 38.9 C, heart rate 104, respiratory rate 24, SpO2 92% on room
air, blood pressure 128/76. Bronchial breathing and crackles at the right base.

RESULTS: WBC 15.8 x10^9/L with neutrophilia, CRP 182 mg/L, urea 6.1 mmol/L. Chest X-ray:
right lower lobe consolidation. CURB-65 score 1.

ASSESSMENT: Community-acquired pneumonia, right lower lobe.
DIFFERENTIAL: 1. Community-acquired pneumonia 2. Pulmonary embolism 3. Lung abscess

PLAN: Amoxicillin 1 g three times daily for 5 days, paracetamol, fluids. Review in
48 hours or sooner if worse; repeat chest X-ray in 6 weeks.
Call the clinic on (555) 010-4477 with questions.""",
        "Community-acquired pneumonia",
    ),
    DemoReport(
        "appendicitis", "pdf", "Casey Placeholder",
        """Patient: Casey Placeholder    DOB: 07/22/2004    MRN: 5520-1187
Date of visit: 10/11/2026    Physician: Dr. Morgan Testcase

CHIEF COMPLAINT: Abdominal pain for 18 hours.

HISTORY OF PRESENT ILLNESS: 22-year-old woman with periumbilical pain that moved to the
right lower quadrant overnight, with anorexia, nausea and one episode of vomiting.
Last menstrual period two weeks ago. No urinary symptoms.

EXAMINATION: Temperature 38.1 C, heart rate 98. Tenderness and guarding at McBurney's
point, positive Rovsing sign, rebound tenderness in the right iliac fossa.

RESULTS: WBC 13.2 x10^9/L, CRP 48 mg/L, urine pregnancy test negative, urinalysis normal.
Ultrasound: non-compressible appendix, 9 mm, with periappendiceal fluid.

ASSESSMENT: Acute appendicitis.
DIFFERENTIAL: 1. Acute appendicitis 2. Ovarian torsion 3. Mesenteric adenitis

PLAN: Nil by mouth, IV fluids, IV cefuroxime and metronidazole, surgical referral for
laparoscopic appendicectomy today.""",
        "Acute appendicitis",
    ),
    DemoReport(
        "dvt", "docx", "Robin Sample-Doe",
        """Patient: Robin Sample-Doe    DOB: 11/30/1978    MRN: 6612-3345
Date of visit: 08/19/2026    Physician: Dr. Jordan Sample

CHIEF COMPLAINT: Painful swollen left calf for three days.

HISTORY OF PRESENT ILLNESS: 47-year-old woman, ten days after a long-haul flight, with a
painful, swollen left calf. On the combined oral contraceptive pill. No chest pain or
breathlessness.

EXAMINATION: Left calf circumference 4 cm greater than the right, pitting oedema,
tenderness along the deep veins. Wells score 3.

RESULTS: D-dimer 1.9 mg/L FEU. Compression ultrasound: non-compressible left popliteal
vein with thrombus.

ASSESSMENT: Deep vein thrombosis of the left popliteal vein.
DIFFERENTIAL: 1. Deep vein thrombosis 2. Ruptured Baker's cyst 3. Cellulitis

PLAN: Apixaban 10 mg twice daily for 7 days then 5 mg twice daily for 3 months. Stop the
combined pill; discuss alternative contraception. Return at once if breathless.""",
        "Deep vein thrombosis",
    ),
    DemoReport(
        "migraine", "scan", "Sam Fictional",
        """Patient: Sam Fictional    DOB: 05/02/1990    MRN: 7734-0051
Date of visit: 06/03/2026    Physician: Dr. Morgan Testcase

CHIEF COMPLAINT: Recurrent headaches.

HISTORY: 36-year-old man with one-sided throbbing headaches
twice a month for a year, lasting a day, with nausea and
dislike of light and noise, preceded by zigzag lights.
Normal neurological examination. Blood pressure 118/72.

ASSESSMENT: Migraine with aura.
DIFFERENTIAL: 1. Migraine with aura 2. Tension-type
headache 3. Cluster headache

PLAN: Headache diary, ibuprofen or sumatriptan at onset,
avoid combined hormonal treatments. Review in 3 months.""",
        "Migraine with aura",
    ),
    DemoReport(
        "diabetes", "txt", "Jamie Imaginary",
        """Patient: Jamie Imaginary    DOB: 01/09/1972    MRN: 8845-2260
Date of visit: 07/28/2026    Physician: Dr. Jordan Sample
Email: jamie.imaginary@example.org

CHIEF COMPLAINT: Thirst and passing a lot of urine for two months.

HISTORY OF PRESENT ILLNESS: 54-year-old man with polyuria, polydipsia, tiredness and
4 kg weight loss over two months. Father has type 2 diabetes. BMI 31.

EXAMINATION: Alert, not dehydrated. No ketones on breath. Feet: normal sensation.

RESULTS: Fasting plasma glucose 11.4 mmol/L, HbA1c 71 mmol/mol (8.7%), urine ketones
negative, eGFR 88, total cholesterol 5.9 mmol/L.

ASSESSMENT: Type 2 diabetes mellitus, newly diagnosed.
DIFFERENTIAL: 1. Type 2 diabetes mellitus 2. Latent autoimmune diabetes in adults
3. Diabetes insipidus

PLAN: Metformin 500 mg once daily, increasing over four weeks; structured education;
statin; retinal screening; review HbA1c in 3 months.""",
        "Type 2 diabetes mellitus",
    ),
]


def _full_text(report: DemoReport) -> str:
    return f"{DEMO_BANNER}\n{DEMO_CLINIC}\n\n{report.text}\n"


def _pdf_bytes(report: DemoReport) -> bytes:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    page = canvas.Canvas(buffer, pagesize=A4, invariant=1)  # invariant: same bytes each time
    page.setTitle(f"Demo report {report.slug}")
    y = A4[1] - 56
    for line in _full_text(report).splitlines():
        page.setFont("Helvetica-Bold" if line.isupper() or line == DEMO_BANNER else "Helvetica", 10)
        page.drawString(56, y, line)
        y -= 14
    page.save()
    return buffer.getvalue()


def _docx_bytes(report: DemoReport) -> bytes:
    import docx

    document = docx.Document()
    header = document.sections[0].header.paragraphs[0]
    header.text = f"{DEMO_CLINIC}  |  Tel (555) 010-2000"  # letterheads carry identifiers
    document.sections[0].footer.paragraphs[0].text = DEMO_BANNER
    lines = report.text.splitlines()
    table = document.add_table(rows=2, cols=2)  # the identity block as a table, as many EHRs print it
    for row, line in zip(table.rows, lines[:2]):
        left, _, right = line.partition("    ")
        row.cells[0].text, row.cells[1].text = left.strip(), right.strip()
    for line in lines[2:]:
        document.add_paragraph(line)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def render_scan(text: str, seed: str = "scan", rotate_degrees: float = 0.6):
    """``text`` printed and scanned: a 300 dpi A4 greyscale image, slightly rotated,
    with paper noise and a little blur, and no text layer."""
    import random

    from PIL import Image, ImageDraw, ImageFilter, ImageFont

    width, height = 2480, 3508  # A4 at 300 dpi
    image = Image.new("L", (width, height), 250)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=40)
    y = 200
    for line in text.splitlines():
        draw.text((180, y), line, fill=20, font=font)
        y += 58
    rng = random.Random(seed)
    for _ in range(4000):  # specks of dust
        draw.point((rng.randrange(width), rng.randrange(height)), fill=rng.randrange(120, 200))
    image = image.rotate(rotate_degrees, fillcolor=250, resample=Image.BICUBIC)
    return image.filter(ImageFilter.GaussianBlur(0.6))


def write_demo_reports(folder: Path) -> list[Path]:
    """Write the demo reports into ``folder`` (atomically, one file each) and return
    their paths. The scanned report is written both as a PNG and as an image-only PDF."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    written: list[Path] = []
    for report in DEMO_REPORTS:
        stem = folder / f"demo-{report.slug}"
        if report.format == "txt":
            written.append(atomic_write(stem.with_suffix(".txt"), _full_text(report)))
        elif report.format == "pdf":
            written.append(atomic_write(stem.with_suffix(".pdf"), _pdf_bytes(report)))
        elif report.format == "docx":
            written.append(atomic_write(stem.with_suffix(".docx"), _docx_bytes(report)))
        elif report.format == "scan":
            page = render_scan(_full_text(report), seed=report.slug)
            png, pdf = io.BytesIO(), io.BytesIO()
            page.save(png, format="PNG", dpi=(300, 300))
            page.save(pdf, format="PDF", resolution=300.0)
            written.append(atomic_write(stem.with_name(stem.name + "-scan.png"), png.getvalue()))
            written.append(atomic_write(stem.with_name(stem.name + "-scan.pdf"), pdf.getvalue()))
    return written
