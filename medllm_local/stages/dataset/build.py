"""Dataset: de-identified reports -> (instruction, response) pairs -> train / validation /
test splits, and the dataset's card (the chat-data formats are in formats.py).

Pairs come from the report's own sections (core/sections.py): the most likely diagnosis, the
ranked differential and the plan are the targets; the history, examination and results
are the input, and a target section never appears in its own input. Splits are made by
document (by patient when known), never by pair, so no case is on both sides.
"""

from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass
from typing import Literal

from medllm_local.core.prompts import SYSTEM_PROMPT, case_prompt, case_text, differential_answer
from medllm_local.core.records import Pair
from medllm_local.core.sections import main_diagnosis, numbered_items, parse_sections
from medllm_local.core.settings import Settings, setting

@dataclass
class BuildSettings(Settings):
    """How pairs and splits are made (the CLI's build options)."""

    tasks: tuple[Literal["diagnosis", "differential", "treatment"], ...] = setting(
        ("diagnosis", "differential", "treatment"), "the pairs made from each report")
    validation_fraction: float = setting(0.15, "share of documents", minimum=0, maximum=0.9)
    test_fraction: float = setting(0.15, "share of documents", minimum=0, maximum=0.9)
    min_test_documents: int = setting(1, "at least this many documents in test (when there are 3 or more)",
                                      minimum=0)
    seed: int = setting(13, "fixed seed: the same documents, the same splits", advanced=True)
    grow_test: bool = setting(False, "let new documents join a test split that is frozen (used by an "
                                     "evaluation)", advanced=True)
    augment: tuple[Literal["abbreviations", "synonyms", "fillers", "paraphrase"], ...] = setting(
        (), "augment the train split (paraphrase uses the local model; slow); only pairs a person "
            "accepted are written")
    augment_per_pair: int = setting(1, "at most this many variants of each train pair per augmentation "
                                       "method", minimum=1, maximum=20)
    paraphrase_model: str = setting("", "GGUF that rewords instructions (default: the embedded model)",
                                    advanced=True)
    paraphrase_tokens: int = setting(48, "most tokens of one reworded instruction", minimum=8, maximum=256,
                                     advanced=True)

    def check(self) -> None:
        if not self.tasks:
            raise ValueError("--tasks: give at least one of diagnosis, differential, treatment")
        if self.validation_fraction + self.test_fraction >= 1:
            raise ValueError("validation and test fractions must sum below 1")


@dataclass
class DocumentPairs:
    """What one document gave: its pairs, the sections found, or why it gave none."""

    document_id: int
    pairs: list[Pair]
    sections: list[str]
    problem: str | None = None


def pairs_for_document(document_id: int, text: str, tasks: list[str]) -> DocumentPairs:
    """The pairs one de-identified report gives, one phrasing per task chosen by the
    document (so the wording varies across the dataset but a rebuild is identical)."""
    parsed = parse_sections(text)
    case = case_text(parsed.sections)  # core/prompts.py: the chat's case form too
    if not case:
        return DocumentPairs(document_id, [], parsed.found, "no history or findings sections found")
    phrasing = int(hashlib.sha256(str(document_id).encode()).hexdigest(), 16) % 3
    diagnosis = main_diagnosis(parsed)
    targets: dict[str, tuple[str, str | None]] = {}
    if "diagnosis" in tasks and diagnosis:
        targets["diagnosis"] = (diagnosis, None)
    differential = numbered_items(parsed.sections.get("differential", ""))
    if "differential" in tasks and len(differential) >= 2:
        targets["differential"] = (differential_answer(differential), None)
    plan = parsed.sections.get("plan") or parsed.sections.get("assessment_plan")
    if "treatment" in tasks and plan and diagnosis:
        targets["treatment"] = (plan.strip(), diagnosis)
    pairs = []
    for task, (answer, given_diagnosis) in targets.items():
        prompt = case_prompt(task, case, phrasing, diagnosis=given_diagnosis)
        leaked = answer if task == "diagnosis" else differential[0] if task == "differential" else ""
        if leaked and leaked.lower() in prompt.lower():
            continue  # the answer is written in the input itself: no question left to ask
        pairs.append(Pair(task=task, document_id=document_id, reference=answer, messages=[
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": prompt},
            {"role": "assistant", "content": answer}]))
    problem = None if pairs else "no diagnosis, differential or plan could be read"
    return DocumentPairs(document_id, pairs, parsed.found, problem)


def scanned_text(pair: Pair) -> str:
    """What of a pair the residual scan reads before it leaves the workspace: the
    question and the answer (the system prompt is the project's own)."""
    return f"{pair.question}\n{pair.answer}"


def case_key(pair: Pair) -> tuple[str, str, str]:
    """The case without its phrasing, and the answer: one report ingested twice (a PDF
    and a scan, say) gives the same key whatever phrasing each copy drew."""
    return (pair.task, pair.question.split("\n\n", 1)[-1], pair.answer)


# Two texts are one report when this share of the shorter one's word 5-grams is in the
# other: the same visit as a PDF and as a TXT, or a scan and its typed copy, differ in
# line breaks, headers and OCR slips, not in most of their 5-grams.
DUPLICATE_CONTAINMENT = 0.6
_SKETCH = 24  # smallest shingle hashes per text used to find candidate pairs
_COMMON = 50  # documents kept per sketch hash: beyond, a 5-gram is template, not a case


def _shingles(text: str) -> set[int]:
    words = re.findall(r"[a-z0-9]+", text.lower())
    # a stable hash (not hash(): it changes per process), so a build finds the same pairs
    return {int.from_bytes(hashlib.blake2b(" ".join(words[i:i + 5]).encode(), digest_size=8).digest(), "big")
            for i in range(max(1, len(words) - 4))} if words else set()


def split_groups(patients: dict[int, str | None], texts: dict[int, str]) -> dict[int, str]:
    """document id -> the group that must stay in one split: documents of one patient,
    and documents that are the same report (see DUPLICATE_CONTAINMENT) unless they are of
    two different known patients (then they share a template, not a visit). A group is
    named by its patient when one is known, else by its first document, so a group keeps
    its name (and its split) across builds."""
    parent = {doc: doc for doc in patients}
    known = {doc: {patient} if patient else set() for doc, patient in patients.items()}  # per root

    def root(doc: int) -> int:
        while parent[doc] != doc:
            parent[doc] = parent[parent[doc]]
            doc = parent[doc]
        return doc

    def join(a: int, b: int) -> None:
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
            known[min(ra, rb)] |= known[max(ra, rb)]

    by_patient: dict[str, int] = {}
    for doc, patient in patients.items():
        if patient:
            join(doc, by_patient.setdefault(patient, doc))
    shingles = {doc: _shingles(texts.get(doc, "")) for doc in patients}
    seen: dict[int, list[int]] = {}  # a sketch hash -> the documents that have it
    for doc in sorted(patients):
        for value in sorted(shingles[doc])[:_SKETCH]:
            for other in seen.setdefault(value, []):
                small, large = sorted((shingles[doc], shingles[other]), key=len)
                if root(doc) != root(other) and small and len(known[root(doc)] | known[root(other)]) <= 1 \
                        and len(small & large) >= DUPLICATE_CONTAINMENT * len(small):
                    join(doc, other)
            if len(seen[value]) < _COMMON:  # a template line's 5-gram: found by the others
                seen[value].append(doc)
    # a group holds at most one known patient (two never join): its name, else its first document
    return {doc: min(known[root(doc)]) if known[root(doc)] else f"document {root(doc)}"
            for doc in sorted(patients)}


def assign_splits(groups: dict[int, str], settings: BuildSettings,
                  existing: dict[int, str] | None = None, test_frozen: bool = False) -> dict[int, str]:
    """document id -> train / validation / test. Documents of one group (the patient,
    else the document itself) always land together, and a document keeps the split an
    earlier build gave it. The first build allocates exactly by the fractions (fixed
    seed); a group that arrives later is placed by a hash of its key, in proportion, and
    never in a frozen test split unless ``settings.grow_test``."""
    existing = {doc: split for doc, split in (existing or {}).items() if doc in groups}
    if not existing:
        keys = sorted(set(groups.values()))
        random.Random(settings.seed).shuffle(keys)
        n = len(keys)
        n_test = 0 if test_frozen and not settings.grow_test else round(n * settings.test_fraction)
        if n >= 3 and not (test_frozen and not settings.grow_test):
            n_test = max(n_test, min(settings.min_test_documents, n - 2))
        n_validation = round(n * settings.validation_fraction) if n - n_test >= 2 else 0
        split_of_key = {key: ("test" if i < n_test else "validation" if i < n_test + n_validation
                              else "train") for i, key in enumerate(keys)}
        return {doc: split_of_key[key] for doc, key in groups.items()}
    # a group whose documents held different splits (a duplicate found only now) goes to
    # the most held-out one: the copy in train leaves, the held-out case stays held out
    held_out = {"train": 0, "validation": 1, "test": 2}
    split_of_key: dict[str, str] = {}
    for doc, split in existing.items():
        key = groups[doc]
        if held_out.get(split, 0) >= held_out.get(split_of_key.get(key, "train"), 0):
            split_of_key[key] = split
    test_share = 0.0 if test_frozen and not settings.grow_test else settings.test_fraction
    for key in sorted(set(groups.values()) - set(split_of_key)):
        digest = hashlib.sha256(f"{settings.seed}:{key}".encode()).digest()
        u = int.from_bytes(digest[:8], "big") / 2**64
        split_of_key[key] = ("test" if u < test_share else
                             "validation" if u < test_share + settings.validation_fraction else "train")
    frozen = test_frozen and not settings.grow_test
    # a newcomer whose group is in a frozen test split goes to validation: held out from
    # training like its twin, and the test cases stay the ones evaluated so far
    return {doc: ("validation" if frozen and doc not in existing and split_of_key[key] == "test"
                  else split_of_key[key]) for doc, key in groups.items()}


TOKEN_BINS = (128, 256, 512, 1024, 2048, 4096)


def pair_text(pair: Pair) -> str:
    return "\n".join(m["content"] for m in pair.messages)


def dataset_card(by_split: dict[str, list[Pair]], documents: list[DocumentPairs],
                 duplicates: int, token_lengths: list[int]) -> dict:
    """What a dataset holds: pairs per task and split, how long the pairs are in the
    base model's tokens (the choice of max sequence length rests on it), which sections
    the reports had, and how many duplicate pairs were dropped."""
    lengths = sorted(token_lengths)  # of every pair, in the base model's tokens
    histogram = {f"<={edge}": sum(1 for n in lengths if n <= edge and (i == 0 or n > TOKEN_BINS[i - 1]))
                 for i, edge in enumerate(TOKEN_BINS)}
    histogram[f">{TOKEN_BINS[-1]}"] = sum(1 for n in lengths if n > TOKEN_BINS[-1])
    sections: dict[str, int] = {}
    for document in documents:
        for name in document.sections:
            sections[name] = sections.get(name, 0) + 1
    tasks: dict[str, int] = {}
    for pairs in by_split.values():
        for pair in pairs:
            tasks[pair.task] = tasks.get(pair.task, 0) + 1
    return {
        "pairs_per_task": tasks,
        "pairs_per_split": {split: {task: sum(p.task == task for p in pairs) for task in tasks}
                            for split, pairs in by_split.items()},
        "tokens": {"histogram": histogram, "max": lengths[-1] if lengths else 0,
                   "p95": lengths[int(0.95 * (len(lengths) - 1))] if lengths else 0},
        "documents": len(documents),
        "documents_per_section": sections,
        "duplicate_pairs_removed": duplicates,
    }
