"""The chat-data formats people already use, for pairs going out (an export, a build's
split files) and coming in (evaluation cases, imported teaching cases): OpenAI-style
messages (the project's own), ShareGPT, Alpaca, and CSV as spreadsheet programs write it."""

from __future__ import annotations

import csv
import io
import json

from medllm_local.core.files import csv_rows
from medllm_local.core.prompts import SYSTEM_PROMPT
from medllm_local.core.records import Pair

FORMATS = ("messages", "sharegpt", "alpaca", "csv")
CSV_COLUMNS = ["instruction", "input", "output", "system", "task", "augmented"]


def to_record(pair: Pair, fmt: str) -> dict:
    """One pair in a chat-data format (``messages`` is the project's own). Every format
    carries the task (and the augmentation method, when there is one) as extra fields,
    which other tools ignore and ``from_record`` reads back."""
    system, user, assistant = pair.system, pair.question, pair.answer
    extra = {"task": pair.task, **({"augmented": pair.augmented} if pair.augmented else {})}
    if fmt == "messages":
        return {"messages": pair.messages, **extra}
    if fmt == "sharegpt":
        return {"conversations": [{"from": "system", "value": system},
                                  {"from": "human", "value": user},
                                  {"from": "gpt", "value": assistant}], **extra}
    if fmt in ("alpaca", "csv"):
        instruction, _, rest = user.partition("\n\n")
        return {"instruction": instruction, "input": rest, "output": assistant, "system": system,
                **extra}
    raise ValueError(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}")


def from_record(record: dict, task: str = "imported") -> Pair:
    """A pair from any supported record: messages, ShareGPT, Alpaca, or a two-column row."""
    if "messages" in record:
        messages = [{"role": m["role"], "content": m["content"]} for m in record["messages"]]
    elif "conversations" in record:
        roles = {"system": "system", "human": "user", "user": "user", "gpt": "assistant",
                 "assistant": "assistant"}
        messages = [{"role": roles[m["from"]], "content": m["value"]} for m in record["conversations"]]
    elif "instruction" in record or "prompt" in record:
        user = record.get("instruction") or record.get("prompt") or ""
        if record.get("input"):
            user = f"{user}\n\n{record['input']}"
        messages = [{"role": "user", "content": user},
                    {"role": "assistant", "content": record.get("output") or record.get("response") or ""}]
    else:
        raise ValueError("not a pair: expected messages, conversations, instruction/output "
                         "or prompt/response")
    if messages[0]["role"] != "system":
        messages.insert(0, {"role": "system", "content": record.get("system") or SYSTEM_PROMPT})
    pair = Pair(task=record.get("task") or task, messages=messages, augmented=record.get("augmented") or "")
    if [m["role"] for m in messages] != ["system", "user", "assistant"] or not pair.answer:
        raise ValueError("a pair needs one question and one non-empty answer")
    pair.reference = pair.answer
    return pair


def dump(pairs: list[Pair], fmt: str) -> str:
    """Pairs as file text: JSON lines, or CSV with instruction/input/output columns."""
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        for pair in pairs:
            writer.writerow(to_record(pair, "csv"))
        return buffer.getvalue()
    return "".join(json.dumps(to_record(p, fmt), ensure_ascii=False) + "\n" for p in pairs)


def load(text: str) -> list[Pair]:
    """Pairs from JSONL, a JSON list, or CSV (instruction,output or prompt,response
    columns; two unnamed columns are read as question, answer)."""
    text = text.lstrip("\ufeff")  # a byte-order mark, as spreadsheet programs write
    stripped = text.lstrip()
    if stripped.startswith("["):
        return [from_record(r) for r in json.loads(stripped)]
    if stripped.startswith("{"):
        return [from_record(json.loads(line)) for line in text.splitlines() if line.strip()]
    rows = csv_rows(text)  # "," or ";" or tabs, as the spreadsheet program wrote them
    header = [h.strip().lower() for h in rows[0]] if rows else []
    if {"instruction", "output"} <= set(header) or {"prompt", "response"} <= set(header):
        return [from_record(dict(zip(header, row))) for row in rows[1:] if any(row)]
    return [from_record({"instruction": row[0], "output": row[1]}) for row in rows if len(row) >= 2]
