"""Filters for what the detectors return on clinical text: scores that look like dates
("pain 4/10"), spans made of clinical or everyday words ("Denies", "orange juice"),
eponyms ("Glasgow Coma Scale") and facility guesses without a name ("the ICU")."""

from __future__ import annotations

import re

from medllm_local.stages.deid.context import STOP as FUNCTION_WORDS
from medllm_local.stages.deid.rules import EPONYM_FOLLOWER, NAME_TITLES
from medllm_local.stages.deid.vocab import vocabulary
from medllm_local.core.records import Finding

SCALE_AFTER = re.compile(r"[ \t]*(?:[a-z]+[ \t]+)?(?:strength|power|pain|grade|scale|reflex)",
                         re.IGNORECASE)
# "right arm 3/5", "CP 7/10", "bipap 12/5": a body part, symptom or device before a score
SCORE_SUBJECT = re.compile(r"\b(?:arm|arms|leg|legs|hand|hands|grip|foot|feet|hip|hips|knee|"
                           r"shoulder|elbow|wrist|ankle|finger|toe|cp|pain|bipap|cpap|peep|vent|ps|"
                           r"flexion|extension|abduction|adduction|dorsiflexion|ue|le|rue|lue|rle|lle)"
                           r"(?:[ \t]+[a-z]+)?[ \t:]*$", re.IGNORECASE)
SCALE_BEFORE = re.compile(r"\b(?:pain|ha|headache|strength|power|motor|grade|scale|rated|"
                          r"rates|score|murmur|reflexes|pulses)\b(?:[ \t]+[^ \t\n.]+){0,2}[ \t:]*$",
                          re.IGNORECASE)
# "STRENGTH IS 4/5 ON THE RIGHT AND 5/5 ON THE LEFT": a second score in the sentence
SCORE_BEFORE = re.compile(r"(?<![/\d])\d{1,2}/(?:5|10)(?![/\d])[^.\n]*$")
AMBIGUOUS_FACILITY = re.compile(r"(?:labs|laboratory|practice|surgery|healthcare)$", re.IGNORECASE)
TITLE_BEFORE = re.compile(r"\b(?:" + "|".join(NAME_TITLES) + r")\.?[ \t]*$", re.IGNORECASE)


def is_a_score(span: str, text: str, start: int, end: int) -> bool:
    """A short "date" that is a score or a ratio where it stands: "pain 4/10", "strength
    is 4/5 ... and 5/5", "right arm 3/5", "3/5 abduction strength", "SOB 2/2 CHF"."""
    before = text[max(0, start - 60):start]
    out_of_5_or_10 = re.search(r"/(?:5|10)$", span) is not None
    return bool(SCALE_BEFORE.search(before)
                or out_of_5_or_10 and (SCORE_BEFORE.search(before)
                                       or SCORE_SUBJECT.search(text[max(0, start - 30):start]))
                or SCALE_AFTER.match(text[end:end + 30])
                or span == "2/2" and re.match(r"[ \t]+(?!at\b|in\b|on\b|and\b)[A-Za-z]",
                                              text[end:end + 6]))


def ordinary_words(span: str) -> bool:
    """True when every word of ``span`` is clinical vocabulary, a number-like token, or
    an English word that is no common name: not a person or a place by itself."""
    vocab = vocabulary()
    words = re.findall(r"[A-Za-z0-9][A-Za-z0-9'\-]*", span)
    return bool(words) and all(
        any(c.isdigit() for c in word) or vocab.is_clinical(word) or word.lower() in FUNCTION_WORDS
        or (word.isupper() and len(word) <= 3 and not vocab.is_name_only(word))  # "XL", "HR"
        or (vocab.is_english(word.strip("'")) and not vocab.is_nameish(word)
            and not vocab.is_first_name(word))
        or all(vocab.is_clinical(part) or vocab.is_english(part) for part in word.split("-") if part)
        and not vocab.is_nameish(word)
        for word in words)


def eponym_inside(text: str, finding: Finding) -> bool:
    """A person or place found by its words that is an eponym: a word of it followed by
    "coma scale", "disease", "'s sign"... ("Glasgow Coma Scale", "Murphy's sign")."""
    if finding.type not in ("PERSON", "LOCATION"):
        return False
    return any(EPONYM_FOLLOWER.match(text[finding.start + word.end():finding.start + word.end() + 40])
               for word in re.finditer(r"[A-Za-z]+", text[finding.start:finding.end]))


def named_facility(span: str) -> bool:
    """A facility span holding a name: an acronym that is no clinical abbreviation
    ("tx from SMH", not "the ICU"), or a word that is no clinical or everyday word
    ("Perret Rehab"; "Mercy Hospital" is left to the facility rule, which reads the head word)."""
    from medllm_local.stages.deid.places import FACILITY_HEADS  # wordfreq: not for `--help` without the venv

    vocab = vocabulary()
    words = [w for w in re.findall(r"[A-Za-z][A-Za-z'\-]*", span) if w.lower() not in FUNCTION_WORDS]
    if len(words) == 1 and words[0].isupper() and 2 <= len(words[0]) <= 5:
        return not vocab.is_clinical(words[0])
    if FACILITY_HEADS.search(span):  # "Heritage Hall East", not "cardiology clinic"
        rest = re.findall(r"[A-Za-z][A-Za-z'\-]*", FACILITY_HEADS.sub(" ", span))
        return any(w.lower() not in FUNCTION_WORDS and not vocab.is_clinical(w) for w in rest)
    return any(not ordinary_words(w) for w in words)


def everyday_word(word: str) -> bool:
    """A frequent English word that is no frequent name ("home"; but "white" is a name
    often enough): never spread from one finding to every occurrence."""
    from wordfreq import zipf_frequency

    vocab = vocabulary()
    return (vocab.is_english(word) and zipf_frequency(word, "en") >= 4.0
            and vocab.surnames.get(word, 10**6) >= 2000 and vocab.first_names.get(word, 10**6) >= 500)
