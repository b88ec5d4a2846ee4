"""The pairs in the catalogue as a person works through them: listed with filters and a
text search, and exported in the chat-data formats other tools read.

Only pairs of text a person approved are shown or exported: those of documents approved
with the de-identified text the latest build read, and those of chat feedback still
approved. A document revised or no longer approved since shows again after a build."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from medllm_local.stages.dataset import build as dataset, formats
from medllm_local.pipeline.clean import training_text
from medllm_local.pipeline.dataset import current_documents
from medllm_local.pipeline.feedback import feedback_pairs
from medllm_local.pipeline.deid import refuse_residual, rejected_texts, require_approved, residual_scan
from medllm_local.core.records import Pair, content_of
from medllm_local.workspace.store import Workspace, atomic_write, now

EXPORT_FOLDER = "exports"  # under datasets/: files a person exported by hand
EXTENSIONS = {"messages": "jsonl", "sharegpt": "jsonl", "alpaca": "jsonl", "csv": "csv"}


@dataclass
class PairFilter:
    """Which pairs to show or export. Empty fields filter nothing; the flags take
    "yes", "no" or "" (either)."""

    task: str = ""
    split: str = ""
    edited: str = ""
    augmented: str = ""
    excluded: str = ""  # excluded report pairs and rejected augmented ones are "excluded"
    review: str = ""  # pending / accepted / rejected (augmented pairs)
    search: str = ""  # words that must all appear in the question or the answer

    def __post_init__(self) -> None:
        for name in ("edited", "augmented", "excluded"):
            if getattr(self, name) not in ("", "yes", "no"):
                raise ValueError(f"{name} must be yes, no or empty")


def _sql(pair_filter: PairFilter) -> tuple[str, list]:
    clauses, args = [], []
    for column in ("task", "split", "review"):
        if getattr(pair_filter, column):
            clauses.append(f"{column} = ?")
            args.append(getattr(pair_filter, column))
    flags = {"edited": "edited = 1", "augmented": "origin = 'augmented'",
             "excluded": "(excluded = 1 OR COALESCE(review, '') = 'rejected')"}
    for name, condition in flags.items():
        value = getattr(pair_filter, name)
        if value:
            clauses.append(condition if value == "yes" else f"NOT {condition}")
    for word in pair_filter.search.split():
        clauses.append("(messages LIKE ? ESCAPE '\\' OR reference LIKE ? ESCAPE '\\')")
        pattern = "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        args += [pattern, pattern]
    where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
    return f"SELECT * FROM pairs{where} ORDER BY split, document_id, task, id", args


@dataclass
class ListedPair:
    """One stored pair as the Dataset tab lists it."""

    id: int
    split: str | None
    task: str
    document_id: int | None
    origin: str  # report, imported, augmented, feedback
    method: str  # the augmentation method, for augmented pairs
    review: str  # pending / accepted / rejected, for augmented pairs
    edited: bool
    excluded: bool
    question: str
    answer: str
    messages: list[dict]


def _listed(row) -> ListedPair:
    messages = json.loads(row["messages"])
    return ListedPair(row["id"], row["split"], row["task"], row["document_id"], row["origin"],
                      row["method"] or "", row["review"] or "", bool(row["edited"]), bool(row["excluded"]),
                      content_of(messages, "user"), content_of(messages, "assistant"), messages)


def _approved_rows(workspace: Workspace, rows: list) -> tuple[list, int]:
    """The rows of text a person approved as it is now, and how many others there were."""
    documents = current_documents(workspace)
    feedback = {json.dumps(p.messages) for p in feedback_pairs(workspace)} \
        if any(r["document_id"] is None for r in rows) else set()
    kept = [r for r in rows if (r["document_id"] in documents if r["document_id"] is not None
                                else r["messages"] in feedback)]
    return kept, len(rows) - len(kept)


def list_pairs(workspace: Workspace, pair_filter: PairFilter | None = None) -> list[ListedPair]:
    """The stored pairs that pass the filter, with their question and answer: only
    pairs of approved text (see the module's note)."""
    rows, _ = _approved_rows(workspace, workspace.query(*_sql(pair_filter or PairFilter())))
    return [_listed(row) for row in rows]


def get_pair(workspace: Workspace, pair_id: int) -> ListedPair | None:
    """One pair as listed (None when there is none, or its text is not approved now)."""
    rows, _ = _approved_rows(workspace, workspace.query("SELECT * FROM pairs WHERE id = ?", (pair_id,)))
    return _listed(rows[0]) if rows else None


def export_pairs(workspace: Workspace, fmt: str, pair_filter: PairFilter | None = None) -> dict:
    """The pairs that pass the filter, in a chat-data format, written owner-only under
    datasets/exports. Left out are excluded pairs, augmented pairs not accepted (an
    export holds what a person let through, as the train file does) and pairs of text
    not approved as it is now (counted in ``not_approved``: build again). What is
    written passes the gate and the residual scan first, as a build does."""
    if fmt not in formats.FORMATS:
        raise ValueError(f"unknown format {fmt!r}; known: {', '.join(formats.FORMATS)}")
    rows, not_approved = _approved_rows(workspace, workspace.query(*_sql(pair_filter or PairFilter())))
    pairs = [Pair(task=row.task, document_id=row.document_id, reference=row.answer,
                  augmented=row.method if row.origin == "augmented" else "", messages=row.messages)
             for row in map(_listed, rows)
             if not row.excluded and (row.origin != "augmented" or row.review == "accepted")]
    if not pairs:
        raise ValueError("no pairs to export: build the dataset first, or loosen the filter"
                         + (f" ({not_approved} pairs are of documents revised or not approved "
                            "since the last build: approve them and build again)" if not_approved else ""))
    _check(workspace, pairs)
    folder = workspace.folder("datasets") / EXPORT_FOLDER
    folder.mkdir(mode=0o700, exist_ok=True)
    data = formats.dump(pairs, fmt)
    stamp = now().replace(":", "").replace("+0000", "Z")
    path = atomic_write(_new_file(folder, f"pairs-{fmt}-{stamp}", EXTENSIONS[fmt]), data)
    return {"file": str(Path(path)), "format": fmt, "pairs": len(pairs), "not_approved": not_approved}


def _check(workspace: Workspace, pairs: list[Pair]) -> None:
    """The gate and the residual scan over the pairs about to leave the workspace."""
    documents = sorted({p.document_id for p in pairs if p.document_id is not None})
    require_approved(workspace, documents)
    rows = {row["id"]: row for row in workspace.document_rows(documents)}
    source = {doc: training_text(workspace, row) for doc, row in rows.items()}
    rejected = {doc: rejected_texts(workspace, doc) for doc in documents}
    texts, approved, not_identifying = {}, {}, {}
    for number, pair in enumerate(pairs):
        name = f"pair {number + 1} ({pair.task}" + (f", document {pair.document_id})"
                                                    if pair.document_id is not None else ", chat feedback)")
        texts[name] = dataset.scanned_text(pair)
        approved[name] = source[pair.document_id] if pair.document_id is not None else texts[name]
        not_identifying[name] = rejected.get(pair.document_id, set())
    refuse_residual(residual_scan(workspace, texts, approved, not_identifying), "nothing exported")


def _new_file(folder: Path, stem: str, extension: str) -> Path:
    """A name in ``folder`` nobody has used: taken at once (O_EXCL), so two exports in
    one second never write over each other."""
    for number in range(1, 10_000):
        path = folder / (f"{stem}.{extension}" if number == 1 else f"{stem}-{number}.{extension}")
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:
            continue
        return path
    raise FileExistsError(f"no free export name for {stem} in {folder}")
