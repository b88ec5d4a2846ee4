"""Dataset building against the workspace: pairs from approved documents, the residual
scan, splits written as JSONL and recorded in the catalogue."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from medllm_local.stages.dataset import build as dataset, formats

from medllm_local.core import models
from medllm_local.core.records import Record, content_of, set_content
from medllm_local.pipeline.augment import augment_train, augmentation_counts
from medllm_local.pipeline.clean import training_text
from medllm_local.pipeline.common import GateError, ProgressCallback
from medllm_local.pipeline.feedback import approved_feedback
from medllm_local.pipeline.deid import approved_hashes, refuse_residual, rejected_texts, residual_scan
from medllm_local.workspace import paths
from medllm_local.workspace.store import Workspace, atomic_write, now

SOURCES_FILE = "sources.json"  # in each build folder: the de-identified text each document had
REBUILD = "build the dataset again from the approved text: python3 launch.py build"


def build_dataset(workspace: Workspace, settings: dataset.BuildSettings | None = None,
                  progress: ProgressCallback | None = None) -> BuildResult:
    """Pairs from every approved document, split by document (and patient), checked for
    residual PHI, written as JSONL per split. Documents not approved are listed and left
    out; nothing is written when the scan finds anything."""
    settings = settings or dataset.BuildSettings()
    rows = workspace.document_rows()
    hashes = approved_hashes(workspace)  # approved as their text is now
    approved = [r for r in rows if r["id"] in hashes]
    skipped = [{"id": r["id"], "source": Path(r["source"]).name,
                "status": r["status"] if r["status"] != "approved" else "changed since approval"}
               for r in rows if r["id"] not in hashes]
    if not approved:
        raise GateError("no approved documents: de-identify and approve them first "
                        "(deid --all, then deid --approve, or the Review tab)")
    # A person's edits and exclusions outlive rebuilds: an edit replaces the answer of the
    # generated pair of the same document and task (the question is always rebuilt from
    # the current de-identified text, and written into the edited row too), and
    # everything is scanned after that.
    overrides = {(r["document_id"], r["task"]): r for r in workspace.query(
        "SELECT * FROM pairs WHERE edited = 1 AND origin = 'report'")}
    previous = built_sources(workspace)
    scan, seen = _ScanQueue(), set()
    made = _document_pairs(workspace, approved, settings, overrides, seen, scan, progress)
    built, text_of, refreshed = made.built, made.text_of, made.refreshed
    dropped = _refresh_other_edits(overrides, refreshed, text_of)
    with_pairs = [(row, result) for row, result in built if result.pairs]
    groups = dataset.split_groups({row["id"]: row["patient"] for row, _ in with_pairs},
                                  {row["id"]: text_of[row["id"]] for row, _ in with_pairs})
    split_of = dataset.assign_splits(
        groups, settings,
        existing={row["id"]: row["split"] for row, _ in with_pairs if row["split"]},
        test_frozen=bool(workspace.load_settings().get("test_frozen")))
    feedback, feedback_sources, feedback_duplicates = _feedback_pairs(workspace, seen, scan)
    duplicates = made.duplicates + feedback_duplicates
    augmented: list[tuple] = []
    if settings.augment:
        train_pairs = [p for row, result in with_pairs if split_of[row["id"]] == "train"
                       for p in result.pairs]
        augmented, augment_stats = augment_train(workspace, settings, train_pairs)
        for number, (pair, review) in enumerate(augmented):
            if review != "rejected":
                scan.add(f"augmented pair {number + 1}", pair, text_of[pair.document_id],
                         rejected_texts(workspace, pair.document_id))
    texts, sources, rejected = scan.texts, scan.sources, scan.rejected
    hits = residual_scan(workspace, texts, sources, rejected)
    warnings = [h for h in hits if not h["blocking"]]
    # A machine-made variant that looks identifying is dropped; anything else stops the build.
    blocked_variants = {h["name"] for h in hits if h["blocking"] and h["name"].startswith("augmented pair ")}
    refuse_residual([h for h in hits if h["name"] not in blocked_variants], "nothing written")
    augmented = [item for number, item in enumerate(augmented)
                 if f"augmented pair {number + 1}" not in blocked_variants]
    folder = _new_build_folder(workspace)
    atomic_write(folder / SOURCES_FILE, json.dumps(hashes))
    by_split = {split: [p for row, result in with_pairs if split_of[row["id"]] == split for p in result.pairs]
                for split in ("train", "validation", "test")}
    new_rows = _pair_rows(by_split, overrides, feedback, augmented)
    by_split["train"] += feedback + [p for p, review in augmented if review == "accepted"]
    splits = {split: SplitFile(len(pairs), str(atomic_write(folder / f"{split}.jsonl",
                                                            formats.dump(pairs, "messages"))),
                               sorted({p.document_id for p in pairs if p.document_id is not None}))
              for split, pairs in by_split.items()}
    # What each split was made from, for the gate before training and evaluation.
    split_sources = {split: {"documents": {doc: hashes[doc] for doc in info.documents},
                             "feedback": feedback_sources if split == "train" else {}}
                     for split, info in splits.items()}
    _record_build(workspace, folder.name, settings, split_of, splits, split_sources, new_rows,
                  dropped + _stale_variants(workspace, settings, hashes, previous), refreshed)
    lengths = models.token_lengths([dataset.pair_text(p) for pairs in by_split.values() for p in pairs])
    card = dataset.dataset_card(by_split, [result for _, result in built], duplicates, lengths)
    card["feedback_pairs"] = len(feedback)
    card["augmentation"] = (augmentation_counts(augmented, augment_stats, len(blocked_variants))
                            if settings.augment else None)
    atomic_write(folder / paths.BUILD_CARD, json.dumps(card, indent=2))
    return BuildResult(
        build=folder.name, pairs=card["pairs_per_task"], splits=splits,
        residual_scan={"blocking": 0, "warnings": len(warnings)},
        feedback_pairs=len(feedback), augmentation=card["augmentation"], card=card, not_approved=skipped,
        unparsed=[{"id": row["id"], "source": Path(row["source"]).name, "reason": result.problem}
                  for row, result in built if not result.pairs])


def _pair_rows(by_split: dict[str, list], overrides: dict, feedback: list, augmented: list) -> list[tuple]:
    """The pairs table's new rows: generated pairs (an edited one keeps its own row),
    approved feedback in train, and the augmented variants with their reviews."""
    rows = [(p.document_id, p.task, json.dumps(p.messages), p.reference, split, now(), "report", None, None)
            for split, pairs in by_split.items() for p in pairs if (p.document_id, p.task) not in overrides]
    rows += [(None, p.task, json.dumps(p.messages), p.reference, "train", now(), "feedback", None, None)
             for p in feedback]
    rows += [(p.document_id, p.task, json.dumps(p.messages), p.reference, "train", now(),
              "augmented", p.augmented, review) for p, review in augmented]
    return rows


def _stale_variants(workspace: Workspace, settings: dataset.BuildSettings, hashes: dict[int, str],
                    previous: dict | None) -> list[int]:
    """Augmented pairs kept from an earlier build (this one makes none) stay only while
    their document is approved and its de-identified text is the one they were made from."""
    if settings.augment:
        return []
    return [r["id"] for r in workspace.query("SELECT id, document_id FROM pairs WHERE origin = 'augmented'")
            if r["document_id"] not in hashes or previous is None
            or previous.get(r["document_id"]) != hashes[r["document_id"]]]


def _record_build(workspace: Workspace, build_id: str, settings: dataset.BuildSettings,
                  split_of: dict[int, str], splits: dict[str, "SplitFile"], split_sources: dict,
                  new_rows: list[tuple], dropped: list[int], refreshed: dict[int, list]) -> None:
    """The catalogue's side of a build, in one transaction: each document's split, the
    pairs table, and the split files with what they were made from."""
    with workspace.transaction() as conn:
        conn.executemany("UPDATE documents SET split = ? WHERE id = ?",
                         [(split, doc) for doc, split in split_of.items()])
        # A build without augmentation keeps the augmented pairs and their reviews for
        # the next build with it; one with augmentation replaces them (reviews carried).
        conn.execute("DELETE FROM pairs WHERE edited = 0"
                     + ("" if settings.augment else " AND origin != 'augmented'"))
        # Edits of documents no longer approved (or of pairs their text no longer gives)
        # go: their question is of a text nobody approved. So do stale variants.
        conn.executemany("DELETE FROM pairs WHERE id = ?", [(i,) for i in dropped])
        conn.executemany("UPDATE pairs SET messages = ?, reference = ? WHERE id = ?",
                         [(json.dumps(m), content_of(m, "assistant"), i) for i, m in refreshed.items()])
        conn.executemany("UPDATE pairs SET split = ? WHERE document_id = ? AND edited = 1",
                         [(split, doc) for doc, split in split_of.items()])
        conn.executemany("INSERT INTO pairs (document_id, task, messages, reference, split,"
                         " created_at, origin, method, review) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                         new_rows)
        conn.executemany("INSERT INTO splits (name, file, config, created_at, build, sources)"
                         " VALUES (?, ?, ?, ?, ?, ?)",
                         [(name, info.file, json.dumps(dataclasses.asdict(settings)), now(), build_id,
                           json.dumps(split_sources[name])) for name, info in splits.items()])


@dataclasses.dataclass
class SplitFile(Record):
    """One split of a build: its pair count, its JSONL file, and the documents in it."""

    pairs: int
    file: str
    documents: list[int]


@dataclasses.dataclass
class BuildResult(Record):
    """What `build` made: the build folder's id, pairs per task, the split files, the
    residual scan's count, and what was left out and why."""

    build: str
    pairs: dict[str, int]  # per task
    splits: dict[str, SplitFile]
    residual_scan: dict[str, int]  # blocking (always 0: a block raises), warnings
    feedback_pairs: int
    augmentation: dict | None  # stages/dataset's counts when augmenting
    card: dict  # the dataset card, as written beside the splits
    not_approved: list[dict]
    unparsed: list[dict]


@dataclasses.dataclass
class _ScanQueue:
    """What the residual scan reads before anything is written: each pair's text by a
    name the user can find it by, the text it came from, and the values a reviewer
    rejected as not identifiers in its document."""

    texts: dict[str, str] = dataclasses.field(default_factory=dict)
    sources: dict[str, str] = dataclasses.field(default_factory=dict)
    rejected: dict[str, set] = dataclasses.field(default_factory=dict)

    def add(self, name: str, pair, source: str, rejected: set | None = None) -> None:
        self.texts[name], self.sources[name] = dataset.scanned_text(pair), source
        if rejected is not None:
            self.rejected[name] = rejected


@dataclasses.dataclass
class _DocumentPairs:
    built: list[tuple]  # (document row, its PairResult with the pairs kept)
    text_of: dict[int, str]  # document id -> the text its pairs were made from
    refreshed: dict[int, list]  # edited pair row id -> its rebuilt messages
    duplicates: int


def _document_pairs(workspace: Workspace, approved: list, settings: dataset.BuildSettings,
                    overrides: dict, seen: set, scan: _ScanQueue,
                    progress: ProgressCallback | None) -> _DocumentPairs:
    """The pairs of each approved document, with a person's edits and exclusions
    applied and a case seen before (the same report as PDF and as scan) dropped."""
    made = _DocumentPairs([], {}, {}, 0)
    for index, row in enumerate(approved):
        text = training_text(workspace, row)  # cleaned when cleaned, else de-identified
        result = dataset.pairs_for_document(row["id"], text, settings.tasks)
        doc_rejected = rejected_texts(workspace, row["id"])
        made.text_of[row["id"]] = text
        unique = []
        for pair in result.pairs:
            override = overrides.get((pair.document_id, pair.task))
            if override is not None:
                pair.answer = pair.reference = override["reference"]
                made.refreshed[override["id"]] = pair.messages
                if override["excluded"]:
                    continue
            if _first_time(pair, seen):
                unique.append(pair)
            else:
                made.duplicates += 1
        result.pairs = unique
        made.built.append((row, result))
        for number, pair in enumerate(result.pairs):
            scan.add(f"{Path(row['source']).name} pair {number + 1}", pair, text, doc_rejected)
        if progress:
            progress(index + 1, len(approved), "building pairs")
    return made


def _feedback_pairs(workspace: Workspace, seen: set, scan: _ScanQueue) -> tuple[list, dict, int]:
    """Approved chat feedback, which teaches the model only: train split, never held out
    (it has no document, so no split of its own), scanned like every other pair.
    Returns the pairs, each feedback row's approved text hash, and the duplicates dropped."""
    feedback, feedback_sources, duplicates = [], {}, 0
    for feedback_id, digest, pair in approved_feedback(workspace):
        if not _first_time(pair, seen):
            duplicates += 1
            continue
        feedback.append(pair)
        feedback_sources[feedback_id] = digest
        # the approved de-identified text is its own source
        scan.add(f"chat feedback pair {len(feedback)}", pair, dataset.scanned_text(pair))
    return feedback, feedback_sources, duplicates


def _new_build_folder(workspace: Workspace) -> Path:
    """A build's own folder, named by time: a second build in the same second gets a
    suffix, never the first one's name (the gate reads a build's record by its name)."""
    stamp = now().replace(":", "").replace("+0000", "Z")
    for number in range(1, 1000):
        folder = workspace.folder("datasets") / (stamp if number == 1 else f"{stamp}-{number}")
        try:
            folder.mkdir(mode=0o700)
        except FileExistsError:
            continue
        return folder
    raise FileExistsError(f"no free build name for {stamp}")


def _refresh_other_edits(overrides: dict, refreshed: dict[int, list],
                         text_of: dict[int, str]) -> list[int]:
    """Rebuild the question of edited pairs this build did not make (a task left out of
    it) into ``refreshed``; the ids of edited pairs that cannot be rebuilt (their
    document is not approved, or its text no longer gives the task), to delete."""
    dropped = []
    for (document_id, task), row in overrides.items():
        if row["id"] in refreshed:
            continue
        made = (dataset.pairs_for_document(document_id, text_of[document_id], [task]).pairs
                if document_id in text_of else [])
        if not made:
            dropped.append(row["id"])
            continue
        made[0].answer = row["reference"]
        refreshed[row["id"]] = made[0].messages
    return dropped


def built_sources(workspace: Workspace) -> dict[int, str] | None:
    """The de-identified text (its hash) of each approved document as the latest build
    read it; None before any build recorded it."""
    rows = workspace.query("SELECT build FROM splits WHERE build IS NOT NULL ORDER BY id DESC LIMIT 1")
    path = workspace.folder("datasets") / rows[0]["build"] / SOURCES_FILE if rows else None
    if path is None or not path.exists():
        return None
    return {int(doc): digest for doc, digest in json.loads(path.read_text(encoding="utf-8")).items()}


def current_documents(workspace: Workspace) -> set[int]:
    """The documents whose stored pairs may be shown and exported: approved, with the
    de-identified text the latest build read. Any other document's pairs hold text
    nobody approved (revised since, or no longer approved): build again."""
    recorded = built_sources(workspace) or {}
    return {doc for doc, digest in approved_hashes(workspace).items() if recorded.get(doc) == digest}


def require_current_build(workspace: Workspace, build: str,
                          splits: tuple[str, ...] = ("train", "validation")) -> None:
    """The gate before a build's split files are read to train (or resume) or to
    evaluate: every document behind their pairs still approved with the text the build
    read, and every chat feedback pair still approved as it was. Otherwise a GateError
    names them and the command that builds again from the approved text."""
    rows = [r for r in workspace.query("SELECT name, sources FROM splits WHERE build = ?", (build,))
            if r["name"] in splits]
    if not rows or any(r["sources"] is None for r in rows):
        raise GateError(f"dataset build {build} does not record which approved text it was made "
                        f"from (an older release made it): {REBUILD}")
    documents, feedback = {}, {}
    for row in rows:
        recorded = json.loads(row["sources"])
        documents |= {int(doc): digest for doc, digest in recorded["documents"].items()}
        feedback |= {int(item): digest for item, digest in recorded["feedback"].items()}
    names = {r["id"]: Path(r["source"]).name for r in workspace.document_rows()}
    approved = approved_hashes(workspace)
    stale = [f"{names[doc]} (" + ("revised since the build" if doc in approved else "not approved now") + ")"
             if doc in names else f"document {doc} (deleted)"
             for doc, digest in sorted(documents.items()) if approved.get(doc) != digest]
    approved_now = {item: digest for item, digest, _ in approved_feedback(workspace)}
    stale += [f"chat feedback {item} (" + ("edited since the build" if item in approved_now
                                          else "no longer approved") + ")"
              for item, digest in sorted(feedback.items()) if approved_now.get(item) != digest]
    if stale:
        raise GateError(f"dataset build {build} holds text that is not the approved text now: "
                        f"{', '.join(stale)}. Nothing was read; {REBUILD}")


def _first_time(pair, seen: set) -> bool:
    """Whether this case is new to the build (and note it); a second copy is a duplicate."""
    key = dataset.case_key(pair)
    if key in seen:
        return False
    seen.add(key)
    return True


def freeze_test_split(workspace: Workspace) -> dict:
    """Keep the test cases fixed from now on (evaluation calls this when it first uses
    them): later builds put new documents in train and validation only."""
    workspace.save_settings({"test_frozen": True})
    test = [r["id"] for r in workspace.document_rows() if r["split"] == "test"]
    return {"test_frozen": True, "test_documents": test}


def revise_pair(workspace: Workspace, pair_id: int, answer: str | None = None,
                exclude: bool | None = None) -> dict:
    """A person's correction of one pair: a new answer, or leaving it out. Kept across
    rebuilds; takes effect in the JSONL files at the next build. An answer the same as
    the pair's own is no change (the pair stays unedited); an augmented pair left out is
    rejected, and taken back in it waits for review again: only ``review_augmented``
    accepts one."""
    rows = workspace.query("SELECT * FROM pairs WHERE id = ?", (pair_id,))
    if not rows:
        raise ValueError(f"no pair with id {pair_id}")
    row = rows[0]
    messages = json.loads(row["messages"])
    if answer is not None and answer.strip() == content_of(messages, "assistant").strip():
        answer = None
    if row["origin"] == "augmented" and answer is None:
        review = row["review"] or "pending"
        if exclude is not None:
            review = "rejected" if exclude else ("pending" if review == "rejected" else review)
        with workspace.transaction() as conn:
            conn.execute("UPDATE pairs SET review = ? WHERE id = ?", (review, pair_id))
        return {"id": pair_id, "task": row["task"], "document_id": row["document_id"],
                "review": review, "excluded": review == "rejected", "edited": False,
                "changed": review != (row["review"] or "pending")}
    if row["origin"] != "report":
        raise ValueError(f"pair {pair_id} comes from {row['origin']}: "
                         + ("accept or reject it; its answer is its source pair's"
                            if row["origin"] == "augmented" else
                            "edit it in the Chat tab's feedback review"))
    if answer is not None:
        if not answer.strip():
            raise ValueError("the answer may not be empty (exclude the pair instead)")
        set_content(messages, "assistant", answer.strip())
    excluded = row["excluded"] if exclude is None else int(exclude)
    changed = answer is not None or excluded != row["excluded"]
    if changed:
        with workspace.transaction() as conn:
            conn.execute("UPDATE pairs SET messages = ?, reference = ?, excluded = ?, edited = 1"
                         " WHERE id = ?", (json.dumps(messages), content_of(messages, "assistant"), excluded, pair_id))
    return {"id": pair_id, "task": row["task"], "document_id": row["document_id"],
            "answer": content_of(messages, "assistant"), "excluded": bool(excluded),
            "edited": changed or bool(row["edited"]), "changed": changed}
