"""OCR: page images -> (text, mean word confidence) through Tesseract (pytesseract).

Used by ingest for scanned PDF pages and images. Tesseract runs as one single-threaded
process per worker (``OMP_THREAD_LIMIT=1``), several at once: threads here only wait on
those processes, so a thread pool gives real parallelism.

Page images and Tesseract's output hold patient data: each engine keeps them in its own
owner-only folder (inside the workspace's temporary folder when there is one, else the
system's) and removes it when closed. pytesseract's own helpers would write them, world-
readable, straight into the temporary folder.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from medllm_local.stages.ingest.read import IngestSettings


def ocr_available() -> bool:
    """Whether Tesseract is installed (scans and images can be read)."""
    return shutil.which("tesseract") is not None


class OcrUnavailable(Exception):
    """Tesseract or its language pack is not installed: say exactly what to install."""


class OcrFailed(Exception):
    """Tesseract could not read a page (timed out or crashed)."""


class OcrEngine:
    """Tesseract through pytesseract, one single-threaded process per worker: two
    threads per process under load were 6x slower than one process per core."""

    def __init__(self, settings: IngestSettings):
        self.settings = settings
        self.pool = ThreadPoolExecutor(max_workers=settings.workers)  # each runs a subprocess
        self.checked = False
        self.folder = Path(tempfile.mkdtemp(prefix="ocr-"))  # mode 0700

    def check(self) -> None:
        """Tesseract and every language asked for are installed (checked once)."""
        if self.checked:
            return
        if not ocr_available():
            raise OcrUnavailable(
                "needs OCR, but Tesseract is not installed: "
                "sudo apt-get install tesseract-ocr tesseract-ocr-eng")
        import pytesseract

        installed = set(pytesseract.get_languages(config=""))
        missing = [lang for lang in self.settings.ocr_language.split("+") if lang not in installed]
        if missing:
            packages = " ".join(f"tesseract-ocr-{lang}" for lang in missing)
            raise OcrUnavailable(f"needs OCR in {'+'.join(missing)}, but that Tesseract language "
                                 f"pack is not installed: sudo apt-get install {packages}")
        self.checked = True

    def read_page(self, image) -> tuple[str, float]:
        """(text, mean word confidence 0-100) of one page image."""
        from pytesseract import pytesseract  # the module: its helpers are not re-exported

        os.environ["OMP_THREAD_LIMIT"] = "1"  # inherited by each tesseract process
        fd, name = tempfile.mkstemp(suffix=".png", dir=self.folder)
        base = name[:-len(".png")]
        try:
            with os.fdopen(fd, "wb") as handle:
                image.save(handle, format="PNG")
            # what pytesseract.image_to_data runs, with files in our own folder
            pytesseract.run_tesseract(name, base, "tsv", self.settings.ocr_language,
                                      config="-c tessedit_create_tsv=1",
                                      timeout=self.settings.ocr_timeout_s)
            tsv = Path(f"{base}.tsv").read_text(encoding="utf-8", errors="replace")
        except RuntimeError as error:  # pytesseract's way of saying it killed a slow page
            raise OcrFailed(f"OCR gave up on a page after {self.settings.ocr_timeout_s} s") from error
        except pytesseract.TesseractError as error:
            raise OcrFailed(f"Tesseract failed on a page (status {error.status})") from None
        finally:
            for leftover in (name, f"{base}.tsv"):
                Path(leftover).unlink(missing_ok=True)
        data = pytesseract.file_to_dict(tsv, "\t", -1)
        if "text" not in data:  # no TSV rows at all: an empty page
            return "", 0.0
        lines: dict[tuple[int, int, int], list[str]] = {}
        confidences = []
        for i, word in enumerate(data["text"]):
            if not word.strip():
                continue
            key = (data["block_num"][i], data["par_num"][i], data["line_num"][i])
            lines.setdefault(key, []).append(word)
            if float(data["conf"][i]) >= 0:
                confidences.append(float(data["conf"][i]))
        text, previous = [], None
        for key in sorted(lines):
            if previous is not None and key[:2] != previous[:2]:
                text.append("")  # a blank line between blocks and paragraphs
            text.append(" ".join(lines[key]))
            previous = key
        mean = sum(confidences) / len(confidences) if confidences else 0.0
        return "\n".join(text).strip(), round(mean, 1)

    def read_pages(self, images: list) -> list[tuple[str, float]]:
        return list(self.pool.map(self.read_page, images))

    def close(self) -> None:
        self.pool.shutdown(wait=True)
        shutil.rmtree(self.folder, ignore_errors=True)


def ocr_images(images: list, settings: IngestSettings, ocr: OcrEngine | None) -> list[tuple[str, float]]:
    """OCR with the given engine, or with a short-lived one."""
    engine = ocr or OcrEngine(settings)
    try:
        engine.check()
        return engine.read_pages(images)
    finally:
        if ocr is None:
            engine.close()

