"""Augmentation: train-split Pairs -> extra Pairs that ask about the same case in other
words, so a small set of reports teaches the task rather than one wording.

Four methods, each meant to leave the medical meaning as it was:
- ``abbreviations``: a dictionary abbreviation expanded ("SOB" -> "shortness of
  breath") or an expansion contracted, from the project's abbreviations.tsv;
- ``synonyms``: a term swapped for another of its group in data/synonyms.tsv
  ("dyspnea" -> "breathlessness");
- ``fillers``: a few non-clinical filler words deleted ("also", articles);
- ``paraphrase``: the instruction (never the case) reworded by a local model.

Only the question changes; the answer a person wrote or checked stays as it is. Each
result is checked against its source and dropped unless it keeps every clinical fact:
the same numbers, negations and protected clinical words (drugs, units, anatomy, ...).
Augmented pairs carry their method (``Pair.augmented``); a person reviews them before
they are trained on (pipeline/augment.py).
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from medllm_local.core.abbreviations import DATA, Abbreviation
from medllm_local.core.prompts import SECTION_TITLES
from medllm_local.core.records import Pair

METHODS = ("abbreviations", "synonyms", "fillers", "paraphrase")
SYNONYMS_FILE = DATA / "synonyms.tsv"

# Abbreviations with a second common meaning in reports (PE: physical examination, RA:
# room air, CVA: costovertebral angle, CAP: capsule, MS: mitral stenosis, PCP:
# pneumocystis pneumonia, PID: prolapsed disc): rewriting them could change the case.
AMBIGUOUS = frozenset({"PE", "RA", "CVA", "CAP", "MS", "PCP", "PID"})
# Words that negate a finding. A change may never add or remove one ("NKDA" expands to
# "no known drug allergies", so rows whose expansion holds one are not used).
NEGATIONS = frozenset({"no", "not", "denies", "denied", "deny", "without", "negative",
                       "never", "none", "nil", "absent", "neither", "nor"})
# Filler words whose deletion leaves a clinical sentence meaning the same. Articles only
# before a lower-case word, and "a" kept where it counts ("a few", "once a day").
FILLERS = frozenset({"also", "really", "actually", "basically", "essentially", "please",
                     "the", "a", "an"})
KEEP_ARTICLE_BEFORE = frozenset({"few", "little", "lot", "bit", "couple", "day", "week",
                                 "month", "year", "hour", "night", "minute", "time"})
FILLER_SHARE = 0.35  # of the filler words in a case, deleted in one variant
REPLACE_SHARE = 0.5  # of the dictionary terms in a case, rewritten in one variant
ATTEMPTS_PER_VARIANT = 3  # tries before a method gives up on one more distinct variant

# Paraphrase: the words each task's instruction must keep, so it still asks the same.
TASK_WORDS = {"diagnosis": ("diagnos",), "differential": ("differential",),
              "treatment": ("treat", "manag", "plan")}
PARAPHRASE_PROMPT = ("Rewrite the following instruction in different words with the same "
                     "meaning. Reply with the rewritten instruction only.\n\nInstruction: {}")

# A request, as every template is: a question, or an imperative (after an optional
# "Based on the report, ..."). A weak model often answers the instruction instead.
_REQUEST = re.compile(
    r"^(?:(?:based on|using|from|given|for|after reading|considering|with)\b[^,]{0,60},\s*)?"
    r"(?:what|which|give|list|name|state|provide|write|outline|describe|identify|rank|suggest|"
    r"propose|read|determine|tell|offer|present|prepare|draft|formulate|produce|explain|please)\b",
    re.IGNORECASE)
_TOKEN = re.compile(r"\d+(?:[.,/:]\d+)*|[A-Za-z][A-Za-z'-]*")
_SENTENCE_START = re.compile(r"(?:^|[.:!?\n])\s*$")
# The titles the case is written with (prompts.case_text): never rewritten, so an
# augmented case reads like every other ("History of present illness", not "h/o ...").
_TITLE = re.compile(r"(?m)^(?:Report|Diagnosis|" + "|".join(map(re.escape, SECTION_TITLES.values()))
                    + r"):")

# (instruction, variant number) -> the model's rewording of the instruction
Rephrase = Callable[[str, int], str]


def parse_synonyms(text: str) -> list[tuple[str, ...]]:
    """Groups of a synonyms file: one group a line, terms tab-separated, lower case."""
    groups = []
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            terms = tuple(t.strip().lower() for t in line.split("\t") if t.strip())
            if len(terms) >= 2:
                groups.append(terms)
    return groups


def _phrase_pattern(phrases: Iterable[str], ignore_case: bool) -> re.Pattern | None:
    """Whole-word matches of any phrase, longest first (so "congestive heart failure"
    wins over "heart failure"), across line breaks (reports wrap lines)."""
    alternatives = sorted(set(phrases), key=len, reverse=True)
    if not alternatives:
        return None
    body = "|".join(re.escape(p).replace(r"\ ", r"\s+") for p in alternatives)
    return re.compile(rf"(?<![\w/-])(?:{body})(?![\w/-])", re.IGNORECASE if ignore_case else 0)


def _normal(phrase: str) -> str:
    return " ".join(phrase.lower().split())


@dataclass
class Vocabulary:
    """What the text methods may rewrite and what they must keep: the abbreviation rows,
    the synonym groups, and the protected clinical words (the medical word list less the
    words the dictionaries themselves exchange)."""

    abbreviations: list[tuple[str, str]]  # (canonical, expansion)
    synonym_groups: list[tuple[str, ...]]
    protected: frozenset[str]
    _expand: re.Pattern | None = field(init=False, repr=False)
    _contract: re.Pattern | None = field(init=False, repr=False)
    _synonym: re.Pattern | None = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.expansion_of = dict(self.abbreviations)
        self.canonical_of = {_normal(exp): canon for canon, exp in self.abbreviations}
        self.group_of = {term: group for group in self.synonym_groups for term in group}
        self._expand = _phrase_pattern(self.expansion_of, ignore_case=False)
        self._contract = _phrase_pattern(self.canonical_of, ignore_case=True)
        self._synonym = _phrase_pattern(self.group_of, ignore_case=True)

    @classmethod
    def build(cls, abbreviations: Iterable[Abbreviation], medical_words: Iterable[str],
              synonyms_text: str | None = None) -> Vocabulary:
        rows: dict[str, str] = {}
        for row in abbreviations:
            words = set(re.findall(r"[a-z]+", row.expansion))
            if row.canonical in AMBIGUOUS or words & NEGATIONS:
                continue
            if _normal(row.expansion) != row.canonical.lower():  # "covid-19" is itself
                rows.setdefault(row.canonical, row.expansion)
        groups = parse_synonyms(SYNONYMS_FILE.read_text(encoding="utf-8")
                                if synonyms_text is None else synonyms_text)
        exchanged = {word for canon, exp in rows.items() for phrase in (canon, exp)
                     for word in re.findall(r"[a-z]+", phrase.lower())}
        exchanged |= {word for group in groups for term in group for word in term.split()}
        return cls(list(rows.items()), groups, frozenset(set(medical_words) - exchanged))


def clinical_facts(text: str, vocabulary: Vocabulary) -> Counter:
    """The tokens a rewording must keep, counted: numbers, negations, protected words."""
    facts: Counter = Counter()
    for token in _TOKEN.findall(text):
        word = token.lower()
        if token[0].isdigit() or word in NEGATIONS or word.endswith("n't") or word in vocabulary.protected:
            facts[word] += 1
    return facts


def _capitalised_like(replacement: str, original: str, text: str, start: int) -> str:
    """An upper-case first letter where the original had one at a sentence start."""
    if replacement[:1].islower() and original[:1].isupper() and _SENTENCE_START.search(text[:start]):
        return replacement[:1].upper() + replacement[1:]
    return replacement


def _choose(candidates: list, share: float, rng: random.Random) -> list:
    """A random share of the candidates, never none (a variant must change something)."""
    chosen = [c for c in candidates if rng.random() < share]
    return chosen or [rng.choice(candidates)]


def _rewrite(text: str, edits: list[tuple[int, int, str]]) -> str:
    for start, end, new in sorted(edits, reverse=True):
        text = text[:start] + new + text[end:]
    return text


def _usable(spans: list[tuple[int, int, str]], text: str,
            vocabulary: Vocabulary) -> list[tuple[int, int, str]]:
    """Spans that overlap no other span (the longer wins) nor a section title, and whose
    replacement holds exactly the facts of what it replaces: a user's dictionary row such
    as "denies = reports" is never applied (two such swaps could even cancel out in a
    count over the whole text)."""
    titles = [m.span() for m in _TITLE.finditer(text)]
    spans = [s for s in spans if not any(s[0] < end and start < s[1] for start, end in titles)
             and clinical_facts(text[s[0]:s[1]], vocabulary) == clinical_facts(s[2], vocabulary)]
    kept, last_end = [], -1
    for span in sorted(spans, key=lambda s: (s[0], -(s[1] - s[0]))):
        if span[0] >= last_end:
            kept.append(span)
            last_end = span[1]
    return kept


def swap_abbreviations(text: str, vocabulary: Vocabulary, rng: random.Random) -> str:
    """Expand some abbreviations and contract some expansions, chosen at random."""
    spans = []
    for match in vocabulary._expand.finditer(text) if vocabulary._expand else ():
        new = _capitalised_like(vocabulary.expansion_of[match.group()], match.group(), text, match.start())
        spans.append((match.start(), match.end(), new))
    for match in vocabulary._contract.finditer(text) if vocabulary._contract else ():
        spans.append((match.start(), match.end(), vocabulary.canonical_of[_normal(match.group())]))
    spans = _usable(spans, text, vocabulary)
    return _rewrite(text, _choose(spans, REPLACE_SHARE, rng)) if spans else text


def swap_synonyms(text: str, vocabulary: Vocabulary, rng: random.Random) -> str:
    """Replace some dictionary terms by another term of their synonym group."""
    spans = []
    for match in vocabulary._synonym.finditer(text) if vocabulary._synonym else ():
        term = _normal(match.group())
        other = rng.choice([t for t in vocabulary.group_of[term] if t != term])
        spans.append((match.start(), match.end(),
                      _capitalised_like(other, match.group(), text, match.start())))
    spans = _usable(spans, text, vocabulary)
    return _rewrite(text, _choose(spans, REPLACE_SHARE, rng)) if spans else text


def delete_fillers(text: str, vocabulary: Vocabulary, rng: random.Random) -> str:
    """Delete some non-clinical filler words (lower case only: a capital "A" may be a
    hepatitis type, and a sentence's first word keeps its sentence readable)."""
    spans = []
    for match in re.finditer(r"(?<![\w'/-])([a-z]+) +(?=([A-Za-z0-9][\w'-]*))", text):
        word, following = match.group(1), match.group(2)
        if word not in FILLERS:
            continue
        if word in ("the", "a", "an") and (not following[0].islower()
                                            or following.lower() in KEEP_ARTICLE_BEFORE):
            continue
        spans.append((match.start(), match.end(), ""))
    spans = _usable(spans, text, vocabulary)
    return _rewrite(text, _choose(spans, FILLER_SHARE, rng)) if spans else text


def clean_paraphrase(answer: str) -> str:
    """The model's rewording as one instruction line: its first line, without quotes or
    a label such as "Rewritten instruction:"."""
    line = next((ln.strip() for ln in answer.strip().splitlines() if ln.strip()), "")
    line = re.sub(r"^(?:rewrite|rewritten|paraphrase|paraphrased|new|here is|instruction)[^:\"]{0,40}:\s*",
                  "", line, flags=re.I)
    return line.strip(" \"'`*")


def paraphrase_problem(original: str, candidate: str, task: str, vocabulary: Vocabulary) -> str | None:
    """Why a reworded instruction may not replace the original (None: it may). It must
    still ask for the same task, be a sentence of sensible length, keep every number and
    negation, and bring in no number, negation or clinical word of its own (it may not
    drop or invent facts)."""
    words = _TOKEN.findall(candidate)
    if not 3 <= len(words) <= 2 * len(_TOKEN.findall(original)) + 5:
        return "length"
    # One instruction, complete: cut off at the token budget, or followed by the model's
    # own commentary, it is something else.
    if not candidate.endswith((".", "?")) or \
            len(re.findall(r"[.?!](?:\s|$)", candidate)) > len(re.findall(r"[.?!](?:\s|$)", original)):
        return "not one complete instruction"
    if re.search(r"\b(?:I|we|me|us|our|my)\b", candidate, re.IGNORECASE):
        return "speaks as itself"
    if not (candidate.endswith("?") or _REQUEST.match(candidate)):
        return "not a request"
    if _normal(candidate).strip(".") == _normal(original).strip("."):
        return "unchanged"
    if not any(stem in candidate.lower() for stem in TASK_WORDS.get(task, ("",))):
        return "task"
    before, after = clinical_facts(original, vocabulary), clinical_facts(candidate, vocabulary)
    if after - before:
        return "new facts"
    # Every number and negation stays, as often; a protected word said twice may be said once.
    if any(after[word] < count for word, count in before.items()
           if word[0].isdigit() or word in NEGATIONS or word.endswith("n't")):
        return "lost facts"
    return None


def paraphrased_instruction(instruction: str, answer: str, task: str,
                            vocabulary: Vocabulary) -> str | None:
    """The validation of one paraphrase: the model's ``answer`` as the new instruction,
    or None when it may not replace ``instruction`` (see ``paraphrase_problem``)."""
    candidate = clean_paraphrase(answer)
    return None if paraphrase_problem(instruction, candidate, task, vocabulary) else candidate


@dataclass
class AugmentReport:
    """What augmentation made: the new pairs, and per method the tries and the results
    kept (the rest changed nothing, repeated a variant, or failed the fact check)."""

    pairs: list[Pair] = field(default_factory=list)
    tried: Counter = field(default_factory=Counter)
    kept: Counter = field(default_factory=Counter)


def _variant(pair: Pair, method: str, attempt: int, vocabulary: Vocabulary, seed: int,
             rephrase: Rephrase | None) -> str | None:
    """The user turn of one variant, or None where the method found nothing to do."""
    user = pair.question
    instruction, sep, case = user.partition("\n\n")
    if not sep:
        instruction, case = "", user
    rng = random.Random(f"{seed}:{pair.document_id}:{pair.task}:{method}:{attempt}")
    if method == "paraphrase":
        if rephrase is None or not instruction:
            return None
        candidate = paraphrased_instruction(instruction, rephrase(instruction, attempt), pair.task,
                                            vocabulary)
        if candidate is None:
            return None
        new_case = case
        instruction = candidate
    elif method == "abbreviations":
        new_case = swap_abbreviations(case, vocabulary, rng)
    elif method == "synonyms":
        new_case = swap_synonyms(case, vocabulary, rng)
    elif method == "fillers":
        new_case = delete_fillers(case, vocabulary, rng)
    else:
        raise ValueError(f"unknown augmentation {method!r}; known: {', '.join(METHODS)}")
    # The guard every method passes: each clinical fact of the case is still there, and
    # none was added.
    if clinical_facts(new_case, vocabulary) != clinical_facts(case, vocabulary):
        return None
    return f"{instruction}{sep}{new_case}" if sep else new_case


def augment_pairs(pairs: list[Pair], methods: list[str], per_pair: int, vocabulary: Vocabulary,
                  seed: int = 13, rephrase: Rephrase | None = None) -> AugmentReport:
    """Up to ``per_pair`` distinct variants of each pair by each method, each flagged
    with its method. Repeatable: the same pairs and seed give the same variants."""
    unknown = set(methods) - set(METHODS)
    if unknown:
        raise ValueError(f"unknown augmentation {', '.join(sorted(unknown))}; known: {', '.join(METHODS)}")
    report = AugmentReport()
    for pair in pairs:
        seen = {pair.question}
        for method in methods:
            made = 0
            for attempt in range(per_pair * ATTEMPTS_PER_VARIANT):
                if made == per_pair:
                    break
                report.tried[method] += 1
                user = _variant(pair, method, attempt, vocabulary, seed, rephrase)
                if user is None or user in seen:
                    continue
                seen.add(user)
                made += 1
                report.kept[method] += 1
                variant = Pair(task=pair.task, messages=[dict(m) for m in pair.messages],
                               document_id=pair.document_id, reference=pair.reference, augmented=method)
                variant.question = user
                report.pairs.append(variant)
    return report


def load_user_synonyms(path: Path) -> str | None:
    """A workspace's own synonyms file laid after the project's, if it has one."""
    if not path.exists():
        return None
    return SYNONYMS_FILE.read_text(encoding="utf-8") + "\n" + path.read_text(encoding="utf-8")
