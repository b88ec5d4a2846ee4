"""The command line: one subcommand per pipeline stage, a thin face over the pipeline layer.

With no subcommand it starts the app. Every stage takes ``--workspace DIR`` and
``--json``; with ``--json`` exactly one JSON object goes to stdout (everything else, even
native library output, is sent to stderr) and failures exit non-zero with a one-line
reason. Options of a stage come from that stage's settings dataclass, so the CLI, the UI
and scripts share one schema.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

from medllm_local import __version__
from medllm_local.core.records import to_json
from medllm_local.cli.args import (PartialFailure, add_settings_arguments, fail, progress_bar,
                                    open_workspace, settings_from_args, stdout_to_stderr)

PROG = "launch.py"
DEMO_WORKSPACE = "~/medllm-demo"
DEFAULT_PORT = 7860


# -- stage commands ----------------------------------------------------------------------
def cmd_ingest(args: argparse.Namespace):
    from medllm_local import pipeline
    from medllm_local.stages.ingest.read import IngestSettings

    settings = settings_from_args(IngestSettings, args)
    workspace = open_workspace(args)
    with progress_bar("file", describe=lambda source: Path(source.split("!")[-1]).name) as progress:
        report = pipeline.ingest(workspace, args.paths, settings, progress)
    if not args.json:
        for item in report.documents:
            if item.status == "failed":
                print(f"failed: {item.source}: {item.error}")
            elif item.flagged_pages:
                print(f"check OCR: {item.source}: pages {item.flagged_pages}")
    totals = report.totals
    print(f"{totals['ok']} ingested, {totals['failed']} failed, {totals['duplicate']} "
          f"skipped as duplicates ({totals['files']} files)", file=sys.stderr)
    if totals["failed"]:
        raise PartialFailure(f"{totals['failed']} of {totals['files']} files failed", report)
    return report


def cmd_import(args: argparse.Namespace):
    from medllm_local import pipeline

    workspace = open_workspace(args)
    with progress_bar("file", str) as progress:
        report = pipeline.import_cases(workspace, args.files, args.task, args.preview, progress)
    if not args.json:
        for item in report.files:
            if item.status == "failed":
                print(f"failed: {item.file}: {item.error}")
                continue
            columns = ", ".join(f"{header} -> {part}" for header, part in item.mapping.items())
            print(f"{item.file}: {item.cases} cases ({columns})"
                  + (f", {len(item.documents)} imported, {item.duplicates} already here"
                     if not report.preview else ""))
            for error in item.errors:
                print(f"  row {error.row}: {error.reason}")
    if not report.preview:
        print(f"{report.imported} cases imported as documents; next: {report.next}", file=sys.stderr)
    failed = sum(item.status == "failed" for item in report.files) + report.failed_rows
    if failed:
        raise PartialFailure(f"{failed} files or rows could not be imported", report)
    return report


def cmd_deid(args: argparse.Namespace):
    from medllm_local import pipeline
    from medllm_local.stages.deid.engine import DeidSettings

    settings = settings_from_args(DeidSettings, args)
    if args.file:
        if args.doc_ids or args.all or args.approve:
            raise ValueError("--file works outside the workspace: give no DOC_ID, --all or --approve")
        report = pipeline.deid_files(args.file, settings)
        if not args.json:
            for item in report.files:
                print(f"== {item.file}: " + (item.error or f"{len(item.findings)} findings"))
                print(item.text or "")
        failed = [item for item in report.files if item.error]
        if failed:
            raise PartialFailure(f"{len(failed)} of {len(report.files)} files failed", report)
        return report
    if not (args.doc_ids or args.all or args.approve or args.not_identifier):
        raise ValueError("say which documents: DOC_ID..., --all, or --file NOTE.txt")
    workspace = open_workspace(args)
    ids = [int(i) for i in args.doc_ids] or None
    report: dict = {"documents": []}  # what was done, merged: not-identifier, deid, approval
    for value in args.not_identifier or ():
        rejected = pipeline.reject_everywhere(workspace, value)
        report.setdefault("not_identifier", []).append(rejected)
        print(rejected.message, file=sys.stderr)
    if args.doc_ids or args.all:
        with progress_bar("doc") as progress:
            report["documents"] = pipeline.deid_documents(workspace, ids, settings, progress).documents
    if args.approve:
        approved = pipeline.approve_documents(workspace, ids)
        report |= approved.to_json()
        print(approved.message, file=sys.stderr)
    if not args.json:
        for item in report["documents"]:
            found = ", ".join(f"{n} {t}" for t, n in sorted(item.findings.items())) or "nothing"
            print(f"{item.id}: {Path(item.source).name}: {found}")
    return report


def cmd_build(args: argparse.Namespace) -> dict:
    from medllm_local import pipeline
    from medllm_local.stages.dataset.build import BuildSettings

    workspace = open_workspace(args)
    settings = settings_from_args(BuildSettings, args)
    if args.review_augmented:  # a person's verdict on the pending variants, before writing
        pipeline.review_augmented(workspace, accept=args.review_augmented == "accept")
    report = pipeline.build_dataset(workspace, settings)
    if not args.json:
        print(", ".join(f"{n} {task} pairs" for task, n in report.pairs.items()))
        if report.augmentation:
            counts = report.augmentation
            print(f"augmented: {counts['pairs']} variants ({counts['pending']} to review, "
                  f"{counts['accepted']} accepted and written to train, {counts['rejected']} rejected)")
        for name, info in report.splits.items():
            print(f"{name}: {info.pairs} pairs from {len(info.documents)} documents -> {info.file}")
        for item in report.unparsed:
            print(f"no pairs from {item['source']}: {item['reason']}")
        if report.not_approved:
            print(f"left out (not approved): {len(report.not_approved)} documents")
    return report


def cmd_demo(args: argparse.Namespace) -> dict:
    from medllm_local import pipeline

    report = pipeline.run_demo(getattr(args, "workspace", None) or DEMO_WORKSPACE, args.until)
    if not args.json:
        for stage in report:
            print(f"{stage}: done")
    return report


def cmd_models(args: argparse.Namespace) -> dict:
    from medllm_local import pipeline

    if args.check or args.add:
        checked = pipeline.check_model(args.check or args.add)
        if not args.json:
            print(f"{checked['name']}: {checked['kind']} {checked['architecture']}"
                  + (f", {checked['parameters'] / 1e9:.2f}B parameters" if checked["parameters"] else ""))
            for problem in checked["problems"]:
                print(f"problem: {problem}")
            for note in checked["notes"]:
                print(f"note: {note}")
        if args.check:
            if not checked["ok"]:
                raise PartialFailure("the model has problems (above); it was not added", checked)
            return checked
        added = pipeline.add_model(args.add, args.name)
        if not args.json:
            print(f"added {added['model']}: {added['path']}")
        return added
    report = pipeline.models_report(seq_len=args.seq_len)
    if not args.json:
        for model in report["models"]:
            size = f"{model['size_bytes'] / 1e6:,.0f} MB" if model["size_bytes"] else "-"
            print(f"{model['name']:<40} {model['kind']:<5} {model['source']:<10} {size:>10}  "
                  f"{model['path'] or model['note']}")
        gpu = report["gpu"]
        print(f"\nGPU: {gpu['name']} ({gpu['memory_gib']} GiB)" if gpu else "\nGPU: none found")
        print(f"QLoRA training memory at sequence length {args.seq_len}:")
        for row in report["qlora_fit"]:
            verdict = {True: "fits", False: "does not fit", None: "-"}[row["fits"]]
            print(f"  {row['model']:<22} ~{row['estimate_gib']:5.1f} GiB  {verdict}")
    return report


def cmd_forget(args: argparse.Namespace) -> dict:
    from medllm_local import pipeline

    report = pipeline.forget_documents(open_workspace(args), args.doc_ids or None, args.patient)
    if not args.json:
        print(report["message"])
        for item in report["builds"]:
            print(f"build {item['build']} held it ({', '.join(item['splits'])}): marked")
        for item in report["runs"]:
            print(f"run {item['run']} ({item['reason']}): marked")
        for note in report["notes"]:
            print(f"note: {note}")
    return report


def cmd_ui(args: argparse.Namespace) -> dict:
    from medllm_local.ui.app import launch_app

    launch_app(host=args.host, port=args.port, workspace=getattr(args, "workspace", None),
               password=args.password or os.environ.get("MEDLLM_PASSWORD"), user=args.user,
               ssl_certfile=args.ssl_certfile, ssl_keyfile=args.ssl_keyfile)
    return {}


def cmd_tracking(args: argparse.Namespace) -> dict:
    import subprocess

    from medllm_local.pipeline import tracking

    workspace = open_workspace(args)
    if not tracking.available():
        raise RuntimeError("MLflow is not installed: `python3 installer/install.py --tracking` "
                           "(runs are tracked from then on)")
    command = tracking.ui_command(workspace, args.port)
    print(f"MLflow UI for {tracking.store_uri(workspace)}: open {tracking.runs_url(workspace, args.port)} "
          "(Ctrl-C stops it)", file=sys.stderr)
    env = os.environ | tracking.MLFLOW_ENVIRONMENT
    return {"returncode": subprocess.run(command, env=env).returncode}


# -- parser ------------------------------------------------------------------------------
def _stage_parent() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    # SUPPRESS: a --workspace given before the command must survive the subparser.
    parent.add_argument("--workspace", metavar="DIR", default=argparse.SUPPRESS,
                        help="workspace folder (default ~/medllm-workspace)")
    parent.add_argument("--json", action="store_true",
                        help="print one JSON object on stdout (progress goes to stderr)")
    # The app starts long jobs as child processes; this ties one to its catalogue row.
    parent.add_argument("--job", type=int, default=None, help=argparse.SUPPRESS)
    return parent


def _add_ui_options(parser: argparse.ArgumentParser, top_level: bool) -> None:
    # Defaults live on the top-level parser only, so `--port 8000 ui` keeps 8000.
    default = (lambda value: value) if top_level else (lambda value: argparse.SUPPRESS)
    parser.add_argument("--host", default=default("127.0.0.1"),
                        help="address to serve the app on (default 127.0.0.1, this machine "
                             "only; any other address needs a password)")
    parser.add_argument("--port", type=int, default=default(DEFAULT_PORT), help="port (default 7860)")
    parser.add_argument("--password", default=default(None),
                        help="require this password in the browser (better: set MEDLLM_PASSWORD, "
                             "which other users cannot read in the process list); recommended "
                             "on a computer other people log in to, since any local account "
                             "can otherwise open 127.0.0.1")
    parser.add_argument("--user", default=default("medllm"),
                        help="user name for the login, with --password (default medllm); "
                             "failed logins make the next try wait longer")
    parser.add_argument("--ssl-certfile", metavar="PEM", default=default(None),
                        help="serve over https with this certificate (with --ssl-keyfile), "
                             "for serving to a LAN")
    parser.add_argument("--ssl-keyfile", metavar="PEM", default=default(None),
                        help="private key of --ssl-certfile")


def build_parser() -> argparse.ArgumentParser:
    from medllm_local.cli.chat import add_chat_arguments, cmd_chat
    from medllm_local.stages.dataset.build import BuildSettings
    from medllm_local.stages.deid.engine import DeidSettings
    from medllm_local.stages.evaluate import EvalSettings
    from medllm_local.stages.export import ExportSettings
    from medllm_local.stages.ingest.read import IngestSettings
    from medllm_local.cli.model_stages import cmd_eval, cmd_export, cmd_train
    from medllm_local.cli.clean import add_clean_arguments, cmd_clean
    from medllm_local.stages.train.trainer import TrainSettings

    parser = argparse.ArgumentParser(
        prog=PROG,
        description="medllm-local: turn your own reports into a local, offline diagnosis "
                    "assistant. With no command, starts the app on http://127.0.0.1:7860.",
        epilog="launch.py also takes --selftest (install test dependencies and run the "
               "test suite). Run 'launch.py COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"medllm-local {__version__}")
    parser.add_argument("--workspace", metavar="DIR", default=None,
                        help="workspace folder (default ~/medllm-workspace)")
    _add_ui_options(parser, top_level=True)
    parent = _stage_parent()
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands: dict[str, Callable[[argparse.Namespace], dict]] = {}

    def add(name: str, handler, help_text: str) -> argparse.ArgumentParser:
        commands[name] = handler
        return sub.add_parser(name, parents=[parent], help=help_text, description=help_text)

    p = add("ingest", cmd_ingest, "read reports (PDF, scans, images, DOCX, TXT, RTF, folders, zips)")
    p.add_argument("paths", nargs="+", metavar="PATH", help="files, folders or zip archives")
    add_settings_arguments(p, IngestSettings)
    p = add("import", cmd_import, "import cases you keep (CSV, XLSX, messages/ShareGPT/Alpaca JSON) "
                                  "as documents to de-identify, review and approve like reports")
    p.add_argument("files", nargs="+", metavar="FILE", help="case files")
    p.add_argument("--task", choices=("auto", "diagnosis", "differential", "treatment"), default="auto",
                   help="what a chat record's answer is (auto: the question's wording, else the "
                        "diagnosis); spreadsheets say it by their columns")
    p.add_argument("--preview", action="store_true",
                   help="read and check only: the column mapping, the cases and the bad rows")
    p = add("deid", cmd_deid, "de-identify documents (or files), then approve them for training")
    p.add_argument("doc_ids", nargs="*", metavar="DOC_ID", help="documents to de-identify")
    p.add_argument("--all", action="store_true", help="every document not de-identified yet")
    p.add_argument("--approve", action="store_true",
                   help="approve the de-identified documents for training (says how many "
                        "findings were not reviewed)")
    p.add_argument("--file", nargs="+", metavar="NOTE.txt",
                   help="de-identify these files without a workspace; nothing is stored")
    p.add_argument("--not-identifier", action="append", metavar="TEXT",
                   help="a word or phrase the detectors took for an identifier: reject it in "
                        "every document (they need approval again) and keep it from now on")
    add_settings_arguments(p, DeidSettings)
    p = add("clean", cmd_clean, "clean the approved de-identified documents (boilerplate, "
                                "abbreviations, typos), recording each change; revert changes; "
                                "type pages OCR read poorly")
    add_clean_arguments(p)
    p = add("build", cmd_build, "build instruction pairs and train/validation/test splits "
                                "from the approved documents")
    add_settings_arguments(p, BuildSettings)
    p.add_argument("--review-augmented", choices=("accept", "reject"), default=None,
                   help="accept or reject every augmented pair waiting for review (read them "
                        "first: Dataset tab) before this build")
    p = add("train", cmd_train, "fine-tune with QLoRA (GPU) or LoRA (CPU) on the latest build; "
                                "Ctrl-C saves a checkpoint and stops")
    p.add_argument("--model", default=None, help="base model: an HF folder name under models/ "
                                                 "(default: the embedded model)")
    p.add_argument("--resume", type=int, metavar="RUN", default=None,
                   help="continue a stopped or interrupted run from its last checkpoint")
    p.add_argument("--parent", type=int, metavar="RUN", default=None,
                   help="train a new version starting from this run's adapter (new reports)")
    p.add_argument("--plan", action="store_true",
                   help="only say how it would train here and whether it fits; load nothing")
    p.add_argument("--list", action="store_true", help="list the runs (model versions)")
    add_settings_arguments(p, TrainSettings)
    p = add("eval", cmd_eval, "evaluate models on the held-out split (or any file of pairs), "
                              "side by side")
    p.add_argument("--model", action="append", default=None,
                   help="a GGUF name or path, or run:N for run N's checked export; repeat to "
                        "compare (default: the embedded base model)")
    p.add_argument("--cases", metavar="FILE", default=None,
                   help="pairs in messages, ShareGPT, Alpaca or CSV form (default: the "
                        "workspace's test split, which is then frozen)")
    p.add_argument("--save-set", metavar="NAME", default=None,
                   help="with --cases: first save those cases in the workspace as the frozen "
                        "evaluation set NAME (its hash recorded), so later versions are scored on "
                        "exactly the same cases")
    p.add_argument("--set", metavar="NAME", dest="eval_set", default=None,
                   help="score on the saved evaluation set NAME (refused if its file was changed)")
    p.add_argument("--sets", action="store_true", help="list the saved evaluation sets (nothing is run)")
    p.add_argument("--history", action="store_true",
                   help="every model version's scores on the test split (or on --set NAME), in "
                        "training order, and which is worse than its parent beyond the interval "
                        "(nothing is run)")
    add_settings_arguments(p, EvalSettings)
    p = add("export", cmd_export, "merge a run's adapter, convert to GGUF with llama.cpp's own "
                                  "converter, quantize, and check the result")
    p.add_argument("run", metavar="RUN", type=int, nargs="?", help="the run (see `train --list`)")
    p.add_argument("--list", action="store_true", help="list the exports and their checks")
    add_settings_arguments(p, ExportSettings)
    p = add("chat", cmd_chat, "ask a model a question or about a case (streams the answer), "
                              "or for a ranked differential; with similar past cases")
    add_chat_arguments(p)
    p = add("models", cmd_models, "list installed models and what fits this GPU")
    p.add_argument("--seq-len", type=int, default=2048, help="sequence length for the memory estimate")
    p.add_argument("--check", metavar="PATH", default=None,
                   help="check a model folder (Hugging Face, with config.json) or a .gguf file: "
                        "weights, tokenizer, chat template, licence, and what it fits here")
    p.add_argument("--add", metavar="PATH", default=None,
                   help="check it, then copy it into the models folder (a USB stick's copy, say)")
    p.add_argument("--name", default=None, help="with --add: the name to list it under")
    p = add("demo", cmd_demo, "run the pipeline on the demo reports, in its own workspace "
                              "(default ~/medllm-demo)")
    p.add_argument("--until", metavar="STAGE", default="build",
                   help="last stage to run: ingest, deid, build, train (a few LoRA steps on "
                        "the embedded model), export (Q4_K_M GGUF, checked), eval (base "
                        "against the fine-tune on the test split) or chat")
    p = add("forget", cmd_forget, "delete documents (or every document of a patient) and "
                                  "everything made from them; list and mark the builds and "
                                  "runs that held them")
    p.add_argument("doc_ids", nargs="*", type=int, metavar="DOC_ID", help="documents to delete")
    p.add_argument("--patient", metavar="HASH", default=None,
                   help="every document of this patient (the keyed hash in documents.patient)")
    p = add("tracking", cmd_tracking, "start the MLflow UI on 127.0.0.1 for the workspace's tracked "
                                      "runs (needs the optional tracking extra)")
    p.add_argument("--port", type=int, default=5000, help="port on 127.0.0.1 (default 5000)")
    p = add("ui", cmd_ui, "start the app (the default when no command is given)")
    _add_ui_options(p, top_level=False)
    parser.set_defaults(commands=commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        args.command, args.json = "ui", False
    handler = args.commands[args.command]
    as_json = bool(getattr(args, "json", False))
    job = getattr(args, "job", None)
    # Under accelerate launch every process runs this; only rank 0 reports, once.
    secondary = os.environ.get("RANK", "0") != "0"
    try:
        if as_json:
            with stdout_to_stderr():
                result = to_json(handler(args))
            if secondary:
                return 0
            print(json.dumps(result), flush=True)
        else:
            result = to_json(handler(args))  # a stage's result record, or a plain dict
        if secondary:
            return 0
        if job is not None:
            _finish_job(args, job, "stopped" if result.get("stopped") else "done")
    except PartialFailure as partial:
        if secondary:
            return 1
        if as_json:
            print(json.dumps(to_json(partial.result)), flush=True)
        print(f"error: {args.command}: {partial}", file=sys.stderr)
        if job is not None:
            _finish_job(args, job, "failed", str(partial))
        return 1
    except KeyboardInterrupt:
        fail("interrupted", as_json)
        if job is not None:
            _finish_job(args, job, "failed", "interrupted")
        return 130
    except Exception as error:  # one line for the user; the stage already cleaned up
        if secondary:
            return 1
        if job is not None:
            _finish_job(args, job, "failed", " ".join(str(error).split()))
        if os.environ.get("MEDLLM_DEBUG"):
            raise
        return fail(f"{args.command}: {error}", as_json)
    return 0


def _finish_job(args: argparse.Namespace, job: int, status: str, error: str | None = None) -> None:
    from medllm_local.pipeline.jobs import finish_job

    finish_job(open_workspace(args), job, status, error)
