"""A physician's feedback on chat answers, and the way it becomes training data.

Feedback is kept as given (thumbs up or down, "the correct answer was ..."), with the
question as typed, which may name a patient: that text lives in the owner-only raw/
folder (Workspace.write_raw_feedback), the catalogue holds the rating, whether there is
a correction, and the de-identified copies. It reaches a training set only through the
same gate as reports: de-identified with the workspace's engine, surrogates and lists,
then approved by a person who has read the de-identified text. Only approved feedback
with an answer to learn (a correction, or an answer marked good) is offered as a pair.
"""

from __future__ import annotations

import json

from medllm_local.stages.deid import engine as deid
from medllm_local.pipeline.common import GateError
from medllm_local.pipeline.deid import SURROGATE_KEY, SURROGATE_MAP, saved_deid_settings
from medllm_local.core.prompts import SYSTEM_PROMPT, task_of
from medllm_local.core.records import Pair
from medllm_local.stages.deid.surrogates import SurrogateMap, Surrogates, load_secret
from medllm_local.workspace.store import Workspace, now, sha256_bytes

FEEDBACK_TASK = "feedback"  # the task of a pair whose question follows no template


def record_feedback(workspace: Workspace, question: str, answer: str, model: str,
                    rating: str | None = None, correction: str = "") -> dict:
    """Store feedback on one answer: a rating ("up" / "down"), a correction, or both."""
    if rating not in (None, "up", "down"):
        raise ValueError("rating must be up, down or none")
    if rating is None and not correction.strip():
        raise ValueError("give a rating or the correct answer")
    if not question.strip() or not answer.strip():
        raise ValueError("there is no answer to give feedback on yet")
    with workspace.transaction() as conn:
        cursor = conn.execute(
            "INSERT INTO chat_feedback (model, question, answer, rating, correction, has_correction, at)"
            " VALUES (?, '', '', ?, '', ?, ?)", (model, rating, int(bool(correction.strip())), now()))
        # inside the transaction: if the file cannot be written, no row is left without it
        workspace.write_raw_feedback(cursor.lastrowid, {"question": question, "answer": answer,
                                                        "correction": correction.strip()})
    return {"id": cursor.lastrowid, "rating": rating, "correction": correction.strip(),
            "status": "new", "trainable": bool(correction.strip()) or rating == "up"}


def deidentify_feedback(workspace: Workspace, settings: deid.DeidSettings | None = None) -> dict:
    """De-identify the new feedback that has something to learn (a correction, or an
    answer marked good), as reports are: same engine settings, same surrogate key."""
    rows = workspace.query("SELECT * FROM chat_feedback WHERE status = 'new' AND"
                           " (has_correction = 1 OR rating = 'up') ORDER BY id")
    if not rows:
        return {"deidentified": []}
    settings = saved_deid_settings(workspace, settings)
    engine = deid.DeidEngine(settings)
    surrogates = Surrogates(load_secret(workspace.folder("raw") / SURROGATE_KEY), settings.date_mode)
    typed = [workspace.read_raw_feedback(row["id"]) for row in rows]
    targets = [t["correction"] or t["answer"] for t in typed]
    results = deid.deidentify_texts(engine, [t["question"] for t in typed] + targets, surrogates)
    questions, answers = results[:len(rows)], results[len(rows):]
    with workspace.transaction() as conn:
        conn.executemany("UPDATE chat_feedback SET deid_question = ?, deid_target = ?,"
                         " status = 'deidentified' WHERE id = ?",
                         [(q.text, a.text, row["id"]) for row, q, a in zip(rows, questions, answers)])
    if surrogates.used:
        SurrogateMap(workspace.folder("raw") / SURROGATE_MAP).add(surrogates.used, settings.keep_map)
    return {"deidentified": [{"id": row["id"], "findings": len(q.findings) + len(a.findings)}
                             for row, q, a in zip(rows, questions, answers)]}


def list_feedback(workspace: Workspace, status: str | None = None) -> list[dict]:
    """Feedback rows, newest first (all, or those with one status), for review."""
    sql = "SELECT * FROM chat_feedback" + (" WHERE status = ?" if status else "") + " ORDER BY id DESC"
    return [dict(row) for row in workspace.query(sql, (status,) if status else ())]


def review_feedback(workspace: Workspace, feedback_id: int, approve: bool,
                    question: str | None = None, target: str | None = None) -> dict:
    """A person's decision on de-identified feedback, with their edits of its
    de-identified question and answer (what they read is what is trained on)."""
    rows = workspace.query("SELECT * FROM chat_feedback WHERE id = ?", (feedback_id,))
    if not rows:
        raise ValueError(f"no feedback with id {feedback_id}")
    row = rows[0]
    if approve and row["status"] not in ("deidentified", "approved"):
        raise GateError(f"feedback {feedback_id} is not de-identified yet: de-identify it first")
    question = row["deid_question"] if question is None else question.strip()
    target = row["deid_target"] if target is None else target.strip()
    if approve and not (question and target):
        raise ValueError("an approved pair needs a question and an answer")
    status = "approved" if approve else "rejected"
    with workspace.transaction() as conn:
        conn.execute("UPDATE chat_feedback SET status = ?, deid_question = ?, deid_target = ?,"
                     " reviewed_at = ? WHERE id = ?", (status, question, target, now(), feedback_id))
    return {"id": feedback_id, "status": status}


def feedback_hash(question: str, target: str) -> str:
    """What approving feedback approved: its de-identified question and answer."""
    return sha256_bytes(json.dumps([question, target]).encode("utf-8"))


def approved_feedback(workspace: Workspace) -> list[tuple[int, str, Pair]]:
    """Approved feedback as (id, hash of the approved text, training pair): the
    de-identified question and the de-identified correct answer, never the text as typed."""
    return [(row["id"], feedback_hash(row["deid_question"], row["deid_target"]),
             Pair(task=task_of(row["deid_question"]) or FEEDBACK_TASK, reference=row["deid_target"],
                  messages=[{"role": "system", "content": SYSTEM_PROMPT},
                            {"role": "user", "content": row["deid_question"]},
                            {"role": "assistant", "content": row["deid_target"]}]))
            for row in workspace.query("SELECT id, deid_question, deid_target FROM chat_feedback"
                                       " WHERE status = 'approved' ORDER BY id")]


def feedback_pairs(workspace: Workspace) -> list[Pair]:
    """Approved feedback as training pairs (see ``approved_feedback``)."""
    return [pair for _, _, pair in approved_feedback(workspace)]
