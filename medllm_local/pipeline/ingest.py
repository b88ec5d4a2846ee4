"""Ingest against the workspace: files in, documents stored one by one."""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass, field
from pathlib import Path

from medllm_local.core.files import sha256_bytes
from medllm_local.core.records import Document, Page
from medllm_local.stages.ingest import read as ingest_stage
from medllm_local.stages.ingest.cases import CaseFileError, read_case_file
from medllm_local.stages.ingest.worker import IsolatedReader
from medllm_local.pipeline.common import ProgressCallback
from medllm_local.core.records import Record
from medllm_local.workspace.store import Workspace


@dataclass
class IngestReport(Record):
    """A batch of files read into the workspace (the CLI's ``ingest --json``)."""

    documents: list[ingest_stage.IngestResult]
    totals: dict[str, int]  # ok / failed / duplicate / files
    stopped: bool = False

    @property
    def failed(self) -> list[ingest_stage.IngestResult]:
        return [d for d in self.documents if d.status == "failed"]


@dataclass
class RowError:
    row: int  # as the spreadsheet numbers it
    reason: str  # never the row's content


@dataclass
class ImportedFile:
    """One case file: the columns read, and what became of its rows."""

    file: str
    status: str  # read (preview) / imported / failed
    error: str | None = None
    mapping: dict[str, str] = field(default_factory=dict)  # header -> part of the case
    cases: int = 0
    documents: list[int] = field(default_factory=list)
    duplicates: int = 0
    errors: list[RowError] = field(default_factory=list)


@dataclass
class ImportReport(Record):
    """Case files imported as documents (the CLI's ``import --json``)."""

    files: list[ImportedFile]
    imported: int = 0
    duplicates: int = 0
    failed_rows: int = 0
    preview: bool = False
    next: str = "de-identify and approve the imported cases (deid --all, Review), then build"


def ingest(
    workspace: Workspace,
    paths: list[str | Path],
    settings: ingest_stage.IngestSettings | None = None,
    progress: ProgressCallback | None = None,
    stop_event: threading.Event | None = None,
) -> IngestReport:
    """Read every file under ``paths`` into the workspace, one at a time: each document
    is stored (raw copy, text, catalogue row) as soon as it is read, so a stopped or
    crashed batch resumes by running it again: stored files are skipped by hash.
    A bad file is reported with its reason and the batch goes on. Files are read in a
    child process under a memory and time limit (stages/ingest/worker.py): a bomb fails alone."""
    settings = settings or ingest_stage.IngestSettings()
    total = ingest_stage.count_sources(paths, exclude=workspace.managed_paths())
    results: list[ingest_stage.IngestResult] = []
    stopped = False
    with IsolatedReader(settings) as reader:
        for source in ingest_stage.iter_sources(paths, settings, exclude=workspace.managed_paths()):
            if stop_event is not None and stop_event.is_set():
                stopped = True
                break
            result = _ingest_one(workspace, source, settings, reader)
            workspace.log_ingest(result.source, source.sha256 if source.data else None,
                                 result.status, result.error, result.id)
            results.append(result)
            if progress:
                progress(len(results), max(total, len(results)), source.source)
    totals = {status: sum(r.status == status for r in results)
              for status in ("ok", "failed", "duplicate")}
    return IngestReport(results, totals | {"files": len(results)}, stopped)


def _ingest_one(workspace: Workspace, source: ingest_stage.SourceFile,
                settings: ingest_stage.IngestSettings,
                reader: IsolatedReader) -> ingest_stage.IngestResult:
    if source.error:
        return ingest_stage.IngestResult(source.source, "failed", source.error)
    existing = workspace.find_document(source.sha256)
    if existing is not None:
        return ingest_stage.IngestResult(source.source, "duplicate", id=existing,
                                         error="already in the workspace")
    try:
        document = reader.read(source)
    except ingest_stage.IngestError as error:
        return ingest_stage.IngestResult(source.source, "failed", str(error))
    flagged = ingest_stage.flagged_pages(document, settings)
    try:
        doc_id, created = workspace.store_document(
            document, raw=source.data, status="ocr_flagged" if flagged else "ingested")
    except OSError as error:  # disk full, permissions: this file fails, the batch goes on
        return ingest_stage.IngestResult(source.source, "failed",
                                         f"could not store it: {error.strerror or error}")
    return ingest_stage.IngestResult(
        source.source, "ok" if created else "duplicate", None if created else "already in the workspace",
        doc_id, len(document.pages), sum(p.method == "ocr" for p in document.pages), flagged,
        len(document.text), str(workspace.root / workspace.text_file_for(document.sha256)),
        document.warnings)


def import_cases(workspace: Workspace, paths: list[str | Path], task: str = "auto",
                 preview: bool = False, progress: ProgressCallback | None = None) -> ImportReport:
    """Cases the physician already keeps (CSV, XLSX, messages / ShareGPT / Alpaca JSON),
    each stored as a document of kind "imported": imported text is patient text until
    de-identified, reviewed and approved like a report. A bad row fails alone with its
    number and reason (never its content); a case already stored is counted, not stored
    again; ``preview`` reads and checks without storing (the column mapping to confirm)."""
    files, imported, duplicates, failed_rows = [], 0, 0, 0
    for index, path in enumerate(map(Path, paths)):
        try:
            read = read_case_file(path.name, path.read_bytes(), task)
        except (OSError, CaseFileError) as error:
            reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
            files.append(ImportedFile(path.name, "failed", reason))
            continue
        documents = []
        for case in [] if preview else read.cases:
            text = case.report_text()
            documents.append((Document(source=f"{path}!{path.name} row {case.row}",
                                       sha256=sha256_bytes(text.encode("utf-8")),
                                       pages=[Page(1, text)], kind="imported"), text.encode("utf-8")))
        try:  # one file's cases are stored all or none
            results = workspace.store_documents(documents)
        except (OSError, sqlite3.Error) as error:
            reason = getattr(error, "strerror", None) or type(error).__name__
            files.append(ImportedFile(path.name, "failed", f"nothing stored from it: {reason}"))
            continue
        stored = [doc_id for doc_id, created in results if created]
        again = len(results) - len(stored)
        imported, duplicates, failed_rows = imported + len(stored), duplicates + again, failed_rows + len(read.errors)
        files.append(ImportedFile(path.name, "read" if preview else "imported", None, read.mapping,
                                  len(read.cases), stored, again,
                                  [RowError(row, reason) for row, reason in read.errors]))
        if progress:
            progress(index + 1, len(paths), path.name)
    return ImportReport(files, imported, duplicates, failed_rows, preview)
