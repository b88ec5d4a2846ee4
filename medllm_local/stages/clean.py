"""De-identified report texts -> cleaned texts, every change recorded.

Four steps, each a plain function over text, each returning ``Change`` records rather
than a new text, so that a person can see, keep or revert every one:

1. boilerplate: lines that repeat across many documents (letterheads, footers,
   disclaimers, signature lines) or within one (a header on every page), and lines that
   match a few strong patterns (page numbers, fax cover and confidentiality notices);
   section headings and lines with clinical content are never removed;
2. abbreviations: every variant in the dictionary (``core/abbreviations.py``) rewritten to
   its one canonical form, whole words only, with the exact case listed;
3. typos: lower-case words unknown to an English dictionary (pyspellchecker) and to the
   medical word list, corrected only when one candidate one edit away is clearly the
   most frequent; drug names, words near doses, numbers, capitalised words and
   ALL-CAPS tokens are never touched;
4. transcription: a person's text for a page that OCR read poorly (``replace_page``).

Every change of steps 1-3 is a span of the same input text (the de-identified text), so
the cleaned text is that text with the changes not reverted applied (``apply_changes``):
reverting any subset gives back exactly the text it would have been. Cleaning only
deletes lines and writes dictionary words: it never brings back an identifier.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field, replace
from typing import Literal

from medllm_local.core.abbreviations import Abbreviation, medical_words
from medllm_local.stages.deid.rules import DRUG_STEM
from medllm_local.core.records import Document
from medllm_local.core.sections import HEADING
from medllm_local.core.settings import Settings, setting

Step = Literal["boilerplate", "abbreviation", "typo", "transcription"]
STEPS: tuple[str, ...] = ("boilerplate", "abbreviation", "typo")

# Strong patterns: a line that is only one of these is boilerplate even in one document.
# "Page 3", "page 3 of 5", "3 of 5", "- 3 -"; never a bare number or "120/80" (values).
PAGE_NUMBER = re.compile(r"^\W*(?:(?:page|pg\.?)\s*\d{1,3}(?:\s*(?:of|/)\s*\d{1,3})?|"
                         r"\d{1,3}\s+of\s+\d{1,3}|-\s*\d{1,3}\s*-)\W*$", re.I)
NOTICE = re.compile(
    r"^\W*(?:confidential(?:ity)?(?: notice)?\b|this (?:fax|facsimile|message|e-?mail|"
    r"document|transmission|communication)\b.*\b(?:confidential|privileged|intended)|"
    r"if you (?:have )?received this\b.*\bin error|(?:fax|facsimile)(?: cover(?: sheet)?)?\s*"
    r"(?:to|from|number of pages|pages)?\s*:|(?:electronically )?signed electronically\b|"
    r"electronically signed\b|dictated (?:but not read|and not reviewed)\b|"
    r"(?:dictated|transcribed) by\b)", re.I)
PAGE_FRAGMENT = re.compile(r"\b(?:page|pg\.?)\s*\d+(?:\s*(?:of|/)\s*\d+)?", re.I)
DATE_OR_TIME = re.compile(r"\b\d{1,4}[/.-]\d{1,2}[/.-]\d{1,4}\b|\b\d{1,2}:\d{2}(?::\d{2})?\b")
# A number with a clinical unit marks a line as clinical content.
MEASUREMENT = re.compile(r"\d\s*(?:mg|mcg|µg|g|kg|ml|mL|l|mmol|mol|mmhg|mmHg|bpm|%|cm|mm|"
                         r"units?|iu|IU|meq|mEq)\b")
DOSE_AFTER = re.compile(r"^[ \t]*\(?\d")  # "metoprolol 25 mg": a word before a dose
WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?")
# Prefixes that make a known word into another real one ("nontender", "postoperative").
PREFIXES = ("non", "un", "hyper", "hypo", "peri", "post", "pre", "intra", "inter", "sub",
            "anti", "trans", "para", "extra", "re", "multi", "poly", "semi", "micro", "macro",
            "neuro", "cardio", "gastro", "pseudo")


@dataclass
class Change:
    """One change a step made: ``before`` at [start, end) of the input text became
    ``after``. ``line`` is the 1-based line of ``start``."""

    step: Step
    start: int
    end: int
    line: int
    before: str
    after: str
    reason: str
    reverted: bool = False
    id: int | None = None  # catalogue id once stored


@dataclass
class CleanSettings(Settings):
    """What cleaning does (the CLI's clean options)."""

    boilerplate: bool = setting(True, "remove lines repeated across documents or pages, page numbers, "
                                      "notices")
    abbreviations: bool = setting(True, "rewrite abbreviation variants to the dictionary's one form")
    typos: bool = setting(True, "correct clear typos (one edit away from a much more frequent word)")
    boilerplate_fraction: float = setting(0.3, "a line in at least this share of the documents is "
                                               "boilerplate", above=0, maximum=1, advanced=True)
    boilerplate_min_documents: int = setting(3, "... and in at least this many documents", minimum=2,
                                             advanced=True)
    typo_min_length: int = setting(5, "shorter words are never corrected", minimum=3, advanced=True)
    typo_min_ratio: float = setting(10.0, "the correction must be this many times more frequent than "
                                          "the runner-up", minimum=1, advanced=True)
    typo_min_count: int = setting(100, "the correction must be at least this frequent in the "
                                       "dictionary's counts", minimum=0, advanced=True)
    typo_max_zipf: float = setting(2.0, "a word this common in wordfreq's English (Zipf scale) is "
                                        "real: left alone", minimum=0, maximum=8, advanced=True)


@dataclass
class CleanResult:
    """One document cleaned: the cleaned text and every change that made it."""

    text: str
    changes: list[Change] = field(default_factory=list)


# -- shared helpers ----------------------------------------------------------------------
def lines_of(text: str) -> list[tuple[int, int, str]]:
    """(start, end, line) of every line; ``end`` includes its line break."""
    out, start = [], 0
    for line in text.splitlines(keepends=True):
        out.append((start, start + len(line), line.rstrip("\r\n")))
        start += len(line)
    return out


def line_number(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def apply_changes(text: str, changes: Iterable[Change]) -> str:
    """``text`` with the changes not reverted applied (they must not overlap)."""
    out, at = [], 0
    for change in sorted((c for c in changes if not c.reverted), key=lambda c: c.start):
        if change.start < at or text[change.start:change.end] != change.before:
            raise ValueError(f"change at {change.start} does not fit this text")
        out += [text[at:change.start], change.after]
        at = change.end
    return "".join(out) + text[at:]


def without_overlaps(changes: Iterable[Change]) -> list[Change]:
    """Keep changes in the order given, dropping any that overlaps one already kept (so
    an earlier step wins: no abbreviation is rewritten inside a removed line)."""
    kept: list[Change] = []
    for change in changes:
        if all(change.end <= k.start or change.start >= k.end for k in kept):
            kept.append(change)
    return sorted(kept, key=lambda c: c.start)


def is_heading(line: str) -> bool:
    """A section heading, alone or opening its section's first line ("HPI: ..."), or a
    line shaped like one: up to four words in capitals ("INSTRUCTIONS") or ending with a
    colon ("Vital Signs:")."""
    match = HEADING.match(line)
    if match and (not match.group("rest").strip() or
                  re.search(r":|\s-\s", line[:match.start("rest")])):
        return True
    words = line.strip(" \t•*-:").split()
    shaped = line.strip().isupper() or line.rstrip().endswith(":")
    return shaped and 0 < len(words) <= 4 and not re.search(r"\d", line)


def is_clinical(line: str, words: frozenset[str] | set[str], abbreviations: set[str]) -> bool:
    """A line that says something clinical: a measurement, a drug, a medical word or a
    clinical abbreviation. Such lines are kept even when a template repeats them."""
    if MEASUREMENT.search(line):
        return True
    for token in WORD.findall(line):
        lower = token.lower()
        if lower in words or token in abbreviations or DRUG_STEM.search(lower):
            return True
    return False


# -- 1. boilerplate ----------------------------------------------------------------------
def normal_line(line: str) -> str:
    """A line as compared across documents: case, bullets, spacing, page numbers, dates
    and times ignored ("Printed 01/02/2026 - page 3 of 5" is one footer everywhere).
    Other numbers count: "Review in 2 weeks" and "Review in 6 weeks" are two lines."""
    line = PAGE_FRAGMENT.sub("#", DATE_OR_TIME.sub("#", line.lower()))
    line = re.sub(r"^[\s\-*•·>]+", "", line)
    return " ".join(line.split())


def boilerplate_changes(texts: dict[Hashable, str], settings: CleanSettings | None = None,
                        pages: dict[Hashable, int] | None = None,
                        extra_words: Iterable[str] = (),
                        abbreviations: Iterable[str] = ()) -> dict[Hashable, list[Change]]:
    """Per document, the lines to remove: in at least max(min_documents, fraction x n)
    documents, repeated on every page of one document, or matching
    a page-number or notice pattern. Headings and clinical lines stay."""
    settings = settings or CleanSettings()
    words = medical_words() | {w.lower() for w in extra_words}
    known_abbreviations = set(abbreviations)
    threshold = max(settings.boilerplate_min_documents,
                    math.ceil(settings.boilerplate_fraction * len(texts)))
    document_frequency: Counter[str] = Counter()
    for text in texts.values():
        document_frequency.update({normal_line(line) for _, _, line in lines_of(text)})
    result: dict[Hashable, list[Change]] = {}
    for key, text in texts.items():
        lines = lines_of(text)
        repeats = Counter(normal_line(line) for _, _, line in lines)
        page_count = (pages or {}).get(key, 1)
        changes = []
        for number, (start, end, line) in enumerate(lines, start=1):
            norm = normal_line(line)
            if not re.search(r"[A-Za-z0-9]", line):
                continue
            reason = None
            if PAGE_NUMBER.match(line):
                reason = "page number"
            elif is_heading(line) or is_clinical(line, words, known_abbreviations):
                continue
            elif NOTICE.match(line):
                reason = "fax cover, confidentiality notice or signature line"
            elif len(norm) < 4:
                continue  # "ok", "#." : too short to call boilerplate by counting
            elif len(texts) >= settings.boilerplate_min_documents and \
                    document_frequency[norm] >= threshold:
                reason = f"in {document_frequency[norm]} of {len(texts)} documents"
            elif page_count >= 2 and repeats[norm] >= page_count:
                reason = f"repeated {repeats[norm]} times in this document"
            if reason:
                changes.append(Change("boilerplate", start, end, number, text[start:end], "",
                                      reason))
        result[key] = changes
    return result


# -- 2. abbreviations --------------------------------------------------------------------
def abbreviation_pattern(variant: str) -> re.Pattern:
    """A variant as a whole word: no letter, digit or joining mark ('/', '-', '.') on
    either side, so 'sob' never matches inside 'sobbing' nor 'bp' inside 'bp/hr'."""
    end = r"(?![\w/-])" if variant.endswith(".") else r"(?![\w/-]|\.\w)"
    return re.compile(r"(?<![\w/.-])" + re.escape(variant) + end)


def abbreviation_changes(text: str, dictionary: Iterable[Abbreviation]) -> list[Change]:
    """Every dictionary variant in ``text`` rewritten to its canonical form. A dotted
    variant that ends a sentence keeps the full stop ("had S.O.B. Then" -> "had SOB. Then")."""
    changes = []
    for row in dictionary:
        for variant in row.variants:
            if variant == row.canonical:
                continue
            for match in abbreviation_pattern(variant).finditer(text):
                line_start = text.rfind("\n", 0, match.start()) + 1
                line_end = text.find("\n", match.start())
                line = text[line_start:line_end if line_end >= 0 else len(text)]
                # "dose": a number shortly before, in the same sentence ("500 mg bid")
                window = text[max(line_start, match.start() - 24):match.start()]
                if row.context == "dose" and (not re.search(r"\d", window)
                                              or re.search(r"[.;]\s", re.split(r"\d", window)[-1])):
                    continue
                if is_heading(line) and match.start() - line_start < 3:
                    continue  # a heading such as "HPI:" is the section parser's, not ours
                after = row.canonical
                if variant.endswith(".") and re.match(r"\s*(?:$|\n|[A-Z])", text[match.end():]):
                    after += "."
                changes.append(Change("abbreviation", match.start(), match.end(),
                                      line_number(text, match.start()), match.group(), after,
                                      f"one form for {row.expansion}"))
    return without_overlaps(sorted(changes, key=lambda c: (c.start, -c.end)))


# -- 3. typos ----------------------------------------------------------------------------
class TypoChecker:
    """pyspellchecker's English word counts plus the medical word list. Its dictionary
    ships inside the wheel, so it works offline; loading takes a fraction of a second."""

    def __init__(self, settings: CleanSettings | None = None, extra_words: Iterable[str] = (),
                 protected: Iterable[str] = ()):
        from spellchecker import SpellChecker

        self.settings = settings or CleanSettings()
        self.spell = SpellChecker(language="en", distance=1)
        self.words = medical_words() | {w.lower() for w in extra_words}
        # surrogate names and other words that must stay exactly as written
        self.protected = {w.lower() for p in protected for w in WORD.findall(p)}

    def known(self, word: str) -> bool:
        """In the English or medical vocabulary, or one of them with a common prefix or
        inflection ("nontender", "crackles", "ecchymoses")."""
        if word in self.words or word in self.protected or self.spell.known([word]):
            return True
        for prefix in PREFIXES:
            rest = word[len(prefix):]
            if word.startswith(prefix) and len(rest) >= 4 and (
                    rest in self.words or self.spell.known([rest])):
                return True
        for ending in ("s", "es", "ed", "ing", "ly", "al"):
            stem = word[:-len(ending)]
            if word.endswith(ending) and len(stem) >= 4 and stem in self.words:
                return True
        return False

    def correction(self, word: str) -> tuple[str, str] | None:
        """(correction, why) when the bar is met, else None."""
        from wordfreq import zipf_frequency

        settings = self.settings
        if len(word) < settings.typo_min_length or self.known(word) or DRUG_STEM.search(word):
            return None
        # pyspellchecker's list lacks many rare real words ("pedis", "ductal", "chiasm"):
        # wordfreq's wider counts say whether the word is used at all, and the correction
        # must be at least 100 times more common than the word.
        word_zipf = zipf_frequency(word, "en")
        if word_zipf >= settings.typo_max_zipf:
            return None
        candidates = [c for c in self.spell.edit_distance_1(word)
                      if c[0] == word[0] and (self.spell.known([c]) or c in self.words)]
        if not candidates:
            return None
        counts = sorted(((self.spell[c] or (settings.typo_min_count if c in self.words else 0), c)
                         for c in candidates), reverse=True)
        best_count, best = counts[0]
        medical = [c for _, c in counts if c in self.words]
        if medical and best not in medical:  # "coronary arter": artery, not after
            return None
        runner_up = counts[1][0] if len(counts) > 1 else 0
        if best_count < settings.typo_min_count or best_count < settings.typo_min_ratio * runner_up \
                or zipf_frequency(best, "en") < word_zipf + 2:
            return None
        why = "the only word one edit away" if len(counts) == 1 else \
            f"one edit away, {best_count / max(runner_up, 1):.0f}x more frequent than '{counts[1][1]}'"
        return best, why


def typo_changes(text: str, checker: TypoChecker) -> list[Change]:
    """Clear typos in lower-case words. Never touched: words with capitals (names,
    brands, acronyms), words joined to digits, '/', '-', '@', '_' or a dotted suffix
    (doses, file and web names), words right before a number (a drug before its dose)."""
    changes = []
    for match in WORD.finditer(text):
        word, end = match.group(), match.end()
        if word.endswith("'s"):  # "the pateint's wife": the word, not its possessive
            word, end = word[:-2], end - 2
        if not word.islower() or "'" in word:
            continue
        before, after = text[match.start() - 1:match.start()], text[match.end():match.end() + 2]
        if (before and before in "0123456789/-@_.\\") or (after[:1] and after[0] in "0123456789/-@_\\") \
                or re.match(r"\.\w", after) or DOSE_AFTER.match(text[match.end():match.end() + 8]):
            continue
        found = checker.correction(word)
        if found:
            changes.append(Change("typo", match.start(), end,
                                  line_number(text, match.start()), word, found[0], found[1]))
    return changes


# -- the whole stage ---------------------------------------------------------------------
def clean_texts(texts: dict[Hashable, str], settings: CleanSettings | None = None,
                dictionary: Iterable[Abbreviation] = (), extra_words: Iterable[str] = (),
                protected: Iterable[str] = (), pages: dict[Hashable, int] | None = None
                ) -> dict[Hashable, CleanResult]:
    """Clean every text of a corpus (boilerplate is judged across all of them).

    Args:
        texts: de-identified texts by document key.
        dictionary: abbreviation rows (``abbreviations.merged_abbreviations``).
        extra_words: the user's medical words, added to the project's list.
        protected: words never to correct (the surrogate names, say).
        pages: page count per document, for headers repeated on every page.
    """
    settings = settings or CleanSettings()
    dictionary = list(dictionary)
    extra_words = list(extra_words)
    removed = boilerplate_changes(
        texts, settings, pages, extra_words,
        {form for row in dictionary for form in (row.canonical, *row.variants)}) \
        if settings.boilerplate else {}
    checker = TypoChecker(settings, extra_words, protected) if settings.typos else None
    results = {}
    for key, text in texts.items():
        ordered = list(removed.get(key, []))
        if settings.abbreviations:
            ordered += abbreviation_changes(text, dictionary)
        if checker is not None:
            ordered += typo_changes(text, checker)
        changes = without_overlaps(ordered)
        results[key] = CleanResult(apply_changes(text, changes), changes)
    return results


# -- 4. transcription --------------------------------------------------------------------
def replace_page(document: Document, number: int, text: str) -> tuple[Document, Change]:
    """``document`` with page ``number``'s text replaced by a person's transcription,
    and the change (a span of the document's full text) that records it."""
    if not text.strip():
        raise ValueError("the transcription is empty")
    index = next((i for i, p in enumerate(document.pages) if p.number == number), None)
    if index is None:
        raise ValueError(f"the document has no page {number} (pages 1-{len(document.pages)})")
    start = sum(len(p.text) + 2 for p in document.pages[:index])  # pages join with a blank line
    old = document.pages[index]
    pages = list(document.pages)
    pages[index] = replace(old, text=text)
    change = Change("transcription", start, start + len(old.text),
                    line_number(document.text, start), old.text, text,
                    f"page {number} typed by a person (OCR confidence "
                    f"{old.ocr_confidence or 0:.0f})")
    return replace(document, pages=pages), change


def summary(changes: Iterable[Change]) -> dict[str, int]:
    """How many changes each step made (reverted ones left out)."""
    counts = {step: 0 for step in STEPS}
    for change in changes:
        if not change.reverted:
            counts[change.step] = counts.get(change.step, 0) + 1
    return counts
