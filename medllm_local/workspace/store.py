"""One workspace folder: a SQLite catalogue plus the files it points to.

Layout (every path is defined here and nowhere else)::

    WORKSPACE/            0700, owner only: raw reports are patient data
      catalogue.sqlite    documents, findings, pairs, splits, runs, evaluations, exports,
                          jobs and their progress rows (WAL mode)
      inbox/              files waiting to be ingested (uploads, the demo reports)
      raw/                the files as given, named by content hash; chat feedback as typed
                          (feedback-ID.json); the surrogate key and map
      text/               extracted text, one file per document
      deid/               de-identified text: the current version per document (named by
                          document and text hash); older versions are deleted
      clean/ datasets/ runs/ exports/ evals/ logs/

Writes are atomic: files go to a temporary name in the same folder, are flushed to disk
and renamed into place; catalogue changes are SQLite transactions. A crash at any point
leaves either the old state or the new one, never a half-written file or row. Files are
always written before the row that points to them, so a row never names a missing file.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import sqlite3
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

# The file helpers live in medllm_local.core.files; importers of this module get them here too.
from medllm_local.core.files import TMP_PREFIX, atomic_write, pid_alive, sha256_bytes, text_hash  # noqa: F401
from medllm_local.core.records import Document, Finding, Page
from medllm_local.workspace.schema import SCHEMA_VERSION, migrate

DEFAULT_WORKSPACE = Path("~/medllm-workspace").expanduser()
CATALOGUE_NAME = "catalogue.sqlite"
SETTINGS_NAME = "settings.json"  # the user's saved choices (deny and allow lists...)
SETTINGS_LOCK = ".settings.lock"  # held while settings.json is read, merged and written
FOLDERS = ("inbox", "raw", "deid", "text", "clean", "datasets", "runs", "exports", "evals", "logs")
TEMP_FOLDER, UPLOADS_FOLDER = ".tmp", ".uploads"


class WorkspaceError(RuntimeError):
    """A workspace that cannot be used as asked (wrong permissions, newer schema...)."""


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass
class Workspace:
    """An open workspace. Pass it explicitly; there is no module-level current one."""

    root: Path

    # -- opening ---------------------------------------------------------------------
    @classmethod
    def open(cls, root: str | os.PathLike | None = None, create: bool = True) -> Workspace:
        """Open (and by default create) the workspace at ``root``, migrating its
        catalogue to the current schema."""
        root = Path(root).expanduser() if root else DEFAULT_WORKSPACE
        # Everything this process writes from now on is owner-only: reports are patient data.
        os.umask(0o077)
        if not root.exists():
            if not create:
                raise WorkspaceError(f"{root}: no workspace here")
            root.mkdir(parents=True, mode=0o700)
        if not root.is_dir():
            raise WorkspaceError(f"{root}: not a folder")
        if not (root / CATALOGUE_NAME).exists() and any(
                p.name not in FOLDERS for p in root.iterdir()):
            # Never take over (and chmod) a folder of other things, such as a home folder.
            raise WorkspaceError(f"{root}: not a workspace and not empty; choose a new or "
                                 "empty folder")
        # Owner-only, whatever the umask or an earlier copy left behind.
        os.chmod(root, 0o700)
        for name in FOLDERS:
            (root / name).mkdir(mode=0o700, exist_ok=True)
            os.chmod(root / name, 0o700)
        workspace = cls(root=root.resolve())
        workspace._sweep_temp_files()
        workspace._migrate()
        workspace.finish_deletions()
        return workspace

    @property
    def catalogue_path(self) -> Path:
        return self.root / CATALOGUE_NAME

    def folder(self, name: str) -> Path:
        if name not in FOLDERS:
            raise ValueError(f"unknown workspace folder {name!r}; known: {', '.join(FOLDERS)}")
        return self.root / name

    def temp_folder(self, kind: str = TEMP_FOLDER) -> Path:
        """This process's owner-only folder for temporary files (``TEMP_FOLDER``) or
        uploads (``UPLOADS_FOLDER``); removed by a later open once the process is gone."""
        folder = self.root / kind / str(os.getpid())
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        return folder

    def managed_paths(self) -> tuple[Path, ...]:
        """What the workspace writes itself: never to be ingested as reports (a user may
        ingest a folder that holds the workspace). The inbox is the user's, so not here."""
        catalogue = [self.root / (CATALOGUE_NAME + end) for end in ("", "-wal", "-shm", "-journal")]
        return (*catalogue, self.root / SETTINGS_NAME, self.root / SETTINGS_LOCK,
                *(self.root / name for name in FOLDERS if name != "inbox"))

    def load_settings(self) -> dict:
        path = self.root / SETTINGS_NAME
        return json.loads(path.read_text()) if path.exists() else {}

    def save_settings(self, changes: dict) -> dict:
        """Merge ``changes`` into the saved settings (atomically) and return them all."""
        return self.update_settings(lambda _: changes)

    def update_settings(self, change: Callable[[dict], dict]) -> dict:
        """Read, merge ``change(settings)`` and write under a lock: the app and a CLI
        command saving at once must not drop each other's keys (say the deny list)."""
        fd = os.open(self.root / SETTINGS_LOCK, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # released when the descriptor closes
            settings = self.load_settings()
            settings |= change(settings)
            atomic_write(self.root / SETTINGS_NAME, json.dumps(settings, indent=2))
        finally:
            os.close(fd)
        return settings

    def connect(self) -> sqlite3.Connection:
        """A new connection (one per thread or process; SQLite handles the locking)."""
        new_file = not self.catalogue_path.exists()
        conn = sqlite3.connect(self.catalogue_path, timeout=60, isolation_level=None)
        if new_file:
            os.chmod(self.catalogue_path, 0o600)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=60000")
        conn.execute("PRAGMA secure_delete=ON")  # deleted rows are overwritten, not left in free pages
        return conn

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT``, rolled back on any error. Immediate so
        two writers queue on the lock instead of failing half-way."""
        conn = self.connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        finally:
            conn.close()

    def query(self, sql: str, params: tuple | list = ()) -> list[sqlite3.Row]:
        """Rows of one read, on a connection of its own."""
        conn = self.connect()
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()

    def schema_version(self) -> int:
        return self.query("PRAGMA user_version")[0][0]

    def _migrate(self) -> None:
        with self.transaction() as conn:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise WorkspaceError(
                    f"{self.root}: catalogue schema {version} is newer than this "
                    f"release understands ({SCHEMA_VERSION}); update medllm-local"
                )
            migrate(conn, version, self.file_hash, self.write_raw_feedback)

    def _sweep_temp_files(self) -> None:
        """Remove what dead processes left: half-written temp files (no row ever points
        to one) and their temp and upload folders. Live processes' files stay."""
        for name in FOLDERS:
            for leftover in (self.root / name).glob(TMP_PREFIX + "*"):
                if not pid_alive(leftover.name[len(TMP_PREFIX):].split("-")[0]):
                    with contextlib.suppress(OSError):
                        leftover.unlink()
        for name in (TEMP_FOLDER, UPLOADS_FOLDER):
            for folder in (self.root / name).glob("*"):
                if not pid_alive(folder.name):
                    shutil.rmtree(folder, ignore_errors=True)

    def check_permissions(self) -> list[str]:
        """Paths that others could read (should be none)."""
        loose = []
        for path in [self.root, *self.root.rglob("*")]:
            if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
                loose.append(str(path))
        return loose

    # -- documents -------------------------------------------------------------------
    def store_document(self, document: Document, raw: bytes | None = None,
                       status: str = "ingested") -> tuple[int, bool]:
        """Store a document (raw bytes and text files first, then its row).
        Returns (id, created); a document whose hash is already stored is not
        duplicated and returns the existing id with created=False."""
        return self.store_documents([(document, raw)], status)[0]

    def store_documents(self, documents: list[tuple[Document, bytes | None]],
                        status: str = "ingested") -> list[tuple[int, bool]]:
        """Store several documents all or none (the cases of one imported file): every
        file is written first, then every row in one transaction; if anything fails, the
        rows are rolled back and the files this call created are removed. Returns (id,
        created) for each, as ``store_document`` does."""
        created_files: list[Path] = []
        pending: dict[str, tuple[Document, str | None, str]] = {}
        ids: dict[str, tuple[int, bool]] = {}  # sha256 -> (id, created by this call)
        try:
            for document, raw in documents:
                if document.sha256 in pending or document.sha256 in ids:
                    continue
                stored = self.find_document(document.sha256)
                if stored is not None:
                    ids[document.sha256] = (stored, False)
                    continue
                raw_file = None
                if raw is not None:
                    suffix = Path(document.source).suffix.lower()
                    suffix = suffix if suffix[1:].isalnum() and len(suffix) <= 8 else ""
                    raw_file = f"raw/{document.sha256}{suffix}"
                    created_files += self._write_new(raw_file, raw)
                text_file = self.text_file_for(document.sha256)
                created_files += self._write_new(text_file, document.text)
                pending[document.sha256] = (document, raw_file, text_file)
            with self.transaction() as conn:
                for sha256, (document, raw_file, text_file) in pending.items():
                    row = conn.execute("SELECT id FROM documents WHERE sha256 = ?", (sha256,)).fetchone()
                    if row is not None:  # another process stored it between our check and now
                        ids[sha256] = (row["id"], False)
                        continue
                    pages = [{"number": p.number, "method": p.method, "ocr_confidence": p.ocr_confidence,
                              "characters": len(p.text)} for p in document.pages]
                    # Ids are never reused: builds and runs name documents (forgotten ones too) by id.
                    cursor = conn.execute(
                        "INSERT INTO documents (id, sha256, source, kind, raw_file, text_file, pages,"
                        " warnings, status, created_at) VALUES ((SELECT 1 + MAX((SELECT IFNULL(MAX(id), 0)"
                        " FROM documents), (SELECT IFNULL(MAX(document_id), 0) FROM forgotten))),"
                        " ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (sha256, document.source, document.kind, raw_file, text_file,
                         json.dumps(pages), json.dumps(document.warnings), status, now()))
                    ids[sha256] = (cursor.lastrowid, True)
        except BaseException:
            for path in created_files:
                path.unlink(missing_ok=True)
            raise
        results, seen = [], set()
        for document, _ in documents:  # a case given twice is created once
            doc_id, created = ids[document.sha256]
            results.append((doc_id, created and document.sha256 not in seen))
            seen.add(document.sha256)
        return results

    def _write_new(self, relative: str, data: bytes | str) -> list[Path]:
        """Write a workspace file; returns it if this call created it (for a rollback)."""
        path = self.root / relative
        existed = path.exists()
        atomic_write(path, data)
        return [] if existed else [path]

    @staticmethod
    def text_file_for(sha256: str) -> str:
        """Where a document's extracted text lives, relative to the workspace root."""
        return f"text/{sha256}.txt"

    def find_document(self, sha256: str) -> int | None:
        rows = self.query("SELECT id FROM documents WHERE sha256 = ?", (sha256,))
        return rows[0]["id"] if rows else None

    def load_document(self, document_id: int) -> Document:
        row = self.document_rows([document_id])[0]
        with open(self.root / row["text_file"], encoding="utf-8", newline="") as handle:
            text = handle.read()  # newline="": CRLF stays CRLF, page offsets stay right
        page_rows = json.loads(row["pages"])
        pages, offset = [], 0
        for page in page_rows:
            pages.append(Page(number=page["number"], method=page["method"],
                              ocr_confidence=page["ocr_confidence"],
                              text=text[offset:offset + page["characters"]]))
            offset += page["characters"] + 2  # Document.text joins pages with a blank line
        return Document(source=row["source"], sha256=row["sha256"], pages=pages,
                        kind=row["kind"], warnings=json.loads(row["warnings"]), id=row["id"])

    def log_ingest(self, source: str, sha256: str | None, status: str, error: str | None,
                   document_id: int | None) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO ingest_log (source, sha256, status, error, document_id, at)"
                " VALUES (?, ?, ?, ?, ?, ?)", (source, sha256, status, error, document_id, now()))

    def list_documents(self) -> list[dict]:
        """Documents with their status, newest first, and the files whose latest ingest
        failed (with the reason), for the Documents tab."""
        documents = [dict(row) | {"pages": json.loads(row["pages"]),
                                  "warnings": json.loads(row["warnings"])}
                     for row in self.query(
            "SELECT id, source, kind, status, pages, warnings, text_file, created_at"
            " FROM documents ORDER BY id DESC")]
        failures = [dict(row) for row in self.query(
            "SELECT source, error, at FROM ingest_log AS l WHERE status = 'failed' AND id ="
            " (SELECT MAX(id) FROM ingest_log WHERE source = l.source) ORDER BY id DESC")]
        return documents + [{"id": None, "source": f["source"], "status": "failed",
                             "error": f["error"], "created_at": f["at"]} for f in failures]

    # -- de-identification ---------------------------------------------------------------
    def store_deid(self, document_id: int, sha256: str, text: str, findings: list[Finding],
                   patient: str) -> str:
        """Store a document's de-identified text and its findings, replacing earlier
        ones; the document goes back to "deidentified" (not approved)."""
        def change(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM findings WHERE document_id = ?", (document_id,))
            conn.executemany(
                "INSERT INTO findings (document_id, start, end, type, score, recognizer)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [(document_id, f.start, f.end, f.type, f.score, f.recognizer) for f in findings])
            conn.execute("UPDATE documents SET patient = ? WHERE id = ?", (patient, document_id))
        return self._replace_deid_text(document_id, sha256, text, change)

    def _replace_deid_text(self, document_id: int, sha256: str, text: str, change) -> str:
        """The new version's file first, under a name of its own (document and text
        hash); then ``change(conn)`` and the row's switch to that file, back to
        "deidentified", in one transaction: a crash leaves the old text with its status
        or the new one needing approval, never changed text marked approved. Only the
        current version is kept."""
        deid_file = f"deid/{sha256}.{text_hash(text)[:16]}.txt"
        # Under the catalogue's write lock, so no other writer of this document's versions
        # runs meanwhile: versions no row names (a crash before a commit left them) go.
        with self.transaction() as conn:
            old = conn.execute("SELECT deid_file FROM documents WHERE id = ?", (document_id,)).fetchone()
            self._remove_deid_versions(sha256, keep={old and old[0], deid_file})
            atomic_write(self.root / deid_file, text)
            change(conn)
            conn.execute("UPDATE documents SET deid_file = ?, status = 'deidentified',"
                         " approved_hash = NULL WHERE id = ?", (deid_file, document_id))
        with self.transaction() as conn:  # the old version, once nothing names it
            now_named = conn.execute("SELECT deid_file FROM documents WHERE id = ?", (document_id,)).fetchone()
            self._remove_deid_versions(sha256, keep={now_named and now_named[0]})
        return deid_file

    def _remove_deid_versions(self, sha256: str, keep: set) -> None:
        for path in self.folder("deid").glob(f"{sha256}.*"):
            if f"deid/{path.name}" not in keep:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()

    def file_hash(self, relative: str) -> str | None:
        """The hash of a workspace file as stored (None when it is gone)."""
        try:
            return sha256_bytes((self.root / relative).read_bytes())
        except FileNotFoundError:
            return None

    def document_rows(self, ids: list[int] | None = None) -> list[sqlite3.Row]:
        """Catalogue rows of the given documents (all when ``ids`` is None), by id."""
        if ids is None:
            return self.query("SELECT * FROM documents ORDER BY id")
        rows = {r["id"]: r for r in self.query(
            f"SELECT * FROM documents WHERE id IN ({','.join('?' * len(ids))})", ids)}
        missing = [i for i in ids if i not in rows]
        if missing:
            raise WorkspaceError(f"no document with id {', '.join(map(str, missing))} in {self.root}")
        return [rows[i] for i in ids]

    def findings_for(self, document_id: int) -> list[sqlite3.Row]:
        return self.query("SELECT * FROM findings WHERE document_id = ? ORDER BY start", (document_id,))

    def write_deid_text(self, document_id: int, sha256: str, text: str,
                        decisions: dict[int, str] | None = None, added: list[Finding] = ()) -> None:
        """Replace a document's de-identified text after review, together with the
        reviewer's ``decisions`` (finding id -> accepted / rejected) and ``added``
        findings that made it; it needs approval again."""
        def change(conn: sqlite3.Connection) -> None:
            conn.executemany("UPDATE findings SET decision = ? WHERE id = ? AND document_id = ?",
                             [(decision, i, document_id) for i, decision in (decisions or {}).items()])
            conn.executemany(
                "INSERT INTO findings (document_id, start, end, type, score, recognizer, decision)"
                " VALUES (?, ?, ?, ?, ?, ?, 'accepted')",
                [(document_id, f.start, f.end, f.type, f.score, f.recognizer) for f in added])
        self._replace_deid_text(document_id, sha256, text, change)

    def pending_findings(self, document_id: int) -> int:
        return self.query("SELECT COUNT(*) FROM findings WHERE document_id = ? AND"
                          " decision = 'pending'", (document_id,))[0][0]

    def set_status(self, document_ids: list[int], status: str) -> None:
        """Set documents' status; "approved" binds each to the hash of its de-identified
        text as stored now (``pipeline.approve_documents`` checks what a person saw)."""
        with self.transaction() as conn:
            for i in document_ids:
                row = conn.execute("SELECT deid_file FROM documents WHERE id = ?", (i,)).fetchone()
                digest = self.file_hash(row[0]) if status == "approved" and row and row[0] else None
                if status == "approved" and digest is None:
                    raise WorkspaceError(f"document {i} has no de-identified text to approve")
                conn.execute("UPDATE documents SET status = ?, approved_hash = ? WHERE id = ?",
                             (status, digest, i))

    def document_count(self) -> int:
        return self.query("SELECT COUNT(*) FROM documents")[0][0]

    def raw_feedback_file(self, feedback_id: int) -> str:
        """Where one chat feedback's typed text lives, relative to the workspace."""
        return f"raw/feedback-{int(feedback_id)}.json"

    def write_raw_feedback(self, feedback_id: int, typed: dict) -> None:
        """Keep a chat feedback's question, answer and correction as typed (they may name
        a patient) in the owner-only raw/ folder, never in the catalogue."""
        fields = {key: str(typed.get(key) or "") for key in ("question", "answer", "correction")}
        atomic_write(self.root / self.raw_feedback_file(feedback_id), json.dumps(fields))

    def read_raw_feedback(self, feedback_id: int) -> dict:
        """A chat feedback's typed text (empty fields when it was deleted)."""
        path = self.root / self.raw_feedback_file(feedback_id)
        typed = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        return {key: typed.get(key, "") for key in ("question", "answer", "correction")}

    def finish_deletions(self) -> list[str]:
        """Delete the files of forgotten documents still listed as pending (their rows
        went first, so a crash between the two leaves only these); the paths deleted."""
        deleted = []
        for row in self.query("SELECT id, pending_files FROM forgotten WHERE pending_files IS NOT NULL"):
            for relative in json.loads(row["pending_files"]):
                if ".." in Path(relative).parts:  # only ever a path inside the workspace
                    continue
                with contextlib.suppress(FileNotFoundError):
                    (self.root / relative).unlink()
                    deleted.append(relative)
            with self.transaction() as conn:
                conn.execute("UPDATE forgotten SET pending_files = NULL WHERE id = ?", (row["id"],))
        return deleted
