"""Ingest: report files -> Document records (text per page, how each page was read).

Formats: PDF with a text layer (pdfminer.six, reading order kept on two-column pages),
scanned or mixed PDF (pages with almost no text layer are rendered at 300 dpi by
pypdfium2 and read by Tesseract), images (PNG, JPEG, multi-page TIFF), DOCX (body
paragraphs and tables in order, plus headers and footers), TXT in any common encoding,
RTF; folders (recursive) and zip archives of all of these.

``read_document`` turns one file's bytes into a Document or raises ``IngestError`` with
a one-line reason that names the problem, never the file's content. ``iter_sources``
expands folders and zips safely (size caps, zip-bomb and path-traversal guards).
PDFs are read in stages/ingest/pdf.py; stages/ingest/worker.py runs ``read_document`` in a child
process with a memory and time limit. Storing documents is pipeline.py's job; this
module knows nothing of the workspace.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from medllm_local.stages.ingest.base import (MAX_OCR_PIXELS, IngestError, IngestSettings, MiB,
                                      run_ocr)
from medllm_local.stages.ingest.pdf import read_pdf
from medllm_local.stages.ingest.ocr import OcrEngine
from medllm_local.core.records import Document, Page

__all__ = ["Document", "IngestError", "IngestResult", "IngestSettings", "OcrEngine", "Page",
           "SourceFile", "count_sources", "decode_text", "flagged_pages", "iter_sources",
           "read_document", "sniff_kind"]

TEXT_SUFFIXES = {".txt", ".text", ".md", ".csv", ".tsv", ".log", ""}
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp"}
LATIN_LOOKALIKES = ("cp1250", "cp1252", "cp1257", "iso8859", "latin", "mac_", "cp775", "cp85",
                    "hp_roman")
OLD_FORMATS = {".doc": "old Word format: save it as DOCX", ".odt": "save it as DOCX",
               ".xls": "a spreadsheet", ".xlsx": "a spreadsheet", ".ppt": "a presentation",
               ".pages": "save it as DOCX or PDF", ".heic": "convert it to JPEG or PNG"}
# A DOCX part that inflates more than 100-fold is refused (Apache POI's zip bomb rule
# for Office files); parts under 1 MB are too small to matter.
DOCX_MAX_RATIO, DOCX_RATIO_FROM = 100, MiB


@dataclass
class SourceFile:
    """One file to read: its display name (``archive.zip!inner/path.pdf`` inside zips),
    its bytes, or why it could not even be opened."""

    source: str
    data: bytes | None = None
    error: str | None = None

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data or b"").hexdigest()


@dataclass
class IngestResult:
    """What happened to one input file (the CLI contract's per-file object)."""

    source: str
    status: str  # ok / failed / duplicate
    error: str | None = None
    id: int | None = None
    pages: int = 0
    ocr_pages: int = 0
    flagged_pages: list[int] = field(default_factory=list)  # low OCR confidence
    characters: int = 0
    text_file: str | None = None
    warnings: list[str] = field(default_factory=list)


# -- expanding paths, folders and zips -----------------------------------------------
def _folder_files(folder: Path, exclude: tuple[Path, ...]) -> list[Path]:
    excluded = [e.resolve() for e in exclude]
    return sorted(p for p in folder.rglob("*")
                  if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
                  and not any(p.resolve().is_relative_to(e) for e in excluded))


def count_sources(paths: list[str | Path], exclude: tuple[Path, ...] = ()) -> int:
    """How many files ``iter_sources`` will yield, roughly (zip members are counted from
    the archive's directory, nested zips as one): the progress bar's total."""
    total = 0
    for given in paths:
        path = Path(given).expanduser()
        files = _folder_files(path, exclude) if path.is_dir() else [path]
        for file in files:
            if file.suffix.lower() == ".zip":
                try:
                    with zipfile.ZipFile(file) as archive:
                        total += sum(1 for m in archive.infolist() if not m.is_dir())
                    continue
                except (zipfile.BadZipFile, OSError):
                    pass
            total += 1
    return total


def iter_sources(paths: list[str | Path], settings: IngestSettings,
                 exclude: tuple[Path, ...] = ()) -> Iterator[SourceFile]:
    """Every file under ``paths`` (folders recursively, zips expanded), in a stable order,
    leaving out hidden files and anything under ``exclude`` (the workspace's own files).
    A file that cannot be read yields a SourceFile with ``error`` set; the rest go on."""
    for given in paths:
        path = Path(given).expanduser()
        if path.is_dir():
            for file in _folder_files(path, exclude):
                yield from _read_path(file, settings)
        elif path.exists():
            yield from _read_path(path, settings)
        else:
            yield SourceFile(str(given), error="no such file or folder")


def _read_path(path: Path, settings: IngestSettings) -> Iterator[SourceFile]:
    limit = settings.max_file_mb * MiB
    try:
        with path.open("rb") as handle:  # read at most limit + 1: a FIFO or growing file
            data = handle.read(limit + 1)
    except OSError as error:
        yield SourceFile(str(path), error=f"cannot read file: {error.strerror or error}")
        return
    if len(data) > limit:
        size = max(path.stat().st_size, len(data))
        yield SourceFile(str(path), error=f"file is {size / MiB:.0f} MB, over the "
                                          f"{settings.max_file_mb} MB limit")
        return
    if path.suffix.lower() == ".zip" or (data[:4] == b"PK\x03\x04" and path.suffix.lower() not in
                                         (".docx", ".odt", ".xlsx", ".pptx")):
        budget = _ZipBudget(settings.zip_max_total_mb * MiB, settings.zip_max_files)
        yield from _read_zip(str(path), data, settings, budget, depth=0)
    else:
        yield SourceFile(str(path), data)


@dataclass
class _ZipBudget:
    """What one top-level zip may still expand to, nested zips included."""

    bytes_left: int
    files_left: int


def _unsafe_member(name: str) -> bool:
    pure = PurePosixPath(name.replace("\\", "/"))
    drive = len(name) > 1 and name[1] == ":" and name[0].isalpha()  # C:\...
    return pure.is_absolute() or ".." in pure.parts or drive


def _read_zip(name: str, data: bytes, settings: IngestSettings, budget: _ZipBudget,
              depth: int) -> Iterator[SourceFile]:
    """The members of a zip, guarded: total uncompressed size and file count are capped
    across nested zips (zip bombs), and unsafe names are refused (path traversal)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = sorted((m for m in archive.infolist() if not m.is_dir()), key=lambda m: m.filename)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as error:
        yield SourceFile(name, error=f"corrupt zip archive ({error})")
        return
    declared = sum(m.file_size for m in members)
    if len(members) > budget.files_left or declared > budget.bytes_left:
        yield SourceFile(name, error=(
            f"zip refused as a possible zip bomb: {len(members)} files, {declared / MiB:.0f} MB "
            f"uncompressed (limits {settings.zip_max_files} files, {settings.zip_max_total_mb} MB)"))
        return
    for position, member in enumerate(members):
        inner = f"{name}!{member.filename}"
        budget.files_left -= 1
        if _unsafe_member(member.filename):
            yield SourceFile(inner, error="unsafe path inside the zip (path traversal); skipped")
            continue
        pure = PurePosixPath(member.filename.replace("\\", "/"))
        if pure.name.startswith(".") or pure.parts[0] == "__MACOSX":
            continue
        if member.flag_bits & 0x1:
            yield SourceFile(inner, error="password-protected zip entry")
            continue
        limit = min(settings.max_file_mb * MiB, budget.bytes_left)
        try:
            with archive.open(member) as handle:
                content = handle.read(limit + 1)  # never trust the declared size
        except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as error:
            yield SourceFile(inner, error=f"corrupt zip entry ({error})")
            continue
        if len(content) > limit:
            if limit == budget.bytes_left:  # the whole archive's allowance is spent
                for rest in members[position:]:
                    yield SourceFile(f"{name}!{rest.filename}", error=(
                        "not read: the zip expands past its "
                        f"{settings.zip_max_total_mb} MB limit (zip bomb guard)"))
                budget.bytes_left = 0
                return
            yield SourceFile(inner, error=f"zip entry is over the {settings.max_file_mb} MB limit")
            continue
        budget.bytes_left -= len(content)
        if pure.suffix.lower() == ".zip":
            if depth >= 1:
                yield SourceFile(inner, error="zip nested more than two deep; skipped")
            else:
                yield from _read_zip(inner, content, settings, budget, depth + 1)
        else:
            yield SourceFile(inner, content)


# -- one file -> Document ---------------------------------------------------------------
def sniff_kind(name: str, data: bytes) -> str:
    """pdf / docx / image / rtf / txt from the content first, the name second."""
    suffix = Path(name.split("!")[-1]).suffix.lower()
    if data.startswith(b"%PDF") or (suffix == ".pdf" and data[:1024].find(b"%PDF-") >= 0):
        return "pdf"  # some PDFs carry junk before the header; only trust that for .pdf
    if data.startswith(b"PK\x03\x04"):
        if suffix == ".docx" or b"word/" in data[:4096]:
            return "docx"
        raise IngestError(f"unsupported type: a zip-based {suffix or 'file'} that is not DOCX")
    if data.startswith((b"\x89PNG", b"\xff\xd8\xff", b"II*\x00", b"MM\x00*")):
        return "image"
    if data.startswith(b"BM") and suffix == ".bmp":  # "BM" alone also starts "BMI 31..."
        return "image"
    if data.lstrip()[:5] == b"{\\rtf":
        return "rtf"
    if suffix in OLD_FORMATS:
        raise IngestError(f"unsupported type {suffix} ({OLD_FORMATS[suffix]})")
    if suffix in TEXT_SUFFIXES or suffix == ".rtf":
        return "txt"
    if suffix == ".pdf":
        raise IngestError("corrupt PDF: no PDF header")
    raise IngestError(f"unsupported type {suffix or '(no extension)'}")


def read_document(source: SourceFile, settings: IngestSettings, ocr: OcrEngine | None = None) -> Document:
    """Read one file into a Document, or raise IngestError with the reason."""
    data = source.data
    if not data or not data.strip():
        raise IngestError("empty file")
    kind = sniff_kind(source.source, data)
    warnings: list[str] = []
    if kind == "pdf":
        pages = read_pdf(data, settings, ocr, warnings)
    elif kind == "image":
        pages = _read_image(data, settings, ocr)
    elif kind == "docx":
        pages = [Page(1, _read_docx(data, settings))]
    elif kind == "rtf":
        pages = [Page(1, _read_rtf(data))]
    else:
        pages = [Page(1, decode_text(data, warnings))]
    document = Document(source=source.source, sha256=source.sha256, pages=pages, kind=kind,
                        warnings=warnings)
    if not document.text.strip():
        raise IngestError("no text found (blank pages or an image with no readable text)")
    low = flagged_pages(document, settings)
    for page in pages:
        if page.number in low:
            warnings.append(f"page {page.number}: low OCR confidence "
                            f"({page.ocr_confidence or 0:.0f}); review the text")
    return document


def flagged_pages(document: Document, settings: IngestSettings) -> list[int]:
    """Pages read by OCR whose mean word confidence is under the review threshold."""
    return [p.number for p in document.pages if p.method == "ocr"
            and (p.ocr_confidence or 0) < settings.ocr_flag_confidence]


def decode_text(data: bytes, warnings: list[str]) -> str:
    """Plain text in any common encoding: UTF-8 (with or without BOM) and UTF-16 by their
    marks, anything else detected by charset-normalizer."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        raise IngestError("unsupported type: binary data, not text")
    encoding = best.encoding
    # Latin single-byte code pages cannot be told apart on short texts (cp1250 and
    # cp1252 tie on French or German); the Windows Western one is by far the most
    # common in clinical exports, so it wins the tie when it decodes cleanly.
    if encoding.startswith(LATIN_LOOKALIKES) and encoding != "cp1252":
        try:
            text = data.decode("cp1252")
            warnings.append("text decoded as cp1252 (Western single-byte)")
            return text
        except UnicodeDecodeError:
            pass
    warnings.append(f"text decoded as {encoding}")
    return str(best)


def _read_rtf(data: bytes) -> str:
    from striprtf.striprtf import rtf_to_text

    return rtf_to_text(data.decode("latin-1"), errors="ignore")


def check_docx_size(data: bytes, settings: IngestSettings) -> None:
    """Refuse a DOCX that would expand past the zip budget, or one with a part that
    inflates suspiciously far, before python-docx reads every part into memory. The
    declared sizes can be trusted: Python's zipfile never inflates past them."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as error:
        raise IngestError(f"corrupt DOCX ({type(error).__name__})") from None
    declared = sum(m.file_size for m in members)
    if len(members) > settings.zip_max_files or declared > settings.zip_max_total_mb * MiB:
        raise IngestError(
            f"DOCX refused as a possible zip bomb: {len(members)} parts, {declared / MiB:.0f} MB "
            f"uncompressed (limits {settings.zip_max_files} parts, {settings.zip_max_total_mb} MB)")
    for member in members:
        if (member.file_size > DOCX_RATIO_FROM
                and member.file_size > DOCX_MAX_RATIO * max(member.compress_size, 1)):
            ratio = member.file_size / max(member.compress_size, 1)
            raise IngestError(f"DOCX refused as a possible zip bomb: one part expands "
                              f"{ratio:.0f}-fold to {member.file_size / MiB:.0f} MB "
                              f"(limit {DOCX_MAX_RATIO}-fold)")


def _read_docx(data: bytes, settings: IngestSettings) -> str:
    """Headers, body (paragraphs and tables in document order) and footers. Letterheads
    and footers carry identifiers that de-identification must see."""
    import docx
    from docx.table import Table

    check_docx_size(data, settings)
    try:
        document = docx.Document(io.BytesIO(data))
    except MemoryError:
        raise
    except Exception as error:  # python-docx raises several types for broken packages
        raise IngestError(f"corrupt DOCX ({type(error).__name__})") from None

    def blocks(container) -> list[str]:
        lines = []
        for block in container.iter_inner_content():
            if isinstance(block, Table):
                for row in block.rows:
                    cells, seen = [], set()
                    for cell in row.cells:  # merged cells repeat: keep each once
                        if id(cell._tc) not in seen:
                            seen.add(id(cell._tc))
                            cells.append(" ".join(blocks(cell)).strip())
                    lines.append(" | ".join(c for c in cells if c))
            else:
                lines.append(block.text)
        return lines

    def unique_parts(attr: str) -> list[str]:
        parts: list[str] = []
        for index, section in enumerate(document.sections):
            for name in (f"first_page_{attr}", attr, f"even_page_{attr}"):
                part = getattr(section, name)
                if part.is_linked_to_previous and index > 0:  # same as the section before
                    continue
                text = "\n".join(blocks(part)).strip()
                if text and text not in parts:
                    parts.append(text)
        return parts

    body = "\n".join(blocks(document)).strip()
    return "\n\n".join([*unique_parts("header"), body, *unique_parts("footer")]).strip()


def _read_image(data: bytes, settings: IngestSettings, ocr: OcrEngine | None) -> list[Page]:
    """Every frame of an image (multi-page TIFF too), OCR'd a few frames at a time."""
    from PIL import Image, ImageSequence, UnidentifiedImageError

    try:
        image = Image.open(io.BytesIO(data))
        frame_count = getattr(image, "n_frames", 1)
        if frame_count > settings.max_pages:
            raise IngestError(f"image has {frame_count} frames, over the {settings.max_pages}-page limit")
        pages: list[Page] = []
        batch: list = []
        for frame in ImageSequence.Iterator(image):
            if frame.width * frame.height > MAX_OCR_PIXELS * 4:
                raise IngestError(f"image frame of {frame.width}x{frame.height} pixels is too large")
            batch.append(frame.convert("L"))
            if len(batch) == settings.workers:
                pages += _ocr_pages(batch, len(pages), settings, ocr)
                batch = []
        pages += _ocr_pages(batch, len(pages), settings, ocr) if batch else []
    except Image.DecompressionBombError:
        raise IngestError("image too large (possible decompression bomb)") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise IngestError(f"corrupt or unreadable image ({type(error).__name__})") from None
    return pages


def _ocr_pages(images: list, first: int, settings: IngestSettings, ocr: OcrEngine | None) -> list[Page]:
    return [Page(first + i + 1, text, "ocr", confidence)
            for i, (text, confidence) in enumerate(run_ocr(images, settings, ocr))]

