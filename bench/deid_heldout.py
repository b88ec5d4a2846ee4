"""Held-out de-identification benchmark: labelled notes written independently of the rules.

The notes imitate the material the tool sees (ICU nursing notes in the PhysioNet "deid"
style, MD progress notes, short event notes, transfer notes and longer narrative notes):
terse shorthand lines, ALL CAPS, all lower-case or mixed case, identifiers in many forms.
Clinical filler comes from the shared data (MTS-Dialog sections, ACI-Bench notes,
AgentClinic exam and test findings), reshaped to be terse; the identifier-bearing lines
come from templates in this file, filled with Faker names from many locales, the
ACI-Bench patient names, real and generated towns, facilities, numbers and dates.

Every note carries gold spans ``(start, end, type)``; a span is the identifier only (no
"Dr.", "MRN", "pager" or "yo"). Types: PERSON, DATE, AGE, ID, PHONE, LOCATION, FACILITY,
CONTACT, OTHER. Each span also has a *form* (``note.forms[i]``), the template family it
came from, for the tuning-half breakdown.

The split is fixed by the seed, and the held-out half draws its names, towns, streets and
facility names from pools disjoint from the tuning half's, so fixing what the tuning half
misses cannot memorise the held-out identifiers.

    python bench/deid_heldout.py [--notes 400] [--seed 7] [--half heldout|tuning|both]

Misses are printed for the tuning half only; the held-out half is for reporting numbers.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import re
import sys
import time
import unicodedata
import zlib
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Callable, NamedTuple, Sequence

SHARED_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
TYPES = ("PERSON", "DATE", "AGE", "ID", "PHONE", "LOCATION", "FACILITY", "CONTACT", "OTHER")


class Span(NamedTuple):
    start: int
    end: int
    type: str


@dataclass
class LabelledNote:
    text: str
    spans: list[Span]
    forms: list[str] = field(default_factory=list)  # parallel to spans: template family
    style: str = ""
    case: str = "mixed"
    half: str = ""  # "tuning" or "heldout" (set by make_notes from the seed)


# --------------------------------------------------------------------------------------
# Clinical vocabulary: words the filler uses on purpose; touching them is clinical harm.
# --------------------------------------------------------------------------------------

BRAND_DRUGS = (
    "Protonix Zoloft Nexium Toprol Lasix Coumadin Plavix Lipitor Norvasc Lopressor Xarelto "
    "Eliquis Keppra Flagyl Zosyn Levophed Precedex Ativan Haldol Dilaudid Tylenol Colace "
    "Senna Lovenox Bactrim Cipro Levaquin Solumedrol Decadron Zofran Reglan Ambien Seroquel "
    "Synthroid Lantus Humalog Flomax Prilosec Aldactone Cardizem Lanoxin Neurontin Percocet "
    "Vicodin Ultram Motrin Benadryl Atrovent Ceftriaxone Vasotec Xanax").split()
GENERIC_DRUGS = (
    "heparin metoprolol furosemide pantoprazole warfarin insulin vancomycin piperacillin "
    "norepinephrine propofol fentanyl midazolam lorazepam morphine acetaminophen amiodarone "
    "diltiazem digoxin lisinopril atorvastatin aspirin metformin prednisone albuterol "
    "ipratropium azithromycin famotidine ondansetron enoxaparin").split()
FINDINGS = (
    "murmur dysphagia edema crackles wheezes rhonchi tachycardia bradycardia hypotension "
    "fever chills nausea vomiting diarrhea constipation dyspnea orthopnea syncope jaundice "
    "ascites erythema cyanosis diaphoresis lethargy confusion agitation seizure tremor rash "
    "hematuria melena effusion pneumonia sepsis").split()
ANATOMY = (
    "abdomen chest lungs heart liver kidney spleen bowel bladder extremities pupils sternum "
    "groin flank pelvis trachea carotid femoral").split()
SECTION_WORDS = (
    "Denies Positive Negative Evaluation Rate Cough Nose Mouth Abnormal Normal Rhythm Neck "
    "Throat Eyes Ears Skin Neuro Plan Assessment Impression Constitutional General "
    "Extremities Psych").split()
EPONYMS = "Foley Doppler Babinski Romberg Trendelenburg".split()
CLINICAL_WORDS: tuple[str, ...] = tuple(dict.fromkeys(
    BRAND_DRUGS + GENERIC_DRUGS + FINDINGS + ANATOMY + SECTION_WORDS + EPONYMS))
_CLIN_RE = re.compile(r"(?<![A-Za-z])(" + "|".join(sorted(CLINICAL_WORDS, key=len, reverse=True))
                      + r")(?![A-Za-z])", re.IGNORECASE)

# --------------------------------------------------------------------------------------
# Name, place and facility pools
# --------------------------------------------------------------------------------------

LOCALES = (("en_US", 28), ("en_GB", 5), ("en_IE", 3), ("ga_IE", 3), ("es_MX", 7), ("es_ES", 3),
           ("it_IT", 4), ("de_DE", 4), ("pl_PL", 4), ("vi_VN", 4), ("en_IN", 6), ("yo_NG", 3),
           ("ig_NG", 2), ("zu_ZA", 3), ("fr_FR", 3), ("tr_TR", 3), ("pt_BR", 4), ("fil_PH", 2),
           ("cs_CZ", 2), ("hu_HU", 2), ("nl_NL", 2), ("sv_SE", 1), ("fi_FI", 1), ("ro_RO", 2),
           ("hr_HR", 1), ("tw_GH", 2), ("sw", 1), ("id_ID", 2), ("ha_NG", 1), ("en_PH", 1))

REAL_TOWNS = (
    "Worcester Quincy Framingham Brockton Lowell Lynn Natick Revere Chelsea Malden Medford "
    "Dedham Needham Braintree Weymouth Waltham Newton Somerville Cambridge Everett Salem "
    "Peabody Haverhill Lawrence Methuen Fitchburg Leominster Springfield Holyoke Chicopee "
    "Pittsfield Taunton Plymouth Marlborough Milford Attleboro Gloucester Beverly Andover "
    "Billerica Woburn Reading Canton Milton Sharon Concord Lincoln Hudson Dover Lexington "
    "Arlington Nashua Manchester Providence Pawtucket Hartford Bangor Burlington Albany "
    "Scranton Dayton Toledo Fresno Tucson Boise Duluth Hyannis Mashpee Dorchester Roxbury "
    "Mattapan Brighton Chicopee Ludlow Agawam Westfield Saugus Stoneham Wakefield Danvers "
    "Ipswich Hingham Scituate Marshfield Norwood Walpole Foxborough Stoughton Randolph").split() + [
    "Fall River", "New Bedford", "East Boston", "West Roxbury", "Jamaica Plain", "Hyde Park",
    "North Andover", "South Boston", "El Paso", "Cape Cod", "Martha's Vineyard", "Cape Girardeau"]
SAINTS = ("Albans", "Mary's", "Elizabeth's", "Vincent", "Luke's", "Joseph's", "Anne's",
          "Francis", "Jude", "Catherine's", "Margaret's", "Raphael", "Agnes", "Clare's")
FAC_ADJ = ("Lakeside", "Riverside", "Hillcrest", "Northshore", "Bayview", "Fairview", "Valley",
           "Pinecrest", "Harborview", "Oakwood", "Meadowbrook", "Summit", "Greenfield",
           "Brookhaven", "Westgate", "Cedar Ridge", "Maple Grove", "Silver Lake", "Stonybrook",
           "Briarwood", "Mercy", "Evergreen", "Sunnyside", "Bellevue", "Ashford", "Kingsley")
STREET_SUFFIX = ("St", "St.", "Street", "Ave", "Ave.", "Avenue", "Rd", "Road", "Dr", "Ln", "Way",
                 "Blvd", "Ct", "Pl", "Terrace", "Hwy", "Circle")
EMAIL_DOMAINS = ("gmail.com", "yahoo.com", "hotmail.com", "aol.com", "comcast.net",
                 "verizon.net", "outlook.com", "icloud.com", "msn.com")
HAND_SURNAMES = ("O'Brien", "O'Neil", "McDonald", "D'Angelo", "DeLuca", "MacKenzie", "Van Dyke",
                 "Al-Sayed", "Garcia-Lopez", "St. Pierre", "LeBlanc", "Nguyen", "Tran", "Kowalczyk",
                 "Okonkwo", "Adeyemi", "Mbatha", "Papadopoulos", "Oyelaran", "Szymanski", "Dlamini",
                 "Fitzgerald", "Yilmaz", "Ferreira", "Bianchi", "Mahoney", "Sullivan", "Quinlan")
NICKNAMES = ("Bobby", "Liz", "Jimmy", "Sal", "Peg", "Bud", "Sonny", "Dottie", "Kathy", "Tony",
             "Patty", "Mike", "Billy", "Chuck", "Dot", "Sully", "Junior", "Rocco", "Lou", "Bea")

_TRANS = str.maketrans({"ł": "l", "Ł": "L", "ø": "o", "Ø": "O", "ß": "ss", "đ": "d", "Đ": "D",
                        "ı": "i", "İ": "I", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE", "þ": "th",
                        "ð": "d", "ə": "e", "ħ": "h", "ŋ": "ng", "ɛ": "e", "ɔ": "o", "Ɛ": "E",
                        "Ɔ": "O", "ʼ": "'", "’": "'"})
_NAME_OK = re.compile(r"[A-Za-z][A-Za-z' .-]*[A-Za-z]")


def ascii_fold(s: str) -> str | None:
    s = unicodedata.normalize("NFKD", s.translate(_TRANS))
    s = "".join(c for c in s if not unicodedata.combining(c)).strip()
    return s if s.isascii() and _NAME_OK.fullmatch(s) and len(s) <= 24 else None


def _latin(s: str) -> bool:
    return all(c in " '.-" or unicodedata.name(c, "").startswith("LATIN") for c in s)


@dataclass
class _Pool:
    firsts: list[str]
    lasts: list[str]
    cities: list[str]
    streets: list[str]
    facilities: list[tuple[str, str]]  # (full name, abbreviation or "")
    homes: list[str]                   # nursing homes / rehabs (short name)


@lru_cache(maxsize=8)
def _pools(seed: int) -> tuple[_Pool, _Pool]:
    """Two disjoint pools (tuning, heldout) of names, towns, streets and facilities."""
    from faker import Faker

    firsts: dict[str, None] = {}
    lasts: dict[str, None] = {}
    cities: dict[str, None] = {}
    streets: dict[str, None] = {}
    for k, (loc, weight) in enumerate(LOCALES):
        fk = Faker(loc)
        fk.seed_instance(seed * 1009 + k)
        for _ in range(22 * weight):
            for raw, bucket in ((fk.first_name(), firsts), (fk.last_name(), lasts)):
                folded = ascii_fold(raw)
                if folded is None:
                    continue
                # keep a few accents (Word documents keep them) in Latin-script names
                keep = raw.strip() if (raw != folded and _latin(raw.strip())
                                       and zlib.crc32(f'{raw}/{seed}'.encode()) % 10 == 0) else folded
                bucket[keep] = None
        # (it_IT is left out: its city() is not reproducible across processes)
        if loc in ("en_US", "en_GB", "de_DE", "fr_FR", "es_MX", "en_IN", "pl_PL"):
            for _ in range(4 * weight):
                c = ascii_fold(fk.city())
                if c and len(c) > 3:
                    cities[c] = None
    us = Faker("en_US")
    us.seed_instance(seed * 7919 + 1)
    for _ in range(300):
        s = ascii_fold(us.street_address())
        if s:
            streets[s] = None
    rng = random.Random(seed * 31 + 5)
    for loc_last in list(lasts)[:200]:
        if " " not in loc_last and loc_last.isascii():
            streets[f"{rng.randint(1, 999)} {loc_last} {rng.choice(STREET_SUFFIX)}"] = None
    for t in REAL_TOWNS:
        cities[t] = None
    for s in HAND_SURNAMES:
        lasts[s] = None
    for m in _aci_metadata_names():
        (firsts if m[1] == "first" else lasts)[m[0]] = None

    fac: list[tuple[str, str]] = []
    homes: list[str] = []
    last_list = [x for x in lasts if x.isascii() and " " not in x and "'" not in x]
    city_list = [c for c in cities if " " not in c]
    for s in SAINTS:
        fac.append((f"St. {s} Hospital", "S" + s[0] + "H"))
        fac.append((f"Saint {s} Medical Center", "S" + s[0] + "MC"))
    for a in FAC_ADJ:
        fac.append((f"{a} Medical Center", "".join(w[0] for w in a.split()) + "MC"))
        fac.append((f"{a} Hospital", ""))
        homes.append(a)
    for x in rng.sample(last_list, min(60, len(last_list))):
        fac.append((f"{x} Memorial Hospital", x[0] + "MH"))
        homes.append(f"{x} House")
    for c in rng.sample(city_list, min(60, len(city_list))):
        fac.append((f"{c} General Hospital", c[0] + "GH"))
        fac.append((f"{c} Medical Ctr", ""))
        homes.append(f"{c} Nursing Home")
    for x in rng.sample(last_list, min(40, len(last_list))):
        homes.append(f"{x} Manor")
        homes.append(f"{x} Rehab")

    def halve(items: list) -> tuple[list, list]:
        items = list(dict.fromkeys(items))
        random.Random(seed * 101 + len(items)).shuffle(items)
        return items[0::2], items[1::2]

    parts = [halve(list(x)) for x in (firsts, lasts, cities, streets, fac, homes)]
    return (_Pool(*(p[0] for p in parts)), _Pool(*(p[1] for p in parts)))


# --------------------------------------------------------------------------------------
# Shared data: filler sentences and ACI-Bench notes
# --------------------------------------------------------------------------------------

MONTHS = ("January February March April May June July August September October November "
          "December").split()
MON3 = [m[:3] for m in MONTHS]
WEEKDAYS = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()
_STATES = ("Alabama Alaska Arizona Arkansas California Colorado Connecticut Delaware Florida "
           "Georgia Hawaii Idaho Illinois Indiana Iowa Kansas Kentucky Louisiana Maine Maryland "
           "Massachusetts Michigan Minnesota Mississippi Missouri Montana Nebraska Nevada Ohio "
           "Oklahoma Oregon Pennsylvania Tennessee Texas Utah Vermont Virginia Washington "
           "Wisconsin Wyoming Boston York Jersey Carolina Dakota Mexico Canada").split()
_PLACE_WORDS = ("Hospital Clinic Center Centre Medical University College County City Street "
                "Avenue Road Institute Health Care Home Manor General Memorial Rehab Valley Lake "
                "Church School Company Corporation Inc Department Army Navy Marine Church Club Correctional "
                "Facility Automotive Co Walmart Wal-Mart T-Mobile Customer Project Champion Genesis "
                "Purdy Winkel Chip Easton Coolidge Wichita Seattle Tacoma Sacaton Munich Newport "
                "Breckenridge Bartow UIHC Chevron Cuba Japan Korea Brazil Philippines Ukraine Zambia Germany Europe "
                "Russia Mexico Canada China India Vietnam Italy Poland Ireland").split()
_BAD_CS = re.compile(r"\b[A-Z]{2,}\d{3,}|\b(Dr|Drs|Mr|Mrs|Ms|Miss|MRS|DR|XYZ|ABC|ABCD|XXX|XX)\b|(?<![\w-])[XYZ](?![\w-])")
_GRADES = re.compile(r"\b\d/[56]\b|\b\d{1,2}/10\b")
_GRADE_CTX = re.compile(r"strength|murmur|grade|pain|motor|power|reflex", re.IGNORECASE)
_BAD_RE = re.compile(
    r"\b(doctor|dear|sincerely)\b|\bturns? (9\d|1[01]\d)\b|\b(9\d|1[01]\d)(th)? birthday|"
    r"\b\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}\b|\b(0?[1-9]|1[0-2])/(0?[1-9]|[12]\d|3[01]|\d\d)\b|"
    r"\b(19|20)\d\d\b|'\d\d\b|\b\d{3}[-. ]\d{4}\b|@|https?:|www\.|\b(9\d|1[01]\d)[- ]?"
    r"(year|yo|y/o|y\.o)|\bnineties\b|\bninety\b|\b\d{5}\b|\b(MRN|SSN)\b|\[|\]"
    r"|\b(mon|tues?|wed|thurs?|fri|sat|sun)(day)?s?\b|\bchristmas|thanksgiving|easter\b",
    re.IGNORECASE)


@lru_cache(maxsize=1)
def _name_words() -> frozenset[str]:
    """Capitalised words that would make a filler sentence carry an unlabelled identifier."""
    import importlib

    words: set[str] = set(MONTHS) | set(WEEKDAYS) | set(_STATES) | set(_PLACE_WORDS)
    for loc in ("en_US", "en_GB", "es_MX", "it_IT", "de_DE", "fr_FR", "en_IN", "pl_PL", "ga_IE",
                "en_IE", "pt_BR", "vi_VN", "yo_NG", "zu_ZA", "tr_TR"):
        try:
            mod = importlib.import_module(f"faker.providers.person.{loc}")
        except ImportError:
            continue
        for attr in ("first_names", "first_names_male", "first_names_female", "last_names"):
            for w in getattr(mod.Provider, attr, ()) or ():
                f = ascii_fold(str(w))
                if f:
                    words.update(f.split())
    words.update(t for town in REAL_TOWNS for t in town.split())
    words.update(n for n, _ in _aci_metadata_names())
    words -= set(EPONYMS) | {w.capitalize() for w in CLINICAL_WORDS}
    words -= {"Will", "Hope", "Page", "Bill", "Gene", "General"}  # kept only mid-sentence anyway
    return frozenset(words)


def _clean_sentence(s: str) -> bool:
    probe = _GRADES.sub("", s) if _GRADE_CTX.search(s) else s
    if not (12 <= len(s) <= 220) or _BAD_RE.search(probe) or _BAD_CS.search(probe):
        return False
    names = _name_words()
    toks = re.findall(r"[A-Za-z][A-Za-z'-]*", s)
    for i, t in enumerate(toks):
        base = t.split("'")[0]
        if i > 0 and base[:1].isupper() and not base.isupper() and base in names:
            return False
        if i == 0 and base in names and base not in ("The", "He", "She", "Will"):
            return False
    return True


_TITLE_DOT = re.compile(r"\b(Dr|Drs|Mr|Mrs|Ms|St|Prof|Sr|Jr)\.")


def _sentences(text: str) -> list[str]:
    out = []
    for para in re.split(r"\n\s*\n|\n", text):
        para = _TITLE_DOT.sub(lambda m: m.group(1) + "\x00", para.strip(" •-*\t"))
        for s in re.split(r"(?<=[a-z0-9)][.!?])\s+(?=[A-Z])", para):
            s = " ".join(s.replace("\x00", ".").split())
            if s:
                out.append(s)
    return out


def _read_csv(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@lru_cache(maxsize=1)
def _aci_metadata_names() -> tuple[tuple[str, str], ...]:
    out: dict[tuple[str, str], None] = {}
    for name in ("train_metadata.csv", "valid_metadata.csv"):
        path = SHARED_DATA / "aci_bench" / name
        if not path.exists():
            continue
        for row in _read_csv(path):
            for col, kind in (("patient_firstname", "first"), ("patient_familyname", "last"),
                              ("doctor_name", "last")):
                v = (row.get(col) or "").strip()
                if v and v.isalpha() and len(v) > 1:
                    out[(v[0].upper() + v[1:], kind)] = None
    return tuple(out)


@lru_cache(maxsize=1)
def _aci_notes() -> tuple[tuple[str, tuple[str, ...]], ...]:
    """(note, names of its patient) for each ACI-Bench note."""
    out = []
    for split in ("train", "valid"):
        path = SHARED_DATA / "aci_bench" / f"{split}.csv"
        meta_path = SHARED_DATA / "aci_bench" / f"{split}_metadata.csv"
        if not path.exists():
            continue
        meta = {r["encounter_id"]: r for r in _read_csv(meta_path)} if meta_path.exists() else {}
        for row in _read_csv(path):
            m = meta.get(row.get("encounter_id", ""), {})
            names = tuple(v.strip() for v in (m.get("patient_firstname", ""),
                                              m.get("patient_familyname", ""),
                                              m.get("doctor_name", "")) if v and v.strip())
            out.append((row["note"], names))
    return tuple(out)


@dataclass
class _Filler:
    sentences: list[str]           # clean narrative sentences (MTS + ACI)
    by_section: dict[str, list[str]]
    findings: list[str]            # short "key: value" findings from AgentClinic
    vitals: list[str]
    symptoms: list[str]


@lru_cache(maxsize=1)
def _filler() -> _Filler:
    sentences: list[str] = []
    by_section: dict[str, list[str]] = defaultdict(list)
    for name in ("MTS-Dialog-TrainingSet.csv", "MTS-Dialog-ValidationSet.csv"):
        path = SHARED_DATA / "mts_dialog" / name
        if not path.exists():
            continue
        for row in _read_csv(path):
            for s in _sentences(row.get("section_text", "")):
                if _clean_sentence(s):
                    sentences.append(s)
                    by_section[row.get("section_header", "")].append(s)
    for note, names in _aci_notes():
        low = {n.lower() for n in names}
        for s in _sentences(note):
            if s.isupper() or any(re.search(rf"\b{re.escape(n)}\b", s.lower()) for n in low):
                continue
            if _clean_sentence(s):
                sentences.append(s)
    findings: list[str] = []
    vitals: list[str] = []
    symptoms: list[str] = []
    path = SHARED_DATA / "agentclinic" / "agentclinic_medqa_extended.jsonl"
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            case = json.loads(line).get("OSCE_Examination", {})
            pe = case.get("Physical_Examination_Findings", {}) or {}
            vs = pe.get("Vital_Signs") if isinstance(pe, dict) else None
            if isinstance(vs, dict):
                vitals.append(_vitals_line(vs))
            for key, val in _walk(pe, ""):
                if key.lower().startswith("vital"):
                    continue
                findings.append(f"{key}: {val}")
            for key, val in _walk(case.get("Test_Results", {}) or {}, ""):
                findings.append(f"{key}: {val}")
            sym = (case.get("Patient_Actor", {}) or {}).get("Symptoms", {}) or {}
            if isinstance(sym, dict):
                for v in [sym.get("Primary_Symptom", "")] + list(sym.get("Secondary_Symptoms", []) or []):
                    if isinstance(v, str) and v:
                        symptoms.append(v)
    findings = [f for f in findings if 8 < len(f) < 160 and _clean_sentence(f)]
    symptoms = [s for s in symptoms if 3 < len(s) < 90 and _clean_sentence(s + " noted")]
    vitals = [v for v in vitals if v]
    return _Filler(sentences, dict(by_section), findings, vitals, symptoms)


def _walk(node, prefix: str):
    if isinstance(node, dict):
        for k, v in node.items():
            label = k.replace("_", " ")
            if label.lower() in ("findings", "result", "results", "value"):
                label = prefix
            yield from _walk(v, label or prefix)
    elif isinstance(node, list):
        for v in node:
            yield from _walk(v, prefix)
    elif isinstance(node, str) and node.strip():
        yield prefix or "finding", " ".join(node.split())


def _vitals_line(vs: dict) -> str:
    key = {"Temperature": "T", "Blood_Pressure": "BP", "Heart_Rate": "HR", "Respiratory_Rate": "RR",
           "Oxygen_Saturation": "SpO2", "Pulse": "P"}
    parts = []
    for k, v in vs.items():
        if isinstance(v, str) and k in key:
            v = re.sub(r"\s*\(.*?\)", "", v).replace("breaths/min", "").replace("/min", "")
            parts.append(f"{key[k]} {v.strip()}")
    return " ".join(parts)


# --------------------------------------------------------------------------------------
# Terse reshaping of narrative filler
# --------------------------------------------------------------------------------------

_TERSE = [(re.compile(p, re.IGNORECASE), r) for p, r in (
    (r"\bthe patient's\b", "pt's"), (r"\bthe patient\b", "pt"), (r"\bpatient\b", "pt"),
    (r"\bwithout\b", "w/o"), (r"\bwith\b", "w/"), (r"\bhistory of\b", "h/o"),
    (r"\bcomplain(s|ing|ed)? of\b", "c/o"), (r"\bstatus post\b", "s/p"),
    (r"\bfollow[- ]?up\b", "f/u"), (r"\bsecondary to\b", "2/2"), (r"\bshortness of breath\b", "SOB"),
    (r"\bblood pressure\b", "BP"), (r"\bheart rate\b", "HR"), (r"\bcongestive heart failure\b", "CHF"),
    (r"\bchest pain\b", "CP"), (r"\bnausea and vomiting\b", "N/V"), (r"\bmilligrams?\b", "mg"),
    (r"\bdiscontinued\b", "d/c'd"), (r"\bbilateral(ly)?\b", "bilat"), (r"\bapproximately\b", "~"),
    (r"\bdiabetes mellitus\b", "DM"), (r"\bemergency (department|room)\b", "ED"),
    (r"\bphysical therapy\b", "PT"), (r"\bno evidence of\b", "no e/o"), (r"\btreatment\b", "tx"),
    (r"\bdiagnosis\b", "dx"), (r"\bprescription\b", "rx"), (r"\bsymptoms\b", "sx"),
    (r"\bweeks?\b", "wk"), (r"\bmonths?\b", "mo"), (r"\bhours?\b", "hr"), (r"\bleft\b", "L"),
    (r"\bright\b", "R"), (r"\bincreased\b", "incr"), (r"\bdecreased\b", "decr"),
    (r"\babdominal\b", "abd"), (r"\bsecondary\b", "2ndary"))]
_DROP = re.compile(r"\b(the|a|an|is|are|was|were|has been|have been|had been|he|she|his|her|"
                   r"they|there|that|which|also|currently|reports that|states that|notes that)\b\s*",
                   re.IGNORECASE)


def _terse(s: str, rng: random.Random) -> str:
    for pat, rep in _TERSE:
        if rng.random() < 0.85:
            s = pat.sub(rep, s)
    if rng.random() < 0.8:
        s = _DROP.sub("", s)
    if rng.random() < 0.3 and "," in s:
        s = s[: s.index(",")]
    s = " ".join(s.split()).strip(" ,;")
    if rng.random() < 0.6:
        s = s.rstrip(".")
    if s and rng.random() < 0.5:
        s = s[0].lower() + s[1:]
    if rng.random() < 0.15:
        s = s.replace(" and ", " & ")
    return s


# --------------------------------------------------------------------------------------
# Note builder and the identifier generators
# --------------------------------------------------------------------------------------

Piece = tuple  # (text, type | None, form)


class _Builder:
    def __init__(self) -> None:
        self.parts: list[str] = []
        self.n = 0
        self.spans: list[Span] = []
        self.forms: list[str] = []

    def add(self, s: str) -> None:
        if s:
            self.parts.append(s)
            self.n += len(s)

    def ident(self, s: str, typ: str, form: str) -> None:
        if s:
            self.spans.append(Span(self.n, self.n + len(s), typ))
            self.forms.append(form)
            self.add(s)

    def pieces(self, ps: Sequence[Piece]) -> None:
        for text, typ, form in ps:
            if typ:
                self.ident(text, typ, form)
            else:
                self.add(text)

    def text(self) -> str:
        return "".join(self.parts)


def _lit(s: str) -> Piece:
    return (s, None, "")


class _Ctx:
    """One note's cast: patient, family, clinicians, facility, town; reused across lines."""

    def __init__(self, rng: random.Random, pool: _Pool):
        self.rng = rng
        self.pool = pool
        self.sex = rng.choice("MF")
        self.pt_first = self.first()
        self.pt_last = self.last()
        self.docs = [self.last() for _ in range(rng.randint(1, 3))]
        self.doc_firsts = [self.first() for _ in self.docs]
        self.nurse = (self.first(), self.last())
        self.family = {rel: self.first() for rel in ("wife", "husband", "dtr", "son", "sister",
                                                     "brother", "mother", "niece", "friend")}
        self.fac = rng.choice(pool.facilities)
        self.home = rng.choice(pool.homes)
        self.city = rng.choice(pool.cities)
        self.case = "mixed"

    # name draws -------------------------------------------------------------------
    def first(self) -> str:
        return self.rng.choice(self.pool.firsts)

    def last(self) -> str:
        return self.rng.choice(self.pool.lasts)

    def doc(self) -> tuple[str, str]:
        i = self.rng.randrange(len(self.docs))
        if self.rng.random() < 0.25:
            return self.first(), self.last()
        return self.doc_firsts[i], self.docs[i]

    def casing(self, s: str) -> str:
        """Per-mention casing in mixed notes: mostly as written, sometimes lower or upper."""
        r = self.rng.random()
        if self.case != "mixed":
            return s
        if r < 0.12:
            return s.lower()
        if r < 0.22:
            return s.upper()
        return s


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


def _ndigits(rng: random.Random, n: int) -> str:
    return str(rng.randint(1, 9)) + _digits(rng, n - 1)


# PERSON ------------------------------------------------------------------------------

def g_doc(c: _Ctx) -> list[Piece]:
    r = c.rng
    first, last = c.doc()
    last_c = c.casing(last)
    k = r.randrange(16)
    if k == 0:
        return [_lit("Dr. "), (last_c, "PERSON", "doc_dr.")]
    if k == 1:
        return [_lit("Dr "), (last_c, "PERSON", "doc_dr")]
    if k == 2:
        return [_lit("dr "), (last.lower(), "PERSON", "doc_dr_lower")]
    if k == 3:
        return [_lit("DR. "), (last.upper(), "PERSON", "doc_DR")]
    if k == 4:
        return [_lit("Dr."), (last_c, "PERSON", "doc_dr_nospace")]
    if k == 5:
        return [_lit("Dr "), (f"{first} {last_c}", "PERSON", "doc_full")]
    if k == 6:
        return [_lit("Dr. "), (f"{first[0]}. {last_c}", "PERSON", "doc_initial")]
    if k == 7:
        return [(last_c, "PERSON", "doc_md_suffix"), _lit(r.choice([" MD", ", MD", " M.D.", " md"]))]
    if k == 8:
        return [(f"{first} {last_c}", "PERSON", "doc_full_md"), _lit(r.choice([", MD", " MD", ", M.D."]))]
    if k == 9:
        return [_lit(r.choice(["Dr. ", "Dr ", "dr "])), (last_c, "PERSON", "doc_possessive"),
                _lit(r.choice(["'s team", "'s office", "'s service"]))]
    if k == 10:
        other = c.last()
        return [_lit(r.choice(["Drs ", "Drs. ", "drs "])), (last_c, "PERSON", "doc_pair"),
                _lit(r.choice([" and ", " & ", "/"])), (c.casing(other), "PERSON", "doc_pair")]
    if k == 11:
        return [_lit(r.choice(["Dr ", "dr. "])), (last_c, "PERSON", "doc_slash"), _lit("/"),
                (c.casing(c.last()), "PERSON", "doc_slash")]
    if k == 12:
        return [(f"{first[0]}.{r.choice('ABCDEFGHJKLMNPRSTW')}. {last_c}", "PERSON", "doc_initials")]
    if k == 13:
        return [_lit(r.choice(["DR ", "Dr "])), (last.upper(), "PERSON", "doc_caps")]
    if k == 14:
        return [_lit("Dr. "), (f"{last_c}-{c.last()}" if " " not in last else last_c, "PERSON", "doc_hyphen")]
    return [_lit(r.choice(["Doctor ", "doctor "])), (last_c, "PERSON", "doc_word")]


def g_docbare(c: _Ctx) -> list[Piece]:
    """A clinician's surname with no title (after "per", "w/", "paged", "called" ...)."""
    first, last = c.doc()
    k = c.rng.randrange(4)
    if k == 0:
        return [(c.casing(last), "PERSON", "surname_bare")]
    if k == 1:
        return [(last.lower(), "PERSON", "surname_bare_lower")]
    if k == 2:
        return [(c.casing(first), "PERSON", "firstname_bare")]
    return [(f"{first} {c.casing(last)}", "PERSON", "fullname_bare")]


def g_nurse(c: _Ctx) -> list[Piece]:
    r = c.rng
    first, last = (c.nurse if r.random() < 0.4 else (c.first(), c.last()))
    k = r.randrange(9)
    if k == 0:
        return [(c.casing(first), "PERSON", "rn_first"), _lit(" RN")]
    if k == 1:
        return [(c.casing(last), "PERSON", "rn_last"), _lit(", RN")]
    if k == 2:
        return [_lit("RN "), (c.casing(first), "PERSON", "rn_prefix")]
    if k == 3:
        return [(f"{first[0]}. {last.upper()}", "PERSON", "rn_initial_caps"), _lit(" RN/BSN")]
    if k == 4:
        return [(f"{first} {c.casing(last)}", "PERSON", "np_full"), _lit(r.choice([" NP", ", NP", " PA-C"]))]
    if k == 5:
        return [_lit(r.choice(["NP ", "PA ", "np "])), (c.casing(last), "PERSON", "np_prefix")]
    if k == 6:
        return [_lit(r.choice(["RT ", "resp therapist ", "PT "])), (c.casing(first), "PERSON", "rt_first")]
    if k == 7:
        return [_lit("(RN "), (c.casing(first), "PERSON", "rn_paren"), _lit(")")]
    return [_lit("charge nurse "), (c.casing(first), "PERSON", "charge_first")]


def g_rel(c: _Ctx) -> list[Piece]:
    r = c.rng
    rel = r.choice(["husband", "wife", "dtr", "daughter", "son", "mother", "HCP", "sister",
                    "bro", "niece", "grandson", "friend", "neighbor", "partner", "proxy"])
    first = c.family.get(rel, c.first())
    k = r.randrange(7)
    if k <= 2:
        return [_lit(rel + " "), (c.casing(first), "PERSON", "rel_first")]
    if k == 3:
        return [_lit(rel + " "), (f"{first} {c.casing(c.pt_last)}", "PERSON", "rel_full")]
    if k == 4:
        return [_lit(rel + " "), (first.lower(), "PERSON", "rel_first_lower")]
    if k == 5:
        return [_lit(f"{rel} ("), (c.casing(first), "PERSON", "rel_paren"), _lit(")")]
    return [_lit(f"{rel}, "), (c.casing(first), "PERSON", "rel_comma"), _lit(",")]


def g_family(c: _Ctx) -> list[Piece]:
    r = c.rng
    k = r.randrange(5)
    if k == 4:
        return [(c.casing(c.pt_last), "PERSON", "family_surname"), _lit(r.choice([" family at bedside", " family updated",
                                                                                 " family meeting @ 1500"]))]
    a, b, d = c.family["wife" if c.sex == "M" else "husband"], c.family["son"], c.family["dtr"]
    if k == 0:
        return [_lit(f"family ({'wife' if c.sex == 'M' else 'husband'} "), (c.casing(a), "PERSON", "family_list"),
                _lit(", son "), (c.casing(b), "PERSON", "family_list"), _lit(") in to visit")]
    if k == 1:
        return [_lit("dtrs "), (c.casing(d), "PERSON", "family_list"), _lit(r.choice([" & ", " and ", "/"])),
                (c.casing(c.first()), "PERSON", "family_list"), _lit(" at bedside")]
    if k == 2:
        return [(c.casing(b), "PERSON", "family_list"), _lit(", "), (c.casing(d), "PERSON", "family_list"),
                _lit(" and "), (c.casing(c.first()), "PERSON", "family_list"), _lit(" (children) updated")]
    return [_lit("visitors: "), (c.casing(a), "PERSON", "family_list"), _lit(" (spouse), "),
            (f"{c.first()} {c.casing(c.pt_last)}", "PERSON", "family_list"), _lit(" (brother)")]


def g_pt(c: _Ctx) -> list[Piece]:
    r = c.rng
    title = {"M": ["Mr. ", "Mr ", "mr ", "MR "], "F": ["Mrs. ", "Ms. ", "Ms ", "mrs ", "MS "]}[c.sex]
    k = r.randrange(7)
    if k <= 2:
        t = r.choice(title)
        last = c.pt_last.lower() if t.islower() else c.pt_last.upper() if t.isupper() else c.pt_last
        return [_lit(t), (last, "PERSON", "pt_title")]
    if k == 3:
        return [(f"{c.pt_first} {c.casing(c.pt_last)}", "PERSON", "pt_full")]
    if k == 4:
        return [_lit("pt "), (c.casing(c.pt_first), "PERSON", "pt_first")]
    if k == 5:
        return [(c.casing(c.pt_first), "PERSON", "pt_first")]
    return [_lit("pt prefers to be called "), (r.choice(NICKNAMES), "PERSON", "nickname")]


def g_ptheader(c: _Ctx) -> list[Piece]:
    r = c.rng
    k = r.randrange(4)
    if k == 0:
        return [(f"{c.pt_last.upper()}, {c.pt_first.upper()}", "PERSON", "header_name"), _lit("  ")] + g_mrn(c)
    if k == 1:
        return [_lit("Patient: "), (f"{c.pt_last}, {c.pt_first}", "PERSON", "header_name"),
                _lit("   DOB: ")] + g_dob(c)
    if k == 2:
        return [_lit("Name: "), (f"{c.pt_first} {c.pt_last}", "PERSON", "header_name"), _lit("  ")] + g_mrn(c)
    return [(f"{c.pt_last},{c.pt_first}", "PERSON", "header_name_nospace"), _lit("  "),
            (_ndigits(r, 7), "ID", "header_number")]


def g_sig(c: _Ctx) -> list[Piece]:
    r = c.rng
    first, last = c.nurse
    k = r.randrange(11)
    if k == 10:
        return [(f"{first[0]}.{last.upper()}", "PERSON", "sig_initial_nospace"), _lit(r.choice([" RN", "RN", ", RN/BSN"]))]
    if k == 0:
        return [(first.upper(), "PERSON", "sig_first_caps")]
    if k == 1:
        return [_lit("-"), (first.lower(), "PERSON", "sig_dash_lower")]
    if k == 2:
        return [(f"{first[0]}. {last.upper()}", "PERSON", "sig_initial_caps"), _lit(" RN/BSN")]
    if k == 3:
        return [(f"{first} {last[0]}.", "PERSON", "sig_first_initial"), _lit(", RN")]
    if k == 4:
        return [_lit("--"), (first, "PERSON", "sig_dash")]
    if k == 5:
        return [(first, "PERSON", "sig_first"), _lit(r.choice([" RN", " R.N.", "", " SN"]))]
    if k == 6:
        return [_lit("/"), ((first[0] + last[0]).lower(), "PERSON", "sig_initials"), _lit(" rn")]
    if k == 7:
        return [_lit("Electronically signed by "), (f"{first} {last}", "PERSON", "sig_esigned"),
                _lit(r.choice([", MD on ", ", RN on ", " on "]))] + g_date(c)
    if k == 8:
        return [(f"{first} {last}", "PERSON", "sig_full"), _lit(", MD PGY-2 pgr ")] + [
            (_ndigits(r, 5), "PHONE", "sig_pager")]
    return [(f"{first[0]}{last[0]}".upper(), "PERSON", "sig_initials"), _lit(" RN")]


# DATE / AGE ----------------------------------------------------------------------------

def _ymd(r: random.Random) -> tuple[int, int, int]:
    return r.randint(1998, 2024), r.randint(1, 12), r.randint(1, 28)


def _ord(d: int) -> str:
    return f"{d}{'th' if 10 <= d % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(d % 10, 'th')}"


def g_date(c: _Ctx) -> list[Piece]:
    r = c.rng
    y, m, d = _ymd(r)
    forms = [
        (f"{m}/{d}", "md_slash"), (f"{m:02d}/{d:02d}/{y}", "mdy_slash"), (f"{m}/{d}/{y % 100:02d}", "mdy_short"),
        (f"{d}-{MON3[m - 1]}", "d_mon"), (f"{d:02d}-{MON3[m - 1]}-{y}", "d_mon_y"),
        (f"{MON3[m - 1]} {_ord(d)}", "mon_ord"), (f"{MONTHS[m - 1]} {d}, {y}", "month_d_y"),
        (f"{d} {MON3[m - 1]} {y}", "d_mon_y_space"), (f"{m}.{d}.{y % 100:02d}", "mdy_dots"),
        (f"{y}-{m:02d}-{d:02d}", "iso"), (f"{MON3[m - 1].lower()} {d}", "mon_d_lower"),
        (f"{_ord(d)} of {MONTHS[m - 1]}", "ord_of_month"), (f"{m}-{d}-{y}", "mdy_dash"),
        (f"{MON3[m - 1].upper()} {d} {y}", "MON_d_y"), (f"{m}/{d}/{y}", "mdy_slash_nopad"),
        (f"{MONTHS[m - 1]} {y}", "month_year"), (f"{MON3[m - 1]}. {d}", "mon_dot_d"),
        (f"{m:02d}{d:02d}{y % 100:02d}", "mmddyy_compact"),
    ]
    text, form = r.choice(forms)
    return [(text, "DATE", form)]


def g_dob(c: _Ctx) -> list[Piece]:
    r = c.rng
    y, m, d = r.randint(1920, 1990), r.randint(1, 12), r.randint(1, 28)
    text = r.choice([f"{m:02d}/{d:02d}/{y}", f"{m}/{d}/{y % 100:02d}", f"{y}-{m:02d}-{d:02d}",
                     f"{d}-{MON3[m - 1]}-{y}"])
    return [(text, "DATE", "dob")]


def g_daterel(c: _Ctx) -> list[Piece]:
    """Dates in phrases: "on the 3rd", weekdays, holidays, month/year, at-times."""
    r = c.rng
    k = r.randrange(11)
    if k == 9:
        y, m, d = _ymd(r)
        return [_lit("from "), (f"{m}/{d}", "DATE", "range_md"), _lit(r.choice(["-", " - ", " to "])),
                (f"{m}/{d + r.randint(1, 3)}", "DATE", "range_md")]
    if k == 10:
        y, m, d = _ymd(r)
        return [(f"{m}/{d}/{y % 100:02d}", "DATE", "range_mdy"), _lit("-"),
                (f"{m}/{d + r.randint(1, 3)}/{y % 100:02d}", "DATE", "range_mdy")]
    if k == 0:
        return [_lit("on the "), (_ord(r.randint(1, 31)), "DATE", "on_the_nth")]
    if k == 1:
        w = r.choice(WEEKDAYS)
        w = r.choice([w, w.lower(), w[:3], w[:3].lower(), w[:4].lower() if w[:4] in ("Tues", "Thur") else w])
        return [_lit(r.choice(["on ", "since ", "last ", "until ", "this "])), (w, "DATE", "weekday")]
    if k == 2:
        return [_lit(r.choice(["over ", "since ", "before "])),
                (r.choice(["Christmas", "Thanksgiving", "Easter", "New Year's", "July 4th", "xmas",
                           "Memorial Day", "Labor Day"]), "DATE", "holiday")]
    if k == 3:
        m, y = r.randint(1, 12), r.randint(85, 99)
        return [(f"{m}/{y}", "DATE", "month_year_slash")]
    if k == 4:
        y, m, d = _ymd(r)
        return [(f"{m}/{d}", "DATE", "md_at_time"), _lit(f" @ {r.randint(0, 23):02d}{r.choice(['00', '30', '15'])}")]
    if k == 5:
        y, m, d = _ymd(r)
        return [_lit(r.choice(["on ", "from ", "since "])), (f"{MON3[m - 1]} {d}", "DATE", "mon_d")]
    if k == 6:
        return [_lit(r.choice(["on ", "due ", "by "])), (f"{r.randint(1, 12)}/{r.randint(1, 28)}", "DATE", "md_slash")]
    if k == 7:
        y, m, d = _ymd(r)
        return [(f"{m:02d}/{d:02d}/{y} {r.randint(0, 23):02d}:{r.randint(0, 59):02d}", "DATE", "datetime")]
    return [(f"{r.choice(MONTHS)} of {r.randint(1995, 2023)}", "DATE", "month_of_year")]


def g_histyear(c: _Ctx) -> list[Piece]:
    """Bare or short years in history lists: "MI 94", "CABG 2001", "s/p appy '87"."""
    r = c.rng
    event = r.choice(["MI", "CABG", "s/p appy", "CVA", "TIA", "PE", "DVT", "AAA repair", "TKR",
                      "L THR", "lap chole", "PPM placed", "dx'd", "stent", "CHF dx", "hyst",
                      "PCI to LAD", "breast ca s/p lumpectomy", "colon ca s/p resection"])
    y = r.randint(1975, 2019)
    k = r.randrange(5)
    if k == 0:
        return [_lit(event + " "), (f"{y % 100:02d}", "DATE", "year_2digit")]
    if k == 1:
        return [_lit(event + " "), (str(y), "DATE", "year_4digit")]
    if k == 2:
        return [_lit(event + " "), (f"'{y % 100:02d}", "DATE", "year_apostrophe")]
    if k == 3:
        return [_lit(event + " ("), (str(y), "DATE", "year_paren"), _lit(")")]
    return [_lit(event + " in "), (str(y), "DATE", "year_in")]


def g_age(c: _Ctx) -> list[Piece]:
    r = c.rng
    a = r.choice([90, 91, 92, 93, 94, 95, 96, 97, 98, 99, 101, 102, 104])
    s = c.sex
    k = r.randrange(11)
    if k == 0:
        return [(str(a), "AGE", "age_yo"), _lit(" yo")]
    if k == 1:
        return [(str(a), "AGE", "age_sex_suffix"), _lit(s)]
    if k == 2:
        return [(str(a), "AGE", "age_y/o"), _lit(f" y/o {s}")]
    if k == 3:
        return [(str(a), "AGE", "age_year_old"), _lit(r.choice([" year old", "-year-old", " yr old"]))]
    if k == 4:
        return [_lit(r.choice(["age ", "Age: ", "aged "])), (str(a), "AGE", "age_prefix")]
    if k == 5:
        return [(str(a), "AGE", "age_yo_nospace"), _lit("yo")]
    if k == 6:
        return [_lit("("), (str(a), "AGE", "age_paren"), _lit(")")]
    if k == 7:
        words = {90: "ninety", 91: "ninety-one", 92: "ninety-two", 93: "ninety-three",
                 94: "ninety-four", 95: "ninety-five", 96: "ninety-six", 97: "ninety-seven"}
        a = r.choice(list(words))
        return [_lit("aged "), (words[a], "AGE", "age_words")]
    if k == 8:
        return [(str(a), "AGE", "age_yrs"), _lit(" yrs")]
    if k == 9:
        return [(str(a), "AGE", "age_yoM"), _lit(f"yo{s}")]
    return [(str(a), "AGE", "age_sex_space"), _lit(f" {s}")]


# ID / PHONE -------------------------------------------------------------------------

def g_mrn(c: _Ctx) -> list[Piece]:
    r = c.rng
    k = r.randrange(17)
    pre, num, form = {
        14: ("MRN#", _digits(r, 7), "mrn_nospace"),
        15: ("accession # ", f"S{r.randint(10, 24)}-{_ndigits(r, 5)}", "accession"),
        16: ("(MRN ", _digits(r, 6), "mrn_paren"),
        0: ("MRN ", _digits(r, 7), "mrn"), 1: ("MRN: ", _digits(r, 8), "mrn"),
        2: ("Med Rec #", _ndigits(r, 7), "med_rec"), 3: ("unit no. ", f"{_digits(r, 3)}-{_digits(r, 2)}-{_digits(r, 2)}", "unit_no"),
        4: ("Unit No: ", _ndigits(r, 7), "unit_no"), 5: ("acct# ", _ndigits(r, 8), "acct"),
        6: ("hosp # ", _ndigits(r, 5), "hosp_no"), 7: ("SSN ", f"{_ndigits(r, 3)}-{_digits(r, 2)}-{_digits(r, 4)}", "ssn"),
        8: ("ssn: ", _ndigits(r, 9), "ssn_compact"), 9: ("MR# ", _ndigits(r, 7), "mr_hash"),
        10: ("BCBS ID ", r.choice(["XJH", "ZGP", "YLB", "W"]) + _digits(r, 9), "insurance_id"),
        11: ("Medicare # ", f"{_ndigits(r, 1)}{r.choice('ACEFGHJK')}{r.choice('ACEFGHJK')}{_digits(r, 1)}-{r.choice('ACEFGHJK')}{_digits(r, 2)}-{r.choice('ACEFGHJK')}{_digits(r, 2)}", "medicare"),
        12: ("member id ", r.choice("ABCDHMW") + _digits(r, 8), "member_id"),
        13: ("lic #", _ndigits(r, 6), "license_no"),
    }[k]
    if r.random() < 0.15:
        pre = pre.lower()
    return [_lit(pre), (num, "ID", form)] + ([_lit(")")] if form == "mrn_paren" else [])


def g_phone(c: _Ctx) -> list[Piece]:
    r = c.rng
    a = r.choice(["617", "508", "781", "978", "413", "774", "857", "339", "401", "603", "212"])
    x, y = f"{r.randint(200, 999)}", _digits(r, 4)
    k = r.randrange(17)
    if k == 16:
        return [(f"{a}-{x}-{y}", "PHONE", "with_ext"), _lit(" x"), (str(r.randint(10, 999)), "PHONE", "with_ext")]
    if k == 0:
        return [(f"{x}-{y}", "PHONE", "local7")]
    if k == 1:
        return [_lit("x"), (f"{r.randint(2, 8)}-{_digits(r, 4)}", "PHONE", "ext_dash")]
    if k == 2:
        return [_lit("x"), (_ndigits(r, 5), "PHONE", "ext5")]
    if k == 3:
        return [_lit(r.choice(["pager ", "pgr ", "Pager# "])), (_ndigits(r, 4), "PHONE", "pager4")]
    if k == 4:
        return [_lit("pgr #"), (f"{r.randint(2, 8)}-{_digits(r, 4)}", "PHONE", "pager_dash")]
    if k == 5:
        return [(f"({a}) {x}-{y}", "PHONE", "paren")]
    if k == 6:
        return [(f"{a}.{x}.{y}", "PHONE", "dots")]
    if k == 7:
        return [(f"{a}-{x}-{y}", "PHONE", "dash10")]
    if k == 8:
        return [_lit("beeper #"), (_ndigits(r, 5), "PHONE", "beeper")]
    if k == 9:
        return [_lit("cell "), (f"{a} {x} {y}", "PHONE", "spaced")]
    if k == 10:
        return [(f"{a}{x}{y}", "PHONE", "compact10")]
    if k == 11:
        return [(f"+1 {a} {x} {y}", "PHONE", "intl")]
    if k == 12:
        return [_lit("fax "), (f"{a}-{x}-{y}", "PHONE", "fax")]
    if k == 13:
        return [_lit(r.choice(["ext ", "ext. "])), (_ndigits(r, 4), "PHONE", "ext_word")]
    if k == 14:
        return [_lit("page "), (f"{r.randint(2, 8)}-{_digits(r, 4)}", "PHONE", "page_dash")]
    return [_lit("#"), (_ndigits(r, 5), "PHONE", "hash_beeper"), _lit(" (beeper)")]


# LOCATION / FACILITY ---------------------------------------------------------------

def g_city(c: _Ctx) -> list[Piece]:
    r = c.rng
    city = c.city if r.random() < 0.5 else r.choice(c.pool.cities)
    k = r.randrange(4)
    if k == 0:
        return [(city.lower(), "LOCATION", "city_lower")]
    if k == 1:
        return [(city.upper(), "LOCATION", "city_caps")]
    if k == 2:
        return [(city, "LOCATION", "city_state"), _lit(r.choice([", MA", " MA", ", NH", ", RI", ""]))]
    return [(city, "LOCATION", "city")]


def g_street(c: _Ctx) -> list[Piece]:
    r = c.rng
    st = r.choice(c.pool.streets)
    k = r.randrange(6)
    if k == 4:
        return [_lit("PO Box "), (str(r.randint(10, 9999)), "LOCATION", "po_box")]
    if k == 5:
        return [(f"{r.randint(2, 400)} {r.choice(c.pool.lasts).split()[0]} {r.choice(STREET_SUFFIX)}", "LOCATION", "street_simple"),
                _lit(r.choice([" apt ", " #", " unit "])), (f"{r.randint(1, 30)}{r.choice(['', 'B', 'A'])}", "LOCATION", "apt_no")]
    if k == 0:
        return [(st, "LOCATION", "street")]
    if k == 1:
        return [(st.lower(), "LOCATION", "street_lower")]
    if k == 2:
        return [(st, "LOCATION", "street"), _lit(", "), (c.city, "LOCATION", "city_in_address"),
                _lit(", MA "), (f"0{_digits(r, 4)}", "LOCATION", "zip")]
    return [(st.upper(), "LOCATION", "street_caps")]


def g_zip(c: _Ctx) -> list[Piece]:
    r = c.rng
    z = f"0{r.randint(1000, 2799)}"
    k = r.randrange(3)
    if k == 0:
        return [_lit("zip "), (z, "LOCATION", "zip")]
    if k == 1:
        return [_lit("MA "), (f"{z}-{_digits(r, 4)}", "LOCATION", "zip_plus4")]
    return [(c.city, "LOCATION", "city_in_address"), _lit(" MA "), (z, "LOCATION", "zip")]


def g_hosp(c: _Ctx) -> list[Piece]:
    r = c.rng
    name, abbr = c.fac if r.random() < 0.6 else r.choice(c.pool.facilities)
    k = r.randrange(6)
    if k == 0:
        return [(name.upper(), "FACILITY", "hosp_caps")]
    if k == 1 and abbr:
        return [(abbr, "FACILITY", "hosp_abbr")]
    if k == 2:
        return [(name.lower(), "FACILITY", "hosp_lower")]
    if k == 3:
        short = re.sub(r"\s+(Hospital|Medical Center|Medical Ctr|General Hospital|Memorial Hospital)$", "", name)
        return [(short, "FACILITY", "hosp_short")]
    if k == 4 and abbr:
        return [(abbr, "FACILITY", "hosp_abbr_ed"), _lit(r.choice([" ED", " ER", "-ER", " MICU"]))]
    return [(name, "FACILITY", "hosp_full")]


def g_home(c: _Ctx) -> list[Piece]:
    r = c.rng
    name = c.home if r.random() < 0.6 else r.choice(c.pool.homes)
    k = r.randrange(3)
    text = name if k == 0 else name.lower() if k == 1 else name.upper()
    return [(text, "FACILITY", "nursing_home")]


# CONTACT / OTHER --------------------------------------------------------------------

def _slug(s: str) -> str:
    return re.sub(r"[^a-z0-9]", "", s.lower())


def g_email(c: _Ctx) -> list[Piece]:
    r = c.rng
    first, last = (c.pt_first, c.pt_last) if r.random() < 0.5 else c.nurse
    user = r.choice([f"{_slug(first)}.{_slug(last)}", f"{_slug(first)[0]}{_slug(last)}",
                     f"{_slug(last)}{r.randint(1, 99)}", f"{_slug(first)}_{_slug(last)[:3]}"])
    dom = r.choice(EMAIL_DOMAINS + (_slug(c.fac[0].split()[0] + c.fac[0].split()[-1]) + ".org",))
    return [(f"{user}@{dom}", "CONTACT", "email")]


def g_url(c: _Ctx) -> list[Piece]:
    r = c.rng
    host = _slug(c.fac[0].replace("Hospital", "").replace("Medical Center", "")) or "clinic"
    k = r.randrange(3)
    if k == 0:
        return [(f"www.{host}.org", "CONTACT", "url_www")]
    if k == 1:
        return [(f"https://portal.{host}.org/pt/{_ndigits(r, 6)}", "CONTACT", "url_https")]
    return [(f"http://{host}-health.com/mychart", "CONTACT", "url_http")]


def g_ip(c: _Ctx) -> list[Piece]:
    r = c.rng
    ip = r.choice([f"10.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}",
                   f"192.168.{r.randint(0, 255)}.{r.randint(1, 254)}",
                   f"172.{r.randint(16, 31)}.{r.randint(0, 255)}.{r.randint(1, 254)}"])
    return [(ip, "CONTACT", "ip")]


def g_serial(c: _Ctx) -> list[Piece]:
    r = c.rng
    k = r.randrange(6)
    L = "ABCDEFGHJKLMNPRSTVWXYZ"
    if k == 0:
        return [_lit("pacemaker SN: "), ("".join(r.choice(L) for _ in range(3)) + _digits(r, 6) + r.choice(L), "OTHER", "serial_ppm")]
    if k == 1:
        return [_lit("ICD serial #"), (_digits(r, 4) + r.choice(L) + r.choice(L) + _digits(r, 2), "OTHER", "serial_icd")]
    if k == 2:
        return [_lit("pump serial "), (f"{_digits(r, 2)}-{_digits(r, 4)}-{_digits(r, 2)}", "OTHER", "serial_pump")]
    if k == 3:
        return [_lit(r.choice(["MA plate ", "plate # ", "lic plate "])),
                (f"{r.randint(1, 9)}{r.choice(L)}{r.choice(L)} {_digits(r, 3)}", "OTHER", "plate")]
    if k == 4:
        return [_lit("car plate "), (f"{r.randint(1, 9)}{r.choice(L)}{r.choice(L)}{r.choice(L)}{_digits(r, 2)}", "OTHER", "plate")]
    vin = "".join(r.choice("ABCDEFGHJKLMNPRSTUVWXYZ0123456789") for _ in range(17))
    return [_lit("VIN "), (vin, "OTHER", "vin")]


GENS: dict[str, Callable[[_Ctx], list[Piece]]] = {
    "doc": g_doc, "docbare": g_docbare, "nurse": g_nurse, "rel": g_rel, "family": g_family,
    "pt": g_pt, "ptheader": g_ptheader, "sig": g_sig, "date": g_date, "dob": g_dob,
    "daterel": g_daterel, "histyear": g_histyear, "age": g_age, "mrn": g_mrn, "phone": g_phone,
    "city": g_city, "street": g_street, "zip": g_zip, "hosp": g_hosp, "home": g_home,
    "email": g_email, "url": g_url, "ip": g_ip, "serial": g_serial,
}


# Vocabulary placeholders (plain text, no span) ----------------------------------------

def _v(words: Sequence[str]) -> Callable[[_Ctx], list[Piece]]:
    return lambda c: [_lit(c.rng.choice(words))]


VOCAB: dict[str, Callable[[_Ctx], list[Piece]]] = {
    "brand": _v(BRAND_DRUGS), "generic": _v(GENERIC_DRUGS), "sx": _v(FINDINGS),
    "anat": _v(ANATOMY), "dose": _v(["5mg", "10 mg", "20mg IV", "40 mg", "12.5mg", "1g", "0.5 mg",
                                     "25mcg", "2mg", "80mg", "500 mg", "4 mg", "100mg"]),
    "freq": _v(["daily", "BID", "q6h", "q4h prn", "TID", "qhs", "x1", "q8h", "prn", "qd", "gtt"]),
    "num": lambda c: [_lit(str(c.rng.randint(2, 9)))],
}

# Identifier-bearing lines, by section. "{x}" = generator from GENS or VOCAB.
PHI_LINES: dict[str, list[str]] = {
    "neuro": [
        "neuro resident {doc} aware of new R pupil 4mm sluggish",
        "A&Ox1, calling out for {rel} overnight",
        "seen by neuro {doc}, EEG in AM",
        "per {docbare} keep SBP<160, {brand} {dose} prn",
        "called {docbare} re: agitation, haldol 2mg IV x1 w/ good effect",
        "follows commands; recognizes {rel} at bedside",
        "CT head {date}: no acute bleed per {doc}",
        "{nurse} aware of change in MS, Babinski neg",
    ],
    "cv": [
        "paged {doc} re: HR 130s afib, {brand} {dose} IV x1 given",
        "HR 80s SR no ectopy; BP 100-120/50s; {doc} aware",
        "echo {date}: EF 25%, mod MR; cards fellow {docbare} to see",
        "notified {doc} of SBP 80s, bolus 500cc NS x1",
        "PPM placed {date} at {hosp}, {serial}",
        "spoke with {doc}, hold {brand} tonight, resume {daterel}",
        "cath {date} at {hosp}, 3 stents",
        "K 3.2 repleted, recheck {daterel}; talked to {docbare}",
    ],
    "resp": [
        "LS coarse bilat, dim at bases; {nurse} suctioned x2 for thick tan",
        "weaned to 40% FiO2 per {doc}",
        "CXR {date} w/ R effusion, IP {doc} consulted for tap",
        "extubated {date} @ 1030, tolerating 4L NC",
        "paged {docbare} x3 re: desat to 86%, no call back, then called {phone}",
        "trach placed {daterel} by {doc}",
    ],
    "gi": [
        "abd soft, +BS, GI {doc} to scope {daterel}",
        "TF @ goal 60cc/hr; nutrition {nurse} following",
        "guaiac + stool x1, {doc} notified, hct 24.8 -> 22.1",
        "EGD {date} at {hosp}: bleeding ulcer, clipped",
        "{brand} {dose} {freq}, {rel} brought in home meds list",
    ],
    "gu": [
        "Foley draining clear yellow urine 30-50cc/hr; renal {doc} following",
        "HD {daterel} per renal; access via L AVF placed {date}",
        "UOP <20cc/hr x3h, {docbare} aware, bolus given",
    ],
    "id": [
        "T max 101.4; cx sent, {brand} started per {doc}",
        "MRSA + from {hosp} {date}, on contact precautions",
        "ID fellow {docbare} ({phone}) recommends d/c {brand}",
        "blood cx {date} NGTD, per micro call from {nurse} {phone}",
    ],
    "social": [
        "{rel} called x2, updated by RN. HCP is {rel} {phone}",
        "{family}",
        "{rel} in to visit, very supportive, asking appropriate questions",
        "lives w/ {rel} in {city}; {rel} is HCP, cell {phone}",
        "pt from {city}, lives alone, {rel} checks in daily",
        "lives in {city} w/ {rel}; retired bus driver",
        "address on file {street}",
        "{rel} requests call @ {phone} w/ any changes",
        "{rel} (HCP) {phone}; 2nd contact {rel} {phone}",
        "SW {nurse} following, {rel} to bring in proxy form {daterel}",
        "{rel} emailed questions from {email}; pls call instead",
        "interpreter ({nurse}) used for conversation w/ {rel}",
        "pt states {rel} keeps his car ({serial}) in garage",
        "{pt} tearful, asking for {rel}",
        "{family}; questions answered",
        "{rel} driving in from {city} tonight",
        "retired teacher from {city}, lives w/ {rel}",
        "moved here from {city} last yr; {rel} lives nearby in {city}",
        "pt's home {street}; {zip}",
    ],
    "dispo": [
        "plan tx to {hosp} {daterel} when bed available",
        "d/c to home in {city} w/ VNA {daterel}",
        "screening for rehab at {home}; {rel} prefers {home}",
        "returns to {home} (NH) {daterel}; report called to {nurse} {phone}",
        "awaiting bed at {hosp}, accepting MD {doc}",
        "f/u w/ PCP {doc} in 1-2 wk, ph {phone}",
        "tx to {hosp} for CABG eval per {doc}",
        "seen by the {hosp} nurse, PT/OT eval today",
        "from {hosp} w/ {sx}, transferred {date}",
        "d/c'd to {home} in {city}",
        "rehab at {home} {date}",
        "home to {city} w/ services, VNA from {home}",
        "OSH in {city} faxing records",
        "f/u in clinic {date} w/ {doc}, fax summary to {phone}",
    ],
    "hist": [
        "PMH: {histyear}, {histyear}, HTN, DM2, {histyear}",
        "h/o {histyear}; {histyear}; CKD III",
        "PSH: {histyear}, {histyear}",
        "prior admits {date} and {date} for CHF",
        "last colonoscopy {daterel} w/ {doc}",
    ],
    "admin": [
        "{ptheader}",
        "{mrn}   adm {date}",
        "{age} admitted {date} from {hosp} w/ {sx}",
        "{pt} is a {age} w/ h/o {sx}, CHF, admitted {daterel}",
        "PCP: {doc} ({phone})",
        "insurance: {mrn}",
        "DOB {dob}  {mrn}",
        "pt's portal {url}; pump IP {ip}",
        "remote monitoring via {url}, device {ip}",
        "{mrn}; {mrn}",
        "ambulance from {city} EMS, {serial}",
    ],
    "misc": [
        "pt's email {email}, prefers portal {url}",
        "{serial}; device check by {nurse}",
        "{rel}'s car {serial} in visitor lot, ok per security",
        "insurance {mrn}; secondary {mrn}",
        "telemetry box {ip} dropping signal, biomed aware",
        "records faxed from {hosp} to {phone}; questions to {email}",
        "ICD interrogated, {serial}",
        "VNA referral sent via {url}",
        "{rel} email: {email}",
        "home O2 vendor acct {mrn}, pump IP {ip}",
        "{rel} drives {serial}, will pick up pt",
        "pt gave SSN to admitting: {mrn}",
    ],
}

FILLER_LINES: dict[str, list[str]] = {
    "neuro": ["A&Ox3, MAE, follows commands", "sedated on propofol 20mcg/kg/min, RASS -2",
              "pupils 3mm PERRL; Babinski neg bilat", "Romberg not tested; pt lethargic but arousable",
              "c/o HA 4/10, {brand} {dose} given w/ relief", "Neuro: grossly intact, no tremor",
              "Precedex gtt @ 0.4, intermittently agitated", "GCS 15, no seizure activity noted"],
    "cv": ["HR 80s-90s SR, occ PVCs", "BP 118/72 MAP 85", "Levophed weaned off @ 0400",
           "{generic} {dose} {freq}", "Rhythm: SR 70s, no murmur appreciated", "Rate controlled on {brand}",
           "+2 pedal edema bilat, Doppler pulses", "SOB 2/2 volume overload; Lasix 40mg IV x1",
           "heparin gtt @ 1100 u/hr, PTT 68", "Trendelenburg for line placement, CVL R IJ"],
    "resp": ["LS clear upper, crackles bases; Cough: weak, nonproductive", "O2 2L NC sats 95-98%",
             "vent: AC 450 x 14, PEEP 5, FiO2 40%", "ABG 7.32/45/88", "albuterol/atrovent nebs q4h",
             "wheezes diffuse, {brand} nebs", "Nose: nares patent; Mouth: moist mucosa",
             "no orthopnea, dyspnea on exertion"],
    "gi": ["abd soft NT/ND, +BS x4", "tolerating clears; no nausea or vomiting",
           "Protonix 40mg IV daily", "Colace/Senna bid; no BM x2 days, constipation",
           "dysphagia to solids, speech & swallow eval", "liver edge not palpable, no ascites",
           "1/2 NS @ 75cc/hr", "FS BS 140-180, insulin SS per protocol"],
    "gu": ["Foley draining clear yellow urine", "UOP 30-50cc/hr, I/O +1.2L", "no hematuria",
           "Cr 1.4 (1.1), K 4.1", "bladder scan 120cc", "kidney fxn stable"],
    "id": ["afebrile, WBC 11.2", "on vanco/zosyn day 3", "Tmax 100.4, blood cx x2 sent",
           "sepsis resolving, lactate 1.8", "Flagyl for c diff, enteric precautions"],
    "skin": ["Skin: intact, no erythema", "stage 2 coccyx, DuoDERM applied", "groin site CDI, no hematoma",
             "diaphoresis resolved", "rash on chest & flank, ?drug, Benadryl 25mg"],
    "ros": ["ROS: Denies {sx}, {sx}. Positive for {sx}.", "Denies fever, chills. Positive: cough.",
            "Constitutional: Negative. Eyes: Normal. Ears: Normal. Nose: Normal. Mouth: Normal. Throat: clear",
            "Abnormal: {sx}; Normal otherwise", "Evaluation: {sx} w/o syncope",
            "General: NAD. Neck: supple, carotid bruit absent", "Extremities: no cyanosis, no edema",
            "Psych: calm, appropriate", "Impression: {sx} likely 2/2 {sx}"],
    "meds": ["{brand} {dose} {freq}, {brand} {dose} {freq}, {generic} {dose} {freq}",
             "home meds: {brand}, {brand}, {generic}, Toprol XL 50, Nexium 40",
             "{brand} {dose} {freq}; {generic} {dose} {freq}", "Zoloft 50 daily, Lipitor 40 qhs",
             "allergies: PCN (rash), sulfa"],
    "plan": ["Plan: cont current mgmt, f/u AM labs", "Assessment: {sx}, improving",
             "Plan: wean O2, OOB to chair, PT eval", "Plan: {brand} {dose} {freq}, recheck lytes",
             "cont {generic}, monitor for {sx}", "VSS, NAD, will cont to monitor"],
}
SECTION_HEAD = {
    "neuro": ["Neuro:", "NEURO:", "neuro-", "N:"], "cv": ["CV:", "C/V:", "cv-", "CARDIAC:"],
    "resp": ["Resp:", "RESP:", "Pulm:", "resp-", "R:"], "gi": ["GI:", "GI/GU:", "gi-", "ABD:"],
    "gu": ["GU:", "Renal:", "gu-"], "id": ["ID:", "I.D.:", "id-"], "skin": ["Skin:", "SKIN:", "integ-"],
    "social": ["Social:", "SOCIAL:", "Soc:", "Family:", "social-", "psychosocial:"],
    "dispo": ["Dispo:", "DISPO:", "Plan:", "A/P:", "dispo-"], "hist": ["PMH:", "Hx:", ""],
    "admin": [""], "ros": ["ROS:", ""], "meds": ["MEDS:", ""], "plan": ["Plan:", "A/P:", "P:"],
}


def _fill(b: _Builder, tmpl: str, c: _Ctx) -> None:
    parts = re.split(r"\{(\w+)\}", tmpl)
    for i, part in enumerate(parts):
        if i % 2 == 0:
            b.add(part)
        elif part == "sexw":
            b.add(c.rng.choice({"M": ["M", "male", "man", "gentleman"], "F": ["F", "female", "woman", "lady"]}[c.sex]))
        elif part in GENS:
            b.pieces(GENS[part](c))
        elif part in VOCAB:
            b.pieces(VOCAB[part](c))
        else:
            raise KeyError(part)


# --------------------------------------------------------------------------------------
# Note styles
# --------------------------------------------------------------------------------------

def _filler_sentence(c: _Ctx, terse: bool) -> str:
    f = _filler()
    r = c.rng
    pick = r.random()
    if pick < 0.55 and f.sentences:
        s = r.choice(f.sentences)
    elif pick < 0.85 and f.findings:
        s = r.choice(f.findings)
    elif f.symptoms:
        s = "c/o " + r.choice(f.symptoms).lower()
    else:
        s = "pt resting comfortably"
    return _terse(s, r) if terse else s


def _nl(c: _Ctx) -> str:
    return c.rng.choice(["\n", "\n", "\n", " \n", "\n\n"])


def _icu_nursing(b: _Builder, c: _Ctx) -> None:
    r = c.rng
    head = r.choice(["NPN 7a-7p", "Nursing Progress Note 0700-1900 {date}", "MICU NURSING PROGRESS NOTE",
                     "CCU NSG NOTE {date}", "T/SICU nsg admit note", "nursing note 7p-7a",
                     "NPN {daterel} 1900-0700", "Nursing Acceptance Note", "{ptheader}", "{age} {mrn}"])
    _fill(b, head, c)
    b.add(_nl(c))
    systems = ["neuro", "cv", "resp", "gi", "gu", "id", "skin", "social", "dispo"]
    if r.random() < 0.5:
        systems.insert(0, "hist")
    if r.random() < 0.4:
        systems.insert(r.randrange(len(systems)), "meds")
    if r.random() < 0.55:
        extra = (r.randrange(len(systems)), r.choice(PHI_LINES["misc"]))
    else:
        extra = (-1, "")
    n_phi = r.randint(4, 9)
    phi_at = set(r.sample(range(len(systems) * 2), min(n_phi, len(systems) * 2)))
    for i, sys_name in enumerate(systems):
        b.add(r.choice(SECTION_HEAD[sys_name]))
        b.add(" ")
        chunks: list[tuple[str, str]] = []
        for j in range(2):
            if (2 * i + j) in phi_at and sys_name in PHI_LINES:
                chunks.append(("phi", r.choice(PHI_LINES[sys_name])))
        if i == extra[0]:
            chunks.append(("phi", extra[1]))
        n_fill = r.randint(1, 3)
        own = r.sample(FILLER_LINES.get(sys_name, []), min(n_fill, len(FILLER_LINES.get(sys_name, []))))
        for _ in range(n_fill):
            if own and r.random() < 0.6:
                chunks.append(("fill", own.pop()))
            else:
                chunks.append(("text", _filler_sentence(c, terse=True)))
        r.shuffle(chunks)
        sep = r.choice(["; ", ". ", ", ", " ", "\n  "])
        for k, (kind, t) in enumerate(chunks):
            if k:
                b.add(sep)
            if kind == "text":
                b.add(t)
            else:
                _fill(b, t, c)
        b.add(_nl(c))
    _fill(b, "{sig}", c)
    b.add("\n")


def _progress(b: _Builder, c: _Ctx) -> None:
    r = c.rng
    f = _filler()
    _fill(b, r.choice(["MICU Progress Note {date}", "Medicine Attending Progress Note", "Cardiology f/u {date}",
                       "Interval Note - {daterel}", "{ptheader}", "PROGRESS NOTE  {date}  {hosp}"]), c)
    b.add("\n")
    b.add("S: ")
    b.add(_filler_sentence(c, terse=True))
    if r.random() < 0.6:
        b.add(". ")
        _fill(b, r.choice(PHI_LINES["social"] + PHI_LINES["neuro"]), c)
    b.add("\nO: ")
    b.add(r.choice(f.vitals) if f.vitals else "T 37.2 BP 118/72 HR 88 RR 18")
    b.add("\n   Exam: ")
    _fill(b, r.choice(FILLER_LINES["ros"]), c)
    b.add("\n   ")
    _fill(b, f"{r.choice(FILLER_LINES['resp'])}; {r.choice(FILLER_LINES['cv'])}", c)
    b.add(f"\n   Labs: Na 13{r.randint(0, 9)} K {r.randint(3, 5)}.{r.randint(0, 9)} Cr 1.{r.randint(0, 9)} "
          f"Hct {r.randint(24, 40)}.{r.randint(0, 9)} INR 1.{r.randint(0, 9)}\n")
    for _ in range(r.randint(1, 3)):
        b.add("   ")
        b.add(_filler_sentence(c, terse=True))
        b.add("\n")
    b.add("A/P: ")
    _fill(b, r.choice(["{age} w/ {sx} and {sx}", "{pt} w/ {sx}, improving", "{sx} 2/2 {sx}",
                       "pt is {age} w/ CHF exacerbation"]), c)
    b.add("\n")
    for k in range(r.randint(2, 4)):
        b.add(f"#{k + 1} ")
        if r.random() < 0.55:
            _fill(b, r.choice(PHI_LINES[r.choice(["cv", "resp", "gi", "id", "dispo", "hist"])]), c)
        else:
            _fill(b, r.choice(FILLER_LINES[r.choice(["plan", "meds", "cv", "gi"])]), c)
        b.add("\n")
    _fill(b, r.choice(["Discussed w/ attending {doc}.", "Seen and examined w/ house staff {docbare}.",
                       "d/w resident {docbare} and fellow {doc}", "Agree w/ above. {doc}",
                       "attending {docbare} present for key portions", ""]), c)
    b.add("\n")
    _fill(b, r.choice(["{sig}", "{doc} {phone}", "{nurse}"]), c)
    b.add("\n")


def _short_event(b: _Builder, c: _Ctx) -> None:
    r = c.rng
    lines = [
        "pt found on floor at 0300, no LOC, {doc} notified, CT head neg. {rel} called {phone}",
        "Event: {sx} @ 1400, {brand} {dose} given per {doc}",
        "Addendum {date}: spoke with {rel} re: code status, pt DNR/DNI per {rel}",
        "family meeting w/ {family}, {doc} and SW {nurse}. plan CMO",
        "pt eloped from unit, security & {docbare} notified, located near {street}",
        "transfer note: tx to {hosp} via {city} EMS, report to {nurse} {phone}",
        "talked to {rel}, will come in {daterel}",
        "VSS, NAD. {pt} resting. {rel} at bedside",
        "pt OOB to chair w/ PT {nurse}, tolerated well",
        "rec'd from {hosp} ED, {age}, {mrn}",
        "{doc} paged {phone} re: {sx}, awaiting call back",
        "per {docbare}, ok to give {brand} {dose}",
        "tx from OSH in {city}, {age}, {mrn}",
        "pt from {city}, {rel} on way in",
    ] + PHI_LINES["misc"][:6]
    for t in r.sample(lines, r.randint(2, 4)):
        _fill(b, t, c)
        b.add(r.choice([". ", "\n", "\n", "  "]))
        if r.random() < 0.4:
            b.add(_filler_sentence(c, terse=True))
            b.add("\n")
    _fill(b, "{sig}", c)
    b.add("\n")


def _transfer(b: _Builder, c: _Ctx) -> None:
    r = c.rng
    _fill(b, r.choice(["TRANSFER SUMMARY", "Discharge Note", "D/C summary {date}", "Interfacility transfer"]), c)
    b.add("\n")
    for t in r.sample(PHI_LINES["admin"], 3):
        _fill(b, t, c)
        b.add("\n")
    b.add("Hospital course: ")
    for _ in range(r.randint(2, 4)):
        b.add(_filler_sentence(c, terse=r.random() < 0.5))
        b.add(" ")
    _fill(b, r.choice(PHI_LINES["hist"]), c)
    b.add("\n")
    for t in r.sample(PHI_LINES["dispo"], 3):
        _fill(b, t, c)
        b.add("\n")
    _fill(b, r.choice(FILLER_LINES["meds"]), c)
    b.add("\n")
    _fill(b, r.choice(["{sig}", "Electronically signed: {doc} {date}", "{doc} / {nurse}"]), c)
    b.add("\n")


_SECTION_NAMES = {"GENHX": "HISTORY OF PRESENT ILLNESS", "PASTMEDICALHX": "PAST MEDICAL HISTORY",
                  "FAM/SOCHX": "SOCIAL HISTORY", "MEDICATIONS": "MEDICATIONS", "ROS": "REVIEW OF SYSTEMS",
                  "ALLERGY": "ALLERGIES", "PASTSURGICAL": "PAST SURGICAL HISTORY", "EXAM": "PHYSICAL EXAM",
                  "ASSESSMENT": "ASSESSMENT", "PLAN": "PLAN", "CC": "CHIEF COMPLAINT"}


def _narrative(b: _Builder, c: _Ctx) -> None:
    """A long note from a real ACI-Bench note (its patient renamed) or from MTS sections."""
    r = c.rng
    notes = _aci_notes()
    _fill(b, r.choice(["{ptheader}", "Date of service: {date}   Provider: {doc}", "{hosp} - Outpatient Clinic",
                       "Patient: {pt}   {mrn}"]), c)
    b.add("\n\n")
    if notes and r.random() < 0.65:
        note, names = r.choice(notes)
        first, last = (names + ("", ""))[:2]
        _aci_body(b, c, note, first if first and first.isalpha() else "", last if last.isalpha() else "")
    else:
        f = _filler()
        for sec in r.sample([s for s in _SECTION_NAMES if f.by_section.get(s)], 4):
            b.add(_SECTION_NAMES[sec] + "\n\n")
            for s in r.sample(f.by_section[sec], min(3, len(f.by_section[sec]))):
                b.add(s + " ")
            if r.random() < 0.6:
                _fill(b, r.choice(["Accompanied by {rel}.", "Referred by {doc} at {hosp}.",
                                   "Previously seen at {hosp} on {date}.", "{pt} lives in {city} with {rel}.",
                                   "History of {histyear} and {histyear}.", "Last seen {date}."]), c)
            b.add("\n\n")
    _fill(b, r.choice(["Electronically signed by {doc} on {date}", "cc: {doc}, {hosp}, fax {phone}",
                       "{doc}\n{hosp}\n{street}", "Dictated by {doc}; transcribed {date}"]), c)
    b.add("\n")


def _aci_body(b: _Builder, c: _Ctx, note: str, first: str, last: str) -> None:
    r = c.rng
    name_re = None
    alts = [re.escape(x) for x in (first, last) if x]
    if alts:
        name_re = re.compile(r"\b(Mr\.|Mrs\.|Ms\.|Miss)?\s?(" + "|".join(alts) + r")\b", re.IGNORECASE)
    age_re = re.compile(r"\b(\d{1,2})(-year-old)\b")
    blocks = note.split("\n")
    injected = 0
    for line in blocks:
        stripped = line.strip()
        if not stripped:
            b.add("\n")
            continue
        if stripped.isupper() and len(stripped) < 60:
            b.add(stripped + "\n")
            continue
        bullet = "• " if line.lstrip().startswith("•") else ""
        kept: list[str] = []
        for s in _sentences(stripped):
            probe = name_re.sub("Zzpt", s) if name_re else s
            if _clean_sentence(probe):
                kept.append(s)
        if not kept:
            continue
        b.add(bullet)
        for k, s in enumerate(kept):
            if k:
                b.add(" ")
            pos = 0
            events = []
            if name_re:
                events += [(m.start(2), m.end(2), "name", m) for m in name_re.finditer(s)]
            events += [(m.start(1), m.end(1), "age", m) for m in age_re.finditer(s)]
            for st, en, kind, m in sorted(events, key=lambda e: e[0]):
                if st < pos:
                    continue
                b.add(s[pos:st])
                if kind == "name":
                    is_first = first and m.group(2).lower() == first.lower()
                    new = c.pt_first if is_first else c.pt_last
                    b.ident(new, "PERSON", "aci_patient_name")
                else:
                    if r.random() < 0.3:
                        b.ident(str(r.randint(90, 99)), "AGE", "aci_age")
                    else:
                        b.add(m.group(1))
                pos = en
            b.add(s[pos:])
        if injected < 4 and r.random() < 0.25:
            b.add(" ")
            _fill(b, r.choice(["Seen with {rel} today.", "{rel} can be reached at {phone}.",
                               "Records from {hosp} reviewed ({date}).", "He was last seen by {doc} on {date}.",
                               "Prior history includes {histyear}.", "She is followed by {doc} at {hosp}.",
                               "Follow up on {daterel}.", "Lives at {street}."]), c)
            injected += 1
        b.add("\n")


STYLES = (("icu_nursing", 0.38, _icu_nursing), ("progress", 0.2, _progress),
          ("short_event", 0.17, _short_event), ("transfer", 0.1, _transfer),
          ("narrative", 0.15, _narrative))


def _recase(text: str, mode: str, rng: random.Random) -> str:
    def up(s: str) -> str:
        return "".join(ch.upper() if len(ch.upper()) == 1 else ch for ch in s)

    def low(s: str) -> str:
        return "".join(ch.lower() if len(ch.lower()) == 1 else ch for ch in s)

    if mode == "caps":
        return up(text)
    if mode == "lower":
        return low(text)
    if mode == "mixed_lines":
        lines = text.split("\n")
        return "\n".join(up(x) if rng.random() < 0.25 else low(x) if rng.random() < 0.15 else x for x in lines)
    return text


def _heldout_set(n: int, seed: int) -> set[int]:
    order = list(range(n))
    random.Random(f"split-{seed}").shuffle(order)
    return set(order[n // 2:]) if n > 1 else set()


def make_notes(n: int, seed: int) -> list[LabelledNote]:
    """``n`` labelled notes; note i is in the held-out half of ``split(notes, seed)`` iff its
    identifiers were drawn from the held-out pools."""
    tuning_pool, heldout_pool = _pools(seed)
    held = _heldout_set(n, seed)
    notes: list[LabelledNote] = []
    for i in range(n):
        rng = random.Random(f"note-{seed}-{i}")
        half = "heldout" if i in held else "tuning"
        c = _Ctx(rng, heldout_pool if half == "heldout" else tuning_pool)
        x = rng.random()
        for name, weight, fn in STYLES:
            if x < weight:
                break
            x -= weight
        case = rng.choices(["mixed", "caps", "lower", "mixed_lines"], [0.5, 0.22, 0.16, 0.12])[0]
        if name == "narrative" and case in ("caps", "lower") and rng.random() < 0.6:
            case = "mixed"
        c.case = case
        b = _Builder()
        fn(b, c)
        text = _recase(b.text(), case, rng)
        assert len(text) == b.n
        notes.append(LabelledNote(text=text, spans=b.spans, forms=b.forms, style=name, case=case, half=half))
    return notes


def split(notes: Sequence[LabelledNote], seed: int) -> tuple[list[LabelledNote], list[LabelledNote]]:
    """(tuning, heldout), half and half, fixed by ``seed`` (use make_notes' seed)."""
    held = _heldout_set(len(notes), seed)
    tuning = [nt for i, nt in enumerate(notes) if i not in held]
    heldout = [nt for i, nt in enumerate(notes) if i in held]
    return tuning, heldout


# --------------------------------------------------------------------------------------
# Unicode noise
# --------------------------------------------------------------------------------------

_FORMAT_CHARS = ("\u00ad", "\u200b")
_APOS = "\u2019"


def canon(s: str) -> str:
    """Text with format characters removed, NFKC-folded, curly apostrophes straightened."""
    s = "".join(ch for ch in s if unicodedata.category(ch) != "Cf")
    return unicodedata.normalize("NFKC", s).replace(_APOS, "'")


def with_unicode_noise(note: LabelledNote, rng: random.Random) -> LabelledNote:
    """What Word and PDF text extraction produce: NBSP and thin spaces, soft hyphens and
    zero-width spaces inside identifiers and words, curly apostrophes, fullwidth digits,
    fi/fl ligatures. Spans are re-mapped to cover the same identifiers."""
    text = note.text
    owner = [-1] * len(text)
    for k, sp in enumerate(note.spans):
        for i in range(sp.start, sp.end):
            owner[i] = k
    out = list(text)           # replacement string per original char
    prefix = [""] * (len(text) + 1)  # inserted before original char i
    for k, sp in enumerate(note.spans):
        inner = [i for i in range(sp.start + 1, sp.end)
                 if text[i].isalnum() and text[i - 1].isalnum()]
        if inner and rng.random() < 0.3:
            prefix[rng.choice(inner)] = rng.choice(_FORMAT_CHARS)
        if rng.random() < 0.12:
            for i in range(sp.start, sp.end):
                if text[i].isdigit():
                    out[i] = chr(0xFF10 + int(text[i]))
    for m in re.finditer(r"[A-Za-z]{6,}", text):
        if any(owner[i] != -1 for i in range(m.start(), m.end())):
            continue
        x = rng.random()
        if x < 0.04:
            prefix[rng.randrange(m.start() + 2, m.end() - 2)] = "\u00ad" if x < 0.03 else "\u200b"
    for m in re.finditer(r"f[il]", text):
        i = m.start()
        if owner[i] == owner[i + 1] and not prefix[i + 1] and rng.random() < 0.15:
            out[i] = "\ufb01" if text[i + 1] == "i" else "\ufb02"
            out[i + 1] = ""
    for i, ch in enumerate(text):
        if ch == " ":
            x = rng.random()
            if x < 0.15:
                out[i] = "\u00a0"
            elif x < 0.17:
                out[i] = rng.choice(["\u202f", "\u2009"])
        elif ch == "'" and rng.random() < 0.8:
            out[i] = _APOS
        elif ch.isdigit() and owner[i] == -1 and rng.random() < 0.01:
            out[i] = chr(0xFF10 + int(ch))
    pos = [0] * (len(text) + 1)
    pieces: list[str] = []
    n = 0
    for i in range(len(text)):
        pieces.append(prefix[i])
        n += len(prefix[i])
        pos[i] = n
        pieces.append(out[i])
        n += len(out[i])
    pos[len(text)] = n
    new_spans = [Span(pos[s.start], pos[s.end], s.type) for s in note.spans]
    return LabelledNote(text="".join(pieces), spans=new_spans, forms=list(note.forms),
                        style=note.style, case=note.case, half=note.half)


# --------------------------------------------------------------------------------------
# Scoring
# --------------------------------------------------------------------------------------

def _covered(n: int, findings) -> bytearray:
    cov = bytearray(n)
    for f in findings:
        s, e = max(0, int(f.start)), min(n, int(f.end))
        if e > s:
            cov[s:e] = b"\x01" * (e - s)
    return cov


def _found(text: str, span: Span, cov: bytearray) -> bool:
    return all(cov[i] for i in range(span.start, span.end) if text[i].isalnum())


def clinical_occurrences(note: LabelledNote) -> list[tuple[int, int, str]]:
    """Occurrences of CLINICAL_WORDS outside every gold span."""
    gold = bytearray(len(note.text))
    for sp in note.spans:
        gold[sp.start:sp.end] = b"\x01" * (sp.end - sp.start)
    out = []
    for m in _CLIN_RE.finditer(note.text):
        if not any(gold[m.start():m.end()]):
            out.append((m.start(), m.end(), m.group(1)))
    return out


def score(notes: Sequence[LabelledNote], findings_per_note: Sequence[Sequence]) -> dict:
    """Span recall (overall, by type, by form), over-removal and clinical-word removal.

    A gold span is found when the union of the findings covers every alphanumeric
    character of it; the finding's type does not matter."""
    assert len(notes) == len(findings_per_note)
    by_type = {t: [0, 0] for t in TYPES}
    by_form: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    misses: list[dict] = []
    other_alnum = other_cov = 0
    clin_total = 0
    clin_touched: Counter = Counter()
    clin_seen: Counter = Counter()
    for idx, (note, findings) in enumerate(zip(notes, findings_per_note)):
        text = note.text
        cov = _covered(len(text), findings)
        gold = bytearray(len(text))
        for k, sp in enumerate(note.spans):
            gold[sp.start:sp.end] = b"\x01" * (sp.end - sp.start)
            ok = _found(text, sp, cov)
            form = f"{sp.type}/{note.forms[k] if k < len(note.forms) else ''}"
            by_type[sp.type][1] += 1
            by_form[form][1] += 1
            if ok:
                by_type[sp.type][0] += 1
                by_form[form][0] += 1
            else:
                misses.append({"note": idx, "start": sp.start, "end": sp.end, "type": sp.type,
                               "form": form, "text": text[sp.start:sp.end]})
        for i, ch in enumerate(text):
            if not gold[i] and ch.isalnum():
                other_alnum += 1
                other_cov += cov[i]
        for s, e, w in clinical_occurrences(note):
            clin_total += 1
            key = w.lower()
            clin_seen[key] += 1
            if any(cov[s:e]):
                clin_touched[key] += 1
    found = sum(v[0] for v in by_type.values())
    total = sum(v[1] for v in by_type.values())
    touched = sum(clin_touched.values())
    return {
        "notes": len(notes),
        "spans": total,
        "recall": found / total if total else 1.0,
        "by_type": {t: {"found": v[0], "total": v[1], "recall": (v[0] / v[1] if v[1] else None)}
                    for t, v in by_type.items()},
        "by_form": {f: {"found": v[0], "total": v[1]} for f, v in sorted(by_form.items())},
        "over_removal": other_cov / other_alnum if other_alnum else 0.0,
        "clinical_occurrences": clin_total,
        "clinical_touched": touched,
        "clinical_removal": touched / clin_total if clin_total else 0.0,
        "clinical_touched_words": dict(clin_touched.most_common()),
        "misses": misses,
    }


# --------------------------------------------------------------------------------------
# Script
# --------------------------------------------------------------------------------------

def _context(text: str, s: int, e: int, width: int = 30) -> str:
    left = text[max(0, s - width):s].replace("\n", "⏎")
    right = text[e:e + width].replace("\n", "⏎")
    return f"{left}[[{text[s:e]}]]{right}"


def _run_engine(engine, notes: Sequence[LabelledNote]) -> tuple[list, float]:
    t0 = time.perf_counter()
    found = engine.find_many([nt.text for nt in notes])
    return found, time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--notes", type=int, default=400)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--half", choices=("heldout", "tuning", "both"), default="heldout")
    ap.add_argument("--no-english-ner", action="store_true",
                    help="the engine without spaCy's English NER (DeidSettings.english_ner)")
    args = ap.parse_args(argv)

    root = Path(__file__).resolve().parent.parent
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    import medllm_local  # noqa: F401  (offline guard first)
    from medllm_local.stages.deid.engine import DeidEngine, DeidSettings

    t0 = time.perf_counter()
    notes = make_notes(args.notes, args.seed)
    gen_s = time.perf_counter() - t0
    tuning, heldout = split(notes, args.seed)
    chosen = {"heldout": heldout, "tuning": tuning, "both": tuning + heldout}[args.half]
    noisy = [with_unicode_noise(nt, random.Random(f"uni-{args.seed}-{i}")) for i, nt in enumerate(chosen)]

    t0 = time.perf_counter()
    engine = DeidEngine(DeidSettings(english_ner=not args.no_english_ner))
    load_s = time.perf_counter() - t0
    found, run_s = _run_engine(engine, chosen)
    found_u, _ = _run_engine(engine, noisy)
    plain = score(chosen, found)
    uni = score(noisy, found_u)

    print(f"de-identification held-out benchmark: {len(chosen)} notes ({args.half}), seed {args.seed}, "
          f"{plain['spans']} gold spans; generated {args.notes} notes in {gen_s:.1f}s, engine load {load_s:.1f}s")
    print(f"{'metric':<28}{'plain':>10}{'unicode':>10}{'found/total':>16}")
    print(f"{'recall (all spans)':<28}{plain['recall']:>10.3f}{uni['recall']:>10.3f}"
          f"{str(sum(v['found'] for v in plain['by_type'].values())) + '/' + str(plain['spans']):>16}")
    for t in TYPES:
        p, u = plain["by_type"][t], uni["by_type"][t]
        if not p["total"]:
            continue
        print(f"{'  ' + t:<28}{p['recall']:>10.3f}{u['recall']:>10.3f}{str(p['found']) + '/' + str(p['total']):>16}")
    print(f"{'over-removal (non-id chars)':<28}{plain['over_removal']:>10.4f}{uni['over_removal']:>10.4f}")
    print(f"{'clinical words touched':<28}{plain['clinical_removal']:>10.4f}{uni['clinical_removal']:>10.4f}"
          f"{str(plain['clinical_touched']) + '/' + str(plain['clinical_occurrences']):>16}")
    if plain["clinical_touched_words"]:
        print("  touched: " + ", ".join(f"{w} x{n}" for w, n in plain["clinical_touched_words"].items()))
    print(f"{'unicode delta (recall)':<28}{uni['recall'] - plain['recall']:>+10.3f}")
    print(f"{'notes per second':<28}{len(chosen) / run_s if run_s else 0:>10.1f}")

    if args.half == "tuning":
        print("\nrecall by form (tuning half):")
        for form, v in sorted(plain["by_form"].items(), key=lambda kv: kv[1]["found"] / kv[1]["total"]):
            if v["found"] < v["total"]:
                print(f"  {form:<36}{v['found']:>5}/{v['total']:<5}")
        groups: dict[str, list[dict]] = defaultdict(list)
        for m in plain["misses"]:
            groups[m["form"]].append(m)
        print("\n15 most common misses (tuning half), grouped by form, one example each:")
        for form, ms in sorted(groups.items(), key=lambda kv: -len(kv[1]))[:15]:
            m = ms[0]
            print(f"  {len(ms):>4}x {form:<32} {_context(chosen[m['note']].text, m['start'], m['end'])}")

    summary = {
        "half": args.half, "seed": args.seed, "notes": len(chosen), "spans": plain["spans"],
        "recall": round(plain["recall"], 4),
        "by_type": {t: {"recall": None if v["recall"] is None else round(v["recall"], 4), "total": v["total"]}
                    for t, v in plain["by_type"].items()},
        "over_removal": round(plain["over_removal"], 5),
        "clinical_removal": round(plain["clinical_removal"], 5),
        "clinical_touched_words": plain["clinical_touched_words"],
        "unicode_recall": round(uni["recall"], 4),
        "unicode_delta": round(uni["recall"] - plain["recall"], 4),
        "notes_per_s": round(len(chosen) / run_s, 2) if run_s else None,
    }
    print(json.dumps(summary, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
