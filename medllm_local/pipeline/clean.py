"""Cleaning against the workspace: clean the approved de-identified documents, keep every
change in the catalogue, revert changes, and the manual transcription of pages that OCR
read poorly.

Cleaning reads only de-identified text (``deid/``) and writes ``clean/``; what the
dataset uses is ``training_text``: the cleaned text while it was made from the current
de-identified text, else the de-identified text itself.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medllm_local.stages import clean
from medllm_local.core.abbreviations import merged_abbreviations, parse_words
from medllm_local.stages.ingest.read import IngestSettings
from medllm_local.pipeline.common import SURROGATE_MAP, GateError, ProgressCallback
from medllm_local.core.records import Record, to_json
from medllm_local.stages.deid.surrogates import SurrogateMap
from medllm_local.workspace.store import Workspace, atomic_write, sha256_bytes

@dataclass
class CleanedDocument:
    """One document's cleaning: the changes per step (reverted ones too, marked) and how
    many of each still apply."""

    id: int
    source: str
    changes: dict[str, int]  # step -> changes that apply (reverted ones left out)
    steps: dict[str, list[clean.Change]]
    clean_file: str


@dataclass
class CleaningTotals:
    documents: int
    words: int
    changes: dict[str, int]
    per_1000_words: dict[str, float]
    seconds: float


@dataclass
class CleanReport(Record):
    documents: list[CleanedDocument]
    totals: CleaningTotals
    settings: clean.CleanSettings
    transcription_queue: list[dict]  # pages OCR read poorly, without their text


@dataclass
class DocumentCleaning(CleanedDocument, Record):
    """One document as a person reviews its cleaning."""

    deid_text: str = ""
    text: str = ""  # what the dataset uses
    stale: bool = False  # de-identified again since it was cleaned


@dataclass
class RevertReport(Record):
    documents: list[CleanedDocument]
    changed: int
    restore: bool  # the changes were applied again, not reverted

    def to_json(self) -> dict[str, Any]:  # the CLI's JSON names what was done
        return {"documents": to_json(self.documents), "restored" if self.restore else "reverted": self.changed}


# The user's own additions, in the workspace folder (same form as medllm_local/data).
USER_ABBREVIATIONS = "abbreviations.tsv"
USER_WORDS = "medical-words.txt"


def clean_file_for(sha256: str) -> str:
    """Where a document's cleaned text lives, relative to the workspace root."""
    return f"clean/{sha256}.txt"


def user_dictionary(workspace: Workspace) -> list:
    path = workspace.root / USER_ABBREVIATIONS
    return merged_abbreviations(path.read_text(encoding="utf-8") if path.exists() else None)


def user_words(workspace: Workspace) -> set[str]:
    path = workspace.root / USER_WORDS
    return parse_words(path.read_text(encoding="utf-8")) if path.exists() else set()


def _deid_text(workspace: Workspace, row) -> str:
    with open(workspace.root / row["deid_file"], encoding="utf-8", newline="") as handle:
        return handle.read()  # newline="": change offsets count "\r\n" as two characters


def _text_hash(text: str) -> str:
    return sha256_bytes(text.encode("utf-8"))


def training_text(workspace: Workspace, row) -> str:
    """The text later stages use for a document: its cleaned text when that was made
    from the current de-identified text, else the de-identified text."""
    text = _deid_text(workspace, row)
    if row["clean_file"] and row["clean_source"] == _text_hash(text):
        return (workspace.root / row["clean_file"]).read_text(encoding="utf-8")
    return text


def deid_text_hash(workspace: Workspace, row) -> str:
    """What a document's de-identified text is now (a hash): a build records it, so pairs
    made from an older text are known as such."""
    return _text_hash(_deid_text(workspace, row))


def _cleaned_text(workspace: Workspace, row) -> str:
    with open(workspace.root / row["clean_file"], encoding="utf-8", newline="") as handle:
        return handle.read()  # as written: "\r\n" stays, as in _deid_text


def cleaning_overview(workspace: Workspace) -> list[dict]:
    """Every cleaned document: its changes in force per step, and whether cleaning
    changed its text (``cleaned``) or its de-identified text is newer (``stale``)."""
    counts: dict[int, dict[str, int]] = {}
    for item in workspace.query("SELECT document_id, step, COUNT(*) AS n FROM clean_changes"
                                " WHERE reverted = 0 GROUP BY document_id, step"):
        counts.setdefault(item["document_id"], {})[item["step"]] = item["n"]
    overview = []
    for row in workspace.document_rows():
        if not row["clean_file"]:
            continue
        deid_text = _deid_text(workspace, row)
        stale = row["clean_source"] != _text_hash(deid_text)
        overview.append({"id": row["id"], "source": Path(row["source"]).name,
                         "changes": {step: counts.get(row["id"], {}).get(step, 0) for step in clean.STEPS},
                         "cleaned": not stale and _cleaned_text(workspace, row) != deid_text,
                         "stale": stale})
    return overview


def _change_rows(workspace: Workspace, document_id: int) -> list[clean.Change]:
    return [clean.Change(r["step"], r["start"], r["end"], r["line"], r["before"], r["after"],
                         r["reason"], bool(r["reverted"]), r["id"])
            for r in workspace.query("SELECT * FROM clean_changes WHERE document_id = ?"
                                     " ORDER BY start", (document_id,))]


def _store(workspace: Workspace, row, source_hash: str, text: str,
           changes: list[clean.Change]) -> str:
    """The cleaned text (file first), then its changes and the row that points to it."""
    clean_file = clean_file_for(row["sha256"])
    atomic_write(workspace.root / clean_file, text)
    with workspace.transaction() as conn:
        conn.execute("DELETE FROM clean_changes WHERE document_id = ?", (row["id"],))
        for change in changes:
            change.id = conn.execute(
                "INSERT INTO clean_changes (document_id, step, start, end, line, before, after,"
                " reason, reverted) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (row["id"], change.step, change.start, change.end, change.line, change.before,
                 change.after, change.reason, int(change.reverted))).lastrowid
        conn.execute("UPDATE documents SET clean_file = ?, clean_source = ? WHERE id = ?",
                     (clean_file, source_hash, row["id"]))
    return clean_file


def _document_report(workspace: Workspace, row, changes: list[clean.Change]) -> CleanedDocument:
    steps: dict[str, list[clean.Change]] = {step: [] for step in clean.STEPS}
    for change in changes:
        steps.setdefault(change.step, []).append(change)
    return CleanedDocument(row["id"], row["source"], clean.summary(changes), steps,
                           str(workspace.root / clean_file_for(row["sha256"])))


def clean_documents(workspace: Workspace, settings: clean.CleanSettings | None = None,
                    progress: ProgressCallback | None = None) -> CleanReport:
    """Clean every approved document (boilerplate is judged across all of them) and store
    the cleaned texts and their changes. A change a person reverted stays reverted when
    cleaning runs again on the same de-identified text."""
    settings = settings or clean.CleanSettings()
    started = time.monotonic()
    rows = [r for r in workspace.document_rows() if r["status"] == "approved" and r["deid_file"]]
    if not rows:
        raise GateError("no approved documents to clean: de-identify and approve them first "
                        "(deid --all, then deid --approve, or the Review tab)")
    texts = {row["id"]: _deid_text(workspace, row) for row in rows}
    map_path = workspace.folder("raw") / SURROGATE_MAP
    protected = SurrogateMap(map_path).surrogate_values() if map_path.exists() else set()
    results = clean.clean_texts(texts, settings, user_dictionary(workspace), user_words(workspace),
                                protected, {r["id"]: len(json.loads(r["pages"])) for r in rows})
    documents = []
    for index, row in enumerate(rows):
        source_hash = _text_hash(texts[row["id"]])
        reverted = set()
        if row["clean_source"] == source_hash:  # same input: the person's reverts still fit
            reverted = {(c.step, c.start, c.end, c.after)
                        for c in _change_rows(workspace, row["id"]) if c.reverted}
        changes = results[row["id"]].changes
        for change in changes:
            change.reverted = (change.step, change.start, change.end, change.after) in reverted
        _store(workspace, row, source_hash, clean.apply_changes(texts[row["id"]], changes), changes)
        documents.append(_document_report(workspace, row, changes))
        if progress:
            progress(index + 1, len(rows), "cleaning")
    words = sum(len(text.split()) for text in texts.values())
    totals = {step: sum(d.changes[step] for d in documents) for step in clean.STEPS}
    return CleanReport(
        documents,
        CleaningTotals(len(documents), words, totals,
                       {s: round(1000 * n / max(words, 1), 2) for s, n in totals.items()},
                       round(time.monotonic() - started, 2)),
        settings,
        [{k: v for k, v in item.items() if k != "text"} for item in transcription_queue(workspace)])


def document_cleaning(workspace: Workspace, document_id: int) -> DocumentCleaning:
    """One document's cleaning as a person reviews it: the de-identified text, the
    cleaned text and every change (reverted ones too)."""
    row = workspace.document_rows([document_id])[0]
    if not row["clean_file"]:
        raise GateError(f"{Path(row['source']).name} is not cleaned yet (run clean)")
    changes = _change_rows(workspace, document_id)
    deid_text = _deid_text(workspace, row)
    report = _document_report(workspace, row, changes)
    return DocumentCleaning(**vars(report), deid_text=deid_text, text=training_text(workspace, row),
                            stale=row["clean_source"] != _text_hash(deid_text))


def revert_changes(workspace: Workspace, change_ids: list[int] = (), document_id: int | None = None,
                   step: str | None = None, restore: bool = False) -> RevertReport:
    """Revert changes (or, with ``restore``, apply them again): the given ids, or every
    change of ``step`` in ``document_id``, or all of that document's changes. The
    document's cleaned text is rewritten from its de-identified text at once."""
    if change_ids:
        selected = workspace.query(
            f"SELECT id, document_id FROM clean_changes WHERE id IN ({','.join('?' * len(change_ids))})",
            list(change_ids))
        missing = set(change_ids) - {r["id"] for r in selected}
        if missing:
            raise ValueError(f"no cleaning change with id {', '.join(map(str, sorted(missing)))}")
    elif document_id is not None:
        if step is not None and step not in clean.STEPS:
            raise ValueError(f"unknown step {step!r}; steps: {', '.join(clean.STEPS)}")
        selected = workspace.query(
            "SELECT id, document_id FROM clean_changes WHERE document_id = ?"
            + (" AND step = ?" if step else ""), (document_id, step) if step else (document_id,))
    else:
        raise ValueError("say what to revert: change ids, or a document (and a step)")
    by_document: dict[int, set[int]] = {}
    for r in selected:
        by_document.setdefault(r["document_id"], set()).add(r["id"])
    reports = []
    for doc_id, ids in by_document.items():
        row = workspace.document_rows([doc_id])[0]
        text = _deid_text(workspace, row)
        if row["clean_source"] != _text_hash(text):
            raise GateError(f"{Path(row['source']).name} was de-identified again since it was "
                            "cleaned: run clean again first")
        changes = _change_rows(workspace, doc_id)
        for change in changes:
            if change.id in ids:
                change.reverted = not restore
        atomic_write(workspace.root / row["clean_file"], clean.apply_changes(text, changes))
        with workspace.transaction() as conn:
            conn.executemany("UPDATE clean_changes SET reverted = ? WHERE id = ?",
                             [(int(not restore), i) for i in ids])
        reports.append(_document_report(workspace, row, changes))
    return RevertReport(reports, len(selected), restore)


# -- manual transcription of pages OCR read poorly ---------------------------------------
def transcription_queue(workspace: Workspace, threshold: float | None = None) -> list[dict]:
    """OCR pages with a mean word confidence under ``threshold`` (the ingest setting by
    default) that nobody has typed yet, with their OCR text (raw: patient data)."""
    threshold = IngestSettings().ocr_flag_confidence if threshold is None else threshold
    queue = []
    for row in workspace.document_rows():
        pages = json.loads(row["pages"])
        flagged = [p for p in pages if p["method"] == "ocr" and not p.get("transcribed")
                   and (p["ocr_confidence"] or 0) < threshold]
        if not flagged:
            continue
        document = workspace.load_document(row["id"])
        for page in flagged:
            queue.append({"document": row["id"], "source": row["source"], "page": page["number"],
                          "ocr_confidence": page["ocr_confidence"], "status": row["status"],
                          "text": document.pages[page["number"] - 1].text})
    return queue


def transcribe_page(workspace: Workspace, document_id: int, page: int, text: str | None,
                    deidentify: bool = True) -> dict:
    """Replace a page's OCR text with a person's transcription (``text``; None puts the
    OCR text back). The transcription is raw text like any page: a document that was
    de-identified is de-identified again at once (``deidentify``) and needs approval
    again, so an identifier typed from the page image never reaches cleaning unreviewed."""
    row = workspace.document_rows([document_id])[0]
    pages = json.loads(row["pages"])
    document = workspace.load_document(document_id)
    if not any(p["number"] == page for p in pages):
        raise ValueError(f"{Path(row['source']).name} has no page {page} (pages 1-{len(pages)})")
    meta = next(p for p in pages if p["number"] == page)
    ocr_text = original_page(workspace, row, pages, page)  # None: never transcribed
    if text is None:
        if ocr_text is None:
            raise ValueError(f"page {page} has no transcription to revert")
        text = ocr_text
    updated, change = clean.replace_page(document, page, text)
    if ocr_text is not None and text == ocr_text:  # back to what OCR read
        meta.pop("transcribed", None)
        meta.pop("ocr_characters", None)
    else:
        meta.setdefault("ocr_characters", meta["characters"])
        meta["transcribed"] = True
    meta["characters"] = len(text)
    # A new file named by content, then the row that points to it: a crash leaves the
    # old text and page table or the new ones, never one without the other.
    new_text = updated.text
    text_file = workspace.text_file_for(row["sha256"])
    if any(p.get("transcribed") for p in pages):
        text_file = f"text/{row['sha256']}.{_text_hash(new_text)[:16]}.txt"
    atomic_write(workspace.root / text_file, new_text)
    still_flagged = [p for p in pages if p["method"] == "ocr" and not p.get("transcribed")
                     and (p["ocr_confidence"] or 0) < IngestSettings().ocr_flag_confidence]
    status = row["status"]
    if status == "ocr_flagged" and not still_flagged:
        status = "ingested"
    with workspace.transaction() as conn:
        conn.execute("UPDATE documents SET text_file = ?, pages = ?, status = ? WHERE id = ?",
                     (text_file, json.dumps(pages), status, document_id))
    report = {"id": document_id, "page": page, "transcribed": bool(meta.get("transcribed")),
              "characters": {"before": len(change.before), "after": len(change.after)},
              "status": status, "deidentified": False,
              "message": "saved; de-identify and approve this document to use it"}
    if row["deid_file"] and deidentify:
        from medllm_local.pipeline.deid import deid_documents

        deid_documents(workspace, [document_id])
        report |= {"status": "deidentified", "deidentified": True,
                   "message": "saved and de-identified again; review and approve it again, "
                              "then clean"}
    return report


def page_text(workspace: Workspace, document_id: int, page: int) -> str:
    """The text of one page as stored now (raw: patient data), to type it again."""
    pages = workspace.load_document(document_id).pages
    if not 1 <= page <= len(pages):
        raise ValueError(f"document {document_id} has no page {page} (pages 1-{len(pages)})")
    return pages[page - 1].text


def original_page(workspace: Workspace, row, pages: list[dict], page: int) -> str | None:
    """What OCR read on a transcribed page (None when the page was never transcribed)."""
    meta = next(p for p in pages if p["number"] == page)
    if "ocr_characters" not in meta:
        return None
    original = (workspace.root / workspace.text_file_for(row["sha256"])).read_text(encoding="utf-8")
    offset = sum(p.get("ocr_characters", p["characters"]) + 2 for p in pages if p["number"] < page)
    return original[offset:offset + meta["ocr_characters"]]


def page_image(workspace: Workspace, document_id: int, page: int, dpi: int = 110):
    """The page as the reader sees it (a PIL image), for typing it; None when the
    original is not a PDF or an image."""
    row = workspace.document_rows([document_id])[0]
    if not row["raw_file"] or row["kind"] not in ("pdf", "image"):
        return None
    data = (workspace.root / row["raw_file"]).read_bytes()
    if row["kind"] == "pdf":
        import pypdfium2

        from medllm_local.stages.ingest.pdf import render_page

        pdf = pypdfium2.PdfDocument(data)
        try:  # capped like OCR rendering: a huge page box must not take GBs in the app
            return render_page(pdf[page - 1], dpi)
        finally:
            pdf.close()
    import io

    from PIL import Image

    image = Image.open(io.BytesIO(data))
    image.seek(page - 1)
    return image.convert("L")

