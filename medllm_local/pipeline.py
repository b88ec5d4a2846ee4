"""Runs stages against a workspace. The CLI and the UI call only this layer.

Each function here resolves its inputs (a workspace, a model name), calls one stage
function and returns that stage's records; it holds no stage logic of its own.
"""

from __future__ import annotations

import dataclasses
import re
import secrets
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from medllm_local import chat, deid, ingest as ingest_stage, models, offline
from medllm_local.surrogates import SurrogateMap, Surrogates, load_secret
from medllm_local.records import ChatAnswer, Finding, to_json
from medllm_local.workspace import CATALOGUE_NAME, DEFAULT_WORKSPACE, Workspace

DEMO_INBOX = "demo-reports"

# Stages of the CLI contract that later issues build. Said plainly, never faked.
NOT_BUILT: dict[str, int] = { "clean": 5, "build": 5, "train": 6, "export": 7,
    "eval": 8, "demo": 5,
}


class NotBuiltError(RuntimeError):
    """A stage of the contract that this release does not have yet."""


def require_built(stage: str) -> None:
    if stage in NOT_BUILT:
        raise NotBuiltError(
            f"`{stage}` is not built yet in this release (tracked as issue {NOT_BUILT[stage]}); "
            "available now: ingest, deid, chat, models, and the app"
        )


def open_workspace(path: str | Path | None = None) -> Workspace:
    """Open the workspace, creating it if needed; a new one gets the demo reports in its
    inbox so the pipeline can be tried before any real report is added."""
    root = Path(path).expanduser() if path else DEFAULT_WORKSPACE
    is_new = not (root / CATALOGUE_NAME).exists()
    workspace = Workspace.open(root)
    # Temporary files of libraries (pytesseract's page images, for one) hold patient
    # data: keep them inside the owner-only workspace, swept at every open.
    tempfile.tempdir = str(workspace.temp_folder())
    demo_folder = workspace.folder("inbox") / DEMO_INBOX
    if is_new and not demo_folder.exists():
        from medllm_local.demo import write_demo_reports

        write_demo_reports(demo_folder)
    return workspace


ProgressCallback = Callable[[int, int, str], None]  # (done, total, what is being done)


def ingest(
    workspace: Workspace,
    paths: list[str | Path],
    settings: ingest_stage.IngestSettings | None = None,
    progress: ProgressCallback | None = None,
    stop_event: threading.Event | None = None,
) -> dict:
    """Read every file under ``paths`` into the workspace, one at a time: each document
    is stored (raw copy, text, catalogue row) as soon as it is read, so a stopped or
    crashed batch resumes by running it again: stored files are skipped by hash.
    A bad file is reported with its reason and the batch goes on."""
    settings = settings or ingest_stage.IngestSettings()
    total = ingest_stage.count_sources(paths, exclude=workspace.managed_paths())
    results: list[ingest_stage.IngestResult] = []
    ocr = ingest_stage.OcrEngine(settings)
    stopped = False
    try:
        for source in ingest_stage.iter_sources(paths, settings, exclude=workspace.managed_paths()):
            if stop_event is not None and stop_event.is_set():
                stopped = True
                break
            result = _ingest_one(workspace, source, settings, ocr)
            workspace.log_ingest(result.source, source.sha256 if source.data else None,
                                 result.status, result.error, result.id)
            results.append(result)
            if progress:
                progress(len(results), max(total, len(results)), source.source)
    finally:
        ocr.close()
    totals = {status: sum(r.status == status for r in results)
              for status in ("ok", "failed", "duplicate")}
    return {"documents": to_json(results), "totals": totals | {"files": len(results)},
            "stopped": stopped}


def _ingest_one(workspace: Workspace, source: ingest_stage.SourceFile,
                settings: ingest_stage.IngestSettings,
                ocr: ingest_stage.OcrEngine) -> ingest_stage.IngestResult:
    if source.error:
        return ingest_stage.IngestResult(source.source, "failed", source.error)
    existing = workspace.find_document(source.sha256)
    if existing is not None:
        return ingest_stage.IngestResult(source.source, "duplicate", id=existing,
                                         error="already in the workspace")
    try:
        document = ingest_stage.read_document(source, settings, ocr)
    except ingest_stage.IngestError as error:
        return ingest_stage.IngestResult(source.source, "failed", str(error))
    except Exception as error:  # a library bug must not stop the batch or leak text
        return ingest_stage.IngestResult(
            source.source, "failed", f"unexpected {type(error).__name__} while reading")
    flagged = [p.number for p in document.pages if p.method == "ocr"
               and (p.ocr_confidence or 0) < settings.ocr_flag_confidence]
    try:
        doc_id, created = workspace.store_document(
            document, raw=source.data, status="ocr_flagged" if flagged else "ingested")
    except OSError as error:  # disk full, permissions: this file fails, the batch goes on
        return ingest_stage.IngestResult(source.source, "failed",
                                         f"could not store it: {error.strerror or error}")
    return ingest_stage.IngestResult(
        source.source, "ok" if created else "duplicate", None if created else "already in the workspace",
        doc_id, len(document.pages), sum(p.method == "ocr" for p in document.pages), flagged,
        len(document.text), str(workspace.root / workspace.text_file_for(document.sha256)),
        document.warnings)


class GateError(RuntimeError):
    """Documents that may not be used for training yet: not de-identified and approved."""


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
    for index, source in enumerate(ingest_stage.iter_sources(paths, ingest_stage.IngestSettings())):
        results.append({"file": source.source, "text": None, "findings": [], "error": source.error})
        if source.error:
            continue
        try:
            texts[index] = ingest_stage.read_document(source, ingest_stage.IngestSettings()).text
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


def saved_deid_settings(workspace: Workspace, settings: deid.DeidSettings | None = None
                        ) -> deid.DeidSettings:
    """``settings`` with the workspace's saved deny and allow lists added to its own."""
    settings = settings or deid.DeidSettings()
    saved = workspace.load_settings()

    def joined(given: str, key: str) -> str:
        return ", ".join(t for t in (given, saved.get(key, "")) if t.strip())

    return dataclasses.replace(settings, deny_list=joined(settings.deny_list, "deny_list"),
                               allow_list=joined(settings.allow_list, "allow_list"))


def deid_documents(workspace: Workspace, document_ids: list[int] | None = None,
                   settings: deid.DeidSettings | None = None,
                   progress: ProgressCallback | None = None, batch_size: int = 16) -> dict:
    """De-identify documents of the workspace (``None``: those not de-identified yet).
    Re-running a document replaces its findings, so it needs review again."""
    settings = saved_deid_settings(workspace, settings)
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
                  settings: deid.DeidSettings | None = None) -> list[dict]:
    """What still looks identifying in texts about to leave the de-identified area (a
    dataset before export or training). Any hit must block; the hits carry offsets and
    types, never the text found."""
    settings = settings or deid.DeidSettings(score_threshold=0.2, propagate_names=False)
    map_path = workspace.folder("raw") / SURROGATE_MAP
    surrogate_map = SurrogateMap(map_path) if map_path.exists() else None
    hits = deid.residual_phi(
        deid.DeidEngine(settings), texts,
        surrogate_map.surrogate_words() if surrogate_map else set(),
        surrogate_map.real_values() if surrogate_map else set())
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
    settings = settings or deid.DeidSettings()
    row = workspace.document_rows([document_id])[0]
    text = workspace.load_document(document_id).text
    workspace.set_decision(document_id, list(reject), "rejected")
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
    SurrogateMap(workspace.folder("raw") / SURROGATE_MAP).add(surrogates.used, settings.keep_map)
    return review_document(workspace, document_id)


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


def chat_stream(
    user_text: str,
    history: list[dict[str, str]] | None = None,
    model: str | None = None,
    settings: chat.ChatSettings | None = None,
    stop_event: threading.Event | None = None,
) -> Iterator[chat.ChatChunk]:
    """Stream an answer from ``model`` (a GGUF; default the embedded model)."""
    info = models.resolve_model(model, kind="gguf")
    if info.kind != "gguf":
        raise models.ModelError(
            f"{info.name} is a Hugging Face folder; chat runs on GGUF files (export it first)"
        )
    yield from chat.stream_chat(Path(info.path), user_text, history, settings, stop_event)


def chat_answer(user_text: str, model: str | None = None,
                settings: chat.ChatSettings | None = None) -> ChatAnswer:
    """One complete answer: the UI's stream, collected."""
    final = None
    for chunk in chat_stream(user_text, None, model, settings):
        final = chunk
    assert final is not None and final.answer is not None
    return final.answer


def models_report(seq_len: int = 2048) -> dict:
    """Installed models, this machine's GPU, and which base-model sizes would fit it
    for QLoRA training."""
    gpu = models.gpu_memory_gib()
    return {
        "models": to_json(models.list_models()),
        "models_dir": str(models.models_dir()),
        "gpu": {"name": gpu[0], "memory_gib": round(gpu[1], 1)} if gpu else None,
        "qlora_fit": models.fit_table(gpu[1] if gpu else None, seq_len=seq_len),
        "offline": offline.guard_status(),
    }
