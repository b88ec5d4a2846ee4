"""The pairs in the catalogue as a person works through them: listed with filters and a
text search, and exported in the chat-data formats other tools read."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from medllm_local import dataset
from medllm_local.records import Pair
from medllm_local.workspace import Workspace, atomic_write, now

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


def list_pairs(workspace: Workspace, pair_filter: PairFilter | None = None) -> list[dict]:
    """The stored pairs that pass the filter, with their question and answer."""
    rows = workspace.query(*_sql(pair_filter or PairFilter()))
    listed = []
    for row in rows:
        messages = json.loads(row["messages"])
        listed.append({"id": row["id"], "split": row["split"], "task": row["task"],
                       "document_id": row["document_id"], "origin": row["origin"],
                       "method": row["method"] or "", "review": row["review"] or "",
                       "edited": bool(row["edited"]), "excluded": bool(row["excluded"]),
                       "question": messages[1]["content"], "answer": messages[-1]["content"],
                       "messages": messages})
    return listed


def export_pairs(workspace: Workspace, fmt: str, pair_filter: PairFilter | None = None) -> dict:
    """The pairs that pass the filter, in a chat-data format, written owner-only under
    datasets/exports. Left out are excluded pairs and augmented pairs not accepted: an
    export holds what a person let through, as the train file does."""
    if fmt not in dataset.FORMATS:
        raise ValueError(f"unknown format {fmt!r}; known: {', '.join(dataset.FORMATS)}")
    pairs = [Pair(task=row["task"], document_id=row["document_id"], reference=row["answer"],
                  augmented=row["method"] if row["origin"] == "augmented" else "",
                  messages=row["messages"])
             for row in list_pairs(workspace, pair_filter)
             if not row["excluded"] and (row["origin"] != "augmented" or row["review"] == "accepted")]
    if not pairs:
        raise ValueError("no pairs to export: build the dataset first, or loosen the filter")
    folder = workspace.folder("datasets") / EXPORT_FOLDER
    folder.mkdir(mode=0o700, exist_ok=True)
    stamp = now().replace(":", "").replace("+0000", "Z")
    path = atomic_write(folder / f"pairs-{fmt}-{stamp}.{EXTENSIONS[fmt]}", dataset.dump(pairs, fmt))
    return {"file": str(Path(path)), "format": fmt, "pairs": len(pairs)}
