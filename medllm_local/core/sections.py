"""Clinical report sections: find the usual parts of a report whatever their spelling
and case ("HPI:", "History of Present Illness", "ASSESSMENT AND PLAN", "Impression -").

A heading is recognised at the start of a line, either alone on the line (optionally
ending with a colon) or followed by a colon or dash and the section's first text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# canonical name -> heading spellings (regular expressions, matched case-insensitively)
HEADINGS: dict[str, list[str]] = {
    "chief_complaint": [r"chief complaints?", r"cc", r"presenting complaints?",
                        r"reason for (?:visit|referral|consultation|admission)"],
    "hpi": [r"history of (?:the )?present(?:ing)? illness", r"hpi", r"history of presenting complaint",
            r"subjective", r"history", r"hospital course", r"clinical course"],
    "past_history": [r"past (?:medical|surgical|medical and surgical) history", r"pmh", r"psh",
                     r"past history", r"medical history"],
    "medications": [r"(?:current |home )?medications?", r"meds", r"drug history", r"medication list"],
    "allergies": [r"allerg(?:y|ies)(?: and reactions)?"],
    "social_family": [r"social history", r"family history", r"social and family history", r"sh", r"fh"],
    "ros": [r"review of systems?", r"ros", r"systems review"],
    "examination": [r"physical exam(?:ination)?", r"exam(?:ination)?(?: findings)?", r"pe",
                    r"on examination", r"o/e", r"vital signs", r"vitals", r"objective"],
    "results": [r"results?", r"labs?", r"laboratory(?: data| results)?", r"investigations?",
                r"imaging", r"diagnostics?", r"studies"],
    "assessment_plan": [r"assessment and plan", r"assessment ?[&/] ?plan", r"a/p", r"a&p",
                        r"impression and plan", r"impression ?/ ?plan"],
    "assessment": [r"assessments?", r"clinical impression"],
    "diagnosis": [r"(?:final |working |principal |discharge |admission )?diagnos(?:is|es)",
                  r"impressions?", r"dx", r"problem list"],
    "differential": [r"differential(?: diagnos(?:is|es))?", r"ddx"],
    "plan": [r"plan", r"treatment(?: plan)?", r"management(?: plan)?", r"recommendations?"],
    "follow_up": [r"follow[- ]?up", r"disposition"],
}
INPUT_SECTIONS = ("chief_complaint", "hpi", "past_history", "medications", "allergies",
                  "social_family", "ros", "examination", "results")
TARGET_SECTIONS = ("assessment_plan", "assessment", "diagnosis", "differential", "plan", "follow_up")

_ALTERNATIVES = "|".join(f"(?P<{name}>{'|'.join(spellings)})" for name, spellings in HEADINGS.items())
HEADING = re.compile(
    rf"^[ \t]*(?:{_ALTERNATIVES})[ \t]*(?::[ \t]*|[ \t]-[ \t]+|$)(?P<rest>.*)$",
    re.IGNORECASE | re.MULTILINE)


@dataclass
class ParsedReport:
    """A report cut into sections (canonical name -> text, in order of appearance)."""

    sections: dict[str, str] = field(default_factory=dict)
    preamble: str = ""  # text before the first heading (letterhead, identity block)

    @property
    def found(self) -> list[str]:
        return list(self.sections)


def parse_sections(text: str) -> ParsedReport:
    """Cut ``text`` at every recognised heading. A heading word inside a sentence is not
    a heading: it must open its line, and end there or be followed by ':' or ' - '."""
    report = ParsedReport()
    matches = []
    for match in HEADING.finditer(text):
        name = next(key for key, value in match.groupdict().items() if value and key != "rest")
        heading_alone = not match.group("rest").strip()
        line = match.group(0)
        # a lone word like "Plan" or "History" opening a sentence is not a heading: alone on
        # its line it must be short; followed by text it must be followed by a colon/dash
        if heading_alone and len(line.strip().rstrip(":")) > 40:
            continue
        if not heading_alone and not re.search(r":|\s-\s", line[:len(line) - len(match.group("rest"))]):
            continue
        matches.append((match.start(), match.start("rest"), name))
    if not matches:
        report.preamble = text.strip()
        return report
    report.preamble = text[:matches[0][0]].strip()
    for index, (_, body_start, name) in enumerate(matches):
        end = matches[index + 1][0] if index + 1 < len(matches) else len(text)
        body = text[body_start:end].strip()
        if body:
            report.sections[name] = (report.sections.get(name, "") + "\n" + body).strip()
    return report


NUMBERED = re.compile(r"(?:^|\s)(\d{1,2})[.)]\s+(.+?)(?=\s+\d{1,2}[.)]\s|\n\s*\n|\n\s*[•*-]|$)",
                      re.DOTALL)


def numbered_items(text: str) -> list[str]:
    """"1. A 2. B" or one item per line, in order; stops at the first gap in numbering."""
    items, expected = [], 1
    for match in NUMBERED.finditer(text):
        if int(match.group(1)) != expected:
            break
        items.append(" ".join(match.group(2).split()).rstrip(".").strip())
        expected += 1
    return items


def main_diagnosis(report: ParsedReport) -> str | None:
    """The most likely diagnosis the report's author wrote: the first item or first
    clause of the diagnosis, assessment or assessment-and-plan section, skipping a recap
    sentence such as "Brian is a 58-year-old male ..."."""
    for name in ("diagnosis", "assessment", "assessment_plan"):
        text = report.sections.get(name)
        if not text:
            continue
        items = numbered_items(text)
        if items:
            return _short(items[0])
        for sentence in re.split(r"(?<=[a-z0-9)]{2}[.!?])\s+|\n+", text):  # not after "C."
            sentence = sentence.strip()
            # a diagnosis is a short phrase, not narrative ("The patient presents ...")
            if (not sentence or re.search(r"\bis an? \d{1,3}[- ]year", sentence)
                    or len(sentence.split()) > 12 or NARRATIVE.match(sentence)):
                continue
            diagnosis = _short(sentence)
            if diagnosis:
                return diagnosis
    return None


NARRATIVE = re.compile(r"^(?:the patient|patient|he|she|they|we|i|this|her|his|mr|mrs|ms|dr)\b",
                       re.IGNORECASE)


def _short(text: str) -> str | None:
    text = text.strip().lstrip("•*-– \t")
    text = re.split(r"(?<=[a-z0-9)]{2})\.(?:\s|$)|[;\n]|\s•", text)[0].strip().rstrip(".,")
    text = re.sub(r"^(?:problem|diagnosis)\s*\d*\s*[:.-]\s*", "", text, flags=re.IGNORECASE)
    return text if 2 < len(text) <= 120 else None
