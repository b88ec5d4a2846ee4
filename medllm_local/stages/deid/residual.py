"""The residual-PHI scan: text about to leave the de-identified area (a dataset, an
export, a feedback pair) is searched again for identifiers left behind, by the same
detectors and for the real values the surrogate map knows."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from medllm_local.stages.deid.ner import RECOGNIZER as PHI_NER
from medllm_local.stages.deid.rules import NAME_TITLES, ROLE_TITLES
from medllm_local.stages.deid.vocab import vocabulary
from medllm_local.core.textnorm import fold, fold_value

if TYPE_CHECKING:
    from medllm_local.stages.deid.engine import DeidEngine

# Words that rules keep around an identifier ("Lives at ...", "MRN: ...").
LABEL_WORDS = {"lives", "living", "at", "resides", "residing", "address", "home", "mrn", "tel",
               "phone", "fax", "email", "patient", "name", "dob", "signed", "by", "of", "is"}
TITLE_WORDS = frozenset(NAME_TITLES + ROLE_TITLES)


def clinical_or_ordinary(value: str) -> bool:
    """A value every word of which is clinical vocabulary, or everyday English that is
    no name and no place."""
    vocab = vocabulary()
    words = re.findall(r"[A-Za-z]+", value)
    return bool(words) and not re.search(r"\d", value) and all(
        vocab.is_clinical(w) or (vocab.is_english(w) and not vocab.is_nameish(w)
                                 and w.lower() not in vocab.places) for w in words)



@dataclass
class ResidualHit:
    """Something that still looks identifying in a text meant to be de-identified
    (offsets only: the scan's report must not repeat what it found)."""

    name: str
    start: int
    end: int
    type: str
    reason: str
    blocking: bool = True


def residual_phi(engine: DeidEngine, texts: dict[str, str], surrogate_values: set[str],
                 real_values: set[str], approved: dict[str, str] | None = None,
                 rejected: dict[str, set[str]] | None = None) -> list[ResidualHit]:
    """Scan de-identified ``texts`` (name -> text) for identifiers left behind.

    - Detector hits block, unless the span is (inside) a surrogate we handed out, or a
      text a reviewer explicitly rejected as not identifying (``rejected``, per text).
    - A hit of a statistical NER alone (spaCy's or ours) on words of the approved de-identified document
      the text came from (``approved``) is a warning, not a block: spaCy's entities change
      with context, and those exact words were in the text that was approved.
    - Known real values (from the surrogate map) and deny-list terms always block."""
    approved, rejected = approved or {}, rejected or {}

    def in_text(word: str, text: str) -> bool:
        return re.search(rf"(?<!\w){re.escape(word)}(?!\w)", text, re.IGNORECASE) is not None

    hits: list[ResidualHit] = []
    names = list(texts)
    # A "real value" made of clinical or everyday words came from a detector's mistake
    # (spaCy once called "Denies" a name): it never blocks.
    # So does a short number ("2/6", "2004": a year stays a year), which matches clinical
    # text everywhere.
    real = sorted({fold_value(v) for v in real_values if len(v.strip()) >= 3
                   and not clinical_or_ordinary(v)
                   and (re.search(r"[A-Za-z]", v) or len(re.findall(r"\d", v)) >= 5)},
                  key=len, reverse=True)
    real_pattern = (re.compile(r"(?<!\w)(" + "|".join(re.escape(v) for v in real) + r")(?!\w)",
                               re.IGNORECASE) if real else None)
    # Where our own surrogates stand in each text: a hit made only of surrogate text (plus
    # titles and labels such as "Dr." or "Lives at") is ours, not a leftover identifier.
    values = sorted({v.strip() for v in surrogate_values if len(v.strip()) >= 2}, key=len, reverse=True)
    surrogate_pattern = (re.compile("|".join(re.escape(v) for v in values), re.IGNORECASE)
                         if values else None)
    for name, findings in zip(names, engine.find_many([texts[n] for n in names])):
        text = texts[name]
        covered = bytearray(len(text))
        for match in surrogate_pattern.finditer(text) if surrogate_pattern else ():
            covered[match.start():match.end()] = b"\x01" * (match.end() - match.start())
        for finding in findings:
            span = text[finding.start:finding.end]
            leftover = [m.group().lower() for m in re.finditer(r"[A-Za-z0-9]+", span)
                        if not all(covered[finding.start + i] for i in range(m.start(), m.end()))]
            leftover = [w for w in leftover if w not in TITLE_WORDS and w not in LABEL_WORDS]
            partly_ours = any(covered[finding.start:finding.end])
            # all ours; or ours plus words of the approved text the detector ran on into
            # (merged spans cross lines: "975 Andrew Place\nContact")
            ours = not leftover or (partly_ours and all(
                in_text(w, approved.get(name, "")) for w in leftover))
            if finding.recognizer != "deny_list" and (
                    ours or span.strip() in rejected.get(name, set())):
                continue  # a surrogate we put there, or a reviewer's "not an identifier"
            # NER spans shift with context (and may run across the joins of a pair), so
            # the test is word by word: every word was in the approved text
            ner_only = (finding.recognizer in ("SpacyRecognizer", PHI_NER, "name_propagation")
                        or finding.recognizer.startswith("context:"))
            warning = ner_only and all(in_text(w, approved.get(name, ""))
                                       for w in re.findall(r"[A-Za-z0-9]+", span))
            hits.append(ResidualHit(name, finding.start, finding.end, finding.type,
                                    f"detector {finding.recognizer}"
                                    + (" (NER, in approved text: a warning)" if warning else ""),
                                    blocking=not warning))
        folded = fold(text)
        for match in real_pattern.finditer(folded.text) if real_pattern else ():
            if match.group().strip() in rejected.get(name, set()):
                continue  # a reviewer said this is no identifier in this document
            start, end = folded.span(match.start(), match.end())
            if all(covered[start:end]):
                continue  # a surrogate we put there that happens to equal a real value
            # A real value made only of English words ("Walker", "Gross") may be the word
            # itself in another note ("uses a walker"): reported, but not blocking.
            # So is a value written here in lower case or as an acronym ("no thyromegaly",
            # "ETOH") where it was found capitalised: the same letters, another word.
            words = re.findall(r"[A-Za-z]+", match.group())
            value = next((v for v in real if v.lower() == match.group().lower()), match.group())
            # A single word no list knows ("Lisfranc", "IgA") may be a rare surname or
            # jargon: the detectors judge it here; the map's match alone only warns.
            ordinary = (all(vocabulary().is_english(w) for w in words)
                        or (len(words) == 1 and not vocabulary().is_nameish(words[0])
                            and len(re.findall(r"\d", match.group())) < 5)
                        or (match.group().islower() and not value.islower())
                        or all(w.isupper() and len(w) <= 5 for w in words))
            hits.append(ResidualHit(name, start, end, "KNOWN_REAL_VALUE",
                                    "a real identifier from the surrogate map"
                                    + (" (an ordinary word here: a warning)" if ordinary else ""),
                                    blocking=not ordinary))
    return hits
