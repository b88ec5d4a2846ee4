"""Data can be deleted (issue 16, lifecycle): `forget` removes a document, or every
document of a patient, with everything made from it, lists and marks the builds and runs
that held it, and leaves nothing that names a missing file; deleted catalogue rows are
overwritten; only the current de-identified version of a text is kept; and saving
settings from two processes at once loses no key."""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import re
import sqlite3

import pytest

from conftest import run_cli
from medllm_local import pipeline
from medllm_local.stages.train import trainer as train
from medllm_local.core.demo_reports import DEMO_REPORTS
from medllm_local.pipeline import train as training
from medllm_local.pipeline.dataset import require_current_build
from medllm_local.pipeline.feedback import deidentify_feedback, record_feedback, review_feedback
from medllm_local.core.records import Document, Page
from medllm_local.stages.deid.surrogates import SurrogateMap
from medllm_local.workspace.store import Workspace, sha256_bytes
from test_dataset import approved_workspace


def store(workspace: Workspace, text: str, source: str = "note.txt", patient: str | None = None) -> int:
    """A document stored as ingest stores it (raw copy and text), without the readers."""
    doc, _ = workspace.store_document(Document(source=source, sha256=sha256_bytes(text.encode()),
                                               kind="txt", pages=[Page(1, text)]), raw=text.encode())
    workspace.log_ingest(source, sha256_bytes(text.encode()), "ok", None, doc)
    if patient:
        with workspace.transaction() as conn:
            conn.execute("UPDATE documents SET patient = ? WHERE id = ?", (patient, doc))
    return doc


def slug_of(workspace: Workspace, doc: int) -> str:
    name = workspace.document_rows([doc])[0]["source"].rsplit("/", 1)[-1]
    return name.removesuffix(".txt")


def unique_line(report) -> str:
    """A line of one demo report, with no identifier, that no other report has."""
    others = " ".join(r.text for r in DEMO_REPORTS if r is not report)
    lines = [line.strip() for line in report.text.splitlines()
             if len(line.strip()) >= 50 and ":" not in line and line.strip() not in others]
    return max(lines, key=len)


# -- forgetting a document -----------------------------------------------------------
def test_forget_deletes_a_document_and_everything_made_from_it(workspace, tmp_path, monkeypatch):
    approved_workspace(workspace, tmp_path)
    pipeline.clean_documents(workspace)
    first = pipeline.build_dataset(workspace)
    doc = first.splits["train"].documents[0]
    report = next(r for r in DEMO_REPORTS if r.slug == slug_of(workspace, doc))
    # chat feedback about this report (a line of it pasted in), and feedback about nothing
    about = record_feedback(workspace, f"{unique_line(report)}\nWhat is the diagnosis?",
                            "Not sure", "base", correction=report.diagnosis)["id"]
    unrelated = record_feedback(workspace, "Fever, sore throat and exudate on the tonsils. "
                                "Most likely diagnosis?", "Viral", "base",
                                correction="Streptococcal pharyngitis")["id"]
    deidentify_feedback(workspace)
    for item in (about, unrelated):
        review_feedback(workspace, item, approve=True)
    build = pipeline.build_dataset(workspace).build
    with workspace.transaction() as conn:  # a run on that build and one continued from it
        conn.execute("INSERT INTO runs (id, base_model, status, config, folder, created_at, build)"
                     " VALUES (1, 'base', 'done', '{}', 'runs/run-1', 'now', ?)", (build,))
        conn.execute("INSERT INTO runs (id, base_model, status, config, folder, created_at, build,"
                     " parent_id) VALUES (2, 'base', 'done', '{}', 'runs/run-2', 'now', ?, 1)",
                     (first.build,))
    pipeline.transcribe_page(workspace, doc, 1, workspace.load_document(doc).text + "\nTyped.",
                             deidentify=False)  # a second text version, as typing a page makes
    row = workspace.document_rows([doc])[0]
    sha = row["sha256"]
    files = {p.relative_to(workspace.root).as_posix() for folder in ("raw", "text", "deid", "clean")
             for p in workspace.folder(folder).glob(sha + "*")}
    assert {row["raw_file"], row["deid_file"], row["clean_file"], f"text/{sha}.txt",
            row["text_file"]} <= files and len(files) == 5
    surname = report.patient.split()[-1]
    map_path = workspace.folder("raw") / pipeline.SURROGATE_MAP
    known = SurrogateMap(map_path).real_values()
    assert any(surname in value for value in known)

    typed = workspace.raw_feedback_file(about)  # the feedback as typed, in raw/
    assert (workspace.root / typed).is_file()
    files.add(typed)

    result = pipeline.forget_documents(workspace, [doc])

    assert result["forgotten"] == [doc] and sorted(result["files"]) == sorted(files)
    assert (workspace.root / workspace.raw_feedback_file(unrelated)).is_file()  # kept
    assert not any((workspace.root / f).exists() for f in files)
    for table, column in (("documents", "id"), ("findings", "document_id"), ("pairs", "document_id"),
                          ("clean_changes", "document_id"), ("ingest_log", "document_id")):
        assert workspace.query(f"SELECT COUNT(*) FROM {table} WHERE {column} = ?", (doc,))[0][0] == 0
    assert workspace.query("SELECT COUNT(*) FROM ingest_log WHERE sha256 = ?", (sha,))[0][0] == 0
    assert [r["id"] for r in workspace.query("SELECT id FROM chat_feedback")] == [unrelated]
    pairs = " ".join(r["messages"] for r in workspace.query("SELECT messages FROM pairs"))
    assert unique_line(report) not in pairs and "pharyngitis" in pairs
    deleted = result["deleted"]
    assert deleted["documents"] == 1 and deleted["chat_feedback"] == 1 and deleted["files"] == 6
    assert deleted["findings"] > 0 and deleted["pairs"] > 0 and deleted["cleaning_changes"] >= 0
    # the surrogate map: this patient's values gone, values other reports use kept
    left = SurrogateMap(map_path).real_values()
    assert not any(surname in value for value in left) and deleted["surrogate_map_entries"] > 0
    remaining = " ".join(workspace.load_document(r["id"]).text for r in workspace.document_rows())
    assert {v for v in known if v in remaining} <= left
    # the builds and runs that held it: listed, marked, and refused by the gate
    assert {b["build"] for b in result["builds"]} == {first.build, build}
    assert {r["run"]: r["reason"] for r in result["runs"]} == {
        1: f"trained on build {build}", 2: f"trained on build {first.build}"}
    assert pipeline.forgotten_in(workspace, build=build) == [doc] == pipeline.forgotten_in(workspace, run=2)
    assert pipeline.forgotten_in(workspace, build=first.build) == [doc] == pipeline.forgotten_in(workspace, run=1)
    with pytest.raises(pipeline.GateError, match=rf"document {doc} \(deleted\).*launch.py build"):
        require_current_build(workspace, build)
    monkeypatch.setattr(training, "base_model_folder", lambda name: tmp_path / "base-model")
    monkeypatch.setattr(train, "train", lambda *a, **k: pytest.fail("trained on forgotten data"))
    with pytest.raises(pipeline.GateError, match=r"\(deleted\).*launch.py build"):
        pipeline.train_run(workspace, "base", train.TrainSettings(max_steps=1))
    # the result holds no text and no file name: counts, ids and hash-named paths
    dumped = json.dumps(result)
    assert surname not in dumped and report.slug not in dumped and unique_line(report) not in dumped
    # a new build leaves it out and is not marked
    rebuilt = pipeline.build_dataset(workspace)
    assert all(doc not in s.documents for s in rebuilt.splits.values())
    assert pipeline.forgotten_in(workspace, build=rebuilt.build) == []


def test_forget_a_patient_from_the_command_line(workspace):
    patient, other = "0123456789abcdef", "fedcba9876543210"
    mine = [store(workspace, f"Patient seen, visit {i}.", f"visit-{i}.txt", patient) for i in (1, 2)]
    kept = store(workspace, "Someone else entirely.", "other.txt", other)
    out = run_cli("forget", "--workspace", str(workspace.root), "--json", "--patient", patient)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["forgotten"] == mine and result["deleted"]["documents"] == 2
    assert result["deleted"]["ingest_log"] == 2 and len(result["files"]) == 4
    assert [r["id"] for r in workspace.document_rows()] == [kept]
    assert all(re.fullmatch(r"(raw|text)/[0-9a-f]{64}\.txt", f) for f in result["files"])
    for args, reason in (([], "say what to forget"), (["999"], "no document with id 999"),
                         (["--patient", patient], f"no document of patient {patient}"),
                         (["--patient", "Alex Example"], "not a patient hash"),
                         (["1", "--patient", other], "not both")):
        out = run_cli("forget", "--workspace", str(workspace.root), "--json", *args)
        assert out.returncode == 1 and reason in json.loads(out.stdout)["error"], out.stdout
    assert [r["id"] for r in workspace.document_rows()] == [kept]


def test_the_documents_tab_deletes_only_after_confirmation(workspace):
    from medllm_local.ui.app import build_app
    from medllm_local.ui.ingest_tab import delete_document

    doc = store(workspace, "Patient seen today.", "wrong-file.txt")
    rows, message, confirm = delete_document(workspace, doc, False)
    assert "confirmation" in message and workspace.document_count() == 1 and confirm is False
    rows, message, _ = delete_document(workspace, doc, True)
    assert message.startswith("Forgot 1 document") and workspace.document_count() == 0
    assert "wrong-file.txt" not in json.dumps(rows)
    assert "Not deleted: no document with id" in delete_document(workspace, doc, True)[1]
    config = build_app(workspace).config
    ids = {c.get("props", {}).get("elem_id") for c in config["components"]}
    assert {"documents-delete-id", "documents-delete-confirm", "documents-delete"} <= ids
    assert "documents_delete" in {d.get("api_name") for d in config["dependencies"]}


# -- crash safety and what stays on disk -----------------------------------------------
def test_a_crash_while_forgetting_leaves_nothing_naming_a_missing_file(workspace, monkeypatch):
    from medllm_local.pipeline import forget as forgetting

    doc = store(workspace, "Patient Alex Example seen today.")
    row = workspace.document_rows([doc])[0]
    files = [row["raw_file"], row["text_file"]]

    def power_cut(*_):
        raise KeyboardInterrupt("power cut")

    # in the catalogue transaction: nothing changed at all
    monkeypatch.setattr(forgetting, "_mark", power_cut)
    with pytest.raises(KeyboardInterrupt):
        pipeline.forget_documents(workspace, [doc])
    monkeypatch.undo()
    assert workspace.document_count() == 1 and all((workspace.root / f).exists() for f in files)
    # after the commit, before the files: the rows are gone, the files are listed as pending
    real, calls = workspace.finish_deletions, []

    def crash_after_commit():  # the first call (leftovers of earlier crashes) runs
        calls.append(1)
        return real() if len(calls) == 1 else power_cut()

    monkeypatch.setattr(workspace, "finish_deletions", crash_after_commit)
    with pytest.raises(KeyboardInterrupt):
        pipeline.forget_documents(workspace, [doc])
    monkeypatch.undo()
    assert workspace.document_count() == 0 and all((workspace.root / f).exists() for f in files)
    pending = workspace.query("SELECT pending_files FROM forgotten")[0][0]
    assert sorted(json.loads(pending)) == sorted(files)
    Workspace.open(workspace.root)  # the next open finishes the deletion
    assert not any((workspace.root / f).exists() for f in files)
    assert workspace.query("SELECT pending_files FROM forgotten")[0][0] is None


def test_deleted_rows_are_overwritten_in_the_catalogue(workspace, monkeypatch):
    real = sqlite3.connect

    def connect_secure_delete_off(*args, **kwargs):  # as SQLite builds without it by default
        conn = real(*args, **kwargs)
        conn.execute("PRAGMA secure_delete=OFF")
        return conn

    monkeypatch.setattr(sqlite3, "connect", connect_secure_delete_off)
    conn = workspace.connect()
    assert conn.execute("PRAGMA secure_delete").fetchone()[0] == 1
    conn.close()
    store(workspace, "Another patient seen today.")
    doc = store(workspace, "Patient seen today.", "/reports/Zyxwvut-Qwertyname-report.txt")
    pipeline.forget_documents(workspace, [doc])
    stored = b"".join(p.read_bytes() for p in workspace.root.glob("catalogue.sqlite*"))
    assert b"Qwertyname" not in stored
    assert store(workspace, "A later note.") == doc + 1  # the forgotten id is never reused


def test_the_deid_folder_keeps_only_the_current_version(workspace, monkeypatch):
    doc = store(workspace, "Patient Alex Example seen today.")
    sha = workspace.document_rows([doc])[0]["sha256"]
    workspace.store_deid(doc, sha, "Patient Sam Other seen today.", [], "0123456789abcdef")
    workspace.write_deid_text(doc, sha, "Patient [NAME] seen today.")
    real = workspace.transaction

    @contextlib.contextmanager
    def crash_before_commit():
        with real() as conn:
            yield conn
            raise KeyboardInterrupt("power cut")

    monkeypatch.setattr(workspace, "transaction", crash_before_commit)
    with pytest.raises(KeyboardInterrupt):
        workspace.write_deid_text(doc, sha, "Patient [PERSON] seen today, typed by a reviewer.")
    monkeypatch.undo()
    workspace.write_deid_text(doc, sha, "Patient [X] seen today.")
    workspace.store_deid(doc, sha, "Patient Kim Other seen today.", [], "0123456789abcdef")
    versions = [p.name for p in workspace.folder("deid").iterdir()]
    assert versions == [workspace.document_rows([doc])[0]["deid_file"].split("/", 1)[1]]


# -- settings saved by two processes at once ---------------------------------------------
def _save_many(root: str, tag: str, count: int) -> None:
    workspace = Workspace.open(root)
    for i in range(count):
        workspace.save_settings({f"{tag}-{i}": i})
        workspace.update_settings(lambda saved: {"log": saved.get("log", []) + [f"{tag}-{i}"]})


def test_settings_saved_by_two_processes_at_once_lose_nothing(workspace):
    workspace.save_settings({"deny_list": "Dr. Sample"})
    count = 150
    context = multiprocessing.get_context("fork")
    writers = [context.Process(target=_save_many, args=(str(workspace.root), tag, count))
               for tag in ("app", "cli")]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(timeout=300)
        assert writer.exitcode == 0
    saved = workspace.load_settings()
    expected = {f"{tag}-{i}" for tag in ("app", "cli") for i in range(count)}
    assert expected <= set(saved) and saved["deny_list"] == "Dr. Sample"
    assert sorted(saved["log"]) == sorted(expected)
    assert workspace.root / ".settings.lock" in workspace.managed_paths()


def test_surrogate_map_rows_are_overwritten_too(workspace):
    """The map's deleted values leave its file as well (it is opened with secure_delete)."""
    doc = store(workspace, "Patient Qwertyname seen today.")
    with workspace.transaction() as conn:
        conn.execute("INSERT INTO findings (document_id, start, end, type, score, recognizer)"
                     " VALUES (?, 8, 18, 'PERSON', 1.0, 'test')", (doc,))
    path = workspace.folder("raw") / pipeline.SURROGATE_MAP
    SurrogateMap(path).add({("PERSON", "Qwertyname", "Smith")})
    result = pipeline.forget_documents(workspace, [doc])
    assert result["deleted"]["surrogate_map_entries"] == 1
    assert b"Qwertyname" not in path.read_bytes()
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM surrogates").fetchone()[0] == 0
