"""De-identification against the workspace: find and replace, review, approve, the
gate before training, and the residual-PHI scan."""

from __future__ import annotations

import dataclasses
import re
import secrets
from pathlib import Path

from medllm_local import deid
from medllm_local import ingest as ingest_stage
from medllm_local.pipeline.common import GateError, ProgressCallback
from medllm_local.records import Finding, to_json
from medllm_local.surrogates import SurrogateMap, Surrogates, load_secret
from medllm_local.textnorm import fold_value
from medllm_local.workspace import Workspace

SURROGATE_KEY, SURROGATE_MAP = "surrogate.key", "surrogate-map.sqlite"


def deid_files(paths: list[str | Path], settings: deid.DeidSettings | None = None) -> dict:
    """De-identify files outside any workspace (one engine load for all): per file the
    de-identified text and the findings, with offsets in the input text. Surrogates are
    consistent within the run; nothing is stored."""
    settings = settings or deid.DeidSettings()
    engine = deid.DeidEngine(settings)
    surrogates = Surrogates(secrets.token_bytes(32), settings.date_mode)
    texts: dict[int, str] = {}
    results: list[dict] = []
    reading = ingest_stage.IngestSettings()
    for index, source in enumerate(ingest_stage.iter_sources(paths, reading)):
        results.append({"file": source.source, "text": None, "findings": [], "error": source.error})
        if source.error:
            continue
        try:
            texts[index] = ingest_stage.read_document(source, reading).text
        except ingest_stage.IngestError as error:
            results[index]["error"] = str(error)
    done = deid.deidentify_texts(engine, list(texts.values()), surrogates)
    for index, result in zip(texts, done):
        results[index]["text"] = result.text
        results[index]["findings"] = [finding_json(f) for f in result.findings]
    return {"files": results}


def finding_json(finding) -> dict:
    """A finding without the identifier itself: offsets say where it is."""
    return {"start": finding.start, "end": finding.end, "type": finding.type,
            "score": finding.score, "recognizer": finding.recognizer}


# The options a person may set once for the workspace (Settings tab); the lists are
# saved on their own and always added to.
DEID_OPTIONS = ("score_threshold", "propagate_names", "recall_zipf", "date_mode")


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

    def joined(given: str, key: str) -> str:
        return ", ".join(t for t in (given, saved.get(key, "")) if t.strip())

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
                   progress: ProgressCallback | None = None, batch_size: int = 16) -> dict:
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
            report.append({"id": row["id"], "source": row["source"], "status": "deidentified",
                           "findings": counts, "deid_file": str(workspace.root / deid_file)})
        if progress:
            progress(min(start + batch_size, len(rows)), len(rows), "de-identifying")
    if surrogates.used:
        SurrogateMap(workspace.folder("raw") / SURROGATE_MAP).add(surrogates.used, settings.keep_map)
    return {"documents": report}


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


def review_document(workspace: Workspace, document_id: int) -> dict:
    """A document as the reviewer sees it: its text, its findings with their decisions,
    and the de-identified text the decisions produce."""
    row = workspace.document_rows([document_id])[0]
    if not row["deid_file"]:
        raise GateError(f"{Path(row['source']).name} is not de-identified yet")
    text = workspace.load_document(document_id).text
    deid_text = (workspace.root / row["deid_file"]).read_text(encoding="utf-8")
    findings = [dict(f) for f in workspace.findings_for(document_id)]
    return {"id": document_id, "source": row["source"], "status": row["status"], "text": text,
            "deid_text": deid_text, "findings": findings}


def revise_document(workspace: Workspace, document_id: int, reject: list[int] = (),
                    accept: list[int] = (), add_text: str = "", add_type: str = "PERSON",
                    settings: deid.DeidSettings | None = None) -> dict:
    """Apply a reviewer's decisions: reject or accept findings, add every occurrence of
    ``add_text`` as a new finding, and rebuild the de-identified text from the findings
    not rejected (same key, so the same surrogates). The document needs approval again."""
    saved = workspace.load_settings()
    settings = settings or deid.DeidSettings(date_mode=saved.get("deid_date_mode", "shift"),
                                             keep_map=saved.get("deid_keep_map", True))
    row = workspace.document_rows([document_id])[0]
    text = workspace.load_document(document_id).text
    workspace.set_decision(document_id, list(reject), "rejected")
    rejected = {text[f["start"]:f["end"]] for f in workspace.findings_for(document_id)
                if f["id"] in set(reject)}
    workspace.set_decision(document_id, list(accept), "accepted")
    if add_text.strip():
        pattern = re.compile(r"(?<!\w)" + re.escape(add_text.strip()) + r"(?!\w)", re.IGNORECASE)
        added = [Finding(m.start(), m.end(), add_type, 1.0, "reviewer", m.group())
                 for m in pattern.finditer(text)]
        if not added:
            raise ValueError("that text does not occur in the document")
        workspace.add_findings(document_id, added)
    kept = [Finding(f["start"], f["end"], f["type"], f["score"], f["recognizer"],
                    text[f["start"]:f["end"]])
            for f in workspace.findings_for(document_id) if f["decision"] != "rejected"]
    kept = deid.merge_overlapping(kept)
    surrogates = Surrogates(load_secret(workspace.folder("raw") / SURROGATE_KEY), settings.date_mode)
    key = deid.patient_key(text, kept)
    workspace.write_deid_text(document_id, row["sha256"], deid.replace(text, kept, surrogates, key))
    surrogate_map = SurrogateMap(workspace.folder("raw") / SURROGATE_MAP)
    surrogate_map.forget(rejected)
    surrogate_map.add(surrogates.used, settings.keep_map)
    return review_document(workspace, document_id)


def reject_everywhere(workspace: Workspace, value: str) -> dict:
    """A reviewer's "not an identifier" for one word or phrase in every document: each
    finding of exactly that text (in any case, Unicode folded) is rejected, so those
    documents need approval again, and the value joins the workspace's allow list, so
    later de-identification leaves it too. The report holds counts and ids only."""
    target = fold_value(value).strip().lower()
    if not target:
        raise ValueError("give the word or phrase that is not an identifier")
    documents, rejected = [], 0
    for row in workspace.document_rows():
        if not row["deid_file"]:
            continue
        text = workspace.load_document(row["id"]).text
        ids = [f["id"] for f in workspace.findings_for(row["id"]) if f["decision"] != "rejected"
               and fold_value(text[f["start"]:f["end"]]).strip().lower() == target]
        if ids:
            revise_document(workspace, row["id"], reject=ids)
            documents.append(row["id"])
            rejected += len(ids)
    allow = [t.strip() for t in workspace.load_settings().get("allow_list", "").split(",") if t.strip()]
    if target not in {t.lower() for t in allow}:
        workspace.save_settings({"allow_list": ", ".join(allow + [value.strip()])})
    return {"documents": documents, "rejected_findings": rejected,
            "message": f"rejected {rejected} findings in {len(documents)} documents, which need "
                       "approval again; later de-identification leaves this text"}


def approve_documents(workspace: Workspace, document_ids: list[int] | None = None,
                      reviewed: bool = False) -> dict:
    """Approve de-identified documents for training. ``reviewed``: a person looked at
    every finding (the review screen), so pending ones count as accepted. Otherwise this
    is a bulk approval, and it says how many findings nobody looked at."""
    rows = workspace.document_rows(document_ids)
    if document_ids is None:
        rows = [r for r in rows if r["status"] == "deidentified"]
    not_ready = [Path(r["source"]).name for r in rows if r["status"] not in ("deidentified", "approved")]
    if not_ready:
        raise GateError("not de-identified yet, so not approved: " + ", ".join(not_ready)
                        + " (run deid on them first)")
    if reviewed:
        for r in rows:
            pending = [f["id"] for f in workspace.findings_for(r["id"]) if f["decision"] == "pending"]
            workspace.set_decision(r["id"], pending, "accepted")
    unreviewed = sum(workspace.pending_findings(r["id"]) for r in rows)
    workspace.set_status([r["id"] for r in rows], "approved")
    return {"approved": [r["id"] for r in rows], "unreviewed_findings": unreviewed,
            "message": f"approved {len(rows)} documents; {unreviewed} findings were approved "
                       "without being reviewed one by one"}


def require_approved(workspace: Workspace, document_ids: list[int]) -> None:
    """The gate before datasets and training: every document de-identified and approved."""
    blocked = [f"{Path(r['source']).name} ({r['status']})"
               for r in workspace.document_rows(document_ids) if r["status"] != "approved"]
    if blocked:
        raise GateError("not de-identified and approved: " + ", ".join(blocked))


def rejected_texts(workspace: Workspace, document_id: int) -> set[str]:
    """What a reviewer explicitly said is not an identifier in one document."""
    text = workspace.load_document(document_id).text
    return {text[f["start"]:f["end"]].strip() for f in workspace.findings_for(document_id)
            if f["decision"] == "rejected"}
