"""The physician's own archive at chat time: similar past cases beside an answer.

Only documents that were de-identified and approved are searched or shown, and only their
de-identified text: the original text, the file name (which may carry a name) and the
patient key never leave the catalogue this way.
"""

from __future__ import annotations

from medllm_local.stages.chat import similar
from medllm_local.core.prompts import CaseForm, case_text
from medllm_local.core.sections import main_diagnosis, parse_sections
from medllm_local.workspace.store import Workspace


def archived_cases(workspace: Workspace) -> list[dict]:
    """Every approved document as a case: its id, the case part of its de-identified text
    (history, examination, results; the whole text when no section is recognised) and
    the diagnosis its author recorded (None when none can be read)."""
    cases = []
    for row in workspace.document_rows():
        if row["status"] != "approved" or not row["deid_file"]:
            continue
        text = (workspace.root / row["deid_file"]).read_text(encoding="utf-8")
        parsed = parse_sections(text)
        cases.append({"document_id": row["id"], "case": case_text(parsed.sections) or text.strip(),
                      "diagnosis": main_diagnosis(parsed)})
    return cases


def similar_cases(workspace: Workspace, case: CaseForm | str, top_n: int = 3) -> list[dict]:
    """The ``top_n`` approved cases most like ``case`` (a case form, or any text), best
    first, each with its score, recorded diagnosis and de-identified case text."""
    query = case_text(case.sections()) if isinstance(case, CaseForm) else case
    if not query.strip():
        raise ValueError("describe the case first: there is nothing to compare")
    cases = archived_cases(workspace)
    return [cases[match.index] | {"score": match.score}
            for match in similar.rank(query, [c["case"] for c in cases], top_n)]
