"""What every ingest module shares: the settings, the one-line error, and the limits
that keep an oversized or hostile file from exhausting memory."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

from medllm_local.core.settings import Settings, setting

from medllm_local.stages.ingest.ocr import OcrEngine, OcrFailed, OcrUnavailable, ocr_images

MiB = 1024 * 1024
MAX_OCR_PIXELS = 40_000_000  # an A4 page at 300 dpi is 8.7 million; A3 at 400 dpi ~31


class IngestError(Exception):
    """One file that cannot be read, with a one-line reason (no patient text in it)."""


@dataclass
class IngestSettings(Settings):
    """How files are read (the CLI's ingest options)."""

    ocr_min_chars: int = setting(20, "a PDF page with fewer non-space characters in its text layer "
                                     "is OCR'd", minimum=0)
    ocr_dpi: int = setting(300, "rendering resolution for OCR", minimum=72, maximum=1200)
    ocr_flag_confidence: float = setting(75.0, "OCR pages whose mean word confidence (0-100) is "
                                               "below this are flagged", minimum=0, maximum=100)
    ocr_language: str = setting("eng", "Tesseract language(s)")
    ocr_workers: int = setting(0, "parallel single-threaded tesseract processes (auto or 0: one per core)",
                               minimum=0, auto=0)
    ocr_timeout_s: int = setting(180, "longest one page may take in Tesseract before it is given up",
                                 minimum=1)
    max_file_mb: int = setting(200, "larger files are refused", minimum=1)
    max_pages: int = setting(2000, "documents with more pages (or TIFF frames) are refused", minimum=1)
    zip_max_total_mb: int = setting(2048, "most uncompressed bytes one zip (or one DOCX) may expand to",
                                    minimum=1)
    zip_max_files: int = setting(5000, "most files in one zip", minimum=1)
    read_memory_mb: int = setting(4096, "most memory reading one file may take beyond the file itself; "
                                        "a file that needs more fails alone (each file is read in a "
                                        "child process)", minimum=16)
    read_timeout_s: int = setting(3600, "longest reading one file (OCR included) may take before it "
                                        "is given up", minimum=1)

    @property
    def workers(self) -> int:
        return self.ocr_workers or os.cpu_count() or 1


def capped_scale(width: float, height: float, scale: float, max_pixels: int = MAX_OCR_PIXELS) -> float:
    """``scale`` lowered so that a width x height box rendered at it stays under
    ``max_pixels``: an oversized page box must not allocate gigabytes."""
    scale = min(scale, (max_pixels / max(width * height, 1e-9)) ** 0.5)
    while math.ceil(width * scale) * math.ceil(height * scale) > max_pixels:  # renderers round up
        scale *= 0.999
    return scale


def run_ocr(images: list, settings: IngestSettings, ocr: OcrEngine | None) -> list[tuple[str, float]]:
    """(text, confidence) per image, with OCR problems as the file's IngestError."""
    try:
        return ocr_images(images, settings, ocr)
    except (OcrUnavailable, OcrFailed) as error:
        raise IngestError(str(error)) from None
