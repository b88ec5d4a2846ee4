"""The workspace catalogue's schema, as the list of migrations that build it.

Each entry moves the schema from version i to i+1 (SQLite's ``user_version``). Append,
never edit: a workspace made by an older release is brought forward by running the
entries it has not seen, in one transaction. (Statements are split at ";": none in comments.)
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

MIGRATIONS: list[str] = [
    # 0 -> 1: the first catalogue.
    """
    CREATE TABLE documents (
        id INTEGER PRIMARY KEY,
        sha256 TEXT NOT NULL UNIQUE,
        source TEXT NOT NULL,
        kind TEXT NOT NULL,
        raw_file TEXT,
        text_file TEXT NOT NULL,
        pages TEXT NOT NULL,               -- JSON list of Page without text
        warnings TEXT NOT NULL DEFAULT '[]',
        status TEXT NOT NULL DEFAULT 'ingested',
        created_at TEXT NOT NULL
    );
    CREATE TABLE findings (
        id INTEGER PRIMARY KEY,
        document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
        start INTEGER NOT NULL, end INTEGER NOT NULL,
        type TEXT NOT NULL, score REAL NOT NULL, recognizer TEXT NOT NULL,
        decision TEXT NOT NULL DEFAULT 'pending'
    );
    CREATE TABLE pairs (
        id INTEGER PRIMARY KEY,
        document_id INTEGER REFERENCES documents(id) ON DELETE SET NULL,
        task TEXT NOT NULL,
        messages TEXT NOT NULL,            -- JSON, OpenAI-style messages
        reference TEXT NOT NULL DEFAULT '',
        split TEXT,
        excluded INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL
    );
    CREATE TABLE splits (
        id INTEGER PRIMARY KEY, name TEXT NOT NULL, file TEXT NOT NULL,
        config TEXT NOT NULL, created_at TEXT NOT NULL
    );
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY, base_model TEXT NOT NULL, status TEXT NOT NULL,
        config TEXT NOT NULL, result TEXT, folder TEXT NOT NULL,
        created_at TEXT NOT NULL, finished_at TEXT
    );
    CREATE TABLE evaluations (
        id INTEGER PRIMARY KEY, model TEXT NOT NULL, split_id INTEGER REFERENCES splits(id),
        metrics TEXT NOT NULL, cases_file TEXT, created_at TEXT NOT NULL
    );
    CREATE TABLE exports (
        id INTEGER PRIMARY KEY, run_id INTEGER REFERENCES runs(id), gguf TEXT NOT NULL,
        quant TEXT NOT NULL, checks TEXT NOT NULL, created_at TEXT NOT NULL
    );
    CREATE TABLE jobs (
        id INTEGER PRIMARY KEY, kind TEXT NOT NULL, status TEXT NOT NULL,
        pid INTEGER, command TEXT NOT NULL, error TEXT,
        started_at TEXT NOT NULL, finished_at TEXT
    );
    CREATE TABLE progress (
        id INTEGER PRIMARY KEY,
        job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
        step INTEGER NOT NULL, total INTEGER, message TEXT NOT NULL,
        metrics TEXT NOT NULL DEFAULT '{}', at TEXT NOT NULL
    );
    """,
    # 1 -> 2: every ingest attempt, so failures are listed with their reason beside the
    # documents (a failed file has no document row: nothing of it is stored).
    """
    CREATE TABLE ingest_log (
        id INTEGER PRIMARY KEY,
        source TEXT NOT NULL,
        sha256 TEXT,
        status TEXT NOT NULL,              -- ok / failed / duplicate
        error TEXT,
        document_id INTEGER REFERENCES documents(id) ON DELETE SET NULL,
        at TEXT NOT NULL
    );
    CREATE INDEX ingest_log_source ON ingest_log(source);
    """,
    # 2 -> 3: de-identification. The de-identified text lives in deid/; the patient a
    # document belongs to is kept as a keyed hash only (it ties date shifts together).
    """
    ALTER TABLE documents ADD COLUMN deid_file TEXT;
    ALTER TABLE documents ADD COLUMN patient TEXT;
    CREATE INDEX findings_document ON findings(document_id);
    """,
    # 3 -> 4: datasets. A pair remembers whether a person edited it; a split row names
    # its build and file.
    """
    ALTER TABLE pairs ADD COLUMN edited INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE splits ADD COLUMN build TEXT;
    """,
    # 4 -> 5: a document keeps its split from build to build, so adding reports never
    # moves a case between train and test (model versions stay comparable).
    """
    ALTER TABLE documents ADD COLUMN split TEXT;
    """,
    # 5 -> 6: model versions. A run names the dataset build it trained on and the run it
    # continued (retraining on new reports); a job names the run it drives.
    """
    ALTER TABLE runs ADD COLUMN build TEXT;
    ALTER TABLE runs ADD COLUMN parent_id INTEGER REFERENCES runs(id);
    ALTER TABLE jobs ADD COLUMN run_id INTEGER REFERENCES runs(id);
    """,
    # 6 -> 7: an export keeps its folder and whether all its checks passed.
    """
    ALTER TABLE exports ADD COLUMN status TEXT NOT NULL DEFAULT 'passed';
    ALTER TABLE exports ADD COLUMN folder TEXT;
    """,
    # 7 -> 8: a physician's own verdict on an evaluated answer, beside the metrics.
    """
    CREATE TABLE eval_marks (
        id INTEGER PRIMARY KEY,
        results_file TEXT NOT NULL,
        case_no INTEGER NOT NULL,
        model TEXT NOT NULL,
        mark TEXT NOT NULL CHECK (mark IN ('correct', 'partly', 'wrong')),
        at TEXT NOT NULL,
        UNIQUE (results_file, case_no, model)
    );
    """,
    # 8 -> 9: cleaning. The cleaned text lives in clean/, with the hash of the
    # de-identified text it was made from (a re-de-identified document's cleaning is stale
    # and not used); each change is a span of that de-identified text, so it can be
    # reverted alone or with its whole step.
    """
    ALTER TABLE documents ADD COLUMN clean_file TEXT;
    ALTER TABLE documents ADD COLUMN clean_source TEXT;
    CREATE TABLE clean_changes (
        id INTEGER PRIMARY KEY,
        document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
        step TEXT NOT NULL,                -- boilerplate / abbreviation / typo
        start INTEGER NOT NULL, end INTEGER NOT NULL, line INTEGER NOT NULL,
        before TEXT NOT NULL, after TEXT NOT NULL, reason TEXT NOT NULL,
        reverted INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX clean_changes_document ON clean_changes(document_id);
    """,
    # 9 -> 10: a physician's feedback on a chat answer (thumbs, "the correct answer was
    # ..."). The question and answer are kept as typed, so they may hold identifiers: only
    # their de-identified copies, once a person approves them, become training pairs.
    """
    CREATE TABLE chat_feedback (
        id INTEGER PRIMARY KEY,
        model TEXT NOT NULL,
        question TEXT NOT NULL,
        answer TEXT NOT NULL,
        rating TEXT CHECK (rating IN ('up', 'down')),
        correction TEXT NOT NULL DEFAULT '',
        deid_question TEXT,                -- de-identified question
        deid_target TEXT,                  -- de-identified correction (else the approved answer)
        status TEXT NOT NULL DEFAULT 'new'
            CHECK (status IN ('new', 'deidentified', 'approved', 'rejected')),
        at TEXT NOT NULL,
        reviewed_at TEXT
    );
    """,
    # 10 -> 11: where a pair came from (a report, approved chat feedback, or augmentation
    # of a train pair), the augmentation method, and a person's verdict on an augmented
    # pair (pending / accepted / rejected): only accepted ones are trained on.
    """
    ALTER TABLE pairs ADD COLUMN origin TEXT NOT NULL DEFAULT 'report';
    ALTER TABLE pairs ADD COLUMN method TEXT;
    ALTER TABLE pairs ADD COLUMN review TEXT;
    """,
    # 11 -> 12: approval is of one text, not of a document id: the hash of the
    # de-identified text a person approved (NULL when not approved; filled in for
    # approvals made before this version, see Workspace._migrate). A split row keeps what
    # its pairs were made from (documents and chat feedback, each with its text's hash),
    # so training and evaluation can refuse a build whose text is no longer approved.
    """
    ALTER TABLE documents ADD COLUMN approved_hash TEXT;
    ALTER TABLE splits ADD COLUMN sources TEXT;
    """,
    # 12 -> 13: forgetting (pipeline.forget). A forgotten document leaves its id only
    # (never given to another document: builds and runs name documents by id) and, until
    # they are gone, the workspace files still to delete. Each dataset build and run that
    # held it is marked in held_forgotten. New tables only (IF NOT EXISTS), so running
    # this again on a catalogue that has them changes nothing.
    """
    CREATE TABLE IF NOT EXISTS forgotten (
        id INTEGER PRIMARY KEY,
        document_id INTEGER NOT NULL,
        at TEXT NOT NULL,
        pending_files TEXT                 -- JSON list relative to the workspace, NULL once deleted
    );
    CREATE TABLE IF NOT EXISTS held_forgotten (
        kind TEXT NOT NULL CHECK (kind IN ('build', 'run')),
        name TEXT NOT NULL,                -- the build's folder name, or the run's id
        document_id INTEGER NOT NULL,      -- the forgotten document it held
        UNIQUE (kind, name, document_id)
    );
    """,
    # 13 -> 14: chat feedback's text as typed (question, answer, correction: they may name
    # a patient) moves out of the catalogue into the owner-only raw/ folder
    # (raw/feedback-ID.json, see Workspace.write_raw_feedback); the catalogue keeps whether
    # there is a correction, and the de-identified copies. The text of rows made before
    # this version is moved by ``migrate``.
    """
    ALTER TABLE chat_feedback ADD COLUMN has_correction INTEGER NOT NULL DEFAULT 0;
    """,
    # 14 -> 15: named, frozen evaluation sets (a benchmark file saved into the workspace,
    # evals/sets/NAME.jsonl, with the hash of its cases), and which set an evaluation ran on.
    """
    CREATE TABLE IF NOT EXISTS eval_sets (
        name TEXT PRIMARY KEY,
        file TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        cases INTEGER NOT NULL,
        source TEXT NOT NULL,              -- the file name it was saved from
        created_at TEXT NOT NULL
    );
    ALTER TABLE evaluations ADD COLUMN eval_set TEXT;
    """,
]
APPROVED_HASH_VERSION = 12  # the version that added documents.approved_hash
RAW_FEEDBACK_VERSION = 14  # the version that moved chat feedback's typed text to raw/
SCHEMA_VERSION = len(MIGRATIONS)


def migrate(conn: sqlite3.Connection, version: int, file_hash: Callable[[str], str | None],
            keep_raw_feedback: Callable[[int, dict], None]) -> None:
    """Run the migrations after ``version`` on ``conn`` (inside the caller's transaction);
    ``file_hash`` hashes a workspace file, for the approvals kept from before version 12;
    ``keep_raw_feedback`` writes one feedback row's typed text to raw/ (version 14)."""
    for target, script in enumerate(MIGRATIONS[version:], start=version + 1):
        for statement in script.split(";"):
            if statement.strip():
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {target}")
    if version < APPROVED_HASH_VERSION <= SCHEMA_VERSION:
        # Approvals from before hashes were kept are taken to be of the text stored now:
        # the same trust they had, bound from here on.
        for row in conn.execute("SELECT id, deid_file FROM documents WHERE"
                                " status = 'approved' AND deid_file IS NOT NULL").fetchall():
            conn.execute("UPDATE documents SET approved_hash = ? WHERE id = ?",
                         (file_hash(row[1]), row[0]))
    if version < RAW_FEEDBACK_VERSION <= SCHEMA_VERSION:
        # The file first, then the catalogue's copy is blanked: a crash between the two
        # leaves the text in both places, and the next open moves it again.
        for row in conn.execute("SELECT id, question, answer, correction FROM chat_feedback").fetchall():
            keep_raw_feedback(row[0], {"question": row[1], "answer": row[2], "correction": row[3]})
            conn.execute("UPDATE chat_feedback SET has_correction = ?, question = '', answer = '',"
                         " correction = '' WHERE id = ?", (int(bool(row[3])), row[0]))
