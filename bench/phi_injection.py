"""A labelled PHI benchmark made from real clinical notes: identifiers of every Safe
Harbor type are inserted at known offsets, in realistic forms and cases (a share of the
notes in ALL CAPS, as nursing notes often are), so span recall per type can be scored.

Used by bench/deid.py (full size) and tests/test_deid_benchmark.py (small size).
"""

from __future__ import annotations

import csv
import random
import re
from dataclasses import dataclass
from pathlib import Path

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
STATES = ["OR", "CA", "TX", "NY", "MA", "IL", "WA", "FL", "OH", "GA"]
FACILITY_KINDS = ["Hospital", "Medical Center", "Clinic", "Health Center", "Infirmary"]


@dataclass
class LabelledNote:
    text: str
    spans: list[tuple[int, int, str]]  # (start, end, type) of each inserted identifier


def real_notes(limit: int, rng: random.Random) -> list[str]:
    """A sample of ACI-Bench full notes and MTS-Dialog note sections (both CC BY 4.0)."""
    notes = []
    for split in ("train", "valid"):
        with (SHARED / "aci_bench" / f"{split}.csv").open(encoding="utf-8") as handle:
            notes += [row["note"] for row in csv.DictReader(handle)]
    with (SHARED / "mts_dialog" / "MTS-Dialog-TrainingSet.csv").open(encoding="utf-8") as handle:
        notes += [row["section_text"] for row in csv.DictReader(handle) if len(row["section_text"]) > 200]
    return rng.sample(notes, min(limit, len(notes)))


def _templates(fake, rng: random.Random) -> list[list[tuple[str, str | None]]]:
    """Sentences as (text, type) pieces; type None is plain text around identifiers."""
    first, last = fake.first_name(), fake.last_name()
    doctor_first, doctor_last = fake.first_name(), fake.last_name()
    dob = fake.date_of_birth(minimum_age=20, maximum_age=88)
    visit = fake.date_between(start_date="-3y", end_date="today")
    date_forms = [visit.strftime("%m/%d/%Y"), f"{visit.month}/{visit.day}/{visit.strftime('%y')}",
                  visit.strftime("%B %-d, %Y"), visit.strftime("%-d %B %Y"),
                  f"{visit.month}/{visit.day}", visit.strftime("%b %-d")]
    phone = rng.choice([f"({fake.numerify('###')}) {fake.numerify('###-####')}",
                        fake.numerify("###-###-####"), fake.numerify("###.###.####")])
    city, state, zipcode = fake.city(), rng.choice(STATES), fake.numerify("#####")
    facility = f"{fake.last_name()} {rng.choice(FACILITY_KINDS)}"
    return [
        [("Patient: ", None), (f"{first} {last}", "PERSON"), (".", None)],
        [("DOB: ", None), (dob.strftime("%m/%d/%Y"), "DATE_TIME"), ("    MRN: ", None),
         (fake.numerify("#######"), "ID"), (".", None)],
        [("Seen again on ", None), (rng.choice(date_forms), "DATE_TIME"), (" by Dr. ", None),
         (f"{doctor_first} {doctor_last}", "PERSON"), (".", None)],
        [("Mr. ", None), (last, "PERSON"), (" was advised to call ", None), (phone, "PHONE_NUMBER"),
         (" with questions.", None)],
        [("Lives at ", None), (fake.street_address(), "LOCATION"), (", ", None),
         (f"{city}, {state} {zipcode}", "LOCATION"), (".", None)],
        [("Transferred from ", None), (facility, "FACILITY"), (" for further care.", None)],
        [("Account number: ", None), (fake.bothify("AC-########"), "ID"), ("; health plan ID: ", None),
         (fake.bothify("HP#########"), "ID"), (".", None)],
        [("Contact: ", None), (fake.email(), "EMAIL_ADDRESS"), (" or ", None),
         (f"https://{fake.domain_name()}/chart/{fake.numerify('####')}", "URL"), (".", None)],
        [("SSN ", None), (fake.ssn(), "US_SSN"), (". Device serial: ", None),
         (fake.bothify("SN-#####-??").upper(), "ID"), (".", None)],
        [("Her mother is a ", None), (str(rng.randint(90, 104)), "AGE"), ("-year-old woman.", None)],
        [("Signed: ", None), (f"{doctor_first} {doctor_last}", "PERSON"), (", MD", None)],
        [("Workstation ", None), (fake.ipv4_private(), "IP_ADDRESS"), (" logged the order.", None)],
    ]


def make_benchmark(count: int, seed: int = 7, caps_share: float = 0.25,
                   per_note: int = 6) -> list[LabelledNote]:
    """``count`` notes, each with ``per_note`` inserted identifier sentences."""
    from faker import Faker

    fake = Faker("en_US")
    fake.seed_instance(seed)
    rng = random.Random(seed)
    labelled = []
    for note in real_notes(count, rng):
        caps = rng.random() < caps_share
        sentences = rng.sample(_templates(fake, rng), per_note)
        # insert at sentence ends (after ". " or a newline), never inside a word
        cuts = sorted(rng.sample([m.end() for m in re.finditer(r"(?<=[.\n])\s", note)] or [len(note)],
                                 k=min(per_note, max(1, len(re.findall(r"(?<=[.\n])\s", note))))))
        text, spans, position = "", [], 0
        for cut, sentence in zip(cuts + [len(note)] * per_note, sentences):
            text += note[position:cut]
            position = cut
            for piece, kind in sentence:
                piece = piece.upper() if caps else piece
                if kind:
                    spans.append((len(text), len(text) + len(piece), kind))
                text += piece
            text += " "
        text += note[position:]
        labelled.append(LabelledNote(text.upper() if caps else text, spans))
    return labelled


def score(notes: list[LabelledNote], findings: list[list]) -> dict:
    """Span recall per type (an inserted identifier counts as found when findings cover
    every character of it), and the share of findings that touch an inserted identifier
    (a lower bound on precision: the real notes carry a few identifiers of their own)."""
    per_type: dict[str, list[int]] = {}
    touching = total = 0
    for note, found in zip(notes, findings):
        covered = [(f.start, f.end) for f in found]
        for start, end, kind in note.spans:
            hit = all(any(s <= i < e for s, e in covered) for i in range(start, end))
            per_type.setdefault(kind, [0, 0])[0 if hit else 1] += 1
        total += len(found)
        touching += sum(1 for f in found if any(f.start < e and s < f.end for s, e, _ in note.spans))
    recall = {k: round(v[0] / sum(v), 4) for k, v in sorted(per_type.items())}
    hits = sum(v[0] for v in per_type.values())
    spans = sum(sum(v) for v in per_type.values())
    return {"span_recall": round(hits / max(spans, 1), 4), "recall_by_type": recall,
            "spans": spans, "precision_lower_bound": round(touching / max(total, 1), 4)}
