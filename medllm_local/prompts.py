"""Prompt templates, defined once: dataset building, evaluation and chat all use these, so
the model is asked at chat time exactly the way it was trained and evaluated."""

from __future__ import annotations

from dataclasses import dataclass

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
