"""Training cases for tests and benchmarks that touch no patient: the demo reports'
pairs and AgentClinic's OSCE cases as report text."""

from __future__ import annotations

from pathlib import Path


def demo_pairs(copies: int = 3) -> list[list[dict]]:
    """Every task of every demo report (fictitious), in ``copies`` phrasings, as
    messages lists: training data for tests and benchmarks that touches no patient."""
    from medllm_local.stages.dataset import build as dataset
    from medllm_local.core.demo_reports import DEMO_REPORTS

    pairs = []
    for index, report in enumerate(DEMO_REPORTS):
        for copy in range(copies):
            built = dataset.pairs_for_document(index * copies + copy, report.text,
                                               ["diagnosis", "differential", "treatment"])
            pairs += [p.messages for p in built.pairs]
    return pairs


def agentclinic_reports(path: Path) -> list[tuple[str, str]]:
    """AgentClinic OSCE cases (MIT; ../shared/data/agentclinic) flattened to report text
    in the usual sections, each with its correct diagnosis."""
    import json

    def flat(value) -> str:
        if isinstance(value, dict):
            return "; ".join(f"{k.replace('_', ' ')}: {flat(v)}" for k, v in value.items())
        return ", ".join(map(str, value)) if isinstance(value, list) else str(value)

    reports = []
    for line in path.read_text(encoding="utf-8").splitlines():
        case = json.loads(line)["OSCE_Examination"]
        actor = case["Patient_Actor"]
        text = (f"CHIEF COMPLAINT: {flat(actor.get('Symptoms', ''))}\n\n"
                f"HISTORY OF PRESENT ILLNESS: {actor.get('Demographics', '')}. {actor.get('History', '')}\n\n"
                f"PAST MEDICAL HISTORY: {actor.get('Past_Medical_History', '')}\n\n"
                f"PHYSICAL EXAMINATION: {flat(case.get('Physical_Examination_Findings', {}))}\n\n"
                f"RESULTS: {flat(case.get('Test_Results', {}))}\n\n"
                f"DIAGNOSIS: {case['Correct_Diagnosis']}\n")
        reports.append((text, case["Correct_Diagnosis"]))
    return reports
