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
    """One kind of question asked of a case, and how its answer is laid out."""

    name: str
    instruction: str


TASKS: dict[str, Task] = {
    "diagnosis": Task(
        "diagnosis",
        "Based on the clinical report below, what is the most likely diagnosis? "
        "Answer with the diagnosis only.",
    ),
    "differential": Task(
        "differential",
        "Based on the clinical report below, give a ranked differential diagnosis as a "
        "numbered list, most likely first.",
    ),
    "treatment": Task(
        "treatment",
        "Based on the clinical report below, outline the treatment and follow-up plan.",
    ),
}


def case_prompt(task: str, report: str) -> str:
    """The user turn for one case: the task's instruction, then the report."""
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; known: {', '.join(TASKS)}")
    return f"{TASKS[task].instruction}\n\nReport:\n{report.strip()}"


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
