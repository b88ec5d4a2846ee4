"""Evaluation against the workspace: models (the embedded base, exports of runs, any
GGUF) on the frozen test split or any file of pairs, side by side on the same cases,
stored in the catalogue with an HTML report."""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from pathlib import Path

from medllm_local.stages.dataset import formats

from medllm_local.stages import evaluate

from medllm_local.core import models
from medllm_local.core.files import text_hash
from medllm_local.pipeline import tracking
from medllm_local.pipeline.common import run_of_label
from medllm_local.pipeline.dataset import freeze_test_split, require_current_build
from medllm_local.pipeline.train import latest_build
from medllm_local.core.prompts import task_of
from medllm_local.core.records import Record, content_of
from medllm_local.workspace import paths
from medllm_local.workspace.store import Workspace, atomic_write, now

COMPARED = ("top1", "mrr", "exact_match", "rouge_l")


@dataclass
class EvaluatedModel:
    model: str  # its label: "smollm2-135m-instruct", "run 3 (Q4_K_M)", a file name
    gguf: str
    metrics: dict  # top1, mrr, exact_match, rouge_l, bleu, perplexity, their CIs, cases


@dataclass
class EvalReport(Record):
    """Models scored on the same cases (the CLI's ``eval --json``)."""

    metrics: dict  # the first model's
    models: list[EvaluatedModel]
    comparisons: list[dict]  # paired differences against the first model, with their CIs
    cases: str  # where the cases came from
    eval_set: str | None
    on: str  # "test split", "set NAME" or "file"
    results_file: str  # every case with each model's answer and scores
    report: str  # the HTML report


@dataclass
class ModelVersion:
    """One model version's latest scores in the history."""

    model: str
    run: int | None
    parent_run: int | None
    evaluated_at: str
    cases: int | None
    top1: float | None
    top1_ci95: list[float] | None
    mrr: float | None
    rouge_l: float | None
    bleu: float | None
    perplexity: float | None


@dataclass
class ModelHistory(Record):
    """Every version on one test set, in training order (the CLI's ``eval --history``)."""

    versions: list[ModelVersion]
    warnings: list[str]  # versions worse than their parent beyond the interval
    eval_set: str | None


def resolve_eval_model(workspace: Workspace, name: str | None) -> tuple[str, Path, Path | None]:
    """(label, GGUF, LoRA GGUF or None) for a model name: the embedded base by default;
    ``run:N`` for run N's latest export whose checks passed (a full GGUF, else an
    adapter-only export on its base GGUF); else a GGUF name or path."""
    wanted = re.fullmatch(r"run[:-](\d+)", (name or "").strip().lower())
    if wanted:  # "run-1-Q4_K_M" stays a GGUF name: that exact export
        run = int(wanted.group(1))
        # Exports whose checks passed first, full GGUFs before adapter-only ones; one
        # whose checks failed is still evaluated (it may be why), and labelled so.
        rows = workspace.query("SELECT gguf, quant, folder, status FROM exports WHERE run_id = ?"
                               " ORDER BY status != 'passed', quant = 'LoRA', id DESC LIMIT 1", (run,))
        if not rows:
            raise evaluate.EvalError(f"run {run} has no export: `export {run}` "
                                     f"(or `export {run} --adapter-only`, seconds) first")
        row = rows[0]
        label = f"run {run}" + (" (LoRA)" if row["quant"] == "LoRA" else "") + \
            (" (export checks failed)" if row["status"] != "passed" else "")
        if row["quant"] == "LoRA":
            base = json.loads(paths.export_record(row["folder"]).read_text())["gguf"]
            return label, Path(base), Path(row["gguf"])
        return label, Path(row["gguf"]), None
    found = models.resolve_model(name, kind="gguf")
    if found.kind != "gguf":
        raise evaluate.EvalError(f"{found.name} is not a GGUF; evaluate a run (run:N) or a GGUF")
    return found.name, Path(found.path), None


# A set's name becomes a file name: letters, digits, "-", "_" and "." only.
EVAL_SET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


@dataclass
class EvalSet:
    """A saved evaluation set: a file of cases frozen by its hash."""

    set: str  # its name
    cases: int
    sha256: str
    file: str
    source: str  # the file it was saved from
    created_at: str


def save_eval_set(workspace: Workspace, name: str, cases_file: str) -> EvalSet:
    """Freeze a file of cases as the named evaluation set ``name`` (evals/sets/NAME.jsonl,
    its hash in the catalogue), so later model versions are scored on exactly these cases.
    Saving the same cases under the same name again changes nothing; other cases under a
    name already taken are refused."""
    if not EVAL_SET_NAME.fullmatch(name or ""):
        raise evaluate.EvalError(f"evaluation set name {name!r}: use letters, digits, '-', '_' or '.' "
                                 "(at most 64, starting with a letter or digit)")
    pairs = formats.load(Path(cases_file).read_text(encoding="utf-8"))
    if not pairs:
        raise evaluate.EvalError(f"{Path(cases_file).name}: no cases to save")
    text = formats.dump(pairs, "messages")
    digest = text_hash(text)
    existing = workspace.query("SELECT * FROM eval_sets WHERE name = ?", (name,))
    if existing:
        if existing[0]["sha256"] != digest:
            raise evaluate.EvalError(f"evaluation set {name!r} already holds other cases, and a set never "
                                     "changes (its scores would no longer compare): choose another name")
        return _set_record(existing[0])
    paths.eval_sets_folder(workspace).mkdir(mode=0o700, exist_ok=True)
    path = atomic_write(paths.eval_set_file(workspace, name), text)
    with workspace.transaction() as conn:
        conn.execute("INSERT INTO eval_sets (name, file, sha256, cases, source, created_at)"
                     " VALUES (?, ?, ?, ?, ?, ?)", (name, str(path), digest, len(pairs),
                                                   Path(cases_file).name, now()))
    return _set_record(workspace.query("SELECT * FROM eval_sets WHERE name = ?", (name,))[0])


def _set_record(row) -> EvalSet:
    return EvalSet(row["name"], row["cases"], row["sha256"], row["file"], row["source"], row["created_at"])


def eval_sets(workspace: Workspace) -> list[EvalSet]:
    """The saved evaluation sets, oldest first."""
    return [_set_record(row) for row in workspace.query("SELECT * FROM eval_sets ORDER BY created_at, name")]


def _load_eval_set(workspace: Workspace, name: str) -> tuple[list, str]:
    rows = workspace.query("SELECT * FROM eval_sets WHERE name = ?", (name,))
    if not rows:
        known = ", ".join(s.set for s in eval_sets(workspace)) or "none yet"
        raise evaluate.EvalError(f"no evaluation set {name!r} (saved sets: {known}); save one with "
                                 "`eval --cases FILE --save-set NAME`")
    path = Path(rows[0]["file"])
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    if text_hash(text) != rows[0]["sha256"]:
        raise evaluate.EvalError(f"evaluation set {name!r}: {path.name} is missing or was changed since "
                                 "it was saved, so its scores would not compare; save the cases again "
                                 "under a new name")
    return formats.load(text), f"set {name}"


def load_cases(workspace: Workspace, cases_file: str | None,
               eval_set: str | None = None) -> tuple[list, list[str], str, int | None]:
    """(messages lists, tasks, where from, split id): a named evaluation set, a file of
    cases, or the workspace's test split, which is frozen the first time it is evaluated,
    so later builds never move its cases."""
    split_id = None
    if eval_set:
        pairs, source = _load_eval_set(workspace, eval_set)
    elif cases_file:
        pairs = formats.load(Path(cases_file).read_text(encoding="utf-8"))
        source = str(cases_file)
    else:
        build = latest_build(workspace)
        source = build["files"].get("test", "")
        if not source or not Path(source).exists():
            raise evaluate.EvalError("the latest build has no test split")
        require_current_build(workspace, build["build"], ("test",))
        pairs = formats.load(Path(source).read_text(encoding="utf-8"))
        freeze_test_split(workspace)
        rows = workspace.query("SELECT id FROM splits WHERE build = ? AND name = 'test'", (build["build"],))
        split_id = rows[0]["id"] if rows else None
    if not pairs:
        raise evaluate.EvalError(f"no cases in {source}")
    tasks = []
    for pair in pairs:
        task = pair.task if pair.task in evaluate.MAX_TOKENS else task_of(pair.question)
        if task is None:  # an outside benchmark: a short answer is a diagnosis
            short = len(pair.reference.split()) <= 12 and "\n" not in pair.reference.strip()
            task = "diagnosis" if short else "free_text"
        tasks.append(task)
    return [p.messages for p in pairs], tasks, source, split_id


def eval_models(workspace: Workspace, names: list[str | None], cases_file: str | None = None,
                settings: evaluate.EvalSettings | None = None, progress=None,
                eval_set: str | None = None) -> EvalReport:
    settings = settings or evaluate.EvalSettings()
    resolved = [resolve_eval_model(workspace, name) for name in (names or [None])]
    cases, tasks, source, split_id = load_cases(workspace, cases_file, eval_set)
    results = []
    for label, gguf, lora in resolved:
        metrics, rows = evaluate.evaluate(
            gguf, cases, tasks, settings,
            progress=(lambda done, total, what, m=label: progress(done, total, f"{m}: {what}")) if progress else None,
            lora=lora)
        results.append({"model": label, "gguf": str(gguf), "metrics": metrics, "rows": rows})
    comparisons = []
    for other in results[1:]:
        first = results[0]
        for key in COMPARED:
            a = [r[key] for r in first["rows"] if key in r]
            b = [r[key] for r in other["rows"] if key in r]
            if a and len(a) == len(b):
                comparisons.append({"metric": key, "from": first["model"], "to": other["model"]}
                                   | evaluate.paired_difference(a, b))
    stamp = now().replace(":", "").replace("+0000", "Z")
    folder = workspace.folder("evals") / f"eval-{stamp}"
    folder.mkdir(mode=0o700, exist_ok=True)
    per_case = [{"case": i + 1, "task": tasks[i], "question": content_of(cases[i], "user"),
                 "reference": content_of(cases[i], "assistant"),
                 "models": {r["model"]: {k: v for k, v in r["rows"][i].items()
                                         if k not in ("question", "reference", "task")} for r in results}}
                for i in range(len(results[0]["rows"]))]
    cases_path = atomic_write(folder / paths.EVAL_CASES, "".join(json.dumps(c) + "\n" for c in per_case))
    report_path = atomic_write(folder / paths.EVAL_REPORT, report_html(results, comparisons, per_case, source))
    with workspace.transaction() as conn:
        conn.executemany("INSERT INTO evaluations (model, split_id, metrics, cases_file, created_at, eval_set)"
                         " VALUES (?, ?, ?, ?, ?, ?)",
                         [(r["model"], split_id, json.dumps(r["metrics"]), str(cases_path), now(), eval_set)
                          for r in results])
    report = EvalReport(results[0]["metrics"], [EvaluatedModel(r["model"], r["gguf"], r["metrics"]) for r in results],
                        comparisons, source, eval_set,
                        f"set {eval_set}" if eval_set else "test split" if split_id is not None else "file",
                        str(cases_path), str(report_path))
    tracking.track_evaluation(workspace, report.to_json())  # on each run's MLflow run, with the extra
    return report


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return html.escape("" if value is None else str(value))


def report_html(results: list[dict], comparisons: list[dict], per_case: list[dict], source: str) -> str:
    """A self-contained page (no scripts, no outside assets): metrics per model, the
    differences with their intervals, a bar chart of top-1, and every case."""
    keys = ["cases", "top1", "top1_ci95", "topk", "mrr", "mrr_ci95", "exact_match", "rouge_l", "bleu",
            "perplexity", "cases_per_second"]
    head = "".join(f"<th>{k}</th>" for k in ["model", *keys])
    body = "".join("<tr><td>" + _cell(r["model"]) + "</td>" + "".join(
        f"<td>{_cell(r['metrics'].get(k)) if not isinstance(r['metrics'].get(k), list) else '-'.join(_cell(x) for x in r['metrics'][k])}</td>"
        for k in keys) + "</tr>" for r in results)
    diffs = "".join(f"<li>{_cell(c['metric'])}: {_cell(c['to'])} minus {_cell(c['from'])} = "
                    f"{c['difference']:+.3f} (95 % CI {c['ci95'][0]:+.3f} to {c['ci95'][1]:+.3f})"
                    f"{' - within noise' if c['within_noise'] else ''}</li>" for c in comparisons)
    bars = "".join(f'<rect x="{10 + i * 90}" y="{110 - 100 * (r["metrics"].get("top1") or 0):.1f}" width="60" '
                   f'height="{100 * (r["metrics"].get("top1") or 0):.1f}" fill="#4a7"/><text x="{10 + i * 90}" '
                   f'y="125" font-size="10">{_cell(r["model"])[:14]}</text>' for i, r in enumerate(results))
    names = [r["model"] for r in results]
    rows = "".join("<tr><td>" + "</td><td>".join(
        [str(c["case"]), _cell(c["task"]), _cell(c["question"][-300:]), _cell(c["reference"])]
        + [f"{_cell(c['models'][n]['answer'])}<br><small>{_cell(c['models'][n].get('why', ''))}</small>"
           for n in names]) + "</td></tr>" for c in per_case)
    return (f"<!doctype html><meta charset='utf-8'><title>Evaluation</title>"
            f"<style>body{{font-family:sans-serif}}td,th{{border:1px solid #ccc;padding:4px;vertical-align:top}}"
            f"table{{border-collapse:collapse}}</style><h1>Evaluation</h1><p>Cases: {_cell(source)}</p>"
            f"<table><tr>{head}</tr>{body}</table><h2>Differences</h2><ul>{diffs or '<li>one model</li>'}</ul>"
            f"<h2>Top-1 accuracy</h2><svg width='{20 + 90 * len(results)}' height='130'>{bars}</svg>"
            f"<h2>Cases</h2><table><tr><th>#</th><th>task</th><th>question</th><th>reference</th>"
            + "".join(f"<th>{_cell(n)}</th>" for n in names) + f"</tr>{rows}</table>")


MARKS = ("correct", "partly", "wrong")


def mark_answer(workspace: Workspace, results_file: str, case: int, model: str, mark: str) -> dict:
    """A physician's verdict on one model's answer to one case (the latest mark counts);
    returns the summary of all marks of that evaluation."""
    if mark not in MARKS:
        raise evaluate.EvalError(f"a mark is one of {', '.join(MARKS)}, not {mark!r}")
    cases = [json.loads(line) for line in Path(results_file).read_text().splitlines() if line.strip()]
    if not 1 <= case <= len(cases) or model not in cases[case - 1]["models"]:
        raise evaluate.EvalError(f"no answer of {model!r} to case {case} in this evaluation")
    with workspace.transaction() as conn:
        conn.execute("INSERT INTO eval_marks (results_file, case_no, model, mark, at) VALUES (?, ?, ?, ?, ?)"
                     " ON CONFLICT (results_file, case_no, model) DO UPDATE SET mark = excluded.mark,"
                     " at = excluded.at", (results_file, case, model, mark, now()))
    return marks_summary(workspace, results_file)


def marks_summary(workspace: Workspace, results_file: str) -> dict:
    """Per model: how many answers were marked, and the share of each mark."""
    summary: dict = {}
    for row in workspace.query("SELECT model, mark, COUNT(*) AS n FROM eval_marks WHERE results_file = ?"
                               " GROUP BY model, mark", (results_file,)):
        summary.setdefault(row["model"], {"marked": 0} | {m: 0 for m in MARKS})
        summary[row["model"]][row["mark"]] = row["n"]
        summary[row["model"]]["marked"] += row["n"]
    for counts in summary.values():
        counts["correct_share"] = (counts["correct"] + 0.5 * counts["partly"]) / counts["marked"]
    return summary


def model_history(workspace: Workspace, eval_set: str | None = None) -> ModelHistory:
    """Every model version's latest scores on the workspace's test split (or on the named
    evaluation set), in the order the versions were trained (the base models first), with
    what each says about its parent: a version whose top-1 interval lies wholly below its
    parent's score is worse beyond the noise of the test set."""
    latest: dict[str, dict] = {}
    where, params = ("eval_set = ?", (eval_set,)) if eval_set else ("split_id IS NOT NULL", ())
    for row in workspace.query("SELECT model, metrics, created_at FROM evaluations"
                               f" WHERE {where} ORDER BY id", params):
        latest[row["model"]] = {"metrics": json.loads(row["metrics"]), "evaluated_at": row["created_at"]}
    parents = {r["id"]: r["parent_id"] for r in workspace.query("SELECT id, parent_id FROM runs")}
    versions = []
    for label, seen in latest.items():
        run = run_of_label(label)
        metrics = seen["metrics"]
        versions.append(ModelVersion(label, run, parents.get(run), seen["evaluated_at"], metrics.get("cases"),
                                     *(metrics.get(key) for key in ("top1", "top1_ci95", "mrr", "rouge_l",
                                                                    "bleu", "perplexity"))))
    versions.sort(key=lambda v: (v.run is not None, v.run or 0, v.model))
    by_run = {v.run: v for v in versions if v.run is not None}
    warnings = []
    for version in versions:
        parent = by_run.get(version.parent_run)
        if parent and None not in (version.top1, parent.top1) and version.top1_ci95 \
                and version.top1_ci95[1] < parent.top1:
            warnings.append(f"{version.model} is worse than its parent {parent.model} beyond the "
                            f"interval: top-1 {version.top1:.2f} (95% CI up to "
                            f"{version.top1_ci95[1]:.2f}) against {parent.top1:.2f}")
    return ModelHistory(versions, warnings, eval_set)
