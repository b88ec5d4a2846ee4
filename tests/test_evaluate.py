"""Evaluation metrics against hand-computed values and the reference libraries, and
evaluation of the embedded model on AgentClinic cases through the CLI."""

from __future__ import annotations

import json

import pytest

from conftest import SHARED_DATA, run_cli
from medllm_local import pipeline
from medllm_local.stages import evaluate
from medllm_local.stages.evaluate import EvalSettings, diagnosis_match, main_phrase, normalise, ranked_items
from test_train import tiny, tokenizer_dir  # noqa: F401 (fixtures)


def test_normalisation_folds_case_punctuation_articles_spelling_and_abbreviations():
    assert normalise("The MI.") == normalise("myocardial infarction") == "myocardial infarction"
    assert normalise("Oesophageal varices") == normalise("esophageal varices")
    assert normalise("COPD exacerbation") == "chronic obstructive pulmonary disease exacerbation"


@pytest.mark.parametrize("answer,phrase", [
    ("The most likely diagnosis is community-acquired pneumonia, given the crackles.",
     "community-acquired pneumonia"),
    ("Diagnosis: Migraine without aura", "Migraine without aura"),
    ("1. Asthma - wheeze and reversibility", "Asthma"),
    ("**Acute appendicitis** (right lower quadrant pain)", "Acute appendicitis"),
    ("\n\nPulmonary embolism.\nConsider CT angiography.", "Pulmonary embolism"),
])
def test_the_diagnosis_is_read_out_of_the_answer(answer, phrase):
    assert main_phrase(answer) == phrase


def test_diagnosis_matching_says_why():
    assert diagnosis_match("MI", "Myocardial infarction") == (True, "same after normalisation")
    matched, why = diagnosis_match("Acute MI", "myocardial infarction")
    assert matched and "contains" in why
    assert not diagnosis_match("Pneumonia", "Community-acquired pneumonia")[0]  # less specific
    assert not diagnosis_match("Migrane", "Migraine")[0]
    matched, why = diagnosis_match("Migrane", "Migraine", fuzzy=0.85)
    assert matched and "similarity 0.93" in why
    assert diagnosis_match("", "Migraine") == (False, "empty answer")


@pytest.mark.parametrize("answer", [
    "1. Bronchitis\n2. Asthma\n3. COPD",
    "1) Bronchitis\n2) Asthma\n3) COPD",
    "Differential:\n- Bronchitis\n- Asthma: wheeze\n- COPD",
    "Bronchitis; asthma; COPD",
])
def test_ranked_lists_parse_in_their_usual_forms(answer):
    assert [normalise(x) for x in ranked_items(answer)] == [
        "bronchitis", "asthma", "chronic obstructive pulmonary disease"]


def test_case_scores_by_task():
    settings = EvalSettings(top_k=2)
    row = evaluate.score_case("differential", "1) Bronchitis\n2) asthma", "1. Asthma\n2. COPD", settings)
    assert row["top1"] == 0.0 and row["rank"] == 2 and row["mrr"] == 0.5 and row["topk"] == 1.0
    row = evaluate.score_case("diagnosis", "The most likely diagnosis is asthma.", "Asthma", settings)
    assert row["top1"] == 1.0 and row["mrr"] == 1.0
    row = evaluate.score_case("treatment", "the cat sat", "the cat sat down", settings)
    # ROUGE-L: LCS 3 words; precision 3/3, recall 3/4: F = 2PR/(P+R) = 6/7
    assert row["rouge_l"] == pytest.approx(6 / 7) and row["exact_match"] == 0.0


def test_bleu_and_confidence_intervals():
    import sacrebleu

    hyps, refs = ["start amoxicillin for seven days", "review in two weeks"], \
        ["start amoxicillin for five days", "review in two weeks"]
    assert evaluate.bleu(hyps, refs) == pytest.approx(sacrebleu.corpus_bleu(hyps, [refs]).score)
    assert evaluate.bleu(refs, refs) == pytest.approx(100.0)
    low, high = evaluate.bootstrap_ci([1, 0, 1, 1, 0, 1, 0, 1])
    assert 0 <= low < 5 / 8 < high <= 1
    assert evaluate.bootstrap_ci([1.0] * 5) == (1.0, 1.0)
    noisy = evaluate.paired_difference([1, 0, 1, 0, 1, 0], [0, 1, 1, 0, 1, 0])
    assert noisy["difference"] == 0 and noisy["within_noise"]
    clear = evaluate.paired_difference([0] * 30, [1] * 30)
    assert clear["difference"] == 1 and not clear["within_noise"]


def agentclinic_cases(tmp_path, count: int):
    from test_dataset import agentclinic_reports

    from medllm_local.stages.dataset.build import pairs_for_document
    from medllm_local.stages.dataset.formats import dump

    pairs = []
    for index, (text, _) in enumerate(agentclinic_reports()):
        pairs += pairs_for_document(index, text, ["diagnosis"]).pairs
        if len(pairs) >= count:
            break
    path = tmp_path / "agentclinic.jsonl"
    path.write_text(dump(pairs, "messages"))
    return path, pairs


@pytest.mark.slow
def test_eval_cli_scores_the_embedded_model_on_agentclinic_cases(tmp_path):
    if not (SHARED_DATA / "agentclinic").exists():
        pytest.skip("../shared/data not present")
    cases, pairs = agentclinic_cases(tmp_path, 6)
    out = run_cli("eval", "--cases", str(cases), "--save-set", "agentclinic-6", "--workspace", str(tmp_path / "ws"),
                  "--json", timeout=900)
    assert out.returncode == 0, out.stderr[-2000:]
    report = json.loads(out.stdout)
    assert report["eval_set"] == "agentclinic-6" and report["cases"] == "set agentclinic-6"
    # the set's scores are its own history, apart from the test split's
    history = json.loads(run_cli("eval", "--history", "--set", "agentclinic-6", "--workspace", str(tmp_path / "ws"),
                                 "--json").stdout)
    assert [v["model"] for v in history["versions"]] == ["smollm2-135m-instruct"]
    assert history["versions"][0]["top1"] == report["metrics"]["top1"]
    assert json.loads(run_cli("eval", "--history", "--workspace", str(tmp_path / "ws"), "--json").stdout)["versions"] == []
    metrics = report["metrics"]
    assert metrics["cases"] == 6 and 0 <= metrics["top1"] <= 1 and len(metrics["top1_ci95"]) == 2
    assert metrics["perplexity"] > 1 and metrics["exact_match"] is not None
    rows = [json.loads(line) for line in open(report["results_file"])]
    assert [r["reference"] for r in rows] == [p.reference for p in pairs]
    answer = rows[0]["models"]["smollm2-135m-instruct"]
    assert answer["answer"] and answer["why"]
    html = open(report["report"]).read()
    assert "Top-1 accuracy" in html and "<script" not in html


def test_a_run_is_evaluated_through_its_adapter_only_export(tmp_path, monkeypatch, tiny):  # noqa: F811
    """`eval --model run:N` with only an adapter-only export: llama.cpp answers with the
    LoRA GGUF applied on the base GGUF; the base model answers beside it."""
    from medllm_local.stages import export
    from test_train import toy_pairs, train_tiny_run

    workspace, report = train_tiny_run(tmp_path, monkeypatch, tiny, max_steps=3)
    run = report.run
    with pytest.raises(evaluate.EvalError, match="--adapter-only"):
        pipeline.eval_models(workspace, [f"run:{run}"], cases_file=None)
    pipeline.export_run(workspace, run, export.ExportSettings(adapter_only=True))
    cases = tmp_path / "cases.jsonl"
    cases.write_text("".join(json.dumps({"messages": m, "task": "diagnosis"}) + "\n" for m in toy_pairs(3)))
    report = pipeline.eval_models(workspace, [f"run:{run}"], cases_file=str(cases),
                                  settings=EvalSettings(perplexity=True))
    # random weights never stop: the export's checks failed, and the label says so
    assert report.models[0].model == f"run {run} (LoRA) (export checks failed)"
    assert report.metrics["cases"] == 3 and report.metrics["perplexity"] > 1


def test_a_physicians_marks_are_stored_and_summarised(tmp_path):

    workspace = pipeline.open_workspace(tmp_path / "ws")
    results = tmp_path / "cases.jsonl"
    results.write_text("".join(json.dumps({"case": i, "task": "diagnosis", "question": "q", "reference": "r",
                                           "models": {"base": {"answer": "a"}, "run 1": {"answer": "b"}}}) + "\n"
                               for i in (1, 2)))
    pipeline.mark_answer(workspace, str(results), 1, "base", "wrong")
    pipeline.mark_answer(workspace, str(results), 1, "base", "correct")  # the latest verdict counts
    pipeline.mark_answer(workspace, str(results), 2, "base", "partly")
    summary = pipeline.mark_answer(workspace, str(results), 1, "run 1", "wrong")
    assert summary["base"] == {"marked": 2, "correct": 1, "partly": 1, "wrong": 0, "correct_share": 0.75}
    assert summary["run 1"]["wrong"] == 1 and summary["run 1"]["correct_share"] == 0.0
    with pytest.raises(evaluate.EvalError, match="no answer"):
        pipeline.mark_answer(workspace, str(results), 3, "base", "correct")
    with pytest.raises(evaluate.EvalError, match="one of"):
        pipeline.mark_answer(workspace, str(results), 1, "base", "maybe")


def test_model_history_orders_the_versions_and_flags_a_worse_child(workspace):
    """Versions in training order, base first; a version whose top-1 interval lies below
    its parent's score is called worse; evaluations on other cases are not history."""
    from medllm_local.ui.eval_tab import history_view

    def scores(top1, low, high):
        return json.dumps({"cases": 40, "top1": top1, "top1_ci95": [low, high], "mrr": top1})

    with workspace.transaction() as conn:
        conn.execute("INSERT INTO splits (id, name, file, config, created_at) VALUES (1, 'test', 'f', '{}', 'now')")
        for run, parent in ((1, None), (2, 1), (3, 2)):
            conn.execute("INSERT INTO runs (id, base_model, status, config, folder, created_at, parent_id)"
                         " VALUES (?, 'base', 'done', '{}', 'runs', 'now', ?)", (run, parent))
        rows = [("run 2", 1, scores(0.62, 0.47, 0.76)), ("smollm2-135m-instruct", 1, scores(0.2, 0.1, 0.35)),
                ("run 1", 1, scores(0.55, 0.4, 0.7)), ("run 3", 1, scores(0.3, 0.17, 0.45)),
                ("run 3", None, scores(0.9, 0.8, 1.0))]  # another file of cases: not history
        conn.executemany("INSERT INTO evaluations (model, split_id, metrics, created_at) VALUES (?, ?, ?, 'now')",
                         rows)
    history = pipeline.model_history(workspace)
    assert [v.model for v in history.versions] == ["smollm2-135m-instruct", "run 1", "run 2", "run 3"]
    assert [v.parent_run for v in history.versions] == [None, None, 1, 2]
    assert len(history.warnings) == 1 and history.warnings[0].startswith("run 3 is worse than its parent run 2")
    table, points, text = history_view(history)
    assert [row[0] for row in table] == ["smollm2-135m-instruct", "run 1", "run 2", "run 3"]
    assert points["top1"].tolist() == [0.2, 0.55, 0.62, 0.3] and "run 3 is worse" in text


def test_an_evaluation_set_is_saved_once_and_refused_when_changed(tmp_path):
    """A benchmark file saved as a named set keeps its cases and their hash; the same
    cases under the same name change nothing, other cases are refused, and a set whose
    file was edited is refused before any model answers."""
    import os
    import stat

    workspace = pipeline.open_workspace(tmp_path / "ws")
    cases = tmp_path / "cases.csv"
    cases.write_text("\ufeffinstruction;output\n\"Fever, cough,\ncrackles\";Pneumonia\nChest pain;Angina\n",
                     encoding="utf-8")
    saved = pipeline.save_eval_set(workspace, "clinic-2026", str(cases))
    assert saved.cases == 2 and saved.source == "cases.csv"
    assert stat.S_IMODE(os.stat(saved.file).st_mode) == 0o600
    assert pipeline.save_eval_set(workspace, "clinic-2026", str(cases)) == saved  # same cases: unchanged
    other = tmp_path / "other.jsonl"
    other.write_text(json.dumps({"instruction": "Wheeze", "output": "Asthma"}) + "\n")
    with pytest.raises(evaluate.EvalError, match="already holds other cases"):
        pipeline.save_eval_set(workspace, "clinic-2026", str(other))
    with pytest.raises(evaluate.EvalError, match="letters, digits"):
        pipeline.save_eval_set(workspace, "../escape", str(other))
    assert [s.set for s in pipeline.eval_sets(workspace)] == ["clinic-2026"]
    from medllm_local.pipeline.evaluate import load_cases

    messages, tasks, source, split_id = load_cases(workspace, None, "clinic-2026")
    assert [m[-1]["content"] for m in messages] == ["Pneumonia", "Angina"] and tasks == ["diagnosis"] * 2
    assert "crackles" in messages[0][-2]["content"] and source == "set clinic-2026" and split_id is None
    with open(saved.file, "a") as f:
        f.write(json.dumps({"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}]}) + "\n")
    with pytest.raises(evaluate.EvalError, match="changed since it was saved"):
        pipeline.eval_models(workspace, [None], eval_set="clinic-2026")
    with pytest.raises(evaluate.EvalError, match="saved sets: clinic-2026"):
        load_cases(workspace, None, "no-such-set")
    out = run_cli("eval", "--sets", "--workspace", str(tmp_path / "ws"), "--json")
    assert json.loads(out.stdout)["sets"][0]["set"] == "clinic-2026"
    out = run_cli("eval", "--save-set", "x", "--workspace", str(tmp_path / "ws"))
    assert out.returncode != 0 and "--save-set NAME saves the cases of --cases FILE" in out.stderr


def test_a_case_is_shown_in_full_for_the_model_chosen(tmp_path):
    """The Evaluate tab's table cuts long text; the detail panel shows all of it."""
    from medllm_local.ui.eval_tab import case_detail, case_rows

    long_answer = "Community-acquired pneumonia. " + "Consider a chest X-ray and sputum culture. " * 20
    results = tmp_path / "cases.jsonl"
    results.write_text(json.dumps({"case": 1, "task": "diagnosis", "question": "Fever and crackles.",
                                   "reference": "Pneumonia", "models": {
                                       "base": {"answer": long_answer, "top1": 1.0, "why": "contains the reference"},
                                       "run 1": {"answer": "Asthma", "top1": 0.0, "why": "no match"}}}) + "\n")
    result = {"results_file": str(results)}
    assert len(case_rows(result)[0][4]) == 400  # the table: cut
    shown = case_detail(result, 1, "base")
    assert long_answer in shown and "Fever and crackles." in shown and "contains the reference" in shown
    assert "Asthma" in case_detail(result, 1, "run 1") and case_detail(result, 2, "base") == ""
