"""What every pipeline module shares: the workspace opener, progress callbacks, and
the errors that say a stage may not run yet."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from medllm_local.workspace import CATALOGUE_NAME, DEFAULT_WORKSPACE, Workspace

ProgressCallback = Callable[[int, int, str], None]  # (done, total, what is being done)
DEMO_INBOX = "demo-reports"

# Stages of the CLI contract that later issues build. Said plainly, never faked.
NOT_BUILT: dict[str, int] = {}


class NotBuiltError(RuntimeError):
    """A stage of the contract that this release does not have yet."""


def require_built(stage: str) -> None:
    if stage in NOT_BUILT:
        raise NotBuiltError(
            f"`{stage}` is not built yet in this release (tracked as issue {NOT_BUILT[stage]}); "
            "available now: ingest, deid, clean, build, train, export, eval, chat, models, demo, and the app"
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


class GateError(RuntimeError):
    """Documents that may not be used for training yet: not de-identified and approved."""


SURROGATE_KEY, SURROGATE_MAP = "surrogate.key", "surrogate-map.sqlite"
