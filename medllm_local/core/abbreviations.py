"""The project's clinical abbreviation dictionary and medical word list (data files in
``medllm_local/data``), read in one place: cleaning standardises abbreviations and
checks spelling with them, evaluation matches diagnoses with them.

A workspace may extend both with files of the same form (see ``data/abbreviations.tsv``):
the user's rows for a canonical form replace the project's rows for it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "data"
ABBREVIATIONS_FILE = DATA / "abbreviations.tsv"
MEDICAL_WORDS_FILE = DATA / "medical_words.txt"


@dataclass(frozen=True)
class Abbreviation:
    """One concept's written form: ``canonical`` replaces each of ``variants``."""

    canonical: str
    expansion: str
    variants: tuple[str, ...] = ()
    context: str = ""  # "dose": only shortly after a number ("500 mg bid")


def parse_abbreviations(text: str, source: str = "abbreviations") -> list[Abbreviation]:
    """Rows of an abbreviations file: canonical, expansion, variants, context (tabs)."""
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        cells = [cell.strip() for cell in line.split("\t")]
        if len(cells) < 2 or not cells[0] or not cells[1]:
            raise ValueError(f"{source} line {number}: expected canonical<TAB>expansion"
                             "[<TAB>variants[<TAB>context]]")
        variants = tuple(v.strip() for v in (cells[2] if len(cells) > 2 else "").split(",")
                         if v.strip())
        context = cells[3] if len(cells) > 3 else ""
        if context not in ("", "dose"):
            raise ValueError(f"{source} line {number}: context must be empty or 'dose'")
        rows.append(Abbreviation(cells[0], cells[1].lower(), variants, context))
    return rows


@lru_cache(maxsize=1)
def project_abbreviations() -> tuple[Abbreviation, ...]:
    return tuple(parse_abbreviations(ABBREVIATIONS_FILE.read_text(encoding="utf-8"),
                                     ABBREVIATIONS_FILE.name))


def merged_abbreviations(user_text: str | None = None) -> list[Abbreviation]:
    """The project's dictionary with a user's file laid over it: every canonical form the
    user lists replaces the project's rows of that form."""
    rows = list(project_abbreviations())
    if not user_text:
        return rows
    user = parse_abbreviations(user_text, "your abbreviations.tsv")
    replaced = {row.canonical for row in user}
    return [row for row in rows if row.canonical not in replaced] + user


@lru_cache(maxsize=1)
def expansions() -> dict[str, str]:
    """Lower-case abbreviation (canonical or variant, as one word) -> its expansion, for
    matching text that has been lower-cased and split into words."""
    table: dict[str, str] = {}
    for row in project_abbreviations():
        if not row.canonical.isalnum():  # "COVID-19", "h/o": split into several words there
            continue
        expansion = " ".join(re.sub(r"[^a-z0-9]+", " ", row.expansion).split())
        for form in (row.canonical, *row.variants):
            key = form.lower()
            if key.isalnum():  # "s.o.b." or "n/v" never survive word splitting
                table.setdefault(key, expansion)
    return table


def parse_words(text: str) -> set[str]:
    return {word.lower() for line in text.splitlines() if not line.lstrip().startswith("#")
            for word in line.split()}


@lru_cache(maxsize=1)
def medical_words() -> frozenset[str]:
    """The project's medical word list (lower case)."""
    return frozenset(parse_words(MEDICAL_WORDS_FILE.read_text(encoding="utf-8")))
