"""What every pipeline module shares: the workspace opener, progress callbacks, and
the error that says a stage may not run yet."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable
from pathlib import Path

from medllm_local.workspace.store import CATALOGUE_NAME, DEFAULT_WORKSPACE, Workspace

ProgressCallback = Callable[[int, int, str], None]  # (done, total, what is being done)
DEMO_INBOX = "demo-reports"

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
        from medllm_local.core.demo_reports import write_demo_reports

        write_demo_reports(demo_folder)
    return workspace


def run_of_label(label: str) -> int | None:
    """The run a model label names ("run 3", "run 3 (LoRA)"), or None (a base model, a GGUF)."""
    found = re.match(r"run (\d+)", label)
    return int(found.group(1)) if found else None


class GateError(RuntimeError):
    """Documents that may not be used for training yet: not de-identified and approved."""


SURROGATE_KEY, SURROGATE_MAP = "surrogate.key", "surrogate-map.sqlite"
