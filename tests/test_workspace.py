"""The workspace: owner-only, atomic, safe with two writers, consistent after a crash,
and migrated forward from older schemas."""

from __future__ import annotations

import os
import signal
import sqlite3
import stat
import subprocess
import time

import pytest

from conftest import PYTHON, ROOT
from medllm_local.core.records import Document, Page
from medllm_local.workspace.store import (FOLDERS, SCHEMA_VERSION, Workspace, WorkspaceError,
                                    atomic_write, sha256_bytes)


def make_document(text: str, source: str = "note.txt") -> Document:
    return Document(source=source, sha256=sha256_bytes(text.encode()), kind="txt",
                    pages=[Page(1, text)])


def test_new_workspace_is_owner_only(tmp_path):
    old = os.umask(0o022)
    try:
        ws = Workspace.open(tmp_path / "ws")
    finally:
        os.umask(old)
    assert stat.S_IMODE(ws.root.stat().st_mode) == 0o700
    for name in FOLDERS:
        assert stat.S_IMODE(ws.folder(name).stat().st_mode) == 0o700
    ws.store_document(make_document("Patient seen today."), raw=b"Patient seen today.")
    assert ws.check_permissions() == []
    assert stat.S_IMODE(ws.catalogue_path.stat().st_mode) == 0o600


def test_loose_permissions_of_an_existing_folder_are_tightened(tmp_path):
    root = tmp_path / "copied"
    root.mkdir(mode=0o755)
    os.chmod(root, 0o755)
    Workspace.open(root)
    assert stat.S_IMODE(root.stat().st_mode) == 0o700


def test_a_folder_of_other_things_is_not_taken_over(tmp_path):
    home_like = tmp_path / "home"
    home_like.mkdir()
    os.chmod(home_like, 0o755)  # explicit: an earlier open in this process set umask 077
    (home_like / "letters.txt").write_text("private")
    with pytest.raises(WorkspaceError, match="not a workspace and not empty"):
        Workspace.open(home_like)
    assert stat.S_IMODE(home_like.stat().st_mode) == 0o755  # untouched


def test_sweep_removes_only_what_dead_processes_left(workspace):
    mine = workspace.temp_folder()
    (mine / "page.png").write_bytes(b"x")
    dead = workspace.root / ".tmp" / "999999999"
    dead.mkdir()
    stale = workspace.folder("text") / ".tmp-999999999-abc"
    stale.write_text("half")
    live = workspace.folder("text") / f".tmp-{os.getpid()}-abc"
    live.write_text("in progress")
    Workspace.open(workspace.root)
    assert (mine / "page.png").exists() and live.exists()
    assert not dead.exists() and not stale.exists()


def test_catalogue_uses_wal_and_current_schema(workspace):
    conn = workspace.connect()
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
    assert workspace.schema_version() == SCHEMA_VERSION


def test_document_round_trip_and_duplicates(workspace):
    doc = make_document("Line one.", "a.txt")
    doc.pages.append(Page(2, "Second page, by OCR.", method="ocr", ocr_confidence=91.5))
    doc_id, created = workspace.store_document(doc, raw=b"raw bytes")
    assert created
    again, created_again = workspace.store_document(doc, raw=b"raw bytes")
    assert (again, created_again) == (doc_id, False)
    loaded = workspace.load_document(doc_id)
    assert [p.text for p in loaded.pages] == ["Line one.", "Second page, by OCR."]
    assert loaded.pages[1].method == "ocr" and loaded.pages[1].ocr_confidence == 91.5
    assert workspace.document_count() == 1
    with pytest.raises(WorkspaceError, match="no document with id 999"):
        workspace.load_document(999)


def test_atomic_write_replaces_whole_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "file.txt"
    atomic_write(target, "old")
    atomic_write(target, "new contents")
    assert target.read_text() == "new contents"
    assert [p.name for p in tmp_path.iterdir()] == ["file.txt"]


def test_atomic_write_failure_keeps_the_old_file(tmp_path):
    target = tmp_path / "file.txt"
    atomic_write(target, "old")
    with pytest.raises(TypeError):
        atomic_write(target, 12345)  # not bytes or str: fails mid-write
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["file.txt"]


WRITER = """
import sys
from medllm_local.core.records import Document, Page
from medllm_local.workspace.store import Workspace, sha256_bytes
ws = Workspace.open(sys.argv[1])
tag, count = sys.argv[2], int(sys.argv[3])
print("ready", flush=True)
for i in range(count):
    text = f"{tag} report {i} " + "x" * 2000
    ws.store_document(Document(source=f"{tag}-{i}.txt", sha256=sha256_bytes(text.encode()),
                               kind="txt", pages=[Page(1, text)]), raw=text.encode())
"""


def test_two_processes_writing_at_once_lose_nothing(workspace):
    count = 150
    writers = [subprocess.Popen([PYTHON, "-c", WRITER, str(workspace.root), tag, str(count)],
                                cwd=ROOT, stdout=subprocess.PIPE, text=True)
               for tag in ("alpha", "beta")]
    for writer in writers:
        assert writer.wait(timeout=300) == 0
    assert workspace.document_count() == 2 * count
    conn = workspace.connect()
    sources = {row[0] for row in conn.execute("SELECT source FROM documents")}
    conn.close()
    assert sources == {f"{t}-{i}.txt" for t in ("alpha", "beta") for i in range(count)}


def test_killed_writer_leaves_a_consistent_catalogue(workspace):
    writer = subprocess.Popen([PYTHON, "-c", WRITER, str(workspace.root), "crash", "100000"],
                              cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert writer.stdout.readline().strip() == "ready"
    deadline = time.monotonic() + 120
    while workspace.document_count() < 20 and time.monotonic() < deadline:
        time.sleep(0.05)
    writer.send_signal(signal.SIGKILL)  # mid-write, no chance to clean up
    writer.wait()
    reopened = Workspace.open(workspace.root)  # sweeps temp files, re-checks the schema
    conn = reopened.connect()
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    rows = conn.execute("SELECT id, sha256, raw_file, text_file FROM documents").fetchall()
    conn.close()
    assert len(rows) >= 20
    for row in rows:  # every row points to complete files whose hash matches
        text = (reopened.root / row["text_file"]).read_text()
        assert sha256_bytes(text.encode()) == row["sha256"]
        assert (reopened.root / row["raw_file"]).read_bytes() == text.encode()
    leftovers = [p for name in FOLDERS for p in reopened.folder(name).glob(".tmp-*")]
    assert leftovers == []


def test_old_catalogue_is_migrated_and_newer_one_refused(tmp_path):
    root = tmp_path / "ws"
    root.mkdir()
    sqlite3.connect(root / "catalogue.sqlite").close()  # schema version 0: empty
    ws = Workspace.open(root)
    assert ws.schema_version() == SCHEMA_VERSION
    conn = ws.connect()
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    assert {"documents", "findings", "pairs", "splits", "runs", "evaluations", "exports",
            "jobs", "progress"} <= tables
    with pytest.raises(WorkspaceError, match="newer than this release"):
        Workspace.open(root)


def test_chat_feedback_typed_before_version_14_moves_to_raw(tmp_path):
    """Feedback recorded by an older release kept the text as typed in the catalogue:
    opening the workspace moves it to raw/ and blanks the catalogue's copy."""
    from medllm_local.workspace.schema import MIGRATIONS, RAW_FEEDBACK_VERSION

    root = tmp_path / "ws"
    root.mkdir(mode=0o700)
    conn = sqlite3.connect(root / "catalogue.sqlite")
    for script in MIGRATIONS[:RAW_FEEDBACK_VERSION - 1]:  # the schema the old release left
        conn.executescript(script)
    conn.execute(f"PRAGMA user_version = {RAW_FEEDBACK_VERSION - 1}")
    conn.execute("INSERT INTO chat_feedback (model, question, answer, rating, correction, at)"
                 " VALUES ('m', 'Pt Ezekiel Varga, fever?', 'Flu', 'down', 'Sepsis in Varga', 'now')")
    conn.commit()
    conn.close()
    assert len(MIGRATIONS) >= RAW_FEEDBACK_VERSION
    ws = Workspace.open(root)
    row = ws.query("SELECT * FROM chat_feedback")[0]
    assert (row["question"], row["answer"], row["correction"], row["has_correction"]) == ("", "", "", 1)
    assert ws.read_raw_feedback(row["id"]) == {"question": "Pt Ezekiel Varga, fever?", "answer": "Flu",
                                               "correction": "Sepsis in Varga"}


def test_open_without_create_refuses_a_missing_folder(tmp_path):
    with pytest.raises(WorkspaceError, match="no workspace here"):
        Workspace.open(tmp_path / "missing", create=False)


def test_the_path_says_where_a_workspace_stands(tmp_path):
    from medllm_local import pipeline
    from medllm_local.pipeline.overview import next_step, workspace_steps

    workspace = pipeline.open_workspace(tmp_path / "ws")
    assert next_step(workspace_steps(workspace)) == "reports"
    note = tmp_path / "note.txt"
    note.write_text("Patient: Ann Example\nHPI: cough and fever.\nDIAGNOSIS: Pneumonia\n")
    pipeline.ingest(workspace, [note])
    assert next_step(workspace_steps(workspace)) == "review"
    pipeline.deid_documents(workspace)
    pipeline.approve_documents(workspace)
    steps = {s.name: s for s in workspace_steps(workspace)}
    assert steps["review"].done and steps["review"].detail == "1 of 1 approved"
    assert next_step(workspace_steps(workspace)) == "dataset"  # cleaning is optional
