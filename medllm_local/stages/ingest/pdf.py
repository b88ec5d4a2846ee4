"""PDF pages -> text: the text layer through pdfminer.six in reading order (columns
detected per page, left before right), pages with almost no text layer rendered by
pypdfium2 and read by OCR. ``render_page`` is also what shows a page to a person.

pdfminer inflates each stream in one ``zlib.decompress`` call with no size limit and no
hook to add one, so a PDF bomb is bounded by the reader's memory limit (the child
process in stages/ingest/worker.py), not here.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from medllm_local.stages.ingest.base import IngestError, IngestSettings, capped_scale, run_ocr
from medllm_local.stages.ingest.ocr import OcrEngine
from medllm_local.core.records import Page

MIN_COLUMN = 0.2  # a column is at least this share of the page's text width


def read_pdf(data: bytes, settings: IngestSettings, ocr: OcrEngine | None,
             warnings: list[str]) -> list[Page]:
    """Text-layer pages through pdfminer (reading order), the others through OCR."""
    import pypdfium2

    try:
        pdf = pypdfium2.PdfDocument(data)
    except pypdfium2.PdfiumError as error:
        if "password" in str(error).lower():
            raise IngestError("password-protected PDF: remove the password and ingest again") from None
        raise IngestError(f"corrupt or unreadable PDF ({error})") from None
    try:
        if not len(pdf):
            raise IngestError("PDF has no pages")
        if len(pdf) > settings.max_pages:
            raise IngestError(f"PDF has {len(pdf)} pages, over the {settings.max_pages}-page limit")
        needs_ocr = []
        for index in range(len(pdf)):
            text = pdf[index].get_textpage().get_text_range()
            needs_ocr.append(len("".join(text.split())) < settings.ocr_min_chars)
        texts = pdfminer_pages(data) if not all(needs_ocr) else [("", 0)] * len(pdf)
        for index, (text, unmapped) in enumerate(texts[:len(needs_ocr)]):
            # A text layer whose glyphs do not map to characters (CID fonts without a
            # ToUnicode table) reads as noise: such a page is better read by OCR.
            if unmapped > 0.05 * max(len(text), 1):
                needs_ocr[index] = True
                warnings.append(f"page {index + 1}: text layer unreadable, read by OCR")
        pages = [Page(i + 1, texts[i][0] if i < len(texts) else "", "text")
                 for i in range(len(needs_ocr))]
        to_ocr = [i for i, flag in enumerate(needs_ocr) if flag]
        # Render only as many pages as there are OCR workers at a time: a long scanned
        # chart rendered all at once at 300 dpi would need gigabytes.
        for start in range(0, len(to_ocr), settings.workers):
            chunk = to_ocr[start:start + settings.workers]
            images = [render_page(pdf[i], settings.ocr_dpi) for i in chunk]
            for index, (text, confidence) in zip(chunk, run_ocr(images, settings, ocr)):
                pages[index] = Page(index + 1, text, "ocr", confidence)
    finally:
        pdf.close()
    return pages


def render_page(page, dpi: int):
    """A pypdfium2 page as a greyscale PIL image at ``dpi``, scaled down where it would
    exceed MAX_OCR_PIXELS (an oversized page box must not exhaust memory)."""
    width, height = page.get_size()  # in points (1/72 inch)
    return page.render(scale=capped_scale(width, height, dpi / 72)).to_pil().convert("L")


# -- text layer in reading order ------------------------------------------------------
def pdfminer_pages(data: bytes) -> list[tuple[str, int]]:
    """(text, characters without a text mapping) of each page, text boxes in reading
    order (see ``reading_order``)."""
    from pdfminer.converter import PDFPageAggregator
    from pdfminer.layout import LAParams
    from pdfminer.pdfinterp import PDFPageInterpreter, PDFResourceManager
    from pdfminer.pdfpage import PDFPage

    class Aggregator(PDFPageAggregator):
        unmapped = 0

        def handle_undefined_char(self, font, cid: int) -> str:
            # Simple fonts with no usable encoding are almost always WinAnsi, where the
            # unused codes (0x7F, 0x81, ...) all draw a bullet (PDF reference, annex D).
            if not font.is_multibyte() and cid < 256:
                char = bytes([cid]).decode("cp1252", errors="replace")
                return "•" if char in ("\x7f", "\ufffd") else char
            self.unmapped += 1
            return "\ufffd"

        def paint_path(self, *args) -> None:  # drawings are not text: keep them out of memory
            pass

        def render_image(self, *args) -> None:
            pass

    manager = PDFResourceManager()
    # boxes_flow=None skips pdfminer's own box ordering, which put the right column
    # first on some layouts; reading_order does it instead.
    device = Aggregator(manager, laparams=LAParams(boxes_flow=None))
    interpreter = PDFPageInterpreter(manager, device)
    pages = []
    try:
        for page in PDFPage.get_pages(io.BytesIO(data)):
            device.unmapped = 0
            interpreter.process_page(page)
            boxes = [box for box in map(_box, device.get_result()) if box.text.strip()]
            text = "".join(box.text for box in reading_order(boxes))
            pages.append((text.strip(), device.unmapped))
    except Exception as error:  # pdfminer raises many types on broken files
        if isinstance(error, MemoryError):
            raise
        if "password" in type(error).__name__.lower() or "encrypt" in type(error).__name__.lower():
            raise IngestError("password-protected PDF: remove the password and ingest again") from None
        raise IngestError(f"corrupt PDF ({type(error).__name__})") from None
    return pages


@dataclass
class Box:
    """A block of text on a page (points, origin bottom left)."""

    x0: float
    y0: float
    x1: float
    y1: float
    text: str
    line_bottom: float = 0.0  # the bottom of its first line


def _box(item) -> Box:
    from pdfminer.layout import LTTextBox

    first = next(iter(item), item) if isinstance(item, LTTextBox) else item
    return Box(item.x0, item.y0, item.x1, item.y1, _text_of(item), first.y0)


def _text_of(item) -> str:
    """The text of a layout item as pdfminer's TextConverter writes it: a text box ends
    with a blank line; loose characters (in figures) are written as they come."""
    from pdfminer.layout import LTContainer, LTText, LTTextBox

    if isinstance(item, LTTextBox):
        return item.get_text() + "\n"
    if isinstance(item, LTText):
        return item.get_text()
    if isinstance(item, LTContainer):
        return "".join(_text_of(child) for child in item)
    return ""


def reading_order(boxes: list[Box]) -> list[Box]:
    """Top to bottom; where boxes stand in two columns, the left column before the right
    one, band by band between boxes that span both (a header above the columns, a
    full-width paragraph or footer below them). Each column is ordered the same way, so
    three columns read left to right too."""
    boxes = sorted(boxes, key=lambda box: (-box.y1, box.x0))
    gutter = _gutter(boxes)
    if gutter is None:
        return _rows(boxes)
    ordered: list[Box] = []
    left: list[Box] = []
    right: list[Box] = []
    for box in boxes:
        if box.x1 <= gutter:
            left.append(box)
        elif box.x0 >= gutter:
            right.append(box)
        else:  # spans the gutter: what came before it is read first
            ordered += reading_order(left) + reading_order(right) + [box]
            left, right = [], []
    return ordered + reading_order(left) + reading_order(right)


def _rows(boxes: list[Box]) -> list[Box]:
    """Boxes sorted top down, where a box that starts beside the first line of the one
    above it is read with it, left to right (a bullet beside its paragraph)."""
    rows: list[list[Box]] = []
    for box in boxes:
        if rows and box.y1 > rows[-1][0].line_bottom:
            rows[-1].append(box)
        else:
            rows.append([box])
    return [box for row in rows for box in sorted(row, key=lambda box: box.x0)]


def _gutter(boxes: list[Box]) -> float | None:
    """The x position between two columns, or None on a one-column page. A candidate is
    the left edge of a box; it is a gutter when boxes on its two sides stand side by side
    and each side is at least MIN_COLUMN of the text width wide (so a label beside its
    value is no column). The candidate with the most boxes wholly on a side wins."""
    if len(boxes) < 2:
        return None
    start, end = min(box.x0 for box in boxes), max(box.x1 for box in boxes)
    least = MIN_COLUMN * (end - start)
    best, best_count = None, 0
    for gutter in sorted({box.x0 for box in boxes}):
        left = [box for box in boxes if box.x1 <= gutter]
        right = [box for box in boxes if box.x0 >= gutter]
        if (len(left) + len(right) <= best_count or not left or not right
                or max(box.x1 for box in left) - start < least
                or max(box.x1 for box in right) - gutter < least):
            continue
        if any(a.y0 < b.y1 and b.y0 < a.y1 for a in left for b in right):
            best, best_count = gutter, len(left) + len(right)
    return best
