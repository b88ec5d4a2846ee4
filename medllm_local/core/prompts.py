"""Prompt templates, defined once: dataset building, evaluation and chat all use these, so
the model is asked at chat time exactly the way it was trained and evaluated."""

from __future__ import annotations

import re
from dataclasses import dataclass

from medllm_local.core.sections import INPUT_SECTIONS

SYSTEM_PROMPT = (
    "You are a clinical decision-support assistant for a physician. You support, and do "
    "not replace, the physician's clinical judgement. Answer concisely in English, using "
    "only the findings given; say what is uncertain and what would help decide."
)


@dataclass(frozen=True)
class Task:
    """One kind of question asked of a case. Several phrasings, so a fine-tune learns
    the task and not one wording; evaluation and chat use the first."""

    name: str
    phrasings: tuple[str, ...]


TASKS: dict[str, Task] = {
    "diagnosis": Task("diagnosis", (
        "Based on the clinical report below, what is the most likely diagnosis? "
        "Answer with the diagnosis only.",
        "Read this case and give the single most likely diagnosis, nothing else.",
        "What is the most probable diagnosis for the patient described below? "
        "Reply with the diagnosis only.",
    )),
    "differential": Task("differential", (
        "Based on the clinical report below, give a ranked differential diagnosis as a "
        "numbered list, most likely first.",
        "List the differential diagnoses for this case, numbered, from most to least likely.",
        "Give a numbered differential diagnosis for the patient below, most likely first.",
    )),
    "treatment": Task("treatment", (
        "Based on the clinical report and diagnosis below, outline the treatment and "
        "follow-up plan.",
        "Given this case and its diagnosis, what is the management plan?",
        "Write the treatment plan for the patient below, including follow-up.",
    )),
}


def case_prompt(task: str, report: str, phrasing: int = 0, diagnosis: str | None = None) -> str:
    """The user turn for one case: one phrasing of the task, then the report (and, for
    the treatment task, the diagnosis the plan is for)."""
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; known: {', '.join(TASKS)}")
    phrasings = TASKS[task].phrasings
    text = f"{phrasings[phrasing % len(phrasings)]}\n\nReport:\n{report.strip()}"
    if diagnosis:
        text += f"\n\nDiagnosis: {diagnosis}"
    return text


# How a report's input sections are titled in the case the model sees.
SECTION_TITLES = {"chief_complaint": "Chief complaint", "hpi": "History of present illness",
                  "past_history": "Past history", "medications": "Medications",
                  "allergies": "Allergies", "social_family": "Social and family history",
                  "ros": "Review of systems", "examination": "Examination", "results": "Results"}


def case_text(sections: dict[str, str]) -> str:
    """The case as the model sees it: the input sections only, with plain titles."""
    return "\n\n".join(f"{SECTION_TITLES[name]}: {sections[name].strip()}"
                       for name in INPUT_SECTIONS if sections.get(name, "").strip())


@dataclass(frozen=True)
class CaseForm:
    """A case typed into the chat's form. It becomes report sections, so the model is
    asked about it in exactly the words of its training pairs."""

    age: int | None = None
    sex: str = ""
    history: str = ""  # past history: conditions, operations, medication
    symptoms: str = ""  # the presenting complaint and its course
    findings: str = ""  # examination and test results

    def __post_init__(self) -> None:
        if self.age is not None and not 0 <= self.age <= 130:
            raise ValueError("age must be between 0 and 130 years")
        if not (self.symptoms.strip() or self.findings.strip()):
            raise ValueError("the case needs symptoms or findings")

    def sections(self) -> dict[str, str]:
        """The form as the report sections a parsed report would give."""
        who = " ".join(part for part in (f"{self.age}-year-old" if self.age is not None else "",
                                         self.sex.strip()) if part)
        symptoms = self.symptoms.strip().rstrip(".")
        presenting = ". ".join(part[:1].upper() + part[1:]
                               for part in (f"{_article(who)} {who}" if who else "", symptoms) if part)
        return {"hpi": presenting + "." if presenting else "",
                "past_history": self.history, "examination": self.findings}


def _article(phrase: str) -> str:
    """ "An 80-year-old", "an 11-year-old", "a 58-year-old"."""
    spoken_vowel = re.match(r"(?:8|11\b|11-|18\b|18-|[aeiou])", phrase, re.IGNORECASE)
    return "An" if spoken_vowel else "A"


def case_form_prompt(form: CaseForm, task: str = "diagnosis") -> str:
    """The user turn for a case form: the training template (first phrasing) over the
    form's sections, titled as dataset building titles a report's."""
    return case_prompt(task, case_text(form.sections()))


# Added after the differential question when the answer is constrained to JSON (the
# grammar enforces the shape; this says what goes into it).
DIFFERENTIAL_JSON_NOTE = (
    "Answer in JSON: for each diagnosis, most likely first, its likelihood (high, moderate "
    "or low), the findings of the case that support it and those that speak against it."
)


def differential_answer(items: list[str]) -> str:
    """How a ranked differential is written, in training data and in answers parsed."""
    return "\n".join(f"{rank}. {item}" for rank, item in enumerate(items, 1))


def chat_messages(
    user_text: str,
    history: list[dict[str, str]] | None = None,
    system_prompt: str = SYSTEM_PROMPT,
) -> list[dict[str, str]]:
    """OpenAI-style messages for one chat turn: system prompt, earlier turns, the question."""
    messages = [{"role": "system", "content": system_prompt}]
    for turn in history or []:
        if turn.get("role") in ("user", "assistant") and turn.get("content"):
            messages.append({"role": turn["role"], "content": str(turn["content"])})
    messages.append({"role": "user", "content": user_text})
    return messages


def task_of(user_text: str) -> str | None:
    """Which task a question asks, from its phrasing (for pairs that do not say)."""
    for task in TASKS.values():
        if any(user_text.startswith(phrasing) for phrasing in task.phrasings):
            return task.name
    return None
