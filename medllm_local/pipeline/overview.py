"""Where a workspace stands on the path from reports to a chat answer: each step, whether
it is done and a few words on it, and the step to take next (the app opens on it)."""

from __future__ import annotations

from dataclasses import dataclass

from medllm_local.workspace.store import Workspace

STEPS = ("reports", "review", "clean", "dataset", "train", "evaluate", "export", "chat")


@dataclass
class Step:
    name: str  # one of STEPS
    done: bool
    detail: str  # e.g. "10 of 12 approved"


def workspace_steps(workspace: Workspace) -> list[Step]:
    """The path's steps as this workspace stands (reads only)."""
    def count(sql: str) -> int:
        return workspace.query(sql)[0][0]

    documents = count("SELECT COUNT(*) FROM documents")
    approved = count("SELECT COUNT(*) FROM documents WHERE status = 'approved'")
    cleaned = count("SELECT COUNT(*) FROM documents WHERE status = 'approved' AND clean_file IS NOT NULL")
    pairs = count("SELECT COUNT(*) FROM pairs")
    runs = count("SELECT COUNT(*) FROM runs WHERE status = 'done'")
    evaluations = count("SELECT COUNT(*) FROM evaluations")
    exports = count("SELECT COUNT(*) FROM exports WHERE status = 'passed'")
    return [
        Step("reports", documents > 0, f"{documents} documents"),
        Step("review", documents > 0 and approved == documents, f"{approved} of {documents} approved"),
        Step("clean", approved > 0 and cleaned == approved, f"{cleaned} cleaned"),
        Step("dataset", pairs > 0, f"{pairs} pairs"),
        Step("train", runs > 0, f"{runs} versions"),
        Step("evaluate", evaluations > 0, f"{evaluations} evaluations"),
        Step("export", exports > 0, f"{exports} exports"),
        Step("chat", True, "ready"),
    ]


def next_step(steps: list[Step]) -> str:
    """The first step to do: reports for a new workspace, chat once everything is done.
    Cleaning is optional, so an approved workspace goes on to the dataset."""
    for step in steps:
        if not step.done and step.name != "clean":
            return step.name
    return "chat"
