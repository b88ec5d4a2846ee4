"""The command line's model stages (train, export, eval): thin faces over pipeline.py,
kept apart from cli/main.py only for length. Each returns the stage's JSON report."""

from __future__ import annotations

import argparse
import json
import sys

from medllm_local.cli.args import PartialFailure, open_workspace, progress_bar, settings_from_args


def cmd_train(args: argparse.Namespace) -> dict:
    import signal
    import threading

    from medllm_local import pipeline
    from medllm_local.stages.train.trainer import TrainSettings

    settings = settings_from_args(TrainSettings, args)
    if args.plan:
        report = pipeline.plan_training(args.model, settings, open_workspace(args))
        if not args.json:
            print(report["advice"] if not report["fits"] else json.dumps(report["plan"], indent=2))
        return report
    workspace = open_workspace(args)
    if args.list:
        runs = pipeline.list_runs(workspace)
        if not args.json:
            for run in runs:
                print(f"run {run.run}: {run.status}, {run.base_model}, steps {run.steps}, "
                      f"final loss {run.final_loss}" + (f", from run {run.parent_run}" if run.parent_run else ""))
        return {"runs": runs}
    # Ctrl-C or the app's Stop (SIGTERM): save a checkpoint at the next step, then end.
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())

    def progress(row: dict) -> None:
        parts = [f"step {row['step']}/{row['max_steps']}"]
        parts += [f"{key} {row[key]:.4g}" for key in ("loss", "eval_loss", "learning_rate") if key in row]
        parts.append(f"{row['tokens_per_second']:.0f} tok/s")
        if row.get("eta_seconds") is not None:
            parts.append(f"eta {row['eta_seconds']:.0f} s")
        print("train: " + ", ".join(parts), file=sys.stderr, flush=True)

    report = pipeline.train_run(workspace, args.model, settings, resume_run=args.resume,
                                parent_run=args.parent, job_id=args.job, stop=stop,
                                progress=progress)
    if not args.json and report.rank == 0:
        state = "stopped (resume with --resume)" if report.stopped else "finished"
        print(f"run {report.run} {state} after {report.steps} steps; adapter: {report.adapter}")
        print(f"final loss {report.losses[-1] if report.losses else '-'}, "
              f"{report.tokens_per_second} tokens/s, peak memory {report.peak_memory_gib} GiB")
    return report


def cmd_export(args: argparse.Namespace) -> dict:
    from medllm_local import pipeline
    from medllm_local.stages.export import ExportSettings

    workspace = open_workspace(args)
    if args.list:
        exports = pipeline.list_exports(workspace)
        if not args.json:
            for item in exports:
                print(f"export {item.export}: run {item.run} {item.quant} {item.status}: {item.gguf}")
        return {"exports": exports}
    if args.run is None:
        raise ValueError("give the run to export (see `train --list`)")
    with progress_bar("step", str, job=None if args.job is None else (workspace, args.job)) as progress:
        report = pipeline.export_run(workspace, args.run, settings_from_args(ExportSettings, args),
                                     lambda step, done, total: progress(done, total, step))
    if not args.json:
        for check in report.checks:
            print(f"{'ok  ' if check.passed else 'FAIL'} {check.name}: {check.detail}")
        print(f"GGUF: {report.gguf}" + (f" with LoRA {report.lora}" if report.lora else ""))
        print(f"Ollama Modelfile: {report.modelfile}")
    if not report.passed:
        raise PartialFailure("a check failed; the files are kept for inspection", report)
    return report


def cmd_eval(args: argparse.Namespace) -> dict:
    from medllm_local import pipeline
    from medllm_local.stages.evaluate import EvalSettings

    workspace = open_workspace(args)
    if args.sets:
        sets = pipeline.eval_sets(workspace)
        if not args.json:
            for item in sets:
                print(f"{item.set}: {item.cases} cases from {item.source}, saved {item.created_at}"
                      f" (sha256 {item.sha256[:12]})")
            if not sets:
                print("no evaluation sets yet: `eval --cases FILE --save-set NAME` saves one")
        return {"sets": sets}
    if args.history:
        history = pipeline.model_history(workspace, args.eval_set)
        if not args.json:
            for v in history.versions:
                ci = v.top1_ci95
                print(f"{v.model}: top-1 {v.top1:.3f}" if v.top1 is not None else v.model,
                      f"(95% CI {ci[0]:.2f}-{ci[1]:.2f})" if ci else "",
                      f"MRR {v.mrr:.3f}" if v.mrr is not None else "",
                      f"from run {v.parent_run}" if v.parent_run else "")
            for warning in history.warnings:
                print(f"warning: {warning}")
        return history
    eval_set = args.eval_set
    if args.save_set:
        if not args.cases or eval_set:
            raise ValueError("--save-set NAME saves the cases of --cases FILE (and then scores on them)")
        saved = pipeline.save_eval_set(workspace, args.save_set, args.cases)
        if not args.json:
            print(f"evaluation set {saved.set}: {saved.cases} cases (sha256 {saved.sha256[:12]})")
        eval_set = saved.set
    elif eval_set and args.cases:
        raise ValueError("give either --cases FILE or --set NAME")
    with progress_bar("case", str, job=None if args.job is None else (workspace, args.job)) as progress:
        report = pipeline.eval_models(workspace, args.model or [None], None if eval_set else args.cases,
                                      settings_from_args(EvalSettings, args), progress, eval_set=eval_set)
    if not args.json:
        for item in report.models:
            shown = ", ".join(f"{k} {v:.3f}" for k, v in item.metrics.items()
                              if isinstance(v, float) and not k.endswith("_ci95"))
            print(f"{item.model}: {shown}")
        for c in report.comparisons:
            print(f"{c['metric']}: {c['to']} - {c['from']} = {c['difference']:+.3f} "
                  f"(95% CI {c['ci95'][0]:+.3f} to {c['ci95'][1]:+.3f})"
                  + (", within noise" if c["within_noise"] else ""))
        print(f"report: {report.report}")
    return report
