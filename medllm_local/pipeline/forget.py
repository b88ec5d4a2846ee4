"""Forgetting: a wrongly ingested report, or every report of one patient, deleted with
everything made from it; the builds and runs that held it are listed and marked.

Order, so that a crash leaves nothing that names a missing file: the catalogue rows go
first, in one transaction that also records the files still to delete (paths only), then
the files; ``Workspace.finish_deletions`` (run again at every open) deletes what a crash
left. Reports hold counts, ids and workspace-relative paths, never text or file names.
"""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

from medllm_local.pipeline.common import SURROGATE_MAP
from medllm_local.core.records import content_of
from medllm_local.core.textnorm import fold_value
from medllm_local.workspace.store import Workspace, now

PASSAGE = 40  # characters: a report's line this long, found in chat feedback, ties the two
REBUILD = "python3 launch.py build"
FEEDBACK_FIELDS = ("deid_question", "deid_target")  # beside the typed text in raw/


def _feedback_texts(workspace: Workspace, row) -> list[str]:
    """One chat feedback's texts: as typed (raw/) and de-identified (catalogue)."""
    return [*workspace.read_raw_feedback(row["id"]).values(), *(str(row[k] or "") for k in FEEDBACK_FIELDS)]


def forget_documents(workspace: Workspace, document_ids: list[int] | None = None,
                     patient: str | None = None) -> dict:
    """Delete documents (by id, or every document of the keyed ``patient`` hash stored
    in ``documents.patient``) with their raw copy, texts, de-identified and cleaned
    texts, findings, pairs, cleaning changes, ingest records, chat feedback made from
    them and the surrogate-map values no other text uses. Returns what was deleted and
    the builds, runs, exports and evaluations that held them."""
    if bool(document_ids) == bool(patient):
        raise ValueError("say what to forget: document ids, or --patient HASH (not both)")
    workspace.finish_deletions()  # what an earlier crash left, first
    with workspace.transaction() as conn:  # nobody adds a build or a run meanwhile
        rows = _documents(workspace, document_ids, patient)
        ids = [r["id"] for r in rows]
        texts = {r["id"]: _texts(workspace, r) for r in rows}
        others = [text for r in workspace.document_rows() if r["id"] not in ids
                  for text in _texts(workspace, r)]
        feedback = _derived_feedback(workspace, texts, others)
        kept_feedback = [" ".join(_feedback_texts(workspace, f))
                         for f in workspace.query("SELECT * FROM chat_feedback")
                         if f["id"] not in feedback]
        values, shared = _map_values(workspace, rows, others + kept_feedback)
        builds, split_ids = _builds_holding(workspace, ids, feedback)
        runs = _runs_holding(workspace, builds)
        files = {r["id"]: _files_of(workspace, r) for r in rows}
        # the typed text of the feedback made from them goes with the first of them
        if ids:
            files[ids[0]] += [f for f in map(workspace.raw_feedback_file, feedback)
                              if (workspace.root / f).is_file()]
        counts = _delete_rows(conn, rows, feedback)
        for document_id in ids:
            conn.execute("INSERT INTO forgotten (document_id, at, pending_files) VALUES (?, ?, ?)",
                         (document_id, now(), json.dumps(files[document_id])))
        _mark(conn, [("build", b) for b in builds] + [("run", str(r)) for r in runs], ids)
        # Last before the commit: a failure above leaves the map whole.
        counts["surrogate_map_entries"], unlinked = _forget_map_values(workspace, values)
    deleted = workspace.finish_deletions()
    counts["files"] = len(deleted)
    return _report(workspace, ids, patient, rows, counts, deleted, builds, split_ids, runs,
                   shared, unlinked, _checkpoint(workspace))


def _documents(workspace: Workspace, document_ids: list[int] | None, patient: str | None) -> list:
    if document_ids:
        return workspace.document_rows(sorted(set(document_ids)))  # names any unknown id
    if not re.fullmatch(r"[0-9a-f]{16}", patient.strip().lower()):
        raise ValueError(f"{patient!r} is not a patient hash (16 hexadecimal digits, as in "
                         "documents.patient)")
    rows = workspace.query("SELECT * FROM documents WHERE patient = ? ORDER BY id",
                           (patient.strip().lower(),))
    if not rows:
        raise ValueError(f"no document of patient {patient} in {workspace.root} (a document "
                         "gets its patient hash when it is de-identified)")
    return rows


def _read(path: Path) -> str | None:
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            return handle.read()  # as stored: finding offsets count "\r\n" as two
    except FileNotFoundError:
        return None


def _texts(workspace: Workspace, row) -> list[str]:
    """A document's original, de-identified and cleaned text (those that exist)."""
    return [t for t in (_read(workspace.root / f) for f in
                        (row["text_file"], row["deid_file"], row["clean_file"]) if f) if t]


def _files_of(workspace: Workspace, row) -> list[str]:
    """Every workspace file of a document: the ones its row names and the others named by
    its content hash (earlier versions, typed pages), relative to the workspace."""
    named = {row["raw_file"], row["text_file"], row["deid_file"], row["clean_file"]} - {None}
    if re.fullmatch(r"[0-9a-f]{64}", row["sha256"]):
        for folder in ("raw", "text", "deid", "clean"):
            named |= {f"{folder}/{p.name}" for p in workspace.folder(folder).glob(row["sha256"] + "*")}
    return sorted(f for f in named if (workspace.root / f).is_file())


def _collapse(text: str) -> str:
    return " ".join(text.split())


def _derived_feedback(workspace: Workspace, texts: dict[int, list[str]], others: list[str]) -> list[int]:
    """Chat feedback made from these documents. The catalogue does not record which
    report a chat was about, so: feedback that holds a line of one of them (PASSAGE
    characters or more, spaces aside) that no other document has."""
    elsewhere = "\n".join(_collapse(t) for t in others)
    passages = {p for doc in texts.values() for text in doc for p in map(_collapse, text.splitlines())
                if len(p) >= PASSAGE and p not in elsewhere}
    found = []
    for row in workspace.query("SELECT * FROM chat_feedback ORDER BY id"):
        fields = [_collapse(text) for text in _feedback_texts(workspace, row)]
        if any(p in field for field in fields for p in passages):
            found.append(row["id"])
    return found


def _map_values(workspace: Workspace, rows, others: list[str]) -> tuple[set[str], int]:
    """The real values of these documents' findings (as the surrogate map keys them) that
    no other document or chat feedback holds, and how many were kept as shared."""
    values = set()
    for row in rows:
        text = _read(workspace.root / row["text_file"]) or ""
        values |= {fold_value(text[f["start"]:f["end"]]) for f in workspace.findings_for(row["id"])}
    values = {v for v in values if v.strip()}
    elsewhere = fold_value("\n".join(others)).lower()
    shared = {v for v in values if v.lower() in elsewhere}
    return values - shared, len(shared)


def _forget_map_values(workspace: Workspace, values: set[str]) -> tuple[int, int]:
    """Delete those values' rows from the surrogate map (overwritten on disk); also how
    many rows were stored without their real value (never tied to a document)."""
    path = workspace.folder("raw") / SURROGATE_MAP
    if not path.exists():
        return 0, 0
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA secure_delete=ON")
        with conn:
            deleted = sum(conn.execute("DELETE FROM surrogates WHERE real = ?", (v,)).rowcount
                          for v in sorted(values))
        unlinked = conn.execute("SELECT COUNT(*) FROM surrogates WHERE real = ''").fetchone()[0]
    finally:
        conn.close()
    return deleted, unlinked


def _builds_holding(workspace: Workspace, ids: list[int], feedback: list[int]
                    ) -> tuple[dict[str, dict], list[int]]:
    """Builds whose splits held any of these documents or feedback: build -> {splits,
    recorded}; and the ids of those split rows. A build that does not record its sources
    (an older release made it) is taken to hold them."""
    builds: dict[str, dict] = {}
    split_ids = []
    wanted_docs, wanted_feedback = {str(i) for i in ids}, {str(i) for i in feedback}
    for split in workspace.query("SELECT id, name, build, sources FROM splits"
                                 " WHERE build IS NOT NULL ORDER BY id"):
        recorded = True
        if split["sources"]:
            sources = json.loads(split["sources"])
            held = bool(wanted_docs & set(sources["documents"])
                        or wanted_feedback & set(sources["feedback"]))
        else:
            listed = _read(workspace.folder("datasets") / split["build"] / "sources.json")
            recorded = listed is not None
            held = not recorded or bool(wanted_docs & set(json.loads(listed)))
        if held:
            entry = builds.setdefault(split["build"], {"splits": [], "recorded": recorded})
            entry["splits"].append(split["name"])
            split_ids.append(split["id"])
    return builds, split_ids


def _runs_holding(workspace: Workspace, builds: dict) -> dict[int, str]:
    """Runs trained on those builds, and runs continued from such a run: id -> why."""
    rows = workspace.query("SELECT id, build, parent_id FROM runs ORDER BY id")
    runs = {r["id"]: f"trained on build {r['build']}" for r in rows if r["build"] in builds}
    grown = True
    while grown:  # a run started from a held run's adapter learned from it too
        new = {r["id"]: f"continued from run {r['parent_id']}" for r in rows
               if r["parent_id"] in runs and r["id"] not in runs}
        runs |= new
        grown = bool(new)
    return runs


def _delete_rows(conn: sqlite3.Connection, rows, feedback: list[int]) -> dict[str, int]:
    """The catalogue rows of the documents and of the feedback made from them."""
    ids = [r["id"] for r in rows]
    marks = ",".join("?" * len(ids))
    counts = {}
    # Approved feedback's pairs have no document: matched by their question and answer.
    feedback_texts = set()
    for item in feedback:
        feedback_texts |= {tuple(r) for r in conn.execute(
            "SELECT deid_question, deid_target FROM chat_feedback WHERE id = ?", (item,))}
    feedback_pairs = []
    for pair in conn.execute("SELECT id, messages FROM pairs WHERE origin = 'feedback'").fetchall():
        messages = json.loads(pair["messages"])
        if (content_of(messages, "user"), content_of(messages, "assistant")) in feedback_texts:
            feedback_pairs.append(pair["id"])
    counts["pairs"] = conn.execute(f"DELETE FROM pairs WHERE document_id IN ({marks})", ids).rowcount
    counts["pairs"] += sum(conn.execute("DELETE FROM pairs WHERE id = ?", (i,)).rowcount
                           for i in feedback_pairs)
    counts["findings"] = conn.execute(f"DELETE FROM findings WHERE document_id IN ({marks})", ids).rowcount
    counts["cleaning_changes"] = conn.execute(
        f"DELETE FROM clean_changes WHERE document_id IN ({marks})", ids).rowcount
    counts["chat_feedback"] = sum(conn.execute("DELETE FROM chat_feedback WHERE id = ?", (i,)).rowcount
                                  for i in feedback)
    # The ingest log names the source file (often the patient's name): its rows go too.
    counts["ingest_log"] = conn.execute(
        f"DELETE FROM ingest_log WHERE document_id IN ({marks}) OR sha256 IN ({marks})",
        ids + [r["sha256"] for r in rows]).rowcount
    counts["documents"] = conn.execute(f"DELETE FROM documents WHERE id IN ({marks})", ids).rowcount
    return counts


def _mark(conn: sqlite3.Connection, holders: list[tuple[str, str]], ids: list[int]) -> None:
    """Record that each build or run held these documents (see ``forgotten_in``)."""
    conn.executemany("INSERT OR IGNORE INTO held_forgotten (kind, name, document_id) VALUES (?, ?, ?)",
                     [(kind, name, i) for kind, name in holders for i in ids])


def forgotten_in(workspace: Workspace, build: str | None = None, run: int | None = None) -> list[int]:
    """The forgotten documents a dataset build or a run held (empty when none): a run
    listed here learned from deleted data, and so do its exports."""
    kind, name = ("build", build) if build is not None else ("run", str(run))
    return [r["document_id"] for r in workspace.query(
        "SELECT document_id FROM held_forgotten WHERE kind = ? AND name = ? ORDER BY document_id",
        (kind, name))]


def _checkpoint(workspace: Workspace) -> bool:
    """Copy the catalogue's log into the file and empty it, so the deleted rows' old
    pages leave the log too; False when a reader kept it from finishing."""
    conn = workspace.connect()
    try:
        return conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 0
    finally:
        conn.close()


def _relative(workspace: Workspace, path: str | None) -> str | None:
    if not path:
        return None
    try:
        return str(Path(path).resolve().relative_to(workspace.root))
    except ValueError:
        return path


def _report(workspace: Workspace, ids, patient, rows, counts, deleted, builds, split_ids, runs,
            shared, unlinked, checkpointed) -> dict:
    exports, evaluations = [], []
    if runs:
        exports = [{"export": r["id"], "run": r["run_id"], "quant": r["quant"]} for r in workspace.query(
            f"SELECT id, run_id, quant FROM exports WHERE run_id IN ({','.join('?' * len(runs))})"
            " ORDER BY id", list(runs))]
    if split_ids:
        evaluations = [{"evaluation": r["id"], "model": r["model"],
                        "results_file": _relative(workspace, r["cases_file"])}
                       for r in workspace.query(
            f"SELECT id, model, cases_file FROM evaluations WHERE split_id IN ({','.join('?' * len(split_ids))})"
            " ORDER BY id", split_ids)]
    patients = {r["patient"] for r in rows if r["patient"]}
    same_patient = [r["id"] for r in workspace.query(
        f"SELECT id FROM documents WHERE patient IN ({','.join('?' * len(patients))}) ORDER BY id",
        sorted(patients))] if patients else []
    notes = ["Chat feedback is matched to a report by a line of it (40 or more characters, in no "
             "other document): the catalogue does not record which report a chat was about."]
    if shared:
        notes.append("The surrogate map records values, not the document they came from: "
                     f"{shared} of these documents' values also occur in other documents or chat "
                     "feedback and were kept.")
    if unlinked:
        notes.append(f"{unlinked} surrogate-map entries were stored without their real value and "
                     "cannot be tied to any document: left.")
    if builds:
        notes.append("The builds listed still hold the text in their files: training and evaluation "
                     f"refuse them. Build again ({REBUILD}); the old build folders can then be deleted.")
    if runs:
        notes.append("The runs listed (and their exports) learned from it: train a new version from "
                     "a new build, not continued from those runs.")
    if not checkpointed:
        notes.append("The catalogue was in use: its log keeps old pages until its next checkpoint.")
    return {"forgotten": ids, "patient": patient, "deleted": counts, "files": deleted,
            "builds": [{"build": b} | info for b, info in builds.items()],
            "runs": [{"run": r, "reason": why} for r, why in runs.items()],
            "exports": exports, "evaluations": evaluations,
            "same_patient_remaining": same_patient, "notes": notes,
            "message": f"forgot {len(ids)} document{'s' * (len(ids) != 1)} "
                       f"({', '.join(map(str, ids))}): {counts['files']} files and their catalogue "
                       f"rows deleted; {len(builds)} builds and {len(runs)} runs held them and are "
                       f"marked" + (f" (train and eval refuse those builds: {REBUILD})" if builds else "")}
