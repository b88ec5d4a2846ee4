"""A second, independent de-identification benchmark: realistic US hospital notes.

    .venv/bin/python bench/deid_realistic.py [--seed 1] [--n 120] [--show-misses]

How it was built
----------------
Everything here was written from scratch by someone who did NOT read the project's
de-identification rules (medllm_local/stages/deid/, core/textnorm.py), its first benchmarks
(bench/deid.py, bench/deid_heldout.py, bench/phi_injection.py) or their tests.  The
note styles, the identifier formats and the name/place lists come from the author's
own knowledge of how US clinical text looks, so the score measures how well the
engine generalises to text it was not tuned on.  Misses printed by --show-misses are
for judging generalisation; nothing in this file was tuned on them.

* 23 note kinds, each a hand-written template family with random choices: ICU
  nursing notes in ALL CAPS (PhysioNet "deid" style: "PT IS A 67 YO M ADMITTED FROM
  ...", "NEURO: ...", "SOCIAL: WIFE ... IN TO VISIT"), sloppy lower-case floor
  nursing notes, discharge summaries with dictation footers, radiology and pathology
  reports with accession numbers, consult notes, clinic letters ("Dear Dr. ..."),
  referral letters with letterheads and signature blocks, telephone encounters,
  lab reports, medication reconciliation, social work, ED triage, operative notes
  with implant serials, device-clinic reports, telehealth notes, visiting-nurse
  notes, prior-authorisation/UR notes, death pronouncements, security/AMA notes,
  clinician e-mails and nursing-home transfer forms.
* Clinical content is hand-written, plus (when ../shared/data is present) some
  sentences from MTS-Dialog section_text and ACI-Bench notes, kept only if they have
  no digits, no month/weekday words, and every capitalised word is in a hand-checked
  list of non-name words (so no unannotated identifier can slip in).
* Identifiers of every HIPAA Safe Harbor kind that occurs in notes: patient,
  relative and clinician names (hand-written lists of ~185 first and ~190 last
  names from many cultures, incl. word-names such as Rose, Hope, Hunter, Baker,
  Young, Bishop, Long, and hyphenated / particle names), dates in ~20 written forms
  (incl. month-year, "the 14th", holidays), ages over 89 (digits and words),
  MRNs, account / visit numbers, health-plan and Medicare numbers, SSNs, provider
  licence / NPI / DEA and driver's licence numbers, other IDs (accession, job,
  auth, Rx, ME case, badge), phones / faxes / pagers / extensions, street
  addresses, real small US towns (incl. word-towns: Hope, Normal, Orange, Liberty,
  Mexico, Friendship, Winner), ZIP codes, hospitals / clinics / nursing homes and
  their abbreviations, employers, e-mails, URLs, IP addresses, device serials,
  licence plates and a VIN.
* Gold span = the identifier only (no "Dr.", "MRN:", "ext").  State codes, bare
  years and clerk initials are "neutral": neither scored as identifiers nor counted
  as over-removal.

Scoring (type-agnostic): a gold span is found when the engine's findings cover all
of its alphanumeric characters.  Over-removal = share of alphanumeric characters
outside gold and neutral spans that findings cover.  Clinical words = a fixed list
of ~100 drug / finding / anatomy / section words (incl. eponyms like Foley and
Parkinson); the share of their occurrences (outside gold spans) that findings touch.
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
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"

NEUTRAL = {"STATE", "YEAR", "INITIALS"}


# ----------------------------------------------------------------------------------
# Pieces, templates, notes
# ----------------------------------------------------------------------------------

@dataclass
class P:
    """An identifier piece: its type and written form."""
    typ: str
    text: str
    form: str = ""


@dataclass
class Gold:
    start: int
    end: int
    typ: str
    form: str
    text: str


_SLOT = re.compile(r"\{(\w+)\}")


def _flatten(v, out):
    if v is None:
        return
    if callable(v):
        v = v()
    if isinstance(v, P):
        out.append((v.text, v.typ, v.form))
    elif isinstance(v, str):
        out.append((v, None, ""))
    else:
        for x in v:
            _flatten(x, out)


def render(tpl: str, ctx: dict) -> list:
    out: list = []
    pos = 0
    for m in _SLOT.finditer(tpl):
        if m.start() > pos:
            out.append((tpl[pos:m.start()], None, ""))
        _flatten(ctx[m.group(1)], out)
        pos = m.end()
    if pos < len(tpl):
        out.append((tpl[pos:], None, ""))
    return out


class Note:
    def __init__(self, kind: str, case: str = "as_is"):
        self.kind, self.case, self.pieces = kind, case, []

    def add(self, tpl: str, ctx: dict) -> "Note":
        self.pieces.extend(render(tpl, ctx))
        return self

    def build(self):
        fn = {"upper": str.upper, "lower": str.lower}.get(self.case, lambda s: s)
        text, spans, pos = [], [], 0
        for s, typ, form in self.pieces:
            s2 = fn(s)
            if len(s2) != len(s):
                s2 = s
            if typ:
                spans.append(Gold(pos, pos + len(s2), typ, form, s2))
            text.append(s2)
            pos += len(s2)
        return "".join(text), spans


# ----------------------------------------------------------------------------------
# Hand-written identifier material
# ----------------------------------------------------------------------------------

FIRST_F = """Rose Hope Faith Grace Joy June April May Summer Dawn Crystal Amber Ruby Pearl Olive Ivy
Holly Heather Daisy Iris Charity Destiny Precious Patience Mercy Aaliyah Latoya Keisha Imani
Shaniqua Priya Lakshmi Ananya Mei Xiaoling Yuki Thao Huong Soo-jin Ngozi Abena Folasade Fatima
Aisha Layla Svetlana Olga Francesca Maria Guadalupe Ximena Xóchitl Mary-Ellen Siobhan Ingrid
Hannelore Dagny Leilani Gertrude Mildred Eunice Ethel Bertha Dorothy Norma Gladys Agnes
Bernadette Marisol Yesenia Nhung Linh Parveen Nasrin Zainab Tigist Wanjiru Chiamaka Marie-Claude
Gisèle Hélène Bridget Doreen Lorraine Connie Tammy Brandi Kayla Shanice""".split()
FIRST_M = """Hunter Mason Chase Will Bill Mark Frank Art Guy Drew Dean Grant Gene Ray Norman Sterling
Jasper Deshawn Tyrone Jamal DeAndre Arjun Sanjay Rajesh Venkat Wei Hiroshi Kenji Minh Duc Jae-won
Oluwaseun Chinedu Kwame Kofi Mohammed Ahmed Yusuf Omar Mehmet Dmitri Giuseppe José Jesús
Jean-Pierre Padraig Bjorn Keoni Elmer Clarence Herbert Walter Earl Merle Vern Otis Cletus Lamar
Reginald Abdirahman Dawit Emeka Thanh Raúl Santiago Alejandro Luis Tomasz Wojciech Sergei Ivan
Nikolai Réjean Gaétan Lucien Armand Ezekiel Moshe Yosef Vikram Rohan Amit Bud Junior Buck""".split()
FIRST_U = "Pat Sandy Kalani River Sky Jordan Taylor Casey Jamie Robin Carmen Shannon".split()
LAST = """Baker Young Bishop Hunter Rose Long Short Brown White Green Black Gray Cook Page Mason
Carpenter Fisher Rich Love Best Hill Wood Bush Fields Ward Hall King Church Parks Banks Waters
Rivers Story Swan Fox Wolf Lamb Crane Sharp Strong Noble Moody Clay Stone Chase Price Small Rice
Low Nguyen Tran Pham Le Kim Park Choi Lee Wang Zhang Liu Chen Huang Patel Shah Desai Iyer Krishnan
Reddy Chowdhury Rahman Hossain Okafor Adeyemi Mensah Owusu Abebe Mwangi Kamau Diallo Traoré
Ndiaye Haddad Khoury Nasser Hussein Abdi Farah Cohen Levy Goldberg Katz Rosenberg Kowalski Nowak
Wiśniewski Horvat Petrov Popescu Papadopoulos Rossi Russo Esposito Bianchi Fernandes Oliveira
Souza Medeiros Pacheco Furtado Raposo Gonzalez Hernandez Rodriguez Ramirez Morales Castillo Ortiz
Gutierrez Yamamoto Tanaka Sato Suzuki Watanabe Kahananui Begay Yazzie Tsosie O'Sullivan O'Brien
Murphy Kelly Byrne Gallagher Fitzgerald McAllister MacDonald Johansson Lindqvist Halvorsen Larsen
Schmidt Müller Becker Wagner Dubois Lefebvre Thibodeau Boucher Gagnon Ouellette Santos Reyes
Bautista Jean-Baptiste Pierre-Louis Celestin Garcia-Lopez Smith-Okafor Ahn-Kowalski LaFleur
DiMaggio Washington Jefferson Jackson Williams Johnson Smith Jones Davis Miller Wilson Moore
Thomas Francis Joseph Sullivan Szymanski Abernathy Whitcomb Pelletier Lavoie""".split()
LAST += ["St. Pierre", "van der Berg", "De La Cruz", "d'Angelo", "Al-Hassan", "bin Rashid",
         "ten Brink", "von Stein", "Da Silva", "dos Santos", "Two Bulls", "Mac an tSaoir"]

# (town, state, zip, area code)
TOWNS = {
    "NE": [("Athol", "MA", "01331", "978"), ("Orange", "MA", "01364", "978"), ("Winchendon", "MA", "01475", "978"),
           ("Gardner", "MA", "01440", "978"), ("Greenfield", "MA", "01301", "413"), ("Ware", "MA", "01082", "413"),
           ("Palmer", "MA", "01069", "413"), ("Ludlow", "MA", "01056", "413"), ("Petersham", "MA", "01366", "978"),
           ("Royalston", "MA", "01368", "978"), ("Erving", "MA", "01344", "413"), ("Turners Falls", "MA", "01376", "413"),
           ("Brattleboro", "VT", "05301", "802"), ("Bennington", "VT", "05201", "802"),
           ("St. Johnsbury", "VT", "05819", "802"), ("Keene", "NH", "03431", "603"), ("Berlin", "NH", "03570", "603"),
           ("Claremont", "NH", "03743", "603"), ("Millinocket", "ME", "04462", "207"),
           ("Presque Isle", "ME", "04769", "207"), ("Skowhegan", "ME", "04976", "207"), ("Rumford", "ME", "04276", "207"),
           ("Mexico", "ME", "04257", "207"), ("Friendship", "ME", "04547", "207"), ("Unity", "ME", "04988", "207"),
           ("Harmony", "ME", "04942", "207")],
    "SOUTH": [("Hope", "AR", "71801", "870"), ("Hazard", "KY", "41701", "606"), ("Pikeville", "KY", "41501", "606"),
              ("Paducah", "KY", "42001", "270"), ("Beckley", "WV", "25801", "304"), ("Bluefield", "WV", "24701", "304"),
              ("Elkins", "WV", "26241", "304"), ("Marshall", "TX", "75670", "903"), ("Yazoo City", "MS", "39194", "662"),
              ("Natchez", "MS", "39120", "601"), ("Opelousas", "LA", "70570", "337"), ("Thibodaux", "LA", "70301", "985"),
              ("Americus", "GA", "31709", "229"), ("Selma", "AL", "36701", "334"), ("Lumberton", "NC", "28358", "910"),
              ("Boone", "NC", "28607", "828"), ("Paris", "TN", "38242", "731"), ("Chillicothe", "OH", "45601", "740"),
              ("Zanesville", "OH", "43701", "740"), ("Marietta", "OH", "45750", "740")],
    "WEST": [("Normal", "IL", "61761", "309"), ("Liberty", "MO", "64068", "816"), ("Independence", "KS", "67301", "620"),
             ("Eureka", "CA", "95501", "707"), ("Truth or Consequences", "NM", "87901", "575"),
             ("Havre", "MT", "59501", "406"), ("Sturgis", "SD", "57785", "605"), ("Winner", "SD", "57580", "605"),
             ("Ely", "MN", "55731", "218"), ("Decorah", "IA", "52101", "563"), ("Ottumwa", "IA", "52501", "641"),
             ("Hershey", "PA", "17033", "717"), ("Ashtabula", "OH", "44004", "440")],
}

# (name, abbreviation or None)
HOSPITALS = {
    "NE": [("Athol Memorial Hospital", "AMH"), ("Heywood Hospital", None), ("Baystate Franklin Medical Center", "BFMC"),
           ("Baystate Wing Hospital", None), ("Cooley Dickinson Hospital", "CDH"), ("UMass Memorial Medical Center", "UMMC"),
           ("Massachusetts General Hospital", "MGH"), ("Brigham and Women's Hospital", "BWH"),
           ("Beth Israel Deaconess Medical Center", "BIDMC"), ("Mercy Medical Center", None),
           ("Brattleboro Memorial Hospital", "BMH"), ("Southwestern Vermont Medical Center", "SVMC"),
           ("Northeastern Vermont Regional Hospital", "NVRH"), ("Cheshire Medical Center", None),
           ("Dartmouth-Hitchcock Medical Center", "DHMC"), ("Androscoggin Valley Hospital", "AVH"),
           ("Millinocket Regional Hospital", None), ("Maine Medical Center", "MMC"),
           ("Redington-Fairview General Hospital", "RFGH"), ("Stephens Memorial Hospital", None)],
    "SOUTH": [("ARH Hazard Regional Medical Center", "Hazard ARH"), ("Pikeville Medical Center", "PMC"),
              ("Baptist Health Paducah", None), ("Raleigh General Hospital", None), ("Davis Medical Center", None),
              ("Christus Good Shepherd Medical Center", None), ("Natchez Regional Medical Center", None),
              ("Opelousas General Health System", "OGHS"), ("Thibodaux Regional Health System", None),
              ("Phoebe Sumter Medical Center", None), ("Vaughan Regional Medical Center", None),
              ("UNC Health Southeastern", None), ("Watauga Medical Center", None), ("Henry County Medical Center", "HCMC"),
              ("Adena Regional Medical Center", None), ("Marietta Memorial Hospital", None), ("Genesis Hospital", None),
              ("Wadley Regional Medical Center", None)],
    "WEST": [("OSF St. Joseph Medical Center", None), ("Liberty Hospital", None), ("Providence St. Joseph Hospital", None),
             ("Sierra Vista Hospital", None), ("Northern Montana Hospital", "NMH"), ("Sturgis Regional Hospital", None),
             ("Winner Regional Healthcare Center", None), ("Ely-Bloomenson Community Hospital", None),
             ("Winneshiek Medical Center", None), ("Ottumwa Regional Health Center", None),
             ("Penn State Health Milton S. Hershey Medical Center", "Hershey Med"), ("Ashtabula County Medical Center", "ACMC")],
}
NURSING_HOMES = {
    "NE": ["Quabbin Valley Healthcare", "The Arbors at Athol", "Applewood Rehabilitation Center", "Maple Terrace Nursing & Rehab",
           "Hillcrest Commons", "Heritage Hall East", "Fairview Commons Nursing and Rehabilitation Center",
           "Birchwood Terrace", "Oak Knoll Health Care", "Hebrew Rehabilitation Center", "St. Anne's Home"],
    "SOUTH": ["Golden LivingCenter - Hazard", "Mountain Laurel Manor", "Riverside Rehab & Skilled Nursing", "Pine Ridge Manor",
              "Willow Crest Assisted Living", "Bayou Chateau Nursing Center", "St. Anne's Home"],
    "WEST": ["Good Samaritan Society - Winner", "Sunnyview Nursing Home", "Cedar Hills Senior Living", "Prairie Rose Care Center",
             "Pine Ridge Manor", "St. Anne's Home"],
}
CLINICS = {"NE": ["Quabbin Family Practice", "North Quabbin Family Physicians", "Valley Medical Group", "Greenfield Cardiology Associates"],
           "SOUTH": ["Mountain View Internal Medicine", "Bayou Family Health", "Big Sandy Health Care"],
           "WEST": ["Prairie Lakes Family Clinic", "Gundersen Clinic", "High Plains Medical Group"]}
EMPLOYERS = ["L.S. Starrett", "Market Basket", "Walmart Distribution Center", "Catalyst Paper",
             "Big Y", "UPS", "Tractor Supply", "Pratt & Whitney", "Hannaford", "Dollar General",
             "Kroger", "Tyson Foods", "Peabody Energy", "Ben & Jerry's", "John Deere", "Cabela's"]
STREETS = ["Main St", "Main Street", "Elm St", "Pleasant St", "School Street", "Chestnut Hill Ave", "Old County Rd",
           "Depot Rd", "Mill Pond Lane", "Bridge St", "N. Washington Ave", "South Main Street", "Daniel Shays Hwy",
           "Route 2A", "Old Farm Road", "Partridgeville Rd", "Tully Road", "Cottage St", "Maple Ave", "W. River Road",
           "Hollow Creek Dr", "Pine Knot Ln", "County Road 12", "Bayou Black Dr", "Prairie View Rd", "Church St",
           "Hospital Rd", "Lake Shore Drive", "Highland Ave", "Spring St"]
INSURERS = ["Blue Cross Blue Shield", "MassHealth", "Tufts Health Plan", "Humana Gold Plus", "Aetna Medicare",
            "UnitedHealthcare", "Medicare", "Anthem", "Harvard Pilgrim", "Kentucky Medicaid"]
MAIL_DOMAINS = ["gmail.com", "yahoo.com", "comcast.net", "aol.com", "hotmail.com", "icloud.com", "verizon.net"]

MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December"]
NUM_WORDS = {90: "ninety", 91: "ninety-one", 92: "ninety-two", 93: "ninety-three", 94: "ninety-four",
             95: "ninety-five", 96: "ninety-six", 97: "ninety-seven", 98: "ninety-eight", 99: "ninety-nine",
             100: "one hundred", 101: "one hundred one", 102: "one hundred and two", 103: "one hundred three"}


# ----------------------------------------------------------------------------------
# Identifier formatting
# ----------------------------------------------------------------------------------

def ordinal(d: int) -> str:
    suf = "th" if 10 <= d % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(d % 10, "th")
    return f"{d}{suf}"


DATE_FORMS = {
    "mdy_slash": lambda d: f"{d.month:02d}/{d.day:02d}/{d.year}",
    "mdy_slash_nz": lambda d: f"{d.month}/{d.day}/{d.year}",
    "mdy_2y": lambda d: f"{d.month}/{d.day}/{d.year % 100:02d}",
    "mdy_2y_z": lambda d: f"{d.month:02d}/{d.day:02d}/{d.year % 100:02d}",
    "mdy_dash": lambda d: f"{d.month:02d}-{d.day:02d}-{d.year}",
    "md_slash": lambda d: f"{d.month}/{d.day}",
    "month_d_y": lambda d: f"{MONTHS[d.month - 1]} {d.day}, {d.year}",
    "mon_d_y": lambda d: f"{MONTHS[d.month - 1][:3]} {d.day}, {d.year}",
    "mon._d_y": lambda d: f"{MONTHS[d.month - 1][:3]}. {d.day}, {d.year}",
    "d_month_y": lambda d: f"{d.day} {MONTHS[d.month - 1]} {d.year}",
    "d-mon-y": lambda d: f"{d.day:02d}-{MONTHS[d.month - 1][:3]}-{d.year}",
    "dmony": lambda d: f"{d.day:02d}{MONTHS[d.month - 1][:3].upper()}{d.year}",
    "iso": lambda d: d.isoformat(),
    "month_d": lambda d: f"{MONTHS[d.month - 1]} {d.day}",
    "month_dth": lambda d: f"{MONTHS[d.month - 1]} {ordinal(d.day)}",
    "mon_d": lambda d: f"{MONTHS[d.month - 1][:3]} {d.day}",
    "month_y": lambda d: f"{MONTHS[d.month - 1]} {d.year}",
    "mm/yyyy": lambda d: f"{d.month:02d}/{d.year}",
    "mdy_dot": lambda d: f"{d.month}.{d.day}.{d.year % 100:02d}",
    "dth_of_month": lambda d: f"{ordinal(d.day)} of {MONTHS[d.month - 1]}",
}
STYLE_SETS = {
    "nursing": ["md_slash"] * 6 + ["mdy_2y"] * 2 + ["mdy_slash_nz"],
    "formal": ["month_d_y"] * 4 + ["mdy_slash"] * 3 + ["mon_d_y", "mon._d_y", "d_month_y"],
    "system": ["mdy_slash"] * 5 + ["mdy_2y_z", "d-mon-y", "dmony", "iso", "mdy_dash"],
    "chatty": ["md_slash"] * 3 + ["month_d", "month_dth", "mon_d", "mdy_slash_nz", "mdy_dot", "dth_of_month"],
    "mixed": [f for f in DATE_FORMS if f not in ("month_y", "mm/yyyy")],
}
VAGUE = ["month_y", "month_y", "mm/yyyy"]  # only for past events ("admitted in March 2021")


class Ctx(dict):
    """Per-note identities; identifier values are callables so each use can vary its form."""

    def __init__(self, rng: random.Random, style: str = "mixed"):
        super().__init__()
        self.rng = rng
        self.style = style


def pick(rng, seq):
    return seq[rng.randrange(len(seq))]


def digits(rng, n: int) -> str:
    return "".join(str(rng.randrange(10)) for _ in range(n))


def phone_parts(rng, area: str):
    exch = str(rng.randrange(2, 10)) + digits(rng, 2)
    if rng.random() < 0.15:
        exch = "555"
    return area, exch, digits(rng, 4)


PHONE_FORMS = {
    "paren": lambda a, e, l: f"({a}) {e}-{l}",
    "dash": lambda a, e, l: f"{a}-{e}-{l}",
    "dot": lambda a, e, l: f"{a}.{e}.{l}",
    "space": lambda a, e, l: f"{a} {e} {l}",
    "bare10": lambda a, e, l: f"{a}{e}{l}",
    "seven": lambda a, e, l: f"{e}-{l}",
    "one_dash": lambda a, e, l: f"1-{a}-{e}-{l}",
    "plus1": lambda a, e, l: f"+1 ({a}) {e}-{l}",
    "paren_nospace": lambda a, e, l: f"({a}){e}-{l}",
}


def fmt_phone(rng, parts, typ="PHONE", forms=None):
    form = pick(rng, forms or ["paren", "paren", "dash", "dash", "dash", "dot", "space", "bare10", "seven",
                                "one_dash", "plus1", "paren_nospace"])
    return P(typ, PHONE_FORMS[form](*parts), form)


def mbi(rng) -> str:
    L = "ACDEFGHJKMNPQRTUVWXY"
    AN = L + "0123456789"
    s = [str(rng.randrange(1, 10)), pick(rng, L), pick(rng, AN), str(rng.randrange(10)), pick(rng, L),
         pick(rng, AN), str(rng.randrange(10)), pick(rng, L), pick(rng, L), str(rng.randrange(10)),
         str(rng.randrange(10))]
    s = "".join(s)
    return s if rng.random() < 0.5 else f"{s[:4]}-{s[4:7]}-{s[7:]}"


def slug(s: str) -> str:
    """Lower-case ASCII letters only, for e-mail addresses and URLs."""
    return re.sub(r"[^a-z]", "", unicodedata.normalize("NFKD", s).encode("ascii", "ignore").decode().lower())


def upper_letters(rng, n):
    return "".join(pick(rng, "ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(n))


@dataclass
class Person:
    first: str
    last: str
    sex: str
    middle: str = ""


def person(rng, sex=None, last=None) -> Person:
    sex = sex or pick(rng, "MF")
    pool = FIRST_M if sex == "M" else FIRST_F
    first = pick(rng, pool) if rng.random() > 0.08 else pick(rng, FIRST_U)
    mid = pick(rng, "ABCDEFGHJKLMNPRSTW") if rng.random() < 0.4 else ""
    return Person(first, last or pick(rng, LAST), sex, mid)


def name_forms(rng, p: Person, typ: str):
    """Callables for the ways a person's name is written."""
    mi = f" {p.middle}." if p.middle else ""
    return {
        "full": lambda: P(typ, pick(rng, [f"{p.first} {p.last}", f"{p.first}{mi} {p.last}"]), "first_last"),
        "first_last": lambda: P(typ, f"{p.first} {p.last}", "first_last"),
        "lf": lambda: P(typ, f"{p.last}, {p.first}", "last_comma_first"),
        "hdr": lambda: P(typ, f"{p.last.upper()}, {p.first.upper()}" + (f" {p.middle}" if p.middle else ""),
                         "LAST_COMMA_FIRST"),
        "first": lambda: P(typ, p.first, "first"),
        "last": lambda: P(typ, p.last, "last"),
        "init_last": lambda: P(typ, f"{p.first[0]}. {p.last}", "initial_last"),
        "init_last_nodot": lambda: P(typ, f"{p.first[0]} {p.last}", "initial_last"),
    }


def age_at(dob: date, when: date) -> int:
    return when.year - dob.year - ((when.month, when.day) < (dob.month, dob.day))


# ----------------------------------------------------------------------------------
# Context builder: one patient world per note
# ----------------------------------------------------------------------------------

def make_ctx(rng: random.Random, style: str = "mixed") -> Ctx:
    c = Ctx(rng, style)
    region = pick(rng, ["NE", "NE", "NE", "SOUTH", "WEST"])
    c.region = region
    pt = person(rng)
    c.pt = pt
    # dates
    adm = date(2018, 1, 1) + timedelta(days=rng.randrange(0, 365 * 7))
    old = rng.random() < 0.4
    age = rng.randrange(90, 104) if old else (rng.randrange(45, 90) if rng.random() < 0.85 else rng.randrange(24, 45))
    dob = date(adm.year - age, 1, 1) + timedelta(days=rng.randrange(0, 365))
    if age_at(dob, adm) != age:
        dob = date(adm.year - age - 1, dob.month, min(dob.day, 28))
    age = age_at(dob, adm)
    c.age_n = age
    c.dates = {"adm": adm, "dob": dob, "dc": adm + timedelta(days=rng.randrange(2, 12)),
               "proc": adm + timedelta(days=rng.randrange(0, 3)),
               "prior": adm - timedelta(days=rng.randrange(20, 900)),
               "prior2": adm - timedelta(days=rng.randrange(901, 2500))}
    c.dates["fu"] = c.dates["dc"] + timedelta(days=rng.randrange(5, 30))
    c.dates["fu2"] = c.dates["fu"] + timedelta(days=rng.randrange(20, 90))
    styles = STYLE_SETS[style]
    for k, d in c.dates.items():
        st = styles + VAGUE if k.startswith("prior") and style in ("chatty", "mixed", "formal") else styles
        c["d_" + k] = (lambda d=d, st=st: date_piece(rng, d, st))
    c["dob"] = lambda: date_piece(rng, dob, STYLE_SETS["system"] if rng.random() < 0.7 else STYLE_SETS["formal"])
    c["d_adm_md"] = lambda: date_piece(rng, adm, ["md_slash"])
    c["yr_prior2"] = P("YEAR", str(c.dates["prior2"].year), "year")
    # pronouns etc.
    m = pt.sex == "M"
    c.update({"he": "he" if m else "she", "He": "He" if m else "She", "his": "his" if m else "her",
              "His": "His" if m else "Her", "him": "him" if m else "her", "man": "man" if m else "woman",
              "sexw": "male" if m else "female", "sexl": "M" if m else "F", "Mr": "Mr." if m else pick(rng, ["Mrs.", "Ms."]),
              "gent": "gentleman" if m else "lady", "spouse": "wife" if m else "husband"})
    # ages
    c["age"] = lambda: age_piece(rng, age, "num")
    c["age_yo"] = lambda: age_piece(rng, age, "yo")
    c["age_word"] = lambda: age_piece(rng, age, "word")
    # names
    for k, v in name_forms(rng, pt, "PATIENT").items():
        c["pt_" + k] = v
    c["pt_mr"] = lambda: [c["Mr"] + " ", P("PATIENT", pt.last, "title_last")]
    c["pt_any"] = lambda: pick(rng, [c["pt_first_last"], c["pt_mr"], c["pt_full"]])()
    # relatives
    rels = []
    spouse = person(rng, "F" if m else "M", pt.last if rng.random() < 0.8 else None)
    rels.append((c["spouse"], spouse))
    for _ in range(2):
        kid = person(rng, None, pt.last if rng.random() < 0.4 else None)
        rels.append(("son" if kid.sex == "M" else "daughter", kid))
    other = person(rng)
    rels.append((pick(rng, ["niece", "granddaughter", "sister", "friend", "neighbor", "cousin"] if other.sex == "F" else
                      ["nephew", "grandson", "brother", "friend", "neighbor", "cousin"]), other))
    if age > 80:
        rng.shuffle(rels)
    for i, (rel, p) in enumerate(rels[:3], 1):
        c[f"rel{i}_rel"] = rel
        c[f"rel{i}_person"] = p
        for k, v in name_forms(rng, p, "RELATIVE").items():
            c[f"rel{i}_{k}"] = v
    # clinicians
    for role in ["att", "pcp", "cons", "res", "rn", "rn2", "sw", "cm", "rad", "surg", "ep", "ph", "other"]:
        p = person(rng)
        while p.last == pt.last:
            p = person(rng)
        c[role + "_person"] = p
        for k, v in name_forms(rng, p, "CLINICIAN").items():
            c[f"{role}_{k}"] = v
        c[role + "_dr"] = (lambda p=p: pick(rng, [["Dr. ", P("CLINICIAN", p.last, "title_last")],
                                                 ["Dr ", P("CLINICIAN", p.last, "title_last")],
                                                 ["Dr. ", P("CLINICIAN", f"{p.first} {p.last}", "title_first_last")]]))
    # places
    town = pick(rng, TOWNS[region])
    town2 = pick(rng, TOWNS[region])
    c.town, c.town2 = town, town2
    c["town"] = P("CITY", town[0], "town")
    c["town2"] = P("CITY", town2[0], "town")
    c["st"] = P("STATE", town[1], "state")
    c["st2"] = P("STATE", town2[1], "state")
    c["zip"] = lambda: P("ZIP", town[2] if rng.random() < 0.85 else f"{town[2]}-{digits(rng, 4)}", "zip")
    street_no = str(rng.randrange(2, 9800))
    street = pick(rng, STREETS)
    apt = pick(rng, ["", "", "", f", Apt {rng.randrange(1, 30)}{pick(rng, ['', 'B', 'C'])}", f" Unit {rng.randrange(1, 12)}"])
    c["street"] = P("STREET", f"{street_no} {street}{apt}", "number_street")
    c["addr"] = lambda: [P("STREET", f"{street_no} {street}{apt}", "number_street"), ", ", P("CITY", town[0], "town"),
                         ", ", P("STATE", town[1], "state"), " ", c["zip"]()]
    c["addr_lines"] = lambda: [P("STREET", f"{street_no} {street}{apt}", "number_street"), "\n",
                               P("CITY", town[0], "town"), ", ", P("STATE", town[1], "state"), " ", c["zip"]()]
    c["pobox"] = P("STREET", pick(rng, [f"PO Box {rng.randrange(10, 999)}", f"P.O. Box {rng.randrange(10, 999)}",
                                        f"RR {rng.randrange(1, 5)} Box {rng.randrange(10, 400)}"]), "po_box")
    hosp, hosp_abbr = pick(rng, HOSPITALS[region])
    osh, osh_abbr = pick(rng, [h for h in HOSPITALS[region] if h[0] != hosp])
    c["hosp"] = P("FACILITY", hosp, "hospital")
    c["hosp_short"] = lambda: P("FACILITY", hosp_abbr, "abbrev") if hosp_abbr else P("FACILITY", hosp, "hospital")
    c["osh"] = P("FACILITY", osh, "hospital")
    c["osh_short"] = lambda: P("FACILITY", osh_abbr, "abbrev") if osh_abbr else P("FACILITY", osh, "hospital")
    c["nh"] = P("FACILITY", pick(rng, NURSING_HOMES[region]), "nursing_home")
    clin_town = pick(rng, [town, town2])
    c.clin_town = clin_town
    clinic = pick(rng, [f"{clin_town[0]} Family Medicine", f"{clin_town[0]} Internal Medicine Associates",
                        f"{clin_town[0]} Primary Care", f"{clin_town[0]} Community Health Center",
                        pick(rng, CLINICS[region]), pick(rng, CLINICS[region]), f"{c['pcp_person'].last} Family Practice"])
    c["clinic"] = P("FACILITY", clinic, "clinic")
    def place(t, sep):
        st = P("STREET", f"{rng.randrange(2, 990)} {pick(rng, STREETS)}" + pick(rng, ["", "", ", Suite 2" + digits(rng, 2)]), "number_street")
        return lambda: [st, sep, P("CITY", t[0], "town"), ", ", P("STATE", t[1], "state"), " ", P("ZIP", t[2], "zip")]
    c["caddr_lines"] = place(clin_town, "\n")
    c["caddr"] = place(clin_town, ", ")
    c["saddr_lines"] = place(town2, "\n")
    spec = pick(rng, ["Cardiology", "Pulmonary", "Nephrology", "Gastroenterology", "Neurology", "Oncology"])
    c["spec"] = spec
    c["spec_clinic"] = P("FACILITY", pick(rng, [f"{town2[0]} {spec} Associates", f"{spec} Associates of {town2[0]}",
                                                f"{hosp} {spec} Clinic"]), "clinic")
    c["employer"] = P("EMPLOYER", pick(rng, EMPLOYERS), "employer")
    # phones
    c["ph_pt"] = lambda parts=phone_parts(rng, town[3]): fmt_phone(rng, parts)
    c["ph_rel"] = lambda parts=phone_parts(rng, pick(rng, [town[3], town2[3], "617", "212", "404"])): fmt_phone(rng, parts)
    c["ph_rel2"] = lambda parts=phone_parts(rng, pick(rng, [town[3], town2[3], "860", "720"])): fmt_phone(rng, parts)
    c["ph_clinic"] = lambda parts=phone_parts(rng, clin_town[3]): fmt_phone(rng, parts, forms=["paren", "dash", "dot"])
    c["fax"] = lambda parts=phone_parts(rng, clin_town[3]): fmt_phone(rng, parts, "FAX", ["paren", "dash", "dot", "space"])
    c["fax2"] = lambda parts=phone_parts(rng, town2[3]): fmt_phone(rng, parts, "FAX", ["paren", "dash", "dot"])
    c["ph_hosp"] = lambda parts=phone_parts(rng, town2[3]): fmt_phone(rng, parts, forms=["paren", "dash", "dot"])
    c["ext"] = lambda e=str(rng.randrange(2000, 8999)): P("PHONE", e, "extension")
    c["pager"] = lambda pg=pick(rng, [f"{rng.randrange(1, 9)}-{digits(rng, 4)}", digits(rng, 5), f"#{digits(rng, 4)}",
                                      f"{town[3]}-{rng.randrange(2, 9)}{digits(rng, 2)}-{digits(rng, 4)}"]): (
        ["#", P("PAGER", pg[1:], "pager")] if pg.startswith("#") else P("PAGER", pg, "pager"))
    # numbers
    mrn = pick(rng, [digits(rng, 7), digits(rng, 8), "00" + digits(rng, 7), f"{digits(rng, 2)}-{digits(rng, 2)}-{digits(rng, 2)}-{digits(rng, 1)}",
                     upper_letters(rng, 1) + digits(rng, 7), "E" + digits(rng, 9), digits(rng, 6)])
    c["mrn"] = P("MRN", mrn, "mrn")
    c["acct"] = P("ACCOUNT", pick(rng, [digits(rng, 10), digits(rng, 11), "V" + digits(rng, 11), digits(rng, 8),
                                        f"{digits(rng, 4)}-{digits(rng, 6)}"]), "account")
    c["csn"] = P("ACCOUNT", "1" + digits(rng, 9), "csn")
    c["hp"] = P("HEALTHPLAN", pick(rng, [upper_letters(rng, 3) + digits(rng, 9), digits(rng, 12), f"{digits(rng, 8)}-0{rng.randrange(1, 4)}",
                                         upper_letters(rng, 1) + digits(rng, 8), f"{upper_letters(rng, 3)}W{digits(rng, 8)}"]), "member_id")
    c["group"] = P("HEALTHPLAN", pick(rng, [digits(rng, 6), digits(rng, 5) + upper_letters(rng, 1), f"{digits(rng, 3)}-{digits(rng, 4)}"]), "group")
    c["mbi"] = P("HEALTHPLAN", mbi(rng), "medicare_mbi")
    ssn = f"{rng.randrange(1, 899):03d}-{rng.randrange(1, 99):02d}-{rng.randrange(1, 9999):04d}"
    c["ssn"] = P("SSN", ssn, "ssn")
    c["ssn4"] = P("SSN", ssn[-4:], "ssn_last4")
    c["npi"] = P("LICENSE", str(rng.randrange(1, 2)) + digits(rng, 9), "npi")
    c["dea"] = P("LICENSE", upper_letters(rng, 2) + digits(rng, 7), "dea")
    c["lic"] = P("LICENSE", pick(rng, [digits(rng, 6), digits(rng, 5), f"RN{digits(rng, 6)}", f"MD{digits(rng, 5)}"]), "state_license")
    c["dl"] = P("LICENSE", pick(rng, ["S" + digits(rng, 8), digits(rng, 9), upper_letters(rng, 1) + digits(rng, 7)]), "drivers_license")
    c["acc"] = P("OTHER_ID", pick(rng, [digits(rng, 8), f"RAD{digits(rng, 7)}", f"CT-{adm.year % 100}-{digits(rng, 6)}",
                                        f"{upper_letters(rng, 2)}{digits(rng, 8)}", f"E{digits(rng, 7)}"]), "accession")
    c["path_acc"] = P("OTHER_ID", pick(rng, [f"S{adm.year % 100}-{rng.randrange(100, 29999)}", f"SP-{adm.year % 100}-{digits(rng, 5)}",
                                             f"CS{adm.year % 100}-{digits(rng, 4)}"]), "path_accession")
    c["lab_acc"] = P("OTHER_ID", pick(rng, [f"{digits(rng, 3)}-{digits(rng, 3)}-{digits(rng, 4)}", f"L{digits(rng, 9)}",
                                            f"{adm.year % 100}{adm.timetuple().tm_yday:03d}{digits(rng, 4)}"]), "lab_accession")
    c["job"] = P("OTHER_ID", digits(rng, rng.randrange(5, 8)), "job_number")
    c["auth"] = P("OTHER_ID", pick(rng, [f"{adm.year}{digits(rng, 6)}", f"PA-{digits(rng, 7)}", f"A{digits(rng, 9)}"]), "auth_number")
    c["rx"] = lambda: P("OTHER_ID", pick(rng, [digits(rng, 7), f"{digits(rng, 7)}-{digits(rng, 5)}", f"RX{digits(rng, 6)}"]), "rx_number")
    c["clia"] = P("LICENSE", f"{digits(rng, 2)}D{digits(rng, 7)}", "clia")
    c["me_case"] = P("OTHER_ID", pick(rng, [f"{adm.year % 100}-{digits(rng, 4)}", f"ME{adm.year}-{digits(rng, 4)}"]), "me_case")
    c["badge"] = P("OTHER_ID", digits(rng, rng.randrange(3, 5)), "badge")
    c["run"] = P("OTHER_ID", pick(rng, [f"{adm.year % 100}-{digits(rng, 6)}", digits(rng, 8)]), "ems_run")
    c["claim"] = P("OTHER_ID", pick(rng, [digits(rng, 13), f"{upper_letters(rng, 2)}{digits(rng, 10)}"]), "claim")
    c["sn"] = lambda: P("DEVICE", pick(rng, [f"{upper_letters(rng, 3)}{digits(rng, 6)}{upper_letters(rng, 1)}",
                                             f"{upper_letters(rng, 2)}{digits(rng, 7)}", digits(rng, 9),
                                             f"{digits(rng, 7)}-{digits(rng, 3)}", f"{digits(rng, 11)}"]), "serial")
    c["lot"] = lambda: P("DEVICE", pick(rng, [digits(rng, 8), f"{upper_letters(rng, 1)}{digits(rng, 6)}"]), "lot")
    c["plate"] = P("VEHICLE", pick(rng, [f"{digits(rng, 1)}{upper_letters(rng, 3)}{digits(rng, 2)}",
                                         f"{upper_letters(rng, 3)} {digits(rng, 3)}", digits(rng, 7),
                                         f"{upper_letters(rng, 3)}-{digits(rng, 4)}", f"{digits(rng, 3)} {upper_letters(rng, 3)}"]), "plate")
    c["vin"] = P("VEHICLE", "1" + pick(rng, ["FT", "G1", "HG", "N4", "C4"]) + upper_letters(rng, 2) + digits(rng, 2)
                 + upper_letters(rng, 1) + digits(rng, 1) + upper_letters(rng, 3) + digits(rng, 5), "vin")
    c["ip"] = P("IP", f"{rng.randrange(24, 223)}.{rng.randrange(0, 255)}.{rng.randrange(0, 255)}.{rng.randrange(1, 254)}", "ipv4")
    # e-mail and URLs
    sep = pick(rng, [".", "_", ""])
    c["email_pt"] = P("EMAIL", pick(rng, [f"{slug(pt.first)}{sep}{slug(pt.last)}{rng.randrange(1, 99)}",
                                          f"{slug(pt.first)[:1]}{slug(pt.last)}", f"{slug(pt.last)}{slug(pt.first)[:1]}{rng.randrange(40, 99)}",
                                          f"{pick(rng, ['grammy', 'nana', 'papa', 'fishin', 'redsox', 'gopher'])}{rng.randrange(1, 999)}"])
                       + "@" + pick(rng, MAIL_DOMAINS), "email")
    dom = slug(clinic)[:18] + pick(rng, [".org", ".com"])
    c.dom = dom
    c["email_dr"] = lambda: P("EMAIL", f"{slug(c['pcp_person'].first)[:1]}{slug(c['pcp_person'].last.lower())}@{dom}", "email")
    c["email_rel"] = P("EMAIL", f"{slug(c['rel1_person'].first.lower())}.{slug(c['rel1_person'].last.lower())}@{pick(rng, MAIL_DOMAINS)}", "email")
    c["url_clinic"] = P("URL", pick(rng, [f"www.{dom}", f"https://www.{dom}", f"{dom}/patients"]), "url")
    c["url_portal"] = P("URL", pick(rng, [f"https://mychart.{dom}", f"https://portal.{dom}/login", f"mychart.{dom}"]), "url")
    c["url_pt"] = P("URL", pick(rng, [f"www.caringbridge.org/visit/{slug(pt.first.lower() + pt.last.lower())}",
                                      f"https://www.gofundme.com/f/help-{slug(pt.first.lower())}-{slug(pt.last.lower())}",
                                      f"facebook.com/{slug(pt.first.lower())}.{slug(pt.last.lower())}.{rng.randrange(1, 99)}"]), "url")
    return c


def date_piece(rng, d: date, styles):
    form = pick(rng, styles)
    txt = DATE_FORMS[form](d)
    if form in ("month_d_y", "mon_d_y") and rng.random() < 0.1:
        return [d.strftime("%A") + ", ", P("DATE", txt, form)]
    return P("DATE", txt, form)


def age_piece(rng, age: int, how: str):
    over = age >= 90
    if how == "word" and over and age in NUM_WORDS:
        return P("AGE", NUM_WORDS[age], "age_words")
    if how == "yo":
        tail = pick(rng, [" yo", " y/o", "-year-old", " year old", "yo", " YO", " y.o.", " yr old"])
        return [P("AGE", str(age), "age_yo"), tail] if over else f"{age}{tail}"
    return P("AGE", str(age), "age_num") if over else str(age)


# ----------------------------------------------------------------------------------
# Clinical material (hand-written)
# ----------------------------------------------------------------------------------

NEURO = [
    "alert and oriented x3, follows commands, MAE. PERRL 3mm brisk.",
    "lethargic but arousable to voice, oriented to self only. moves all extremities to command. no seizure activity noted.",
    "sedated on propofol 30 mcg/kg/min, RASS -2. opens eyes to voice, does not follow commands consistently. PERRL.",
    "A&Ox2 (not to date), intermittently confused overnight, reoriented frequently. CAM positive, ?delirium. haldol 2 mg IV x1 with good effect.",
    "GCS 14. c/o HA 4/10, tylenol given. no focal deficits. Babinski negative bilat.",
    "hx Parkinson's, baseline resting tremor R>L. speech soft but clear. sinemet given on time per home schedule.",
    "pleasantly demented (hx Alzheimer's dementia), oriented to self. calm, cooperative with care. bed alarm on.",
    "Glasgow coma scale 15, no deficits, keppra continued for seizure ppx.",
]
CV = [
    "SR 70-80s without ectopy. SBP 100-120s. K 3.6 repleted with 40 meq potassium chloride PO. mag 1.8, 2 gm magnesium sulfate IV given.",
    "afib 90-110s, rate controlled on metoprolol 5 mg IV q6h. BP stable 110s-130s/60s. heparin gtt at 1100 units/hr, PTT 68 this am.",
    "ST 100-115 with occ PVCs. MAP >65 on levophed 0.06 mcg/kg/min, weaning as tol. palp pulses x4.",
    "NSR 60s. BP 140-160s/70s, hydralazine 10 mg IV x1 with effect. +1 pitting edema bilat LE.",
    "HR 80s paced. amiodarone gtt d/c'd at 1400, started on PO amiodarone. no CP.",
    "SR/ST 90s, SBP 90s-100s, fluid bolus 500 cc NS x1 for hypotension with good response. lactate 2.1.",
    "tachycardia to 120s with fever, resolved after tylenol. coumadin held, INR 3.4.",
]
RESP = [
    "LS coarse bilat, clearing with cough. sx for thick tan sputum. on 4L NC, sats 94-96%.",
    "remains intubated on AC 500x14, FiO2 40%, PEEP 8. sats 97-99%. ABG 7.38/42/96. sx'd for mod amt white secretions.",
    "crackles at bases bilat, diminished LLL. on 50% face tent, sats 92-95%. CXR this am shows worsening LLL consolidation vs atelectasis.",
    "extubated to 40% cool neb at 1015, tolerating well. strong cough, LS clear upper, diminished bases. IS 750.",
    "rhonchi throughout, nebs given (albuterol/atrovent) q4h. RR 20s, no distress. sats 93% on 3L.",
    "BiPAP 12/5 overnight for comfort, off this am onto 2L NC. no SOB at rest. lungs clear after diuresis.",
]
GI = [
    "abd soft, NT/ND, +BS. tolerating clear liquids. no BM this shift.",
    "abd obese, soft, hypoactive BS. TF (jevity 1.2) at goal 55 cc/hr via OGT, residuals <50. protonix IV daily.",
    "+flatus, no BM x3 days, senna/colace given. NPO after MN for EGD.",
    "abdomen distended, firm, tender to palpation RLQ. KUB done, results pending. surgery aware.",
    "taking po's fair, ate 50% of dinner. 1 large loose brown stool, c. diff sent.",
]
GU = [
    "foley draining clear yellow urine 40-60 cc/hr.",
    "foley d/c'd at 0600, voiding qs in urinal.",
    "UO marginal 20-30 cc/hr, lasix 40 mg IV given with good diuresis, -1.2L since MN.",
    "foley to gravity, amber urine with sediment. Cr 2.4 up from 1.9, kidney function worse. renal following.",
    "incontinent of urine x2, skin care provided, condom cath placed.",
]
IDS = [
    "Tmax 100.4 po. on vanco/zosyn. WBC 14.2 from 16.8. BC x2 pending.",
    "afebrile. ceftriaxone and azithromycin for CAP, day 3 of abx.",
    "T 101.8 at 0200, tylenol 650 mg PR given, pan cultured. MRSA swab neg. ?sepsis, vancomycin started.",
    "Tmax 99.1. cefazolin for LLE cellulitis, border marked, erythema receding.",
]
SKIN = [
    "intact. stage II decub on coccyx, duoderm in place. turned q2h.",
    "ecchymosis bilat arms from lab draws. heels offloaded with pillows.",
    "L hip incision with staples, dsg dry & intact. no drainage. lovenox for DVT ppx.",
    "skin warm, dry, intact. R IJ TLC site clean, dsg changed.",
]
ENDO = ["RISS, BS 140s-180s, covered per scale.", "insulin gtt per protocol, BS 120-160s.",
        "fingersticks ac/hs, BS 98-210, 4 units lispro x1. metformin held."]
PLAN = [
    "cont to monitor resp status, wean O2 as tol, ?transfer to floor in am.",
    "wean levophed to off, f/u BC, trend lactate, family meeting tomorrow at 1400.",
    "cont heparin gtt, PTT q6h, echo in am, PT/OT consults.",
    "SBT in am if secretions decrease, cont abx, keep K >4 and mag >2.",
    "comfort focused care per family wishes, morphine prn, chaplain to see.",
    "monitor for signs of withdrawal (CIWA q4h), ativan per scale.",
]
DX_SHORT = ["resp failure", "urosepsis", "CHF exacerbation", "afib with RVR", "GI bleed", "COPD flare",
            "aspiration pneumonia", "DKA", "hip fracture", "SBO", "ICH", "hyponatremia", "NSTEMI", "altered mental status"]
PMH = ["HTN, DM2, CAD s/p CABG, CKD III", "COPD on 2L home O2, afib on coumadin", "dementia, HTN, hypothyroidism",
       "ETOH abuse, cirrhosis, varices", "Parkinson's disease, BPH, depression", "CHF (EF 25%), ICD, DM2",
       "CKD, gout, OSA on CPAP", "CVA with residual L sided weakness, HTN, HLD", "ESRD on HD MWF"]

# Each case: dx, hpi, course, exam, meds, impression; texts may use {pt_mr}, {he}, {his}...
CASES = [
    dict(dx="Community-acquired pneumonia with acute hypoxic respiratory failure",
         hpi="{pt_mr} is a {age_yo} {man} with COPD who presented with four days of productive cough, fevers and worsening dyspnea. In the ED {he} was hypoxic to 86% on room air and chest x-ray showed a right lower lobe consolidation.",
         course="{He} was treated with ceftriaxone and azithromycin with steady improvement. Blood cultures remained negative. Oxygen was weaned to room air by hospital day four and {he} ambulated with physical therapy without desaturation.",
         exam="Lungs with crackles at the right base, no wheezes. Heart regular, no murmur. No edema.",
         meds=["cefpodoxime 200 mg PO BID x 3 more days", "albuterol inhaler 2 puffs q4h prn", "tiotropium 18 mcg inhaled daily"],
         imp="Right lower lobe pneumonia, improving."),
    dict(dx="Acute on chronic systolic heart failure",
         hpi="{pt_mr} is a {age_yo} {man} with ischemic cardiomyopathy (EF 25%) who presented with two weeks of orthopnea, weight gain of 8 lbs and lower extremity edema after running out of furosemide.",
         course="{He} was diuresed with IV furosemide with net negative 6 liters. Metoprolol succinate was continued and lisinopril resumed once creatinine stabilized. Discharge weight 78.4 kg.",
         exam="JVP to the angle of the jaw, bibasilar crackles, 2+ pitting edema to the knees. S3 present.",
         meds=["furosemide 40 mg PO BID", "metoprolol succinate 50 mg PO daily", "lisinopril 5 mg PO daily", "aspirin 81 mg PO daily", "atorvastatin 80 mg PO nightly"],
         imp="Decompensated heart failure, volume overloaded, improving with diuresis."),
    dict(dx="Atrial fibrillation with rapid ventricular response",
         hpi="{pt_mr} is a {age_yo} {man} with hypertension who noted palpitations and lightheadedness since the morning of admission. EKG showed atrial fibrillation at 148 beats per minute.",
         course="Rate was controlled with IV diltiazem and then oral metoprolol. Echocardiogram showed normal left ventricular function and mild left atrial enlargement. {He} was started on apixaban after discussion of bleeding risk.",
         exam="Irregularly irregular rhythm, no murmur. Lungs clear. No edema.",
         meds=["metoprolol tartrate 50 mg PO BID", "apixaban 5 mg PO BID (Eliquis)", "lisinopril 10 mg PO daily"],
         imp="New atrial fibrillation, CHA2DS2-VASc 4, rate controlled."),
    dict(dx="Left femoral neck fracture status post hemiarthroplasty",
         hpi="{pt_mr} is a {age_yo} {man} who fell at home while getting up at night to use the bathroom and was unable to bear weight. X-ray showed a displaced left femoral neck fracture.",
         course="{He} underwent left hip hemiarthroplasty by orthopedics on hospital day one without complication. Postoperative course notable for mild delirium, managed without restraints. Lovenox for DVT prophylaxis for 28 days.",
         exam="Left hip incision clean and dry with staples. Distal pulses intact. Mild confusion, redirectable.",
         meds=["enoxaparin (Lovenox) 40 mg SC daily x 28 days", "oxycodone 2.5 mg PO q6h prn severe pain", "acetaminophen 1 g PO TID", "senna 8.6 mg PO nightly"],
         imp="Femur fracture, postoperative day three, weight bearing as tolerated."),
    dict(dx="COPD exacerbation",
         hpi="{pt_mr} is a {age_yo} {man} with severe COPD on home oxygen who presented with increased sputum and dyspnea after an upper respiratory infection.",
         course="Treated with nebulized albuterol and ipratropium, prednisone 40 mg daily and doxycycline. {He} required BiPAP for the first night only.",
         exam="Diffuse expiratory wheezes, prolonged expiratory phase, accessory muscle use at rest on arrival.",
         meds=["prednisone 40 mg PO daily x 2 more days", "doxycycline 100 mg PO BID x 3 days", "albuterol nebs q4h prn", "home oxygen 2 L"],
         imp="Acute exacerbation of COPD, resolving."),
    dict(dx="Urosepsis with metabolic encephalopathy",
         hpi="{pt_mr} is a {age_yo} {man} with dementia sent in by the nursing home staff for fever, lethargy and decreased oral intake. Urinalysis was grossly positive and lactate was 3.4.",
         course="{He} received fluid resuscitation and ceftriaxone, narrowed to cephalexin when urine culture grew pan-sensitive E. coli. Mental status returned to baseline by day three.",
         exam="Dry mucous membranes, suprapubic tenderness, oriented to self only.",
         meds=["cephalexin 500 mg PO QID x 5 days", "donepezil 10 mg PO nightly", "tamsulosin 0.4 mg PO daily"],
         imp="Sepsis from urinary source, resolved; delirium resolving."),
    dict(dx="Upper GI bleed from duodenal ulcer",
         hpi="{pt_mr} is a {age_yo} {man} taking daily ibuprofen for arthritis who presented with melena and near syncope. Hemoglobin was 6.8 on arrival.",
         course="Transfused two units of packed red cells. EGD showed a clean-based duodenal ulcer. H. pylori serology was positive and triple therapy was started. Pantoprazole continued.",
         exam="Pale conjunctivae, epigastric tenderness, melena on rectal exam.",
         meds=["pantoprazole 40 mg PO BID x 8 weeks", "amoxicillin 1 g PO BID x 14 days", "clarithromycin 500 mg PO BID x 14 days"],
         imp="Duodenal ulcer bleed, hemodynamically stable, anemia."),
    dict(dx="Acute ischemic stroke, left MCA territory",
         hpi="{pt_mr} is a {age_yo} {man} found by family with right sided weakness and word-finding difficulty; last known well the night prior, outside the window for thrombolysis.",
         course="MRI confirmed a left MCA infarct. Carotid ultrasound showed 50-69% stenosis of the left internal carotid. Started on aspirin and clopidogrel for 21 days and high intensity atorvastatin. Speech therapy evaluated.",
         exam="Expressive aphasia, right facial droop, right arm 3/5, right leg 4/5. Babinski positive on the right.",
         meds=["aspirin 81 mg PO daily", "clopidogrel (Plavix) 75 mg PO daily x 21 days", "atorvastatin 80 mg PO nightly"],
         imp="Left MCA ischemic stroke with residual aphasia and right hemiparesis."),
    dict(dx="Right lower extremity cellulitis",
         hpi="{pt_mr} is a {age_yo} {man} with diabetes who noticed redness and swelling of the right shin for three days with low grade fevers.",
         course="Treated with IV cefazolin, transitioned to oral cephalexin. Erythema receded within the marked borders. No abscess on ultrasound.",
         exam="Warm, tender erythema of the anterior right shin, no fluctuance, no crepitus.",
         meds=["cephalexin 500 mg PO QID x 7 days", "metformin 1000 mg PO BID", "insulin glargine 18 units nightly"],
         imp="Nonpurulent cellulitis, improving."),
    dict(dx="Symptomatic hyponatremia",
         hpi="{pt_mr} is a {age_yo} {man} on hydrochlorothiazide and sertraline who presented with confusion and falls; sodium was 118.",
         course="Thiazide was stopped and {he} was fluid restricted. Sodium was corrected slowly to 131 at discharge without neurologic change.",
         exam="Euvolemic, mildly confused, no focal deficits, no asterixis.",
         meds=["sertraline 50 mg PO daily", "amlodipine 5 mg PO daily", "fluid restriction 1.2 L per day"],
         imp="Hyponatremia likely thiazide and SSRI related, improving."),
]
RAD_EXAMS = [
    dict(exam="CHEST, 2 VIEWS (PA AND LATERAL)", hist="cough, fever", tech="PA and lateral radiographs of the chest.",
         find="There is a new patchy consolidation in the right lower lobe. Small right pleural effusion. No pneumothorax. The cardiomediastinal silhouette is within normal limits. Degenerative changes of the thoracic spine.",
         imp="1. Right lower lobe consolidation, compatible with pneumonia in the appropriate clinical setting.\n2. Small right pleural effusion."),
    dict(exam="CT HEAD WITHOUT CONTRAST", hist="fall, on anticoagulation, headache", tech="Axial images of the head were obtained without intravenous contrast. Sagittal and coronal reformats were reviewed.",
         find="No acute intracranial hemorrhage, mass effect or midline shift. Moderate periventricular white matter hypodensities, likely chronic small vessel ischemic disease. Age-related volume loss. The ventricles are proportionate. Mastoid air cells are clear.",
         imp="No acute intracranial abnormality. Chronic microvascular ischemic change."),
    dict(exam="CT ABDOMEN AND PELVIS WITH IV CONTRAST", hist="RLQ pain, leukocytosis", tech="Helical CT of the abdomen and pelvis after 100 mL Omnipaque 350. Oral contrast was not given.",
         find="The appendix is dilated to 13 mm with periappendiceal fat stranding and an appendicolith. No free air or drainable fluid collection. The liver, spleen, pancreas, adrenal glands and kidneys are unremarkable. Aorta is normal in caliber with atherosclerotic calcification.",
         imp="Acute uncomplicated appendicitis."),
    dict(exam="US ABDOMEN RIGHT UPPER QUADRANT", hist="RUQ pain, elevated LFTs", tech="Grayscale and color Doppler images of the right upper quadrant.",
         find="Multiple mobile gallstones with gallbladder wall thickening to 5 mm and pericholecystic fluid. Sonographic Murphy sign was positive. Common bile duct measures 4 mm. The liver is normal in echotexture.",
         imp="Findings consistent with acute calculous cholecystitis."),
    dict(exam="CTA CHEST (PE PROTOCOL)", hist="dyspnea, tachycardia, elevated D-dimer", tech="CT angiography of the chest with 75 mL intravenous contrast.",
         find="Filling defects in the right lower lobe segmental and subsegmental pulmonary arteries. RV/LV ratio 0.9. No pleural effusion. A 6 mm solid nodule in the left upper lobe. Mild cardiomegaly. Coronary artery calcifications.",
         imp="1. Acute right lower lobe pulmonary emboli without right heart strain.\n2. 6 mm left upper lobe nodule; follow-up per Fleischner guidelines."),
    dict(exam="XR LEFT HIP AND PELVIS", hist="fall, left hip pain", tech="AP pelvis and two views of the left hip.",
         find="Displaced subcapital fracture of the left femoral neck. No dislocation. Diffuse osteopenia. Mild degenerative narrowing of the right hip joint.",
         imp="Displaced left femoral neck fracture."),
]
SOCIAL_WORK = [
    "Pt lives alone in a two-story home with {n} steps to enter and the bedroom upstairs.",
    "Pt lives with {his} {rel1_rel} in a single-level mobile home; {rel1_rel} works days and pt is alone 8-10 hours.",
    "Pt receives SSI and food stamps; reports difficulty affording co-pays for inhalers.",
    "Pt has a remote history of alcohol use disorder, sober 12 years, attends AA twice weekly.",
    "Pt was previously independent with ADLs and drove until last winter.",
]

# Capitalised words checked by hand not to be names: the only capitalised words allowed
# in sentences borrowed from MTS-Dialog / ACI-Bench.
SAFE_CAPS = set("""The She He I No Patient Denies We There Her This His It All Endorses At Respiratory In After
Negative Right Cardiovascular Constitutional Lungs They Neurological Significant Positive Tylenol Pain
Gastrointestinal Auscultation Normal CT MSK These Additional Regular Regarding Testing X-ray Tobacco General
GI If Mother A Continue Since However Risks X-rays Bilateral As On Family Psychiatric Tenderness Heart Denied
Otherwise Mom Coumadin Clear When CVA Abdomen Also Today Left Given GU Neck Genitourinary Mild Has Blood
COPD Father Status Ears Throat Follow-up None Currently IV Review With Apparently Range CBC CPAP CV EKG An
Sensation Skin Nose Mouth Chest While EMG Unfortunately Over NEURO Elevated Congestive Additionally For
Lexapro Benadryl Neurontin Upper Please Most Occasionally Ibuprofen Recently HPI Supple Pulmonary During Prior
Eyes Prozac Back Physical Decreased Labs Norvasc Palpation Past Disease HTN Diabetes Claritin Other
Hypertension Overall HIV BMP Abdominal Pressure Both Maternal Within Essentially States NSAID HEENT
Initially Lasix ACE Chronic Slight Echocardiogram ROM Ecchymosis Vitals EGD TIA PSA Symptoms Lower Again
Possible ER Social Flonase TSH Advil Last Nausea Lives ED Does Multiple Full Presently Stable Cervical
Subsequently Not Renal Because Extremities Swelling Lipid Synthroid Imitrex Trace Newly Electrocardiogram
NSAIDs Erythema Temperature Cranial Acute Symptomatic Severe Complete According Home Radiographs Toprol Advair
Associated MRSA Chantix Grandfather Grandmother SOB Retired CHF DM Per Proscar Several Brother Sister Lipitor
Bactrim Shortness Frequency Motor Musculoskeletal Examination Reports Education Counseling MRI Strong Heart
Non-healing Cholecystectomy Extremities Sometimes Actually Anemia Married""".split())
BANNED_LOWER = set("""january february march april june july august september october november december monday
tuesday wednesday thursday friday saturday sunday christmas thanksgiving easter hospital clinic dr doctor mr mrs
ms miss named""".split())


FIRST_WORDS_OK = set("""No Denies Negative""".split())


def borrowed_sentences() -> list:
    """Sentences from MTS-Dialog / ACI-Bench that cannot carry an identifier (see SAFE_CAPS)."""
    out = []
    files = [(SHARED / "mts_dialog" / "MTS-Dialog-TrainingSet.csv", "section_text"),
             (SHARED / "aci_bench" / "train.csv", "note")]
    for path, col in files:
        if not path.exists():
            continue
        with path.open(newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                for s in re.split(r"(?<=[.!?])\s+|\n+", row.get(col) or ""):
                    s = s.strip()
                    if not (40 <= len(s) <= 200) or not s.endswith(".") or re.search(r"\d", s):
                        continue
                    if not s.isascii() or s.count(".") > 2 or ":" in s or "[" in s:
                        continue
                    words = re.findall(r"[A-Za-z][A-Za-z'-]*", s)
                    if any(w.lower().strip("'") in BANNED_LOWER for w in words):
                        continue
                    if any(w[0].isupper() and w not in SAFE_CAPS for w in words):
                        continue
                    if words[0] not in FIRST_WORDS_OK and not s.startswith("The patient denies"):
                        continue  # keep neutral, objective sentences only
                    if re.search(r"\b(he|she|his|her|him|mom|dad|wife|husband|son|daughter)\b", s, re.I):
                        continue  # pronouns would clash with the note's patient
                    out.append(s)
    return sorted(set(out))


# ----------------------------------------------------------------------------------
# Note kinds
# ----------------------------------------------------------------------------------

def sentences(rng, pool, k):
    return " ".join(rng.sample(pool, k))


def k_icu_npn(rng, c, extra):
    """ICU nursing note, ALL CAPS, PhysioNet style."""
    n = Note("icu_nursing", "upper")
    c["dx"] = pick(rng, DX_SHORT)
    c["pmh"] = pick(rng, PMH)
    hdr = pick(rng, ["NPN 7P-7A\n", "NURSING PROGRESS NOTE 0700-1900\n", "MICU NSG NOTE 7A-7P\n", "CCU NPN\n", "NSG ADMIT NOTE\n"])
    n.add(hdr, c)
    n.add(pick(rng, [
        "PT IS A {age} YO {sexl} ADMITTED FROM {osh_short} ON {d_adm_md} WITH {dx}. PMH: {pmh}.\n",
        "{age}YO {sexw} TRANSFERRED FROM {osh} ED {d_adm} FOR MGMT OF {dx}. HX {pmh}.\n",
        "PT IS A {age} Y/O {sexw} FROM {nh} ADMITTED {d_adm_md} W/ {dx}. PMH {pmh}. FULL CODE.\n",
        "{age_yo} {sexw} W/ {pmh} ADMITTED TO MICU FROM {town} WITH {dx} ON {d_adm}.\n",
    ]), c)
    parts = [("NEURO", NEURO), ("CV", CV), ("RESP", RESP), ("GI", GI), ("GU", GU), ("ID", IDS), ("SKIN", SKIN), ("ENDO", ENDO)]
    for head, pool in parts:
        if rng.random() < 0.85:
            n.add(f"{head}: " + pick(rng, pool) + "\n", c)
    n.add("SOCIAL: " + pick(rng, [
        "{rel1_rel} {rel1_first} IN TO VISIT, UPDATED BY DR {att_last} RE: PLAN OF CARE. ",
        "{rel1_rel} AND {rel2_rel} CALLED X2, UPDATED. {rel1_rel} {rel1_first_last} IS HCP, CELL {ph_rel}. ",
        "NO CONTACT FROM FAMILY THIS SHIFT. {rel1_rel} ({rel1_first}) LEFT #{ph_rel} - PLEASE CALL IF ANY CHANGE. ",
        "{rel1_rel} {rel1_first} AND {rel2_rel} {rel2_first} AT BEDSIDE ALL EVENING, VERY SUPPORTIVE. MET WITH DR {att_last} AND DR {cons_last} ({spec}). ",
        "{rel1_rel} {rel1_full} VISITED, ASKING APPROPRIATE QUESTIONS. PLANS TO STAY AT {nh} PER {rel1_rel}. ",
    ]) + pick(rng, ["FULL CODE.", "DNR/DNI CONFIRMED WITH FAMILY.", "CODE STATUS: DNR.", ""]) + "\n", c)
    n.add("PLAN: " + pick(rng, PLAN) + "\n", c)
    if rng.random() < 0.5:
        n.add(pick(rng, ["DR {res_last} PAGED RE: SBP 80S, AWARE. ", "H.O. {res_first_last} AWARE OF K 3.1. ",
                         "DR {att_last} AT BEDSIDE 0300. "]) + "\n", c)
    n.add(pick(rng, ["{rn_first_last} RN", "- {rn_init_last}, RN", "{rn_first_last}, RN, BSN", ""]) + "\n", c)
    return n


def k_floor_nursing(rng, c, extra):
    """Lower-case floor nursing note, abbreviated."""
    n = Note("floor_nursing", "lower")
    c["dx"] = pick(rng, DX_SHORT)
    n.add(pick(rng, ["nursing note 1900-0730: ", "rn note: ", "shift note 7a-7p: ", "nsg 3-11: "]), c)
    n.add(pick(rng, [
        "pt is a {age_yo} {sexw} on hd#3 for {dx}. ",
        "{age} y/o {sexl} admitted {d_adm_md} from {nh} with {dx}. ",
        "{pt_first} is a {age_yo} pt from {town} admitted for {dx}. ",
    ]), c)
    n.add(sentences(rng, NEURO + CV + RESP + GI + GU, 4) + " ", c)
    n.add(pick(rng, [
        "{rel1_rel} {rel1_first} called at 2200 for update, ph {ph_rel}. ",
        "{rel1_rel} in to visit, brought home meds, instructed to take them home. ",
        "pt's {rel1_rel} {rel1_first_last} ({ph_rel}) asking to be called w/ any changes. ",
        "{rel1_rel} {rel1_first} visited w/ grandkids, pt in good spirits. ",
    ]), c)
    n.add(pick(rng, [
        "dr {res_last} notified of bp 88/50, 250cc ns bolus ordered. ",
        "paged dr {res_last} x2 re: pain, new order for tylenol 650 q6 prn. ",
        "md aware of k 3.2, 40meq kcl po given. ",
        "covering np {other_first_last} aware of low uo. ",
    ]), c)
    n.add(pick(rng, ["plan d/c to {nh} when bed available, cm {cm_first} following. ",
                     "plan home w/ vna in am if stable. ",
                     "will cont to monitor. ",
                     "tentative d/c {d_dc} per team. "]), c)
    n.add(pick(rng, ["{rn_first} rn", "-{rn_first_last}, rn", "{rn_init_last} rn"]) + "\n", c)
    return n


def med_lines(rng, meds):
    return "\n".join(f"{i}. {m}" for i, m in enumerate(meds, 1))


def k_discharge(rng, c, extra):
    n = Note("discharge_summary", pick(rng, ["as_is", "as_is", "as_is", "upper"]))
    case = pick(rng, CASES)
    n.add(pick(rng, ["{hosp}\nDISCHARGE SUMMARY\n\n", "DISCHARGE SUMMARY\n{hosp}\n", "Discharge Summary - {hosp_short}\n\n"]), c)
    n.add(pick(rng, [
        "Patient: {pt_hdr}\nMRN: {mrn}    Acct #: {acct}\nDOB: {dob}\n",
        "NAME: {pt_lf}  UNIT NO: {mrn}\nDATE OF BIRTH: {dob}   AGE: {age}\n",
        "Patient Name: {pt_first_last}\nMedical Record Number: {mrn}\nVisit ID: {acct}\n",
    ]), c)
    n.add(pick(rng, ["Admission Date: {d_adm}\nDischarge Date: {d_dc}\n", "ADMIT DATE: {d_adm}   DISCHARGE DATE: {d_dc}\n",
                     "Date of admission: {d_adm}\nDate of discharge: {d_dc}\n"]), c)
    n.add(pick(rng, ["Attending: {att_full}, MD\nPCP: {pcp_dr}, {clinic}, {ph_clinic}\n",
                     "ATTENDING PHYSICIAN: {att_hdr}, M.D.\nPRIMARY CARE: {pcp_full}\n",
                     "Attending: {att_dr}\nPrimary care physician: {pcp_full}, MD ({clinic})\n"]), c)
    c["_dx"] = case["dx"]
    n.add("\nPRINCIPAL DIAGNOSIS: {_dx}\n\n", c)
    n.add("HISTORY OF PRESENT ILLNESS:\n" + case["hpi"] + " ", c)
    n.add(pick(rng, ["{He} was transferred from {osh} on {d_adm} for higher level of care. ",
                     "{He} was last seen by {pcp_dr} on {d_prior}. ",
                     "{He} lives with {his} {rel1_rel} in {town}. ",
                     "Of note {he} was admitted to {osh_short} ({d_prior}) for a similar presentation. "]), c)
    if extra:
        n.add(" ".join(rng.sample(extra, 2)) + " ", c)
    n.add("\n\nPHYSICAL EXAM ON ADMISSION:\n" + case["exam"] + "\n\nHOSPITAL COURSE:\n" + case["course"] + " ", c)
    n.add(pick(rng, ["{Mr} {pt_last} was seen by {cons_dr} of {spec} who agreed with the plan. ",
                     "Case was discussed with {his} {rel1_rel}, {rel1_full}, who is health care proxy. ",
                     "Physical therapy recommended short-term rehab; {he} will go to {nh}. ",
                     "{He} was seen by {spec} ({cons_dr}) on {d_proc}. "]), c)
    n.add("\n\nDISCHARGE MEDICATIONS:\n" + med_lines(rng, case["meds"]) + "\n\n", c)
    n.add(pick(rng, ["DISPOSITION: Home with VNA.\n", "DISPOSITION: {nh}\n", "Discharged to: home with {his} {rel1_rel}\n",
                     "DISPOSITION: Extended care facility ({nh}), {addr}\n"]), c)
    n.add(pick(rng, [
        "FOLLOW-UP: {pcp_dr} in 1 week; call {ph_clinic} for appointment. {spec} with {cons_dr} on {d_fu} at 10:30 AM.\n",
        "Follow up with {pcp_full}, MD at {clinic} on {d_fu}. Phone {ph_clinic}, fax {fax}.\n",
        "Appointments: {spec} clinic {d_fu} 2:15 PM with {cons_full}, NP. PCP {pcp_dr} {d_fu2}.\n",
    ]), c)
    n.add(pick(rng, [
        "\nDictated By: {res_full}, MD\nAttending: {att_full}, MD\nDD: {d_dc} DT: {d_fu} JOB #: {job}\nTR: ",
        "\n{att_full}, MD\nElectronically signed {d_dc} 16:42\ncc: {pcp_full}, MD; {cons_full}, MD\n",
        "\nDictated by {att_dr} / {job}\n",
    ]), c)
    if n.pieces[-1][0].endswith("TR: "):
        n.add("{_tr}\n", {"_tr": P("INITIALS", upper_letters(rng, 2).lower(), "initials")})
    return n


def k_radiology(rng, c, extra):
    ex = pick(rng, RAD_EXAMS)
    n = Note("radiology", pick(rng, ["as_is", "upper"]))
    n.add(pick(rng, ["{hosp}\nDEPARTMENT OF RADIOLOGY\n\n", "{hosp_short} Imaging Services\n", "RADIOLOGY REPORT\n"]), c)
    n.add(pick(rng, ["Patient: {pt_hdr}    MRN: {mrn}    DOB: {dob}\n", "Name: {pt_lf}   MR#: {mrn}   Age/Sex: {age}/{sexl}\n",
                     "PATIENT NAME: {pt_hdr}\nMED REC NO: {mrn}\nBIRTH DATE: {dob}\n"]), c)
    n.add(pick(rng, ["Accession #: {acc}    Exam Date: {d_proc} 14:32    Acct: {acct}\n", "ACC: {acc}   DATE OF SERVICE: {d_proc}\n",
                     "Accession Number {acc}\nExam date/time: {d_proc} 0814\n"]), c)
    n.add(pick(rng, ["Ordering Provider: {att_lf}, MD\n", "Referring physician: {att_dr}\n", "ORDERED BY: {res_hdr} (RES)\n"]), c)
    c["_ex"], c["_hist"], c["_tech"], c["_find"], c["_imp"] = ex["exam"], ex["hist"], ex["tech"], ex["find"], ex["imp"]
    n.add("\nEXAM: {_ex}\nCLINICAL HISTORY: {age_yo} {sexw}, {_hist}.\nTECHNIQUE: {_tech}\n", c)
    n.add(pick(rng, ["COMPARISON: {d_prior}.\n", "COMPARISON: Outside study from {osh} dated {d_prior}.\n", "COMPARISON: None.\n",
                     "COMPARISON: {d_prior} and {d_prior2}.\n"]), c)
    n.add("\nFINDINGS:\n{_find}\n\nIMPRESSION:\n{_imp}\n\n", c)
    if rng.random() < 0.5:
        n.add(pick(rng, ["Findings were discussed with {att_dr} by telephone at 15:05 on {d_proc}, who acknowledged receipt.\n",
                         "Critical result communicated to {rn_first_last}, RN on 6 West at 0920 {d_proc} with read-back.\n",
                         "Results called to {res_dr} at pager {pager}.\n"]), c)
    n.add(pick(rng, ["\nDictated by: {rad_full}, MD\nElectronically signed by: {rad_full}, MD on {d_proc} 16:11\n",
                     "\nRadiologist: {rad_init_last}, M.D.\nResident: {res_init_last}, M.D.\nSigned {d_proc}\n",
                     "\nI have personally reviewed the images and agree with the findings above. {rad_first_last}, MD\n"]), c)
    return n


CONSULT_RECS = {
    "INFECTIOUS DISEASE": [("recommendations regarding antibiotics",
                            "1. Continue current antibiotics, total 7 days.\n2. Repeat blood cultures.\n3. Check vancomycin trough before 4th dose.\n")],
    "CARDIOLOGY": [("rate control and anticoagulation",
                    "1. Metoprolol 25 mg PO BID, titrate to HR < 110.\n2. Start apixaban if no contraindication.\n3. Echo.\n")],
    "GERIATRICS": [("delirium", "1. Avoid benzodiazepines and anticholinergics.\n2. Delirium precautions, glasses and hearing aids.\n3. Melatonin 3 mg nightly.\n")],
    "NEPHROLOGY": [("acute kidney injury", "1. Hold lisinopril and NSAIDs.\n2. Renal ultrasound.\n3. Strict I/O, daily weights.\n")],
    "PALLIATIVE CARE": [("goals of care", "1. Confirm DNR/DNI with health care proxy.\n2. Morphine 2 mg IV q2h prn dyspnea.\n3. Chaplain referral.\n")],
}


def k_consult(rng, c, extra):
    n = Note("consult", "as_is")
    case = pick(rng, CASES)
    c["_spec"] = pick(rng, ["INFECTIOUS DISEASE", "CARDIOLOGY", "GERIATRICS", "NEPHROLOGY", "PALLIATIVE CARE"])
    n.add("{_spec} CONSULTATION\n{hosp}\n", c)
    reason, recs = pick(rng, CONSULT_RECS[c["_spec"]])
    n.add(pick(rng, ["Date of service: {d_proc}\nRequesting physician: {att_dr}, Hospital Medicine\nReason: {_reason}\n\n",
                     "Consult requested by {att_full} (hospitalist) on {d_proc} re: {_reason}\n\n"]), {**c, "_reason": reason})
    n.add("HPI: " + case["hpi"] + " ", c)
    n.add(pick(rng, ["{He} was initially seen at {osh} on {d_adm} and transferred here. ",
                     "History obtained from the patient and {his} {rel1_rel} {rel1_first}, who is at the bedside. ",
                     "Per {his} {rel1_rel} ({rel1_first_last}, {ph_rel}), {he} has been more forgetful since {d_prior}. "]), c)
    if extra:
        n.add(" ".join(rng.sample(extra, 1)) + " ", c)
    n.add("\n\nSocial history: " + pick(rng, ["Former smoker, quit in {yr_prior2}. ", "Lives in {town} with {his} {rel1_rel}. ",
                                              "Retired, previously worked at {employer} in {town}. ", "Lives at {nh}. "]), c)
    n.add("\nExam: " + case["exam"] + "\n\nAssessment: " + case["imp"] + "\n\nRecommendations:\n", c)
    n.add(recs, c)
    n.add(pick(rng, ["\nThank you for this consult; we will follow. Please page with questions.\n{res_full}, MD, {_spec2} fellow, pager {pager}\nSeen and discussed with attending {cons_dr}.\n",
                     "\n{cons_full}, MD\n{_spec2}\nPager {pager} / office {ph_hosp}\n",
                     "\nDiscussed with {att_dr} and with {his} {rel1_rel} by phone.\n-- {cons_init_last}, MD\n"]),
          {**c, "_spec2": c["_spec"].title().replace("Disease", "Diseases")})
    return n


def k_clinic_letter(rng, c, extra):
    n = Note("clinic_letter", "as_is")
    n.add("{spec_clinic}\n{saddr_lines}\nTel {ph_hosp}   Fax {fax2}\n", c)
    n.add("\n{d_fu}\n\n{pcp_full}, MD\n{clinic}\n", c)
    n.add(pick(rng, ["{pobox}\n{_ctown}, {_cst} {_czip}\n\n", "{caddr_lines}\n\n", "\n"]),
          {**c, "_ctown": P("CITY", c.clin_town[0], "town"), "_cst": P("STATE", c.clin_town[1], "state"),
           "_czip": P("ZIP", c.clin_town[2], "zip")})
    n.add(pick(rng, ["RE: {pt_full}\nDOB: {dob}\n", "Re: {pt_lf} (DOB {dob}, MRN {mrn})\n", "RE: {pt_hdr}   D.O.B. {dob}\n"]), c)
    n.add("\nDear " + pick(rng, ["Dr. {pcp_last}", "{pcp_first}", "Dr {pcp_last}", "Doctor {pcp_last}"]) + ",\n\n", c)
    n.add(pick(rng, [
        "Thank you for referring {pt_mr}, a {age_yo} {man} whom I saw in the {spec} clinic on {d_fu} for evaluation of ",
        "I had the pleasure of seeing your patient {pt_first_last} in follow-up today. As you know, {he} is a {age_yo} {man} with ",
        "I saw {pt_first} again on {d_fu} in the office for ",
    ]) + pick(rng, ["exertional dyspnea and a new murmur. ", "poorly controlled atrial fibrillation. ", "chronic kidney disease stage 4. ",
                    "iron deficiency anemia. ", "a tremor of the right hand, concerning for Parkinson disease. "]), c)
    if extra:
        n.add(" ".join(rng.sample(extra, 2)) + " ", c)
    n.add(pick(rng, ["{He} was accompanied by {his} {rel1_rel}, {rel1_first}. ",
                     "{He} recently moved to {town} to be closer to {his} {rel1_rel}. ",
                     "{He} had an echocardiogram at {hosp} on {d_prior} which showed moderate aortic stenosis with a valve area of 1.1 cm2. "]), c)
    n.add("\n\nOn examination blood pressure was 138/76, heart rate 72 and regular. There is a 3/6 systolic murmur at the right upper sternal border radiating to the carotids. Lungs are clear. No peripheral edema.\n\n", c)
    n.add(pick(rng, [
        "My impression is that {his} symptoms are explained by progressive aortic stenosis. I have ordered a repeat echocardiogram and will see {him} back in three months, sooner if symptoms progress. I have asked {him} to avoid heavy exertion in the meantime.",
        "I have increased metoprolol to 50 mg twice daily and continued apixaban. I would be grateful if you could check a basic metabolic panel in two weeks.",
        "We discussed dialysis planning at length. {He} would prefer conservative management, and {his} {rel1_rel} agrees. I have referred {him} to our kidney supportive care program.",
        "I started ferrous sulfate 325 mg every other day and arranged colonoscopy with {cons_dr} at {hosp_short} on {d_fu2}.",
    ]) + "\n\n", c)
    n.add(pick(rng, ["Thank you for allowing me to participate in the care of this pleasant {gent}. Please do not hesitate to call me with questions.\n\n",
                     "Please feel free to contact me at {ph_hosp}.\n\n"]), c)
    n.add(pick(rng, ["Sincerely,\n\n\n{cons_full}, MD, FACC\n{spec}\n", "Yours sincerely,\n\n{cons_first_last}, M.D.\nDirector, {spec} Services\n",
                     "With kind regards,\n{cons_full} MD\n"]), c)
    n.add(pick(rng, ["\ncc: {pt_first_last}\n", "\ncc: {att_full}, MD\n", "\nCC: patient; {other_full}, NP\n", ""]), c)
    return n


def k_referral(rng, c, extra):
    n = Note("referral_letter", "as_is")
    n.add(pick(rng, ["{clinic}\n{caddr_lines}\nPhone: {ph_clinic} | Fax: {fax} | {url_clinic}\n\n",
                     "{clinic} * {caddr} * {ph_clinic}\n\n"]), c)
    n.add("{d_adm}\n\nTo: {spec} Department, {hosp}\nFax: {fax2}\n\n", c)
    n.add(pick(rng, ["Re: Referral for {pt_first_last}, DOB {dob}\nInsurance: " + pick(rng, INSURERS) + ", ID {hp}\n\n",
                     "PATIENT: {pt_hdr}  DOB: {dob}  PHONE: {ph_pt}\n\n"]), c)
    n.add(pick(rng, ["Dear Colleague,\n\n", "To whom it may concern:\n\n", "Dear Dr. {cons_last},\n\n"]), c)
    n.add(pick(rng, [
        "I am referring {pt_mr}, a {age_yo} {man}, for evaluation of a 6 mm pulmonary nodule seen incidentally on CT. {He} is a former smoker with a 40 pack-year history.",
        "Please see my patient {pt_first_last} for management of progressive dyspnea and pedal edema despite furosemide. BNP was 1,850 on {d_prior}.",
        "I would appreciate your evaluation of {pt_mr} for dysphagia to solids and a 15 lb weight loss over three months.",
    ]) + " ", c)
    n.add(pick(rng, ["{He} lives at {addr} and can be reached at {ph_pt}; {his} {rel1_rel} {rel1_first_last} ({ph_rel}) helps with transportation.",
                     "{He} prefers afternoon appointments. Best contact is {his} {rel1_rel}, {rel1_first}, at {ph_rel} or {email_rel}.",
                     "Recent records including labs from {d_prior} are enclosed."]) + "\n\n", c)
    n.add("Current medications: " + ", ".join(rng.sample(["lisinopril 20 mg daily", "metformin 500 mg BID", "atorvastatin 40 mg",
                                                          "levothyroxine 75 mcg", "gabapentin 300 mg TID", "aspirin 81 mg",
                                                          "sertraline 50 mg", "tamsulosin 0.4 mg"], 4)) + ".\nAllergies: " +
          pick(rng, ["NKDA", "penicillin (rash)", "sulfa", "codeine (nausea)"]) + "\n\n", c)
    n.add(pick(rng, ["Thank you,\n\n{pcp_full}, MD\nNPI {npi}\n{clinic}\n{email_dr}\n",
                     "Sincerely,\n{pcp_first_last}, DO\nFamily Medicine\nDirect line {ph_clinic} ext. {ext}\n",
                     "Regards,\n{pcp_full}, APRN, FNP-BC\nLic. # {lic}\n"]), c)
    return n


def k_phone(rng, c, extra):
    n = Note("telephone", pick(rng, ["as_is", "as_is", "lower"]))
    n.add(pick(rng, ["Telephone Encounter\n{d_fu} 3:15 PM\n", "PHONE NOTE {d_fu} 1042\n", "Phone call - {d_fu}\n"]), c)
    n.add(pick(rng, ["Caller: {rel1_first_last} ({rel1_rel})   Callback #: {ph_rel}\n",
                     "Call from pt's {rel1_rel} {rel1_first} at {ph_rel}.\n",
                     "Patient called from {ph_pt}.\n"]), c)
    n.add(pick(rng, [
        "Reports {pt_first} has had loose stools x3 days since starting the antibiotic, no blood, drinking fluids. Denies fever. ",
        "States pt's legs are more swollen and weight is up 4 lbs since {d_dc}. Taking lasix as prescribed. ",
        "Calling to ask whether to hold coumadin before dental extraction on {d_fu2}. INR last week 2.6. ",
        "Pt fell last night at home, no head strike, able to get up with help from {his} {rel2_rel} {rel2_first}. Bruise on L hip. ",
        "Requesting refill of metoprolol and oxycodone; pharmacy is the Walgreens on {street} in {town}. ",
    ]), c)
    n.add(pick(rng, [
        "Advised to push fluids and call back or go to ED if worse. Will route to {pcp_dr}. ",
        "Discussed with {pcp_dr}, who advised increasing furosemide to 40 mg BID x3 days and BMP on {d_fu2}. Caller verbalized understanding. ",
        "Appt made with {other_first_last}, NP for tomorrow at 9:40. ",
        "Per {cons_dr}, hold coumadin 5 days prior. Message left on voicemail at {ph_rel2} per HIPAA form on file. ",
    ]), c)
    n.add(pick(rng, ["\n-- {rn_full}, RN", "\n{rn_first_last} RN / {pcp_init_last} MD", "\nLPN {rn_first_last}"]) + "\n", c)
    return n


def k_lab(rng, c, extra):
    n = Note("lab_report", "upper" if rng.random() < 0.6 else "as_is")
    lab = pick(rng, [[c["hosp"], " Clinical Laboratory"], [P("FACILITY", f"{c.town[0]} Regional Laboratory", "lab")], ["Quest Diagnostics"]])
    n.add("{_lab}\n{addr_lines}\nCLIA #{clia}   Laboratory Director: {other_full}, MD\n\n",
          {**c, "addr_lines": lambda: [P("STREET", f"{rng.randrange(10, 900)} {pick(rng, STREETS)}", "number_street"), ", ",
                                       P("CITY", c.town[0], "town"), ", ", P("STATE", c.town[1], "state"), " ", P("ZIP", c.town[2], "zip")],
               "_lab": lab})
    n.add(pick(rng, ["PATIENT: {pt_hdr}   DOB: {dob}   SEX: {sexl}   MRN: {mrn}\n",
                     "Name: {pt_lf}\nDOB/Age: {dob} ({age} Y)\nPatient ID: {mrn}\n"]), c)
    n.add(pick(rng, ["ACCESSION: {lab_acc}\nCOLLECTED: {d_proc} 06:12   RECEIVED: {d_proc} 07:01   REPORTED: {d_proc} 09:44\n",
                     "Specimen #: {lab_acc}   Collection date: {d_proc}\n"]), c)
    n.add(pick(rng, ["ORDERING: {att_hdr}\n", "Ordering physician: {pcp_full}, MD (NPI {npi})\n", "Provider: {att_init_last}\n"]), c)
    n.add("\nTEST                 RESULT    FLAG  UNITS     REF RANGE\n", c)
    rows = [("Sodium", "128", "L", "mmol/L", "135-145"), ("Potassium", "5.9", "H", "mmol/L", "3.5-5.1"),
            ("Chloride", "97", "L", "mmol/L", "98-107"), ("CO2", "21", "L", "mmol/L", "22-29"),
            ("BUN", "48", "H", "mg/dL", "7-20"), ("Creatinine", "2.31", "H", "mg/dL", "0.60-1.20"),
            ("Glucose", "212", "H", "mg/dL", "70-99"), ("Hemoglobin", "8.1", "L", "g/dL", "12.0-16.0"),
            ("WBC", "14.6", "H", "K/uL", "4.0-10.5"), ("Platelets", "88", "L", "K/uL", "150-400"),
            ("INR", "3.4", "H", "", "0.9-1.1"), ("Troponin T", "0.09", "H", "ng/mL", "<0.01"),
            ("TSH", "6.2", "H", "uIU/mL", "0.4-4.0"), ("Magnesium", "1.6", "L", "mg/dL", "1.7-2.2")]
    for r in rng.sample(rows, 6):
        n.add(f"{r[0]:<21}{r[1]:<10}{r[2]:<6}{r[3]:<10}{r[4]}\n", c)
    n.add(pick(rng, ["\nCOMMENT: CRITICAL VALUE (K 5.9) CALLED TO AND READ BACK BY {rn_first_last} RN AT 0815 ON {d_proc}.\n",
                     "\nComment: Hemolyzed specimen, potassium may be falsely elevated. Recollect requested; {rn_first} on 4 North notified.\n",
                     "\nComment: Results faxed to {clinic} at {fax} on {d_proc}.\n"]), c)
    n.add(pick(rng, ["Verified by: {other_init_last}, MLS(ASCP)\n", "Tech: {_ini}\n", ""]),
          {**c, "_ini": P("INITIALS", upper_letters(rng, 3), "initials")})
    return n


def k_medrec(rng, c, extra):
    n = Note("med_reconciliation", "as_is")
    n.add("Medication Reconciliation - Admission {d_adm}\n", c)
    n.add(pick(rng, ["Sources: patient, {rel1_rel} ({rel1_first}), pill bottles, outpatient pharmacy fill history.\n",
                     "Sources: {nh} MAR faxed from {fax2}; spoke with nurse {rn2_first} at the facility ({ph_hosp}).\n"]), c)
    pharm = pick(rng, [[P("FACILITY", f"{c['pcp_person'].last}'s Pharmacy", "pharmacy"), ", ", c["street"], ", ", c["town"]],
                       ["CVS on ", P("STREET", pick(rng, STREETS), "street"), " in ", c["town"]],
                       ["Walmart Pharmacy, ", c["town2"], ", ", c["st2"]],
                       ["Express Scripts mail order"]])
    n.add("Preferred pharmacy: {_ph} - {ph_hosp}\n\n", {**c, "_ph": pharm})
    meds = [("metoprolol tartrate", "25 mg PO BID"), ("lisinopril", "10 mg PO daily"), ("furosemide", "40 mg PO daily"),
            ("warfarin", "5 mg PO daily except 2.5 mg Mon/Fri"), ("metformin", "500 mg PO BID with meals"),
            ("atorvastatin", "40 mg PO nightly"), ("levothyroxine", "88 mcg PO daily before breakfast"),
            ("gabapentin", "300 mg PO TID"), ("sertraline", "100 mg PO daily"), ("tamsulosin", "0.4 mg PO nightly"),
            ("oxycodone", "5 mg PO q6h prn pain"), ("albuterol HFA", "2 puffs q4-6h prn"), ("prednisone", "5 mg PO daily"),
            ("insulin glargine", "22 units SC nightly"), ("aspirin", "81 mg PO daily"), ("apixaban (Eliquis)", "2.5 mg PO BID")]
    for i, (m, s) in enumerate(rng.sample(meds, 7), 1):
        line = f"{i}. {m} {s}"
        tail = pick(rng, ["", " - last filled {_lf}, Rx #{rx}", " - pt reports taking", " - NOT taking x2 wks (cost)",
                          " - last dose {_lf} AM per {rel1_rel}"])
        n.add(line + tail + "\n", {**c, "_lf": lambda: date_piece(rng, c.dates["adm"] - timedelta(days=rng.randrange(1, 40)), ["md_slash", "mdy_slash"])})
    n.add("\nAllergies: " + pick(rng, ["NKDA", "PCN (hives)", "sulfa, iodinated contrast", "morphine (itching)"]) + "\n", c)
    n.add(pick(rng, ["Reconciled by: {ph_full}, PharmD  ext. {ext}\n", "{ph_first_last}, CPhT / reviewed by {ph_init_last}, RPh\n",
                     "Completed by {ph_first_last}, PharmD, pager {pager}\n"]), c)
    return n


def k_social_work(rng, c, extra):
    n = Note("social_work", "as_is")
    n.add(pick(rng, ["SOCIAL WORK ASSESSMENT\n", "Social Work Progress Note - {d_proc}\n", "CARE MANAGEMENT / SW NOTE\n"]), c)
    n.add(pick(rng, ["Pt is a {age_yo} ", "Pt is a {age_word} year old "]) + pick(rng, ["widowed", "married", "divorced", "single"]) + " {man} admitted {d_adm} with " +
          pick(rng, DX_SHORT) + ". ", c)
    n.add(pick(rng, ["Met with pt and {his} {rel1_rel} {rel1_full} at bedside. ", "Spoke with {rel1_rel} {rel1_first} by phone ({ph_rel}). "]), c)
    n.add(pick(rng, SOCIAL_WORK).replace("{n}", str(rng.randrange(2, 14))) + " ", c)
    n.add(pick(rng, ["Pt lives at {addr}. ", "Home address {street}, {town}. ", "Pt resides at {nh} in {town} (long-term). "]), c)
    n.add(pick(rng, ["Pt worked at {employer} for 30 years, retired. ", "Pt's {rel1_rel} works at {employer} and has limited time off. "]
               + (["Pt is employed part-time at {employer}. "] if c.age_n < 70 else [])), c)
    n.add(pick(rng, ["{rel1_rel} {rel1_first_last} is HCP (document on file). Other contacts: {rel2_rel} {rel2_full}, {ph_rel2}. ",
                     "No HCP on file; pt names {his} {rel2_rel} {rel2_first} as HCP, form completed today. ",
                     "{rel2_rel} {rel2_first_last} lives in {town2}, {st2} and plans to come for the family meeting on {d_fu}. "]), c)
    n.add(pick(rng, ["Insurance: Medicare A/B (MBI {mbi}) and MassHealth, ID {hp}. ",
                     "Insurance: " + pick(rng, INSURERS) + " member {hp}, group {group}. ",
                     "SSN on file ends in {ssn4}; SSA benefits being re-established. "]), c)
    if rng.random() < 0.6:
        n.add(pick(rng, [
            "Pt's car (a 2011 Buick, {st} plate {plate}) remains in the ED lot; {rel1_rel} will pick it up. ",
            "Pt drove {him}self in; vehicle (gray Ford F-150, plate {plate}) moved to the garage by security. ",
            "Per police, pt's truck (VIN {vin}) was towed from the scene. ",
        ]), c)
    if rng.random() < 0.4:
        n.add(pick(rng, ["Family hopes pt can be home for {_hol}. ", "{rel1_rel} is traveling until after {_hol}. "]),
              {**c, "_hol": pick(rng, [P("DATE", "Christmas", "holiday"), P("DATE", "Thanksgiving", "holiday"),
                                       P("DATE", "Easter", "holiday"), ["the ", P("DATE", "Fourth of July", "holiday")]])})
    n.add(pick(rng, ["Plan: referral to Elder Services of the area; W-10 faxed to {nh} at {fax2}; awaiting bed offer. ",
                     "Plan: home with VNA and home health aide, Meals on Wheels referral placed. ",
                     "Plan: SW will follow; APS report filed {d_proc} given concern for neglect. "]), c)
    n.add(pick(rng, ["\n{sw_full}, LICSW  x{ext}\n", "\n{sw_first_last}, MSW, LCSW\nPager {pager}\n", "\n- {sw_first_last}, LSW\n"]), c)
    return n


def k_ed_triage(rng, c, extra):
    n = Note("ed_triage", pick(rng, ["as_is", "upper"]))
    ems = pick(rng, [[c["town"], " Fire/EMS"], [P("FACILITY", pick(rng, ["Athol Ambulance", "Orange Fire Rescue", "Lifeline Ambulance", "AMR"]), "ems")], None])
    if ems is None:
        n.add("ED TRIAGE NOTE   Arrival: {d_adm} 02:14   Mode: private vehicle\n", c)
    else:
        n.add(pick(rng, ["ED TRIAGE NOTE   Arrival: {d_adm} 02:14   Mode: {_ems} (Run #{run})\n",
                         "Triage {d_adm} 1735 - arrived by {_ems}\n"]), {**c, "_ems": ems})
    n.add(pick(rng, ["CC: fall, L hip pain\n", "CC: SOB x2 days\n", "CC: confusion, fever\n", "CC: chest pain\n", "CC: weakness\n"]), c)
    n.add(pick(rng, ["Pt is a {age_yo} {sexw} from {nh}. Per EMS, ", "{age_yo} {sexl} brought in from home in {town}, ",
                     "{pt_first} is a {age_yo} well known to this ED; "]), c)
    n.add(pick(rng, ["found on floor by staff at 0130, unknown down time. ", "c/o increasing dyspnea and cough w/ green sputum. ",
                     "staff noted new confusion and temp 101.6. ", "substernal CP 7/10 radiating to L arm, 324 mg ASA given by EMS. "]), c)
    n.add("VS: T 38.2 HR 112 BP 96/58 RR 24 SpO2 89% RA. GCS 14. " + pick(rng, ["ED acct {acct}. ", "MRN {mrn}. ", ""]) + "\n", c)
    n.add(pick(rng, ["Contact: {rel1_rel} {rel1_first_last}, cell {ph_rel}. ", "HCP {rel1_rel} {rel1_full} notified by phone ({ph_rel}). ",
                     "Emergency contact: {rel2_full} ({rel2_rel}) {ph_rel2}. "]), c)
    n.add(pick(rng, ["PCP: {pcp_dr} ({clinic}). ", "PCP {pcp_init_last} at {clinic}. ", "No PCP. "]), c)
    n.add("Allergies: " + pick(rng, ["PCN", "NKDA", "sulfa", "latex"]) + ". ESI " + str(rng.randrange(1, 4)) + ". ", c)
    n.add(pick(rng, ["Sepsis alert called. ", "To room 14, {att_dr} notified. ", "Code stroke not called, LKW > 24h. "]), c)
    n.add(pick(rng, ["\n{rn_full}, RN\n", "\n-{rn_first_last} RN, triage\n"]), c)
    return n


def k_operative(rng, c, extra):
    n = Note("operative", pick(rng, ["as_is", "upper"]))
    n.add("OPERATIVE REPORT\n{hosp}\n\nPATIENT: {pt_hdr}  MRN: {mrn}\nDATE OF SURGERY: {d_proc}\n", c)
    n.add("SURGEON: {surg_full}, MD\nASSISTANT: {other_full}, PA-C\nANESTHESIA: General endotracheal ({res_full}, MD)\n", c)
    op = pick(rng, ["hip", "pacer", "knee"])
    if op == "hip":
        n.add("PREOPERATIVE DIAGNOSIS: Displaced left femoral neck fracture.\nPROCEDURE: Left hip hemiarthroplasty.\n"
              "IMPLANTS: Stryker Accolade II femoral stem size 4, lot {lot}; UHR bipolar head 46 mm, serial {sn}.\n\n"
              "DESCRIPTION: The patient was identified in the preoperative holding area and the left hip was marked. After induction of general anesthesia, cefazolin 2 g was given. The patient was positioned in the lateral decubitus position. A posterior approach was used. The femoral head was removed and sized. The canal was broached and the final implant placed with good stability. The wound was irrigated and closed in layers. Estimated blood loss 300 mL.\n", c)
    elif op == "pacer":
        n.add("PREOPERATIVE DIAGNOSIS: Symptomatic complete heart block.\nPROCEDURE: Dual-chamber permanent pacemaker implantation.\n"
              "DEVICE: Medtronic Azure XT DR MRI, model W1DR01, serial number {sn}.\nLEADS: RA 5076-52 cm SN {sn}; RV 5076-58 cm SN {sn}.\n\n"
              "DESCRIPTION: Left subclavian access was obtained under fluoroscopy. Leads were positioned in the right atrial appendage and right ventricular septum with good sensing and thresholds. The pocket was irrigated with antibiotic solution and closed in three layers. No pneumothorax on post-procedure chest x-ray.\n", c)
    else:
        n.add("PREOPERATIVE DIAGNOSIS: Right knee osteoarthritis.\nPROCEDURE: Right total knee arthroplasty.\n"
              "IMPLANTS: Zimmer Persona femur size 9 (lot {lot}), tibia size F (lot {lot}), poly 11 mm, patella 35 mm; cement lot {lot}.\n\n"
              "DESCRIPTION: Under spinal anesthesia with tourniquet at 250 mmHg, a medial parapatellar arthrotomy was made. Bone cuts were made with standard guides. Components were cemented. Tourniquet time 62 minutes.\n", c)
    n.add(pick(rng, ["\nCounts correct x2. The patient tolerated the procedure well. {His} {rel1_rel} {rel1_first} was updated in the family waiting area.\n",
                     "\nPatient to PACU in stable condition. I spoke with {rel1_rel} {rel1_first_last} at {ph_rel} after the case.\n"]), c)
    n.add(pick(rng, ["\nDictated by: {surg_full}, MD\nDD: {d_proc}  DT: {d_dc}  Job #: {job}\n", "\n{surg_init_last}, MD  {d_proc}\n"]), c)
    return n


def k_device(rng, c, extra):
    n = Note("device_clinic", "as_is")
    n.add(pick(rng, ["DEVICE CLINIC - REMOTE TRANSMISSION REVIEW\n", "Pacemaker/ICD Interrogation Report\n"]), c)
    n.add("Patient: {pt_lf}   DOB: {dob}   MRN: {mrn}\n", c)
    dev = pick(rng, ["Medtronic Azure XT DR MRI", "Boston Scientific Accolade MRI", "Abbott Assurity MRI", "Medtronic Evera MRI XT DR ICD"])
    n.add(f"Device: {dev}   Serial: " + "{sn}\nImplanted: {d_prior2} at {hosp} by {ep_dr}\n", c)
    n.add("Leads: RA SN {sn}; RV SN {sn}\n\n", c)
    n.add(pick(rng, ["Transmission received {d_adm} via home monitor. ", "In-clinic check {d_adm}. "]) +
          "Battery 9.5 years (OK). Atrial pacing 42%, ventricular pacing 3%. AF burden < 1%. No ventricular arrhythmias. "
          "Lead impedances and thresholds stable. " + pick(rng, ["One episode of atrial fibrillation lasting 3 hours; patient on apixaban. ",
                                                                  "No therapies delivered. ", "Patient reports dizziness; no arrhythmia correlates. "]) + "\n", c)
    n.add(pick(rng, ["Next remote {d_fu}; annual in-clinic visit {d_fu2}. Questions: device clinic {ph_hosp} option 3.\n",
                     "Patient notified via portal ({url_portal}). Next check in 91 days.\n"]), c)
    n.add(pick(rng, ["Reviewed by {other_full}, NP / {ep_full}, MD\n", "{ep_first_last}, MD (Electrophysiology)\n"]), c)
    return n


def k_telehealth(rng, c, extra):
    n = Note("telehealth", "as_is")
    n.add("Telehealth Visit - " + pick(rng, ["video", "audio only", "video (Zoom for Healthcare)"]) + "\nDate of service: {d_fu}\n", c)
    n.add(pick(rng, ["Patient location: home, {addr}. Provider location: {clinic}.\n",
                     "Patient location: {town}, {st} (home). Provider: office.\n"]), c)
    n.add(pick(rng, ["Identity verified by name and date of birth ({dob}). ",
                     "Identity verified with two identifiers (name, DOB {dob}). "]), c)
    n.add(pick(rng, ["Session connected from IP address {ip}. ", "Connection dropped once; re-established via phone {ph_pt}. ",
                     "Patient device IP {ip} logged per telehealth policy. ",
                     "Patient joined through the patient portal ({url_portal}). "]), c)
    n.add(pick(rng, ["{His} {rel1_rel} {rel1_first} assisted with the camera. ", "Pt alone for the visit. "]) + "\n\n", c)
    subj, ap = pick(rng, [
        ("Follow up of type 2 diabetes. Home glucose 140-190 fasting. No hypoglycemia. Taking metformin and insulin glargine.",
         "Diabetes not at goal; increase glargine to 24 units. A1c in 3 months."),
        ("Follow up of depression on sertraline 100 mg. Sleeping better, PHQ-9 today 8 (from 15).",
         "Depression improving; continue sertraline."),
        ("Follow up of COPD. Using albuterol twice weekly, no recent prednisone bursts. Still smoking 5 cigarettes a day.",
         "COPD stable; counseled on smoking cessation, nicotine patch 14 mg prescribed.")])
    n.add("S: " + subj + " ", c)
    if extra:
        n.add(" ".join(rng.sample(extra, 1)), c)
    n.add("\nO: Appears well on video, speaking full sentences, no distress.\nA/P: " + ap + "\n", c)
    n.add(pick(rng, ["After-visit summary sent to {email_pt}. ", "Pt prefers e-mail: {email_pt}. ", "Portal message sent. "]), c)
    n.add(pick(rng, ["Follow up in office on {d_fu2}.\n", "RTC 3 months.\n"]), c)
    n.add(pick(rng, ["{pcp_full}, MD\n", "{other_first_last}, PA-C (supervising {pcp_dr})\n"]), c)
    if rng.random() < 0.3:
        n.add("Family has set up an update page at {url_pt}.\n", c)
    return n


def k_vna(rng, c, extra):
    n = Note("home_health", pick(rng, ["as_is", "lower"]))
    n.add(pick(rng, ["VNA of {town} - Skilled Nursing Visit\n", "Home Health Visit Note - {town2} VNA & Hospice\n"]), c)
    n.add("Visit date: {d_fu}   Pt: {pt_full}   Address: {addr}\n", c)
    n.add(pick(rng, ["Directions: blue ranch on the left past the church, {st} plate {plate} in driveway is the {rel1_rel}'s. ", "",
                     "Key in lockbox, code on file. "]) + "\n", c)
    n.add(pick(rng, ["Pt seen at home with {his} {rel1_rel} {rel1_first}. ", "Pt alone; {rel1_rel} at work at {employer}. "]), c)
    n.add(pick(rng, ["Wound to L shin 3 x 2 cm, granulating, moderate serous drainage, dressing changed with xeroform and kerlix. ",
                     "Lungs with fine crackles at bases, weight up 3 lbs since last visit, 1+ edema. ",
                     "Med box filled for the week; pt missed 2 doses of metoprolol. ",
                     "BP 168/92 sitting. Pt states out of lisinopril. "]), c)
    n.add(pick(rng, ["Called {pcp_dr}'s office ({ph_clinic}), spoke with {rn2_first}, who will inform the MD. ",
                     "Faxed update to {pcp_dr} at {fax}. ",
                     "Left message for {pcp_full} on nurse line. "]), c)
    n.add("Next visit {d_fu2}. " + pick(rng, ["-{rn_full}, RN", "{rn_first_last} RN, case manager"]) + "\n", c)
    return n


def k_prior_auth(rng, c, extra):
    n = Note("utilization_review", pick(rng, ["as_is", "upper"]))
    n.add(pick(rng, ["UTILIZATION REVIEW / PRIOR AUTHORIZATION\n", "Case Management - Insurance Auth\n"]), c)
    n.add("Member: {pt_lf}   DOB: {dob}\nPlan: " + pick(rng, INSURERS) + "   Member ID: {hp}   Group #: {group}\n", c)
    n.add(pick(rng, ["Medicare MBI: {mbi}\n", "Secondary: Medicare {mbi}\n", "SSN: {ssn}\n", "SSN (last 4): {ssn4}\n"]), c)
    n.add(pick(rng, ["Hospital account: {acct}\n", "Encounter CSN: {csn}\n"]), c)
    n.add(pick(rng, ["Requested: SNF admission to {nh}, facility NPI {npi}. Clinicals faxed to reviewer at {fax2} on {d_dc}. ",
                     "Requested: inpatient status for {hosp}, admit {d_adm}. Clinicals sent via portal. ",
                     "Requested: home oxygen 2 L continuous; qualifying saturation 86% on RA {d_dc}. "]), c)
    n.add(pick(rng, ["Auth # {auth} approved {d_dc} through {d_fu}. ", "Pending; reference # {auth}. ",
                     "Denied {d_dc}; peer-to-peer scheduled with medical director {other_dr} at {ph_hosp} ext {ext}. "]), c)
    n.add(pick(rng, ["Claim # {claim}. ", ""]), c)
    n.add(pick(rng, ["\nReviewer: {cm_full}, RN, CCM (phone {ph_hosp}, fax {fax})\n", "\n{cm_first_last}, RN case manager x{ext}\n"]), c)
    return n


def k_death(rng, c, extra):
    n = Note("death_note", "as_is")
    n.add(pick(rng, ["Death Pronouncement Note\n", "EXPIRATION NOTE\n", "Resident Note - Pronouncement\n"]), c)
    n.add(pick(rng, ["Called to bedside at 03:12 by RN {rn_first_last} for pt without respirations. ",
                     "Paged by {rn_first} (RN) at 2245 re: pt unresponsive, DNR/DNI. "]), c)
    n.add("{pt_full} was examined: no response to verbal or tactile stimuli, pupils fixed and dilated, no heart sounds for one minute, no breath sounds, no carotid pulse. ", c)
    n.add("Time of death 03:20 on {d_dc}. ", c)
    n.add(pick(rng, ["Family ({rel1_rel} {rel1_full}) notified by phone at {ph_rel} and will come in. ",
                     "{His} {rel1_rel} {rel1_first} and {rel2_rel} {rel2_first} were at the bedside. ",
                     "Unable to reach HCP; message left for {rel1_rel} at {ph_rel}. "]), c)
    n.add(pick(rng, ["Medical examiner notified, case # {me_case}, declined jurisdiction. ",
                     "ME notified ({other_first_last}, investigator), case {me_case}; accepted. ", "Not an ME case. "]), c)
    n.add(pick(rng, ["Autopsy declined. OPO notified, referral # {auth}. ",
                     "Family requests autopsy. Funeral home: {_fh}. "]),
          {**c, "_fh": P("FACILITY", pick(rng, ["Fiske Funeral Home", "Higgins-O'Connor Funeral Home", "Mack Family Funeral Home",
                                                  f"{c['rel2_person'].last} & Sons Funeral Home"]), "funeral_home")})
    n.add("Attending {att_dr} notified.\n{res_full}, MD, PGY-2, pager {pager}\n", c)
    return n


def k_pathology(rng, c, extra):
    n = Note("pathology", pick(rng, ["as_is", "upper"]))
    n.add("SURGICAL PATHOLOGY REPORT\n{hosp}\n\nAccession: {path_acc}    Received: {d_proc}\n", c)
    n.add("Patient: {pt_hdr}    MRN: {mrn}    DOB: {dob}\nSubmitting physician: {surg_full}, MD\n", c)
    spec = pick(rng, [("Colon, sigmoid, biopsy", "Tubular adenoma, no high-grade dysplasia."),
                      ("Skin, left cheek, shave biopsy", "Basal cell carcinoma, nodular type, extending to the peripheral margin."),
                      ("Breast, right, 10 o'clock, core biopsy", "Invasive ductal carcinoma, grade 2. ER/PR pending."),
                      ("Lymph node, cervical, excision", "Classic Hodgkin lymphoma, nodular sclerosis type.")])
    n.add(f"\nSPECIMEN: {spec[0]}\n\nDIAGNOSIS:\n{spec[1]}\n\n", c)
    n.add(pick(rng, ["GROSS: Received in formalin labeled with the patient's name (\"{pt_first_last}\") and medical record number, "
                     "consisting of a tan soft tissue fragment measuring 0.6 x 0.4 x 0.2 cm. Entirely submitted in cassette A1.\n",
                     "GROSS: Received fresh labeled \"{pt_hdr}\", a 1.2 cm nodular portion of tissue. Inked and serially sectioned.\n"]), c)
    n.add(pick(rng, ["\nIntradepartmental consultation with {other_dr} who concurs.\n", ""]), c)
    n.add("\nI have personally reviewed the slides and rendered the diagnosis.\n{_pth}, MD\nElectronically signed {d_dc}\n",
          {**c, "_pth": lambda: P("CLINICIAN", f"{c['other_person'].first} {c['rad_person'].last}", "first_last")})
    return n


def k_security(rng, c, extra):
    n = Note("security_ama", pick(rng, ["as_is", "upper"]))
    n.add(pick(rng, ["Behavioral Health / AMA Note {d_adm}\n", "Psychiatry C/L Note - elopement\n"]), c)
    n.add("Pt is a {age_yo} {man} admitted for " + pick(rng, DX_SHORT) + " who left the unit at approx 14:00 against medical advice. ", c)
    n.add(pick(rng, ["Security (officer {other_first_last}, badge #{badge}) reports pt drove away in a {_car}, {st} plate {plate}. ",
                     "Per security video, pt left in a {_car} driven by {his} {rel2_rel} ({rel2_first}); plate {plate}. "]),
          {**c, "_car": pick(rng, ["gray Toyota Corolla", "red Chevy Silverado", "white Honda CR-V", "black Dodge Ram"])})
    n.add(pick(rng, ["{town} PD notified ({ph_hosp}) for a wellness check at {street}. ",
                     "Police in {town} were asked to check the home address on file. "]), c)
    n.add(pick(rng, ["Attempted to call pt at {ph_pt}, no answer; left voicemail. ", "Called {rel1_rel} {rel1_first} at {ph_rel}; {he} arrived home safely. "]), c)
    n.add("Pt had capacity per earlier evaluation by {cons_dr}. Risks of leaving including death were discussed. AMA form not signed. ", c)
    n.add(pick(rng, ["Patient's Facebook post was brought to our attention by family ({url_pt}). ", "", "MA DL # {dl} on file. "]), c)
    n.add("\n{cons_full}, MD, Psychiatry\n", c)
    return n


def k_email(rng, c, extra):
    n = Note("clinician_email", "as_is")
    n.add("From: {email_dr}\nTo: {_to}\nSent: {_sent} 7:52 AM\nSubject: {pt_last} - follow up\n\n",
          {**c, "_sent": lambda: date_piece(rng, c.dates["fu"], ["month_d_y", "mdy_slash_nz", "mon_d_y"]), "_to": P("EMAIL", f"{slug(c['cons_person'].first)[:1]}{slug(c['cons_person'].last.lower())}@"
                         + pick(rng, ["partners.org", "bswh.org", "hitchcock.org", "bhsi.com", "uky.edu"]), "email")})
    n.add(pick(rng, ["Hi {cons_first},\n\n", "{cons_first} -\n\n", "Dear Dr. {cons_last},\n\n"]), c)
    n.add(pick(rng, [
        "Thanks for seeing {pt_first_last} (MRN {mrn}) last week. {His} creatinine went from 1.8 to 2.6 after we started the ACE inhibitor, so I stopped it on {d_fu}. Would you like to move up {his} appointment?",
        "Quick question about our mutual patient {pt_mr}, DOB {dob}. {He} is asking about stopping warfarin before the colonoscopy on {d_fu2}. Is bridging needed with a mechanical mitral valve? I'd think yes.",
        "{pt_full} called again about the nodule. The repeat CT is scheduled at {hosp_short} on {d_fu2}. Can you look at it when it's done?",
    ]) + "\n\n", c)
    if rng.random() < 0.4:
        n.add("(Pt's portal message of {d_fu} was sent from IP {ip}; flagged by IT as outside the US.)\n\n", c)
    n.add(pick(rng, ["Best,\n{pcp_first}\n\n{pcp_full}, MD | {clinic} | {ph_clinic}\n", "Thanks,\n{pcp_init_last}\nSent from my iPhone\n"]), c)
    return n


def k_transfer(rng, c, extra):
    n = Note("transfer_form", pick(rng, ["upper", "as_is"]))
    n.add("INTERFACILITY TRANSFER / CONTINUITY OF CARE FORM (W-10)\n", c)
    n.add("FROM: {hosp}, {_unit}    TO: {nh}\nTRANSFER DATE: {d_dc}\n",
          {**c, "_unit": pick(rng, ["4 North", "Med-Surg", "ICU", "Telemetry"])})
    n.add("PATIENT: {pt_hdr}   SEX: {sexl}   DOB: {dob}   AGE: {age}\n", c)
    n.add("ADDRESS: {addr}\nSSN: {ssn}   MEDICARE #: {mbi}   MEDICAID #: {hp}\n", c)
    n.add("NEXT OF KIN: {rel1_hdr} ({rel1_rel})  PHONE: {ph_rel}\nHCP: {rel2_first_last}  PHONE: {ph_rel2}\n", c)
    n.add("PHYSICIAN AT FACILITY: {other_dr}   PHONE: {ph_hosp}\nATTENDING AT DISCHARGE: {att_full}, MD   NPI {npi}\n", c)
    n.add("DIAGNOSES: " + pick(rng, PMH) + "; " + pick(rng, DX_SHORT) + "\n", c)
    n.add("CODE STATUS: " + pick(rng, ["DNR/DNI (MOLST in chart)", "FULL CODE", "DNR, OK to intubate"]) + "\n", c)
    n.add("DIET: " + pick(rng, ["mechanical soft, nectar thick liquids", "cardiac 2 g Na", "regular"]) +
          "   ACTIVITY: " + pick(rng, ["WBAT LLE with walker", "OOB to chair with assist x1", "bedrest"]) + "\n", c)
    n.add("LAST DOSES: lovenox 40 mg SC 0900; metoprolol 25 mg PO 0900; tylenol 650 mg PO 1300\n", c)
    n.add("SKIN: stage II coccyx, sacral foam dressing. FOLEY: removed {d_dc}, voided since.\n", c)
    n.add("REPORT CALLED TO: {rn2_first_last}, RN AT {ph_hosp} BY {rn_first_last}, RN\n", c)
    return n


def k_progress(rng, c, extra):
    """Physician daily progress note (SOAP), mixed case with sloppy headers."""
    n = Note("progress_note", "as_is")
    case = pick(rng, CASES)
    n.add(pick(rng, ["Hospitalist Progress Note   {d_proc}\n", "MEDICINE PROGRESS NOTE - HD#3\n", "Progress Note ({d_proc})\n"]), c)
    n.add(pick(rng, ["Pt: {pt_lf}  MRN {mrn}  Rm 412-B\n", "{pt_hdr} / {mrn}\n"]), c)
    n.add("S: Feels " + pick(rng, ["a little better", "tired", "more short of breath", "about the same"]) + ". " +
          pick(rng, ["Slept poorly, ", "Ate breakfast, ", "Walked in the hall with PT, "]) + "no chest pain. ", c)
    n.add(pick(rng, ["{rel1_rel} {rel1_first} at bedside, updated. ", "Spoke with {rel1_rel} by phone. ", ""]), c)
    n.add("\nO: T 37.4 HR 84 BP 128/70 RR 18 SpO2 95% 2L\n" + case["exam"] + "\n", c)
    n.add("Labs: Na 134, K 4.1, Cr 1.3, WBC 11.2, Hgb 10.4.\n", c)
    if extra:
        n.add(" ".join(rng.sample(extra, 1)) + "\n", c)
    n.add("A/P: " + case["imp"] + " " + pick(rng, ["Continue current plan. ", "Advance diet. ", "PT/OT, case management for dispo. "]), c)
    n.add(pick(rng, ["Dispo: likely {nh} on {d_dc}. ", "Dispo: home with {rel1_rel} once stable. ", "Will d/w {cons_dr} ({spec}). "]), c)
    n.add(pick(rng, ["\n{res_full}, MD (intern), pager {pager} / seen with {att_dr}\n", "\n{att_init_last}, MD\n", "\n{other_first_last}, PA-C\n"]), c)
    return n


KINDS = [k_icu_npn, k_floor_nursing, k_discharge, k_radiology, k_consult, k_clinic_letter, k_referral, k_phone,
         k_lab, k_medrec, k_social_work, k_ed_triage, k_operative, k_device, k_telehealth, k_vna, k_prior_auth,
         k_death, k_pathology, k_security, k_email, k_transfer, k_progress]
KIND_STYLE = {"k_icu_npn": "nursing", "k_floor_nursing": "nursing", "k_discharge": "formal", "k_radiology": "system",
              "k_consult": "mixed", "k_clinic_letter": "formal", "k_referral": "formal", "k_phone": "chatty",
              "k_lab": "system", "k_medrec": "system", "k_social_work": "chatty", "k_ed_triage": "nursing",
              "k_operative": "system", "k_device": "system", "k_telehealth": "mixed", "k_vna": "chatty",
              "k_prior_auth": "system", "k_death": "mixed", "k_pathology": "system", "k_security": "mixed",
              "k_email": "chatty", "k_transfer": "system", "k_progress": "mixed"}


def generate(seed: int, n: int):
    rng = random.Random(seed)
    extra_pool = borrowed_sentences()
    order = []
    while len(order) < n:
        block = list(KINDS)
        rng.shuffle(block)
        order.extend(block)
    notes = []
    for kind in order[:n]:
        c = make_ctx(rng, KIND_STYLE[kind.__name__])
        extra = rng.sample(extra_pool, 3) if extra_pool else []
        text, spans = kind(rng, c, extra).build()
        notes.append((kind.__name__[2:], text, spans))
    return notes, len(extra_pool)


# ----------------------------------------------------------------------------------
# Scoring
# ----------------------------------------------------------------------------------

CLINICAL_WORDS = """metoprolol lisinopril furosemide lasix heparin vancomycin vanco zosyn ceftriaxone azithromycin insulin propofol
fentanyl levophed amiodarone coumadin warfarin aspirin plavix clopidogrel atorvastatin metformin prednisone albuterol
tylenol morphine haldol ativan protonix pantoprazole keppra apixaban eliquis gabapentin levothyroxine sertraline
tamsulosin oxycodone lovenox enoxaparin potassium magnesium cefazolin cephalexin
pneumonia edema crackles rhonchi afebrile tachycardia hypotension sepsis fibrillation effusion consolidation
cardiomegaly stenosis nodule fracture cellulitis delirium dementia hypertension diabetes anemia hyponatremia atelectasis
pneumothorax murmur ulcer
lungs abdomen chest kidney liver femur femoral coccyx pleural aorta carotid
NEURO RESP SKIN SOCIAL PLAN IMPRESSION FINDINGS HISTORY ALLERGIES MEDICATIONS DISPOSITION EXAM COMPARISON TECHNIQUE
Foley Parkinson Alzheimer Glasgow Hodgkin Babinski Murphy""".split()


def alnum_mask(text):
    return [ch.isalnum() for ch in text]


def score(notes, findings):
    per_type = defaultdict(lambda: [0, 0, 0])  # total, found, touched
    per_form = defaultdict(lambda: [0, 0])
    misses = []
    other_alnum = other_cov = 0
    cw_total, cw_touched, cw_hits = Counter(), Counter(), Counter()
    word_res = {w: re.compile(r"(?<![A-Za-z])" + re.escape(w) + r"(?![A-Za-z])", re.I) for w in CLINICAL_WORDS}
    over_words = Counter()
    for (kind, text, spans), found in zip(notes, findings):
        cov = [False] * len(text)
        for f in found:
            for i in range(max(0, f.start), min(len(text), f.end)):
                cov[i] = True
        in_gold = [False] * len(text)
        for g in spans:
            for i in range(g.start, g.end):
                in_gold[i] = True
            if g.typ in NEUTRAL:
                continue
            idx = [i for i in range(g.start, g.end) if text[i].isalnum()]
            ok = all(cov[i] for i in idx)
            touched = any(cov[i] for i in idx)
            t = per_type[g.typ]
            t[0] += 1
            t[1] += ok
            t[2] += touched
            pf = per_form[(g.typ, g.form)]
            pf[0] += 1
            pf[1] += ok
            if not ok:
                misses.append((kind, g, text, cov))
        for i, ch in enumerate(text):
            if ch.isalnum() and not in_gold[i]:
                other_alnum += 1
                if cov[i]:
                    other_cov += 1
        for m in re.finditer(r"[A-Za-z][A-Za-z'-]*|\d+", text):
            if any(cov[i] and not in_gold[i] for i in range(m.start(), m.end())) and not any(in_gold[i] for i in range(m.start(), m.end())):
                over_words[m.group()] += 1
        for w, rx in word_res.items():
            for m in rx.finditer(text):
                if any(in_gold[i] for i in range(m.start(), m.end())):
                    continue
                cw_total[w] += 1
                if any(cov[i] for i in range(m.start(), m.end())):
                    cw_touched[w] += 1
    return per_type, per_form, misses, (other_cov, other_alnum), (cw_total, cw_touched), over_words


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--n", type=int, default=120)
    ap.add_argument("--show-misses", action="store_true", help="print every missed span with context")
    ap.add_argument("--by-form", action="store_true", help="also print recall per written form")
    ap.add_argument("--dump", help="write the generated notes and gold spans as JSONL here")
    args = ap.parse_args()

    notes, n_borrowed = generate(args.seed, args.n)
    if args.dump:
        with open(args.dump, "w", encoding="utf-8") as fh:
            for kind, text, spans in notes:
                fh.write(json.dumps({"kind": kind, "text": text, "spans": [g.__dict__ for g in spans]}) + "\n")

    sys.path.insert(0, str(ROOT))
    import medllm_local  # noqa: F401  (offline guard first)
    from medllm_local.stages.deid.engine import DeidEngine

    engine = DeidEngine()
    texts = [t for _, t, _ in notes]
    t0 = time.perf_counter()
    findings = engine.find_many(texts)
    elapsed = time.perf_counter() - t0

    per_type, per_form, misses, (oc, oa), (cw_total, cw_touched), over_words = score(notes, findings)
    total = sum(v[0] for v in per_type.values())
    found = sum(v[1] for v in per_type.values())
    n_types = len(per_type)
    print(f"deid_realistic  seed={args.seed}  notes={len(notes)}  kinds={len({k for k, _, _ in notes})}  "
          f"gold spans={total}  types={n_types}  borrowed sentence pool={n_borrowed}")
    print(f"\n{'type':<12}{'spans':>7}{'found':>7}{'recall':>8}{'touched':>9}")
    for typ in sorted(per_type, key=lambda t: -per_type[t][0]):
        t, f, tc = per_type[typ]
        print(f"{typ:<12}{t:>7}{f:>7}{f / t:>8.3f}{tc / t:>9.3f}")
    print(f"{'OVERALL':<12}{total:>7}{found:>7}{found / max(total, 1):>8.3f}")
    if args.by_form:
        print(f"\n{'type/form':<32}{'spans':>7}{'recall':>8}")
        for (typ, form), (t, f) in sorted(per_form.items()):
            print(f"{typ + '/' + form:<32}{t:>7}{f / t:>8.3f}")
    over = oc / max(oa, 1)
    print(f"\nover-removal: {oc}/{oa} non-identifier alphanumeric chars covered = {over:.4f}")
    print("  most removed non-identifier words: " + ", ".join(f"{w}({n})" for w, n in over_words.most_common(25)))
    cwt, cwh = sum(cw_total.values()), sum(cw_touched.values())
    print(f"clinical words touched: {cwh}/{cwt} occurrences = {cwh / max(cwt, 1):.4f}  "
          f"({len(cw_total)} of {len(CLINICAL_WORDS)} listed words occur)")
    if cw_touched:
        print("  touched: " + ", ".join(f"{w} {cw_touched[w]}/{cw_total[w]}" for w in sorted(cw_touched)))
    rate = len(notes) / elapsed if elapsed > 0 else float("inf")
    print(f"speed: {len(notes)} notes in {elapsed:.2f}s = {rate:.1f} notes/s")

    if args.show_misses:
        print(f"\nMISSES ({len(misses)}), grouped by type/form:")
        for (typ, form), n in Counter((g.typ, g.form) for _, g, _, _ in misses).most_common():
            print(f"  {typ}/{form}: {n}")
        print()
        for kind, g, text, cov in misses:
            a, b = max(0, g.start - 50), min(len(text), g.end + 50)
            ctx = (text[a:g.start] + "[[" + text[g.start:g.end] + "]]" + text[g.end:b]).replace("\n", " | ")
            part = "".join(ch if cov[i] else "_" for i, ch in zip(range(g.start, g.end), text[g.start:g.end]))
            print(f"- {g.typ}/{g.form} ({kind}) {g.text!r} covered={part!r}\n    ...{ctx}...")

    print(json.dumps({
        "benchmark": "deid_realistic", "seed": args.seed, "notes": len(notes), "spans": total,
        "recall": round(found / max(total, 1), 4),
        "per_type": {t: {"n": v[0], "recall": round(v[1] / v[0], 4)} for t, v in sorted(per_type.items())},
        "over_removal": round(over, 4), "clinical_words_touched": round(cwh / max(cwt, 1), 4),
        "clinical_word_occurrences": cwt, "notes_per_s": round(rate, 2),
    }))


if __name__ == "__main__":
    main()
