"""Ingest throughput, measured side by side in one run:
- text-layer PDF pages per second (pdfminer, reading order);
- OCR pages per second with one tesseract process, then with one per core,
  and the speed-up of the parallel OCR over the single process.

    .venv/bin/python bench/ingest.py [--text-pages 60] [--ocr-pages 8]

Inputs are made here (reportlab text pages, rendered 300 dpi scans); nothing is read
from the network or from patient data.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import medllm_local  # noqa: E402,F401  (offline guard first)
from ingest_fixtures import SCAN_TEXT, ONE_COLUMN, scanned_pdf, text_pdf  # noqa: E402
from medllm_local.stages.ingest.read import IngestSettings, SourceFile, read_document  # noqa: E402
from medllm_local.stages.ingest.ocr import OcrEngine  # noqa: E402


def timed(function) -> tuple[float, object]:
    started = time.perf_counter()
    result = function()
    return time.perf_counter() - started, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--text-pages", type=int, default=60)
    parser.add_argument("--ocr-pages", type=int, default=8)
    args = parser.parse_args()

    # A text PDF of N pages: the one-column report repeated, ~50 lines a page.
    lines = (ONE_COLUMN * 10) * args.text_pages
    pdf = SourceFile("bench.pdf", text_pdf(lines))
    seconds, document = timed(lambda: read_document(pdf, IngestSettings()))
    text_pages = len(document.pages)
    text_rate = text_pages / seconds

    # The same scanned pages read by 1 worker, then by one worker per core.
    import pypdfium2

    scan = pypdfium2.PdfDocument(scanned_pdf(SCAN_TEXT))
    image = scan[0].render(scale=300 / 72).to_pil().convert("L")
    scan.close()
    images = [image] * args.ocr_pages
    results = {}
    for workers in (1, os.cpu_count() or 1):
        engine = OcrEngine(IngestSettings(ocr_workers=workers))
        engine.read_page(image)  # warm-up: first tesseract start reads its model files
        seconds, pages = timed(lambda: engine.read_pages(images))
        engine.close()
        results[workers] = {"seconds": round(seconds, 2), "pages_per_second": round(len(pages) / seconds, 3)}
    cores = os.cpu_count() or 1
    report = {
        "cpu_count": cores,
        "text_pdf": {"pages": text_pages, "pages_per_second": round(text_rate, 1)},
        "ocr_one_process": results[1],
        "ocr_parallel": {"workers": cores, **results[cores]},
        "ocr_parallel_speedup": round(results[1]["seconds"] / results[cores]["seconds"], 2),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
