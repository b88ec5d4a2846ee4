"""Runs stages against a workspace. The CLI and the UI call only this layer.

Each function here resolves its inputs (a workspace, a model name), calls one stage
function and returns that stage's records; it holds no stage logic of its own.
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from medllm_local import chat, ingest as ingest_stage, models, offline
from medllm_local.records import ChatAnswer, to_json
from medllm_local.workspace import CATALOGUE_NAME, DEFAULT_WORKSPACE, Workspace

DEMO_INBOX = "demo-reports"

# Stages of the CLI contract that later issues build. Said plainly, never faked.
NOT_BUILT: dict[str, int] = {
    "deid": 4, "clean": 5, "build": 5, "train": 6, "export": 7,
    "eval": 8, "demo": 5,
}


class NotBuiltError(RuntimeError):
    """A stage of the contract that this release does not have yet."""


def require_built(stage: str) -> None:
    if stage in NOT_BUILT:
        raise NotBuiltError(
            f"`{stage}` is not built yet in this release (tracked as issue {NOT_BUILT[stage]}); "
            "available now: ingest, chat, models, and the app"
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
