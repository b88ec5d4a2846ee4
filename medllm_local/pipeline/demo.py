"""The demo: the whole pipeline on the project's demo reports, in a workspace of its own."""

from __future__ import annotations

from pathlib import Path

from medllm_local.pipeline.clean import clean_documents
from medllm_local.pipeline.common import DEMO_INBOX, open_workspace
from medllm_local.pipeline.dataset import build_dataset
from medllm_local.pipeline.ingest import ingest
from medllm_local.pipeline.chat import chat_answer
from medllm_local.pipeline.evaluate import eval_models
from medllm_local.pipeline.export import export_run
from medllm_local.core.records import to_json
from medllm_local.pipeline.deid import approve_documents, deid_documents
from medllm_local.pipeline.train import train_run
from medllm_local.stages.train.trainer import TrainSettings

STAGES = ("ingest", "deid", "clean", "build", "train", "export", "eval", "chat")
# A few LoRA steps on the embedded model: enough to see the loss fall on a CPU in minutes.
DEMO_QUESTION = ("A 58-year-old has had fever, productive cough and right-sided pleuritic "
                 "chest pain for three days; crackles at the right base. Most likely diagnosis?")
DEMO_TRAINING = TrainSettings(max_steps=6, batch_size=2, grad_accum=1, max_length=768,
                              learning_rate=3e-4, save_every=3, eval_every=3)


def run_demo(workspace_path: str | Path | None, until: str = "build") -> dict:
    """Run the stages in order up to ``until`` on the demo reports (which a new workspace
    holds in its inbox); each stage's report is kept under its name. The demo approves
    the de-identified reports in bulk: they are fictitious."""
    if until not in STAGES:
        raise ValueError(f"unknown stage {until!r}; stages: {', '.join(STAGES)}")
    wanted = STAGES[:STAGES.index(until) + 1]
    workspace = open_workspace(workspace_path)
    report: dict = {}
    for stage in wanted:
        if stage == "ingest":
            report["ingest"] = ingest(workspace, [workspace.folder("inbox") / DEMO_INBOX]).to_json()
        elif stage == "deid":
            report["deid"] = deid_documents(workspace).to_json() | approve_documents(workspace).to_json()
        elif stage == "clean":
            report["clean"] = clean_documents(workspace).to_json()
        elif stage == "build":
            report["build"] = build_dataset(workspace).to_json()
        elif stage == "train":
            report["train"] = train_run(workspace, settings=DEMO_TRAINING).to_json()
        elif stage == "export":
            report["export"] = export_run(workspace, report["train"]["run"]).to_json()
        elif stage == "eval":  # the base model against the fine-tune, on the same cases
            run = report["train"]["run"]
            report["eval"] = eval_models(workspace, [None, f"run:{run}"]).to_json()
        elif stage == "chat":
            answer = chat_answer(DEMO_QUESTION, report["export"]["registered_as"])
            report["chat"] = to_json(answer)
    return report
