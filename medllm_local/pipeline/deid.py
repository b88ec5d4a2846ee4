"""De-identification against the workspace: find and replace, review, approve, the
gate before training, and the residual-PHI scan."""

from __future__ import annotations

import dataclasses
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from medllm_local.stages.deid import engine as deid
from medllm_local.stages.ingest import read as ingest_stage
from medllm_local.stages.ingest.worker import IsolatedReader
from medllm_local.pipeline.common import SURROGATE_KEY, SURROGATE_MAP, GateError, ProgressCallback
from medllm_local.core.records import Finding, Record, to_json
from medllm_local.stages.deid.surrogates import SurrogateMap, Surrogates, load_secret
from medllm_local.core.textnorm import fold_value
from medllm_local.workspace.store import Workspace, sha256_bytes


@dataclass
class DeidentifiedFile:
    """One file de-identified outside a workspace (``deid --file``)."""

    file: str
    text: str | None = None  # None when it could not be read
    findings: list[dict] = field(default_factory=list)  # offsets and types, never the value
    error: str | None = None


@dataclass
class DeidFilesReport(Record):
    files: list[DeidentifiedFile]


@dataclass
class DeidentifiedDocument:
    """One workspace document after de-identification: how many of each type were found."""

    id: int
    source: str
    status: str
    findings: dict[str, int]
    deid_file: str


@dataclass
class DeidReport(Record):
    documents: list[DeidentifiedDocument]


@dataclass
class ApprovalReport(Record):
    approved: list[int]
    unreviewed_findings: int  # approved in bulk without a person looking at them
    message: str


@dataclass
class ReviewedFinding:
    """One stored finding with the reviewer's decision (pending, accepted, rejected)."""

    id: int
    document_id: int
    start: int
    end: int
    type: str
    score: float
    recognizer: str
    decision: str


@dataclass
class DocumentReview(Record):
    """A document as the reviewer sees it."""

    id: int
    source: str
    status: str
    text: str  # the original text, which the findings point into
    deid_text: str
    deid_hash: str  # what approving this view approves (approve_documents' expected_hash)
    findings: list[ReviewedFinding]


@dataclass
class RejectionReport(Record):
    """"Not an identifier" applied in every document: counts and ids only, never the text."""

    documents: list[int]
    rejected_findings: int
    message: str


def deid_files(paths: list[str | Path], settings: deid.DeidSettings | None = None) -> DeidFilesReport:
    """De-identify files outside any workspace (one engine load for all): per file the
    de-identified text and the findings, with offsets in the input text. Surrogates are
    consistent within the run; nothing is stored."""
    settings = settings or deid.DeidSettings()
    engine = deid.DeidEngine(settings)
    surrogates = Surrogates(secrets.token_bytes(32), settings.date_mode)
    texts: dict[int, str] = {}
    results: list[DeidentifiedFile] = []
    reading = ingest_stage.IngestSettings()
    # read as ingest reads: in a child process under memory and time limits
    with IsolatedReader(reading) as reader:
        for index, source in enumerate(ingest_stage.iter_sources(paths, reading)):
            results.append(DeidentifiedFile(source.source, error=source.error))
            if source.error:
                continue
            try:
                texts[index] = reader.read(source).text
            except ingest_stage.IngestError as error:
                results[index].error = str(error)
    done = deid.deidentify_texts(engine, list(texts.values()), surrogates)
    for index, result in zip(texts, done):
        results[index].text = result.text
        results[index].findings = [finding_json(f) for f in result.findings]
    return DeidFilesReport(results)


def finding_json(finding) -> dict:
    """A finding without the identifier itself: offsets say where it is."""
    return {"start": finding.start, "end": finding.end, "type": finding.type,
            "score": finding.score, "recognizer": finding.recognizer}


# The options a person may set once for the workspace (Settings tab); the lists are
# saved on their own and always added to.
DEID_OPTIONS = ("score_threshold", "propagate_names", "recall_zipf", "date_mode", "english_ner")


def saved_deid_settings(workspace: Workspace, settings: deid.DeidSettings | None = None
                        ) -> deid.DeidSettings:
    """``settings`` with the workspace's saved deny and allow lists added to its own, and
    its saved options wherever ``settings`` leaves the default (a value given explicitly,
    say on the command line, wins)."""
    settings = settings or deid.DeidSettings()
    saved = workspace.load_settings()
    default = deid.DeidSettings()
    options = {name: value for name, value in saved.get("deid_options", {}).items()
               if name in DEID_OPTIONS and getattr(settings, name) == getattr(default, name)}

    def joined(given: tuple[str, ...], key: str) -> tuple[str, ...]:
        # the workspace keeps each list as the comma-separated text the Settings tab shows
        saved_terms = (t.strip() for t in saved.get(key, "").split(","))
        return tuple(dict.fromkeys([*given, *(t for t in saved_terms if t)]))

    return dataclasses.replace(settings, deny_list=joined(settings.deny_list, "deny_list"),
                               allow_list=joined(settings.allow_list, "allow_list"), **options)


def save_deid_options(workspace: Workspace, **options) -> dict:
    """Save de-identification options for the workspace, checked as DeidSettings checks
    them (ValueError names the bad one); they apply to the next de-identification."""
    unknown = set(options) - set(DEID_OPTIONS)
    if unknown:
        raise ValueError(f"not a workspace de-identification option: {', '.join(sorted(unknown))}")
    checked = deid.DeidSettings(**options)
    values = {name: getattr(checked, name) for name in options}
    return workspace.save_settings({"deid_options": values})["deid_options"]


def deid_documents(workspace: Workspace, document_ids: list[int] | None = None,
                   settings: deid.DeidSettings | None = None,
                   progress: ProgressCallback | None = None, batch_size: int = 16) -> DeidReport:
    """De-identify documents of the workspace (``None``: those not de-identified yet).
    Re-running a document replaces its findings, so it needs review again."""
    settings = saved_deid_settings(workspace, settings)
    # how dates were handled must be the same when a reviewer's changes rebuild a text
    workspace.save_settings({"deid_date_mode": settings.date_mode, "deid_keep_map": settings.keep_map})
    rows = workspace.document_rows(document_ids)
    if document_ids is None:
        rows = [r for r in rows if r["status"] in ("ingested", "ocr_flagged")]
    engine = deid.DeidEngine(settings)
    surrogates = Surrogates(load_secret(workspace.folder("raw") / SURROGATE_KEY), settings.date_mode)
    report = []
    for start in range(0, len(rows), batch_size):
        batch = rows[start:start + batch_size]
        texts = [workspace.load_document(row["id"]).text for row in batch]
        for row, result in zip(batch, deid.deidentify_texts(engine, texts, surrogates)):
            deid_file = workspace.store_deid(row["id"], row["sha256"], result.text, result.findings,
                                             surrogates.patient_hash(result.patient_key))
            counts: dict[str, int] = {}
            for finding in result.findings:
                counts[finding.type] = counts.get(finding.type, 0) + 1
            report.append(DeidentifiedDocument(row["id"], row["source"], "deidentified", counts,
                                               str(workspace.root / deid_file)))
        if progress:
            progress(min(start + batch_size, len(rows)), len(rows), "de-identifying")
    if surrogates.used:
        SurrogateMap(workspace.folder("raw") / SURROGATE_MAP).add(surrogates.used, settings.keep_map)
    return DeidReport(report)


def residual_scan(workspace: Workspace, texts: dict[str, str],
                  approved: dict[str, str] | None = None,
                  rejected: dict[str, set[str]] | None = None) -> list[dict]:
    """What still looks identifying in texts about to leave the de-identified area (a
    dataset before export or training). Blocking hits must stop it (see
    ``deid.residual_phi`` for what blocks and what only warns). Hits carry offsets and
    types, never the text found."""
    settings = saved_deid_settings(workspace, deid.DeidSettings(score_threshold=0.2,
                                                                propagate_names=False))
    map_path = workspace.folder("raw") / SURROGATE_MAP
    surrogate_map = SurrogateMap(map_path) if map_path.exists() else None
    hits = deid.residual_phi(
        deid.DeidEngine(settings), texts,
        surrogate_map.surrogate_values() if surrogate_map else set(),
        surrogate_map.real_values() if surrogate_map else set(), approved, rejected)
    return to_json(hits)


def refuse_residual(hits: list[dict], consequence: str) -> None:
    """The one residual-scan gate: GateError when any hit blocks, naming each text and
    the type found (never the value) and the action that clears each kind."""
    blocking = [h for h in hits if h["blocking"]]
    if not blocking:
        return
    where = sorted({f"{h['name']} ({h['type']})" for h in blocking})
    kinds = {h["type"] for h in blocking}
    actions = []
    if "KNOWN_REAL_VALUE" in kinds:
        actions.append("KNOWN_REAL_VALUE is a value removed as an identifier in another "
                       "document: in Review, add it to this document (or, if it is no "
                       "identifier, reject it everywhere: `deid --not-identifier TEXT`)")
    if kinds - {"KNOWN_REAL_VALUE"}:
        actions.append("the other types are detector hits: in Review, add what was missed "
                       "(or reject what is no identifier)")
    raise GateError(f"residual identifiers found, {consequence}: {'; '.join(where[:10])}"
                    + (f" and {len(where) - 10} more" if len(where) > 10 else "")
                    + ". " + "; ".join(actions) + "; then approve those documents again "
                    "and build.")


def review_document(workspace: Workspace, document_id: int) -> DocumentReview:
    """A document as the reviewer sees it: its text, its findings with their decisions,
    and the de-identified text the decisions produce."""
    row = workspace.document_rows([document_id])[0]
    if not row["deid_file"]:
        raise GateError(f"{Path(row['source']).name} is not de-identified yet")
    text = workspace.load_document(document_id).text
    stored = (workspace.root / row["deid_file"]).read_bytes()
    deid_text = stored.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")  # as read_text did
    findings = [ReviewedFinding(**dict(f)) for f in workspace.findings_for(document_id)]
    return DocumentReview(document_id, row["source"], row["status"], text, deid_text, sha256_bytes(stored),
                          findings)


def revise_document(workspace: Workspace, document_id: int, reject: list[int] = (),
                    accept: list[int] = (), add_text: str = "", add_type: str = "PERSON",
                    settings: deid.DeidSettings | None = None) -> DocumentReview:
    """Apply a reviewer's decisions: reject or accept findings, add every occurrence of
    ``add_text`` as a new finding, and rebuild the de-identified text from the findings
    not rejected (same key, so the same surrogates). The document needs approval again.
    Everything is checked before anything is stored, and the decisions are stored with
    the text they make, in one step. A rejection holds for this document only."""
    saved = workspace.load_settings()
    settings = settings or deid.DeidSettings(date_mode=saved.get("deid_date_mode", "shift"),
                                             keep_map=saved.get("deid_keep_map", True))
    row = workspace.document_rows([document_id])[0]
    text = workspace.load_document(document_id).text
    findings = workspace.findings_for(document_id)
    unknown = sorted((set(reject) | set(accept)) - {f["id"] for f in findings})
    if unknown:
        raise ValueError(f"no finding {', '.join(map(str, unknown))} in this document")
    added = []
    if add_text.strip():
        pattern = re.compile(r"(?<!\w)" + re.escape(add_text.strip()) + r"(?!\w)", re.IGNORECASE)
        added = [Finding(m.start(), m.end(), add_type, 1.0, "reviewer", m.group())
                 for m in pattern.finditer(text)]
        if not added:
            raise ValueError("that text does not occur in the document")
    decisions = {i: "rejected" for i in reject} | {i: "accepted" for i in accept}
    kept = [Finding(f["start"], f["end"], f["type"], f["score"], f["recognizer"],
                    text[f["start"]:f["end"]])
            for f in findings if decisions.get(f["id"], f["decision"]) != "rejected"]
    kept = deid.merge_overlapping(kept + added)
    surrogates = Surrogates(load_secret(workspace.folder("raw") / SURROGATE_KEY), settings.date_mode)
    key = deid.patient_key(text, kept)
    workspace.write_deid_text(document_id, row["sha256"], deid.replace(text, kept, surrogates, key),
                              decisions, added)
    # The map keeps every real value: a rejection is recorded on this document's finding
    # (rejected_texts), so "Jordan" the country here leaves patient Jordan known elsewhere.
    SurrogateMap(workspace.folder("raw") / SURROGATE_MAP).add(surrogates.used, settings.keep_map)
    return review_document(workspace, document_id)


def reject_everywhere(workspace: Workspace, value: str) -> RejectionReport:
    """A reviewer's "not an identifier" for one word or phrase in every document: each
    finding of exactly that text (in any case, Unicode folded) is rejected, so those
    documents need approval again, and the value joins the workspace's allow list, so
    later de-identification leaves it too. The report holds counts and ids only."""
    target = fold_value(value).strip().lower()
    if not target:
        raise ValueError("give the word or phrase that is not an identifier")
    documents, rejected, values = [], 0, set()
    for row in workspace.document_rows():
        if not row["deid_file"]:
            continue
        text = workspace.load_document(row["id"]).text
        found = [f for f in workspace.findings_for(row["id"]) if f["decision"] != "rejected"
                 and fold_value(text[f["start"]:f["end"]]).strip().lower() == target]
        if found:
            revise_document(workspace, row["id"], reject=[f["id"] for f in found])
            documents.append(row["id"])
            rejected += len(found)
            values |= {text[f["start"]:f["end"]] for f in found}
    if values:  # not an identifier anywhere: no longer a known real value either
        SurrogateMap(workspace.folder("raw") / SURROGATE_MAP).forget(values)
    def add_to_allow_list(settings: dict) -> dict:  # under the settings lock
        allow = [t.strip() for t in settings.get("allow_list", "").split(",") if t.strip()]
        if target in {t.lower() for t in allow}:
            return {}
        return {"allow_list": ", ".join(allow + [value.strip()])}

    workspace.update_settings(add_to_allow_list)
    return RejectionReport(documents, rejected,
                           f"rejected {rejected} findings in {len(documents)} documents, which need "
                           "approval again; later de-identification leaves this text")


def approve_documents(workspace: Workspace, document_ids: list[int] | None = None,
                      reviewed: bool = False, expected_hash: str | None = None) -> ApprovalReport:
    """Approve de-identified documents for training, each bound to the hash of its
    de-identified text as it is now. ``reviewed``: a person looked at every finding (the
    review screen), so pending ones count as accepted. Otherwise this is a bulk approval,
    and it says how many findings nobody looked at. ``expected_hash``: the text that
    person was shown (``review_document``'s ``deid_hash``, one document); if it changed
    since (de-identified again, a page typed), nothing is approved."""
    rows = workspace.document_rows(document_ids)
    if document_ids is None:
        rows = [r for r in rows if r["status"] == "deidentified"]
    not_ready = [Path(r["source"]).name for r in rows if r["status"] not in ("deidentified", "approved")]
    if not_ready:
        raise GateError("not de-identified yet, so not approved: " + ", ".join(not_ready)
                        + " (run deid on them first)")
    if expected_hash is not None and len(rows) != 1:
        raise ValueError("expected_hash is the text of one document: approve one at a time")
    unreviewed = 0 if reviewed else sum(workspace.pending_findings(r["id"]) for r in rows)
    changed = _approve(workspace, rows, expected_hash, reviewed)
    if changed:
        raise GateError("changed since it was shown, so not approved: " + ", ".join(changed)
                        + " (de-identified again or revised meanwhile): look at it again")
    return ApprovalReport([r["id"] for r in rows], unreviewed,
                          f"approved {len(rows)} documents; {unreviewed} findings were approved "
                          "without being reviewed one by one")


def _approve(workspace: Workspace, rows: list, expected_hash: str | None,
             accept_pending: bool) -> list[str]:
    """Approve all of ``rows`` or none: the names of those whose text is not the one
    expected, or was replaced while this ran."""
    hashes = {r["id"]: workspace.file_hash(r["deid_file"]) if r["deid_file"] else None for r in rows}
    changed = [r for r in rows if hashes[r["id"]] is None
               or expected_hash not in (None, hashes[r["id"]])]
    if changed:
        return [Path(r["source"]).name for r in changed]
    with workspace.transaction() as conn:
        # Each file hashed above must still be the one its row names: nothing replaced it.
        changed = [r for r in rows if conn.execute("SELECT deid_file FROM documents WHERE id = ?",
                                                   (r["id"],)).fetchone()[0] != r["deid_file"]]
        if not changed:
            if accept_pending:
                conn.executemany("UPDATE findings SET decision = 'accepted' WHERE document_id = ?"
                                 " AND decision = 'pending'", [(r["id"],) for r in rows])
            conn.executemany("UPDATE documents SET status = 'approved', approved_hash = ? WHERE id = ?",
                             [(hashes[r["id"]], r["id"]) for r in rows])
    return [Path(r["source"]).name for r in changed]


def approved_hashes(workspace: Workspace, document_ids: list[int] | None = None) -> dict[int, str]:
    """The documents approved as their de-identified text is now, with that text's
    hash. An approval is of one text: any other (revised, de-identified again, changed
    outside the app) is not approved."""
    current = {}
    for row in workspace.document_rows(document_ids):
        if row["status"] == "approved" and row["deid_file"] and row["approved_hash"]:
            if workspace.file_hash(row["deid_file"]) == row["approved_hash"]:
                current[row["id"]] = row["approved_hash"]
    return current


def require_approved(workspace: Workspace, document_ids: list[int]) -> None:
    """The gate before datasets and training: every document de-identified and approved,
    as its de-identified text is now."""
    current = approved_hashes(workspace, document_ids)
    blocked = [f"{Path(r['source']).name} ("
               + (r["status"] if r["status"] != "approved" else "text changed since approval") + ")"
               for r in workspace.document_rows(document_ids) if r["id"] not in current]
    if blocked:
        raise GateError("not de-identified and approved: " + ", ".join(blocked))


def rejected_texts(workspace: Workspace, document_id: int) -> set[str]:
    """What a reviewer explicitly said is not an identifier in one document."""
    text = workspace.load_document(document_id).text
    return {text[f["start"]:f["end"]].strip() for f in workspace.findings_for(document_id)
            if f["decision"] == "rejected"}
