"""What every ingest module shares: the settings, the one-line error, and the limits
that keep an oversized or hostile file from exhausting memory."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

from medllm_local.stages.ingest.ocr import OcrEngine, OcrFailed, OcrUnavailable, ocr_images

MiB = 1024 * 1024
MAX_OCR_PIXELS = 40_000_000  # an A4 page at 300 dpi is 8.7 million; A3 at 400 dpi ~31


class IngestError(Exception):
    """One file that cannot be read, with a one-line reason (no patient text in it)."""


@dataclass
class IngestSettings:
    """How files are read. The CLI's ingest options and the UI's form come from these."""

    ocr_min_chars: int = field(default=20, metadata={
        "help": "a PDF page with fewer non-space characters in its text layer is OCR'd"})
    ocr_dpi: int = field(default=300, metadata={"help": "rendering resolution for OCR"})
    ocr_flag_confidence: float = field(default=75.0, metadata={
        "help": "OCR pages whose mean word confidence (0-100) is below this are flagged"})
    ocr_language: str = field(default="eng", metadata={"help": "Tesseract language(s)"})
    ocr_workers: int = field(default=0, metadata={
        "help": "parallel single-threaded tesseract processes (0: one per core)"})
    ocr_timeout_s: int = field(default=180, metadata={
        "help": "longest one page may take in Tesseract before it is given up"})
    max_file_mb: int = field(default=200, metadata={"help": "larger files are refused"})
    max_pages: int = field(default=2000, metadata={
        "help": "documents with more pages (or TIFF frames) are refused"})
    zip_max_total_mb: int = field(default=2048, metadata={
        "help": "most uncompressed bytes one zip (or one DOCX) may expand to"})
    zip_max_files: int = field(default=5000, metadata={"help": "most files in one zip"})
    read_memory_mb: int = field(default=4096, metadata={
        "help": "most memory reading one file may take beyond the file itself; a file that "
                "needs more fails alone (each file is read in a child process)"})
    read_timeout_s: int = field(default=3600, metadata={
        "help": "longest reading one file (OCR included) may take before it is given up"})

    def __post_init__(self) -> None:
        if self.ocr_dpi < 72 or self.ocr_dpi > 1200:
            raise ValueError("ocr_dpi must be between 72 and 1200")
        if not 0 <= self.ocr_flag_confidence <= 100:
            raise ValueError("ocr_flag_confidence must be between 0 and 100")
        if self.ocr_workers < 0 or self.max_file_mb < 1 or self.max_pages < 1:
            raise ValueError("ocr_workers must be >= 0, max_file_mb and max_pages >= 1")
        if self.read_memory_mb < 16 or self.read_timeout_s < 1:
            raise ValueError("read_memory_mb must be >= 16 and read_timeout_s >= 1")

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
