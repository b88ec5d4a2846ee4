"""Augmentation keeps every clinical fact and reaches the train split only after review;
approved chat feedback joins the train split; every export format keeps the task."""

from __future__ import annotations

import json
import re

import pytest

from medllm_local import pipeline

from medllm_local.stages.dataset import augment
from medllm_local.core.abbreviations import medical_words, project_abbreviations
from medllm_local.stages.dataset.build import BuildSettings, pairs_for_document
from medllm_local.stages.dataset.formats import FORMATS, dump, load
from medllm_local.core.demo_reports import DEMO_REPORTS
from medllm_local.pipeline.pairs import PairFilter, export_pairs, list_pairs
from medllm_local.core.prompts import SYSTEM_PROMPT, case_prompt
from medllm_local.core.records import Pair
from conftest import run_cli
from test_dataset import approved_workspace

CASE = ("Chief complaint: SOB for 3 days.\n\n"
        "History of present illness: 58-year-old with h/o HTN and congestive heart failure. "
        "She also reports dyspnea on the stairs and vomiting a few times a day. Denies chest "
        "pain. No fever. Takes metformin 500 mg BID.\n\n"
        "Results: ECG shows the sinus rhythm, BP 150/90.")
FACTS = ["3", "58", "500", "150/90", "Denies", "No", "metformin", "mg"]


def vocabulary(synonyms_text: str | None = None) -> augment.Vocabulary:
    return augment.Vocabulary.build(project_abbreviations(), medical_words(), synonyms_text)


def case_pair(task: str = "diagnosis", case: str = CASE) -> Pair:
    return Pair(task=task, document_id=7, reference="Heart failure", messages=[
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": case_prompt(task, case)},
        {"role": "assistant", "content": "Heart failure"}])


def case_of(pair: Pair) -> str:
    return pair.messages[1]["content"].split("Report:\n", 1)[1]


def words(text: str) -> list[str]:
    return re.findall(r"[\w/'-]+", text)


def assert_facts_kept(variant: Pair, source: Pair) -> None:
    case = case_of(variant)
    for fact in FACTS:  # numbers, negations, the drug and its unit, as often as before
        assert len(re.findall(rf"(?<![\w/]){re.escape(fact)}(?![\w/])", case)) == \
            len(re.findall(rf"(?<![\w/]){re.escape(fact)}(?![\w/])", case_of(source))), fact
    for title in ("Chief complaint:", "History of present illness:", "Results:"):
        assert title in case  # the titles every case is written with stay
    assert variant.messages[2] == source.messages[2] and variant.reference == source.reference
    assert variant.messages[1]["content"].split("\n\n")[0] == source.messages[1]["content"].split("\n\n")[0]


def test_abbreviations_are_expanded_and_contracted_and_nothing_else_changes():
    source = case_pair()
    made = augment.augment_pairs([source], ["abbreviations"], 5, vocabulary())
    assert len(made.pairs) >= 3 and all(p.augmented == "abbreviations" for p in made.pairs)
    cases = [case_of(p) for p in made.pairs]
    assert len(set(cases)) == len(cases) and CASE not in cases
    joined = "\n".join(cases)
    assert "shortness of breath" in joined.lower() and "hypertension" in joined  # expanded
    assert "CHF" in joined or "DOE" in joined  # contracted
    for variant in made.pairs:
        assert_facts_kept(variant, source)


def test_synonyms_swap_terms_of_one_group_only():
    source = case_pair()
    made = augment.augment_pairs([source], ["synonyms"], 4, vocabulary())
    assert made.pairs
    for variant in made.pairs:
        case = case_of(variant)
        assert case != CASE
        assert_facts_kept(variant, source)
        assert re.search(r"emesis|vomiting", case) and re.search(
            r"dyspnea|breathlessness|shortness of breath", case)


def test_fillers_deleted_are_fillers_and_a_few_stays():
    source = case_pair()
    made = augment.augment_pairs([source], ["fillers"], 4, vocabulary())
    assert made.pairs
    before = words(CASE)
    for variant in made.pairs:
        after = words(case_of(variant))
        assert len(after) < len(before)
        removed = list(before)
        for word in after:  # every word kept, in order; what is missing is filler
            removed.remove(word)
        assert set(removed) <= augment.FILLERS
        assert "a few times a day" in case_of(variant)
        assert_facts_kept(variant, source)


def test_a_rewrite_that_would_change_a_fact_is_dropped():
    source = case_pair()
    # Dictionaries a careless user might write: each would drop a negation or change a
    # number. The check against the source drops every such variant.
    for bad in ("denies\treports", "no\tsome", "3\tthree"):
        made = augment.augment_pairs([source], ["synonyms"], 3, vocabulary(bad))
        assert made.pairs == [] and made.tried["synonyms"] > 0, bad
    assert augment.paraphrase_problem("Give the most likely diagnosis.",
                                      "Give the most likely diagnosis, not asthma.", "diagnosis",
                                      vocabulary()) == "new facts"
    assert augment.paraphrase_problem("Give the most likely diagnosis.",
                                      "What would you prescribe?", "diagnosis", vocabulary()) == "task"
    assert augment.paraphrase_problem("Give the most likely diagnosis.",
                                      "Name the likeliest diagnosis for this patient.", "diagnosis",
                                      vocabulary()) is None


def test_paraphrase_validation_keeps_a_good_rewording_and_drops_bad_ones():
    """The checks themselves, on known rewordings (the embedded model may give none that
    pass, so its test alone could pass without checking anything)."""
    instruction = "Based on the report below, list the 3 most likely diagnoses, without asthma."
    good = "Rewritten instruction: \"From this report, name the 3 likeliest diagnoses, without asthma.\""
    bad = {"drops a number": "From this report, name the likeliest diagnoses, without asthma.",
           "drops a negation": "From this report, name the 3 likeliest diagnoses, with asthma.",
           "adds a fact": "From this report, name the 3 likeliest diagnoses, without asthma or pneumonia.",
           "answers": "The 3 most likely diagnoses are pneumonia, bronchitis and COPD.",
           "other task": "From this report, what treatment would you give for 3 days?"}
    kept = augment.paraphrased_instruction(instruction, good, "diagnosis", vocabulary())
    assert kept == "From this report, name the 3 likeliest diagnoses, without asthma."
    for why, answer in bad.items():
        assert augment.paraphrased_instruction(instruction, answer, "diagnosis", vocabulary()) is None, why
    # and through augmentation: of the model's answers exactly the good one makes a variant
    source = case_pair()
    source.messages[1]["content"] = f"{instruction}\n\n" + source.messages[1]["content"].split("\n\n", 1)[1]
    answers = [*bad.values(), good]
    made = augment.augment_pairs([source], ["paraphrase"], len(answers), vocabulary(),
                                 rephrase=lambda text, variant: answers[variant % len(answers)])
    assert made.tried["paraphrase"] >= len(answers) and made.kept["paraphrase"] == 1
    assert [p.messages[1]["content"].split("\n\n", 1)[0] for p in made.pairs] == [kept]
    assert case_of(made.pairs[0]) == case_of(source) and made.pairs[0].messages[2] == source.messages[2]


def test_paraphrase_with_the_embedded_model_keeps_the_case_or_is_dropped():
    rephrase = pipeline.augment.model_rephrase(None, max_tokens=24)
    pairs = pairs_for_document(1, DEMO_REPORTS[0].text, ["diagnosis", "differential", "treatment"]).pairs
    made = augment.augment_pairs(pairs, ["paraphrase"], 2, vocabulary(), rephrase=rephrase)
    assert made.tried["paraphrase"] > 0
    sources = {p.task: p for p in pairs}
    for variant in made.pairs:  # the weak model's rewordings that passed the checks
        source = sources[variant.task]
        instruction, _, rest = variant.messages[1]["content"].partition("\n\n")
        assert rest == source.messages[1]["content"].partition("\n\n")[2]  # the case untouched
        assert instruction != source.messages[1]["content"].partition("\n\n")[0]
        assert not re.search(r"\d", instruction)


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_export_format_keeps_task_and_augmentation(fmt):
    pairs = pairs_for_document(1, DEMO_REPORTS[0].text, ["diagnosis", "differential", "treatment"]).pairs
    pairs += augment.augment_pairs(pairs[:1], ["fillers"], 1, vocabulary()).pairs
    again = load(dump(pairs, fmt))
    assert [(p.task, p.augmented, p.messages) for p in again] == \
        [(p.task, p.augmented, p.messages) for p in pairs]
    assert again[-1].augmented == "fillers"


def train_lines(report: dict, split: str = "train") -> list[dict]:
    return [json.loads(line) for line in open(report.splits[split].file).read().splitlines()]


def test_augmented_pairs_reach_train_only_after_review(workspace, tmp_path):
    approved_workspace(workspace, tmp_path)
    plain = pipeline.build_dataset(workspace)
    settings = BuildSettings(augment="abbreviations,synonyms,fillers", augment_per_pair=2)
    first = pipeline.build_dataset(workspace, settings)
    counts = first.augmentation
    assert counts["pairs"] > 0 and counts["pending"] == counts["pairs"] and counts["in_train"] == 0
    assert counts["source_pairs"] == plain.splits["train"].pairs
    assert ({k: (v.pairs, v.documents) for k, v in first.splits.items()}
            == {k: (v.pairs, v.documents) for k, v in plain.splits.items()})
    rows = workspace.query("SELECT * FROM pairs WHERE origin = 'augmented' ORDER BY id")
    train_docs = set(first.splits["train"].documents)
    assert {r["split"] for r in rows} == {"train"} and {r["document_id"] for r in rows} <= train_docs
    accepted = [r["id"] for r in rows[::2]]
    pipeline.review_augmented(workspace, accept=True, pair_ids=accepted)
    assert len(pipeline.review_augmented(workspace, accept=False)["pairs"]) == len(rows) - len(accepted)
    rejected_texts = {json.loads(r["messages"])[1]["content"] for r in rows[1::2]}
    second = pipeline.build_dataset(workspace, settings)  # reviews carried over the rebuild
    assert second.augmentation["accepted"] == len(accepted) == second.augmentation["in_train"]
    assert second.augmentation["rejected"] == len(rows) - len(accepted)
    lines = train_lines(second)
    assert len(lines) == plain.splits["train"].pairs + len(accepted)
    assert sum(1 for line in lines if line.get("augmented")) == len(accepted)
    assert not rejected_texts & {line["messages"][1]["content"] for line in lines}
    for split in ("validation", "test"):
        assert not any(line.get("augmented") for line in train_lines(second, split))
    assert second.card["augmentation"]["in_train"] == len(accepted)
    assert second.card["pairs_per_split"]["train"] == {
        task: n + sum(1 for line in lines if line.get("augmented") and line["task"] == task)
        for task, n in plain.card["pairs_per_split"]["train"].items()}
    third = pipeline.build_dataset(workspace)  # without augmentation: none written, reviews kept
    assert len(train_lines(third)) == plain.splits["train"].pairs and third.augmentation is None
    assert len(workspace.query("SELECT * FROM pairs WHERE origin = 'augmented'")) == len(rows)
    with pytest.raises(ValueError, match="accept or reject"):
        pipeline.revise_pair(workspace, rows[0]["id"], answer="Something else")
    # The Dataset tab's list and export (pipeline/pairs.py)
    shown = list_pairs(workspace, PairFilter(augmented="yes", review="accepted"))
    assert len(shown) == len(accepted) and {p.split for p in shown} == {"train"}
    assert len(list_pairs(workspace, PairFilter(augmented="yes", excluded="yes"))) == len(rows) - len(accepted)
    found = list_pairs(workspace, PairFilter(task="diagnosis", augmented="no", search="pneumonia lobe"))
    assert found and all("pneumonia" in (p.question + p.answer).lower() for p in found)
    assert list_pairs(workspace, PairFilter(search="100%_not_there")) == []
    for fmt in FORMATS:
        exported = export_pairs(workspace, fmt, PairFilter(split="train"))
        again = load(open(exported["file"]).read())
        assert len(again) == exported["pairs"] == plain.splits["train"].pairs + len(accepted)
        assert sum(1 for p in again if p.augmented) == len(accepted)
        assert {p.task for p in again} == {"diagnosis", "differential", "treatment"}


def test_approved_chat_feedback_goes_to_train_only(workspace, tmp_path):
    approved_workspace(workspace, tmp_path, DEMO_REPORTS[:3])
    question = case_prompt("diagnosis", "History of present illness: fever, neck stiffness and "
                                        "a petechial rash since this morning.")
    first = pipeline.feedback.record_feedback(workspace, question, "Migraine", "embedded",
                                              rating="down", correction="Meningococcal meningitis")
    pipeline.feedback.record_feedback(workspace, "Another question?", "An answer", "embedded",
                                      correction="Not approved, never trained on")
    pipeline.feedback.deidentify_feedback(workspace)
    pipeline.feedback.review_feedback(workspace, first["id"], approve=True)
    report = pipeline.build_dataset(workspace)
    assert report.feedback_pairs == 1 and report.card["feedback_pairs"] == 1
    train = train_lines(report)
    feedback = [line for line in train if line["messages"][2]["content"] == "Meningococcal meningitis"]
    assert len(feedback) == 1 and feedback[0]["task"] == "diagnosis"
    for split in ("validation", "test"):
        assert all(line["messages"][2]["content"] != "Meningococcal meningitis"
                   for line in train_lines(report, split))
    assert not any("never trained on" in json.dumps(line) for line in train)
    rows = workspace.query("SELECT * FROM pairs WHERE origin = 'feedback'")
    assert [(r["split"], r["document_id"]) for r in rows] == [("train", None)]
    assert pipeline.build_dataset(workspace).feedback_pairs == 1  # not doubled by a rebuild


def test_build_settings_refuse_unknown_augmentation():
    with pytest.raises(ValueError, match="backtranslation.* is not one of"):
        BuildSettings(augment="abbreviations,backtranslation")


def test_cli_build_augments_and_accepts_in_bulk(tmp_path):
    ws = str(tmp_path / "ws")
    folder = tmp_path / "reports"
    folder.mkdir()
    for report in DEMO_REPORTS[:3]:
        (folder / f"{report.slug}.txt").write_text(report.text)
    assert run_cli("ingest", str(folder), "--workspace", ws).returncode == 0
    assert run_cli("deid", "--all", "--approve", "--workspace", ws).returncode == 0
    args = ("build", "--workspace", ws, "--json", "--augment", "abbreviations,fillers",
            "--augment-per-pair", "2")
    first = json.loads(run_cli(*args).stdout)["augmentation"]
    assert first["pending"] == first["pairs"] > 0 and first["in_train"] == 0
    assert first["methods"] == ["abbreviations", "fillers"]
    out = run_cli(*args, "--review-augmented", "accept")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["augmentation"]["in_train"] == first["pairs"]
    assert report["splits"]["train"]["pairs"] == first["source_pairs"] + first["pairs"]
    bad = run_cli("build", "--workspace", ws, "--json", "--augment", "backtranslation")
    assert bad.returncode != 0 and "'backtranslation' is not one of" in json.loads(bad.stdout)["error"]
