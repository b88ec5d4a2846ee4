"""Cases a physician already keeps (a spreadsheet of teaching cases, a course's Alpaca or
ShareGPT file) read into report-shaped text, one per case, so that each goes through the
same de-identification, review, approval and pair building as a report.

A case is written with the section headings the pair builder reads (core/sections.py):
the case under HISTORY OF PRESENT ILLNESS, the answers under DIAGNOSIS, DIFFERENTIAL
DIAGNOSIS and PLAN, and the patient (when a column names one) on a "Patient:" or "MRN:"
line, which de-identification replaces and which keeps one patient's cases in one split.
Spreadsheets are read by their header row: the mapping of columns is part of the result,
for the user to see before importing.
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from medllm_local.core.files import csv_rows
from medllm_local.core.prompts import task_of

# header words -> the part of a case they hold (first match wins, in this order)
COLUMN_WORDS = {
    "patient": ("patient", "patient id", "patient name", "mrn", "record", "name"),
    "differential": ("differential", "ddx", "differential diagnosis", "differentials"),
    "plan": ("plan", "treatment", "management", "therapy"),
    "diagnosis": ("diagnosis", "final diagnosis", "dx", "answer", "output", "response",
                  "most likely diagnosis"),
    "case": ("case", "question", "summary", "case summary", "presentation", "history",
             "vignette", "instruction", "input", "prompt", "scenario", "findings"),
}
TASK_SECTION = {"diagnosis": "diagnosis", "differential": "differential", "treatment": "plan"}
MAX_CASE_CHARS = 20_000
SPREADSHEETS = (".csv", ".tsv", ".xlsx")


class CaseFileError(ValueError):
    """A whole file that cannot be read as cases; the message says why."""


@dataclass
class CaseRow:
    """One case: where it came from and its parts (empty when the file has none)."""

    row: int  # 1-based, as a spreadsheet program numbers it (the header is row 1)
    case: str = ""
    diagnosis: str = ""
    differential: str = ""
    plan: str = ""
    patient: str = ""

    def report_text(self) -> str:
        """The case as a report, in the headings the pair builder reads."""
        lines = []
        if self.patient:
            label = "MRN" if re.fullmatch(r"[\w-]*\d[\w-]*", self.patient) else "Patient"
            lines.append(f"{label}: {self.patient}")
        lines.append(f"HISTORY OF PRESENT ILLNESS: {self.case}")
        for heading, text in (("DIAGNOSIS", self.diagnosis), ("DIFFERENTIAL DIAGNOSIS", self.differential),
                              ("PLAN", self.plan)):
            if text:
                lines.append(f"{heading}: {text}")
        return "\n\n".join(lines) + "\n"


@dataclass
class CaseFile:
    """What one file holds: its cases, the rows that failed and why, and how columns
    were read."""

    source: str
    cases: list[CaseRow] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)  # (row, reason)
    mapping: dict[str, str] = field(default_factory=dict)  # column header -> part

    def add(self, case: CaseRow) -> None:
        """Keep a case, or record why its row fails (never its content)."""
        problem = case_problem(case)
        if problem:
            self.errors.append((case.row, problem))
        else:
            self.cases.append(case)


def column_mapping(headers: list[str]) -> dict[str, str]:
    """header -> case part, for the headers that name one (each part taken once)."""
    mapping: dict[str, str] = {}
    for part, words in COLUMN_WORDS.items():
        for header in headers:
            name = " ".join(re.findall(r"[a-z]+", header.lower()))
            if header not in mapping and part not in mapping.values() and name in words:
                mapping[header] = part
    return {header: mapping[header] for header in headers if header in mapping}  # as the file has them


def _cell(value) -> str:
    return "" if value is None else str(value).replace("\r\n", "\n").strip()


def cases_from_table(source: str, headers: list[str], rows: list[list], first_row: int = 2) -> CaseFile:
    """Cases from a table with a header row; a row without a case or without any answer
    fails alone, with its row number."""
    mapping = column_mapping(headers)
    read = CaseFile(source, mapping=mapping)
    if "case" not in mapping.values() or not {"diagnosis", "differential", "plan"} & set(mapping.values()):
        # the first row's cells are not quoted: without a header they are a case, patient text
        raise CaseFileError(f"{source}: no column for the case and the answer in the first row "
                            f"({sum(1 for h in headers if h)} cells); give the columns a header row, "
                            "e.g. 'case' and 'diagnosis' (also: differential, plan, patient)")
    index = {part: headers.index(header) for header, part in mapping.items()}
    for number, row in enumerate(rows, start=first_row):
        if not any(_cell(v) for v in row):
            continue
        if any(_cell(v) for v in row[len(headers):]):  # an unquoted separator in a cell shifted it
            read.errors.append((number, f"{len(row)} cells under {len(headers)} headers (a cell with "
                                        "the separator in it needs quotes)"))
            continue
        parts = {part: _cell(row[i]) if i < len(row) else "" for part, i in index.items()}
        read.add(CaseRow(number, **parts))
    return read


def case_problem(case: CaseRow) -> str | None:
    if not case.case:
        return "no case text"
    if not (case.diagnosis or case.differential or case.plan):
        return "no answer (diagnosis, differential or plan)"
    if len(case.report_text()) > MAX_CASE_CHARS:
        return f"longer than {MAX_CASE_CHARS:,} characters"
    return None


def _csv_rows(data: bytes) -> list[list[str]]:
    text = data.decode("utf-8-sig") if not data.startswith(b"\xff\xfe") else data.decode("utf-16")
    return csv_rows(text)


def _xlsx_rows(data: bytes, source: str) -> list[list]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=False, data_only=True)
    except Exception as error:  # zipfile.BadZipFile, KeyError, InvalidFileException...
        raise CaseFileError(f"{source}: not a readable XLSX file ({type(error).__name__})") from None
    sheet = book.worksheets[0]
    # a merged cell holds its value in the top-left cell only: give it to the whole range
    for merged in list(sheet.merged_cells.ranges):
        value = sheet.cell(merged.min_row, merged.min_col).value
        sheet.unmerge_cells(str(merged))
        for row in range(merged.min_row, merged.max_row + 1):
            for column in range(merged.min_col, merged.max_col + 1):
                sheet.cell(row, column).value = value
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def _chat_cases(source: str, text: str, task: str) -> CaseFile:
    """Cases from messages JSONL, a ShareGPT or Alpaca JSON list or JSONL."""
    from medllm_local.stages.dataset.formats import from_record

    stripped = text.lstrip("\ufeff").strip()
    try:
        records = json.loads(stripped) if stripped.startswith("[") else \
            [json.loads(line) for line in stripped.splitlines() if line.strip()]
    except json.JSONDecodeError as error:
        raise CaseFileError(f"{source}: not JSON or JSON lines ({error.msg}, line {error.lineno})") from None
    read = CaseFile(source, mapping={"question": "case", "answer": f"by task ({task})"})
    for number, record in enumerate(records, start=1):
        try:
            pair = from_record(record if isinstance(record, dict) else {})
        except (ValueError, KeyError, TypeError) as error:
            read.errors.append((number, str(error) or type(error).__name__))
            continue
        question = pair.question
        instruction, sep, body = question.partition("\n\n")
        # "What is the most likely diagnosis?\n\n<case>": the instruction is not the case
        asked = bool(sep) and len(instruction) <= 200 and instruction.rstrip().endswith(("?", ":", "."))
        wanted = task if task != "auto" else (
            record.get("task") if record.get("task") in TASK_SECTION
            else task_of(question) or asked_task(instruction if asked else question))
        case = CaseRow(number, case=(body if asked else question).strip())
        setattr(case, TASK_SECTION.get(wanted, "diagnosis"), pair.answer.strip())
        read.add(case)
    return read


def asked_task(instruction: str) -> str:
    """The task an instruction in other words asks for (diagnosis when unclear)."""
    lowered = instruction.lower()
    if "differential" in lowered or "ranked" in lowered:
        return "differential"
    if re.search(r"\b(treat|treatment|manage|management|plan|therapy)\b", lowered):
        return "treatment"
    return "diagnosis"


def read_case_file(source: str, data: bytes, task: str = "auto") -> CaseFile:
    """The cases of one file (CSV or TSV with a header row, the first sheet of an XLSX,
    or messages / ShareGPT / Alpaca JSON). ``task`` places a chat record's answer:
    diagnosis, differential, treatment, or auto (the question's wording, else diagnosis).
    CaseFileError when the whole file cannot be read."""
    if task not in ("auto", *TASK_SECTION):
        raise ValueError(f"unknown task {task!r}: auto, {', '.join(TASK_SECTION)}")
    suffix = Path(source).suffix.lower()
    if suffix == ".xlsx":
        rows = _xlsx_rows(data, source)
    elif suffix in (".csv", ".tsv"):
        try:
            rows = _csv_rows(data)
        except UnicodeDecodeError:
            raise CaseFileError(f"{source}: not UTF-8 text; save it as 'CSV UTF-8'") from None
    elif suffix in (".json", ".jsonl"):
        try:
            return _chat_cases(source, data.decode("utf-8-sig"), task)
        except UnicodeDecodeError:
            raise CaseFileError(f"{source}: not UTF-8 text") from None
    else:
        raise CaseFileError(f"{source}: not a case file (CSV, TSV, XLSX, JSON or JSONL)")
    first = next((i for i, row in enumerate(rows) if any(_cell(v) for v in row)), None)
    if first is None:
        raise CaseFileError(f"{source}: empty")
    return cases_from_table(source, [_cell(h) for h in rows[first]], rows[first + 1:], first_row=first + 2)
