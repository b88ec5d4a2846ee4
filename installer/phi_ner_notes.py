#!/usr/bin/env python3
"""Synthetic clinical notes with labelled identifier spans, to train the PHI NER model.

Independence rule: this file was written without opening the project's benchmarks
(bench/), its rule-based de-identification code (medllm_local/stages/deid/engine.py, stages/deid/rules.py,
stages/deid/context.py, stages/deid/places.py, stages/deid/residual.py) or their tests (tests/test_deid*.py),
and it imports none of them. Every template and insertion form here was invented from
general knowledge of how clinical notes are written, so the benchmarks stay an honest
held-out test of a model trained on this data.

What it generates: notes of many kinds (ICU nursing shift notes by system, event notes,
physician progress and consult notes, discharge summaries, referral letters, social work
notes with family lists, registration face sheets, notes with almost no names, and, for a
quarter of the notes, physician office notes laid out as ACI-Bench notes are, with many
headings and few names) in ALL CAPS (~30%), all lower case (~17%) or normal case (~53%,
some lines in caps), with character spans labelled PERSON, LOCATION or FACILITY:
- PERSON: the name words only, never a title or credential ("Dr. [Okafor]", "[J. Morrow]
  RN", "[Lind, Anna]", '[Robert "Bobby" Kane]', "[Nonso]'s car").
- LOCATION: towns, cities, counties, street addresses, a town line with its ZIP ("[Lake
  Carvel, MA 01225]"); a bare state or a country is never labelled.
- FACILITY: named hospitals, clinics, practices, nursing homes, rehabs, pharmacies,
  schools, employers and their acronyms ("tx to [SAH]"); generic places ("the ED",
  "rehab", "cardiology clinic", "OSH", "the Town Center location", "the Main Street
  office": no town and no street number) are not ("the [Walgreens] on Main Street").
Names come from the shipped census lists and, about half the time, from syllable-built
names of many cultures that no list holds, so the model must learn from context and word
shape. Dates, ages, phones and record numbers appear unlabelled (other code handles them).
Negatives sit in the same notes: drug names, eponyms ("Foley catheter", "Murphy's sign",
"Smith-Magenis syndrome", "Tinel's sign"), diseases and scales named after places ("Lyme
disease", "Glasgow Coma Scale"), procedures and tests ("Rhinoplasty", "Chest x-ray"),
section headings and body-system labels ("RESULTS", "Ears, Nose, Mouth and Throat:"),
foods ("Orange juice"), clinical and everyday words capitalised at line starts
("Occasionally", "Instability"), misspelt words ("epsiode"), and English words that are
also names used as words ("brown stool", "will f/u", "hope to wean"), while other notes use
the same words as names ("dr Bath", "Will Young RN", "Dr. Coffee", "Dr. Graves").
Filler sentences (and, for the office notes, lines sorted by the section they stand in)
are taken at run time from ../shared/data (ACI-Bench train notes, MTS-Dialog training
section texts, AgentClinic exam findings; never their validation splits), dropping any
sentence or line with a capitalised word that could be a name.

    python installer/phi_ner_notes.py --n 6000 --seed 0 --out notes.jsonl
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import re
import sys
import time
from collections import Counter
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "medllm_local" / "data"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
PERSON, LOCATION, FACILITY = "PERSON", "LOCATION", "FACILITY"

STATES = ("Alabama,Alaska,Arizona,Arkansas,California,Colorado,Connecticut,Delaware,Florida,Georgia,"
          "Hawaii,Idaho,Illinois,Indiana,Iowa,Kansas,Kentucky,Louisiana,Maine,Maryland,Massachusetts,"
          "Michigan,Minnesota,Mississippi,Missouri,Montana,Nebraska,Nevada,New Hampshire,New Jersey,"
          "New Mexico,New York,North Carolina,North Dakota,Ohio,Oklahoma,Oregon,Pennsylvania,Rhode Island,"
          "South Carolina,South Dakota,Tennessee,Texas,Utah,Vermont,Virginia,Washington,West Virginia,"
          "Wisconsin,Wyoming").split(",")
STATE_ABBR = ("AL AK AZ AR CA CO CT DE FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ "
              "NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY").split()
MONTHS = "january february march april may june july august september october november december".split()
DAYS = "monday tuesday wednesday thursday friday saturday sunday".split()


# ---------------------------------------------------------------- word lists

def _read(name: str) -> list[str]:
    lines = (DATA / name).read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def _titled(word: str) -> str:
    """'mcallen' -> 'McAllen', "coeur d'alene" -> "Coeur D'Alene" (lists are lower case)."""
    out = " ".join("-".join(p.capitalize() for p in w.split("-")) for w in word.split())
    return re.sub(r"\b(Mc|O'|D')([a-z])", lambda m: m[1] + m[2].upper(), out)


@lru_cache(maxsize=1)
def word_lists() -> dict:
    clinical = {w for line in _read("clinical_words.txt") for w in line.split()}
    drugs = _read("drug_names.txt")
    bad = clinical | set(drugs)
    try:  # Webster's Second: lower-case entries are common words
        from english_words import get_english_words_set
        english = {w for w in get_english_words_set(["web2"], lower=False) if w.islower()}
    except Exception:  # the generator still works, with less filtering of rare surnames
        english = set()
    first_raw, sur_raw = _read("first_names.txt"), _read("surnames.txt")
    # rare census surnames are often words ("cough", "grade"): past rank 3000 keep only
    # non-words, and never a clinical word or drug name
    surnames = [_titled(w) for rank, w in enumerate(sur_raw[:25000])
                if len(w) > 1 and w not in bad and (rank < 3000 or w not in english)]
    states = {s.lower() for s in STATES}
    places = [_titled(p) for p in _read("us_places.txt") if p not in bad and p not in states]
    names = set(first_raw) | set(sur_raw[:5000])
    # drug names that are also names ("allegra") are left out of the negatives
    drug_words = [d for d in drugs if d.isalpha() and len(d) > 4 and d not in names]
    return {"first": [_titled(w) for w in first_raw if w not in bad], "surnames": surnames,
            "places": places, "drugs": drug_words, "clinical": clinical | set(drugs),
            "first_set": set(first_raw), "name_set": set(first_raw) | set(sur_raw[:20000]),
            "place_set": {w for p in _read("us_places.txt") for w in p.split()}}


# ---------------------------------------------------------------- filler from the corpora

# no split after a title: "seen by Dr. A, who..." must stay one sentence (and be dropped)
_SENT_SPLIT = re.compile(r"(?<!\bDr\.)(?<!\bMr\.)(?<!\bMs\.)(?<!\bMrs\.)(?<!\bSt\.)(?<=[.!?])\s+(?=[A-Z(])")
_TOKEN = re.compile(r"[A-Za-z]+")
_TITLED = re.compile(r"\b(?:Dr|Mr|Mrs|Ms|Miss|Doctor|Nurse|Prof)\b\.?\s+[A-Z]|\b[A-Z]\.\s?[A-Z]\.")


def _sentences(text: str) -> list[str]:
    out = []
    for line in text.splitlines():
        line = line.strip().lstrip("•*-· ").strip()
        if line:
            out.extend(s.strip() for s in _SENT_SPLIT.split(line) if s.strip())
    return out


@lru_cache(maxsize=1)
def _corpora() -> tuple[list[str], list[tuple[str, str]], list[str], list[str]]:
    """The corpora read once: ACI-Bench train notes, MTS-Dialog training (section, text)
    rows, and all their prose sentences and AgentClinic findings."""
    csv.field_size_limit(10**9)
    with open(SHARED / "aci_bench" / "train.csv", newline="", encoding="utf-8") as f:
        aci = [row["note"] for row in csv.DictReader(f)]
    with open(SHARED / "mts_dialog" / "MTS-Dialog-TrainingSet.csv", newline="", encoding="utf-8") as f:
        mts = [(row["section_header"], row["section_text"]) for row in csv.DictReader(f)]
    prose: list[str] = [s for note in aci for s in _sentences(note)]
    prose.extend(s for _, text in mts for s in _sentences(text))
    findings: list[str] = []

    def walk(obj, key=""):
        if isinstance(obj, dict):
            for k, v in obj.items():
                walk(v, k)
        elif isinstance(obj, list):
            for v in obj:
                walk(v, key)
        elif isinstance(obj, str) and key:
            findings.append(f"{key.replace('_', ' ')}: {obj}")
    with open(SHARED / "agentclinic" / "agentclinic_medqa_extended.jsonl", encoding="utf-8") as f:
        for line in f:
            case = json.loads(line).get("OSCE_Examination", {})
            walk(case.get("Physical_Examination_Findings", {}))
            walk(case.get("Test_Results", {}))
            for key in ("History", "Past_Medical_History", "Review_of_Systems"):
                prose.extend(_sentences(str(case.get("Patient_Actor", {}).get(key, ""))))
    return aci, mts, prose, findings


@lru_cache(maxsize=1)
def _lower_words() -> frozenset:
    """Every word the corpora write in lower case somewhere."""
    _, _, prose, findings = _corpora()
    return frozenset(t for s in prose + findings for t in _TOKEN.findall(s) if t.islower())


def _clean(s: str, lo: int = 15, hi: int = 260) -> bool:
    """True when a corpus sentence holds no word that could be an unlabelled name.

    A capitalised word is kept only when the same word also occurs in lower case in these
    corpora (so "Denies" or "Grade" pass, "Collins" does not), or is a drug, clinical word,
    month or day; mid-sentence, a capitalised census first name ("Will", "Rose") drops the
    sentence too, and any titled word ("Dr. Kumar") does."""
    if not lo <= len(s) <= hi or _TITLED.search(s) or "@" in s or "http" in s or "{" in s or "}" in s:
        return False
    wl, lower = word_lists(), _lower_words()
    for i, m in enumerate(_TOKEN.finditer(s)):
        t = m.group()
        if t.islower() or len(t) == 1:
            continue
        low = t.lower()
        if low in wl["clinical"] or low in _ALLOWED:
            continue
        if low not in lower or (i > 0 and low in wl["first_set"] and not t.isupper()):
            return False
    return True


_ALLOWED = set(MONTHS) | set(DAYS) | {"covid", "i"}


@lru_cache(maxsize=1)
def filler() -> tuple[list[str], list[str]]:
    """Sentences of clinical prose and exam/test findings, none with an unlabelled name."""
    _, _, prose, findings = _corpora()
    keep_prose = sorted({s for s in prose if _clean(s)})
    keep_find = sorted({s for s in findings if _clean(s) and len(s) < 160})
    return keep_prose, keep_find


# ---------------------------------------------------------------- people

# Names from many cultures, as fixed lists plus syllable pieces joined at run time.
# Fields: first names, (first prefixes, first endings), surnames, (surname prefixes, endings).
CULTURES = {
    "west_african": ("Chinedu,Ngozi,Oluwaseun,Adebayo,Kwame,Ama,Yaw,Nonso,Chiamaka,Emeka,Folake,Tunde,Ifeoma,"
                     "Obinna,Kofi,Akosua,Efua,Kwabena,Adaeze,Olumide,Funmilayo,Babatunde,Chidi,Nkechi,Abena",
                     ("Chi,Olu,Ade,Ife,Oba,Nne,Ola,Temi,Bola,Yemi,Uche,Ngo,Oyi,Kele,Femi",
                      "nedu,seun,bayo,oma,wale,tunde,dike,ka,mide,nna,yinka,ebuka,dinma"),
                     "Okafor,Adeyemi,Nwosu,Mensah,Owusu,Boateng,Okonkwo,Asante,Oyelaran,Eze,Obi,Adjei,Appiah,"
                     "Ogunleye,Babalola,Nwachukwu,Ibekwe,Afolabi,Danquah",
                     ("Ok,Nw,Ad,Ob,Ow,Ez,Ogun,Oy,Ak,Ab,Ol,On,Ig,Uz,Ib,As,Af",
                      "afor,osu,eyemi,onkwo,usu,ele,ade,umi,iru,eke,ike,ateng,ensah,ogu,abanjo,owale,uchukwu,ibe")),
    "slavic": ("Dmitri,Katarzyna,Vladimir,Miloš,Zofia,Bogdan,Ludmila,Agnieszka,Wojciech,Oksana,Yaroslav,"
               "Svetlana,Tomasz,Jelena,Dragan,Irina,Mykola,Halyna,Przemysław,Radek,Anatoly,Bożena",
               ("Mil,Vla,Bog,Yar,Sta,Bro,Lud,Rad,Zden,Dar", "ena,imir,dan,oslav,ka,ana,ek,mila,ko"),
               "Kowalski,Nowak,Petrović,Ivanova,Wiśniewski,Zając,Shevchenko,Kuznetsov,Dvořák,Horvat,Novák,Tkachuk",
               ("Kowal,Petr,Ivan,Wiśniew,Zaj,Lewand,Kozl,Jabłoń,Grab,Dąbr,Sok,Bil,Horb,Shev,Kuzn,Vasil,Pav,"
                "Tkach,Kravch,Jovan,Stoj,Dvor,Mazur,Bond",
                "ski,ska,ova,ov,enko,ovich,ović,czyk,ak,uk,chuk,ek,ić,in,ina,iak,ewicz")),
    "irish": ("Siobhan,Niamh,Aoife,Ciaran,Padraig,Eoin,Roisin,Declan,Saoirse,Oisin,Caoimhe,Cathal,Grainne,"
              "Donal,Mairead,Tadhg,Sinead,Fionnuala,Seamus,Brendan", None,
              "Byrne,Kavanagh,Doherty,Fitzgerald,Quinlan,Gallagher,Ó Súilleabháin,Nic Giolla",
              ("O',Mc,Mac,O',Mc", "Neill,Brien,Sullivan,Donnell,Carthy,Mahon,Grath,Guire,Kenna,Dermott,Shea,"
               "Leary,Rourke,Hara,Connor,Dowd,Keeffe,Flaherty,Loughlin,Gowan,Cormack,Namara,Govern,Nulty")),
    "south_asian": ("Priya,Anil,Rajesh,Sunita,Deepak,Lakshmi,Harpreet,Manjit,Arjun,Kavya,Sanjay,Meenakshi,Farhan,"
                    "Nusrat,Vikram,Ananya,Gurpreet,Shreya,Aditya,Rukhsana,Venkatesh",
                    ("Pra,Ani,Ra,Su,Vi,Har,Man,Raj,Dee,Shri,Kam,Nav,Jas,Aru", "deep,esh,ita,ika,endra,preet,jit,ya,vind,mala"),
                    "Patel,Sharma,Reddy,Iyer,Nair,Chaudhary,D'Souza,Gupta,Bhattacharya,Menon,Sandhu,Gill,Desai,"
                    "Joshi,Chatterjee,Rao,Pillai,Qureshi,Siddiqui,Kapoor,Dhillon,Mukherjee,D'Cruz,D'Mello,D'Costa",
                    ("Krishna,Venkata,Rama,Subra,Srini,Bala,Siva,Nara,Chandra,Gopala,Sundar,Raghu",
                     "murthy,raman,swamy,manian,vasan,krishnan,simhan,chari,nathan,rajan")),
    "chinese": ("Wei,Jing,Xiaoming,Li Na,Hui,Jun,Yan,Mei,Hao,Xin,Zhiwei,Qing", ("Xiao,Wei,Ming,Jing,Hui,Yan,Jia,Yu,Zhi,Qing,Mei,Shu,Kai,Rui",
                "ming,wei,jing,hui,yan,li,jun,hao,yu,xin,lei,fang,ling,tao"),
                "Wang,Li,Zhang,Liu,Chen,Yang,Huang,Zhao,Wu,Zhou,Xu,Sun,Zhu,Hu,Guo,Lin,Luo,Gao,Zheng,Liang,Xie,Tang,"
                "Feng,Deng,Cao,Peng,Zeng,Chan,Wong,Cheung,Leung,Lau,Ng,Tsang", None),
    "korean": ("Min-jun,Seo-yeon,Ji-hoon,Hyun-woo,Soo-jin,Jae-won,Eun-ji,Dong-hyun,Ha-eun,Joon-ho,Minji,Jiwoo", None,
               "Kim,Park,Choi,Jung,Kang,Yoon,Jang,Lim,Han,Shin,Seo,Kwon,Hwang,Ahn,Song,Yoo,Hong,Jeon,Moon,Baek,Cho", None),
    "japanese": ("Haruto,Yuki,Aiko,Kenji,Takumi,Sakura,Hiroshi,Yumiko,Daisuke,Naoko,Kazuo,Emiko,Sota,Hina,Keiko,Takeshi", None,
                 "Sato,Suzuki,Watanabe,Ito,Kobayashi", ("Yama,Naka,Ta,Ki,Matsu,Fuji,Haya,Ishi,Wata,Ino,Mori,Taka,Hashi,Sugi,"
                                                       "Kuro,Shima,Nishi,Aki,Oka", "moto,mura,da,guchi,shita,kawa,no,saki,hara,bayashi,uchi,zaki,oka,yama,naka")),
    "vietnamese": ("Thi Lan,Van Minh,Duc Anh,Thanh,Thi Hoa,Quang,Tuan,Linh,Huong,Bao,Phuong,Minh Chau,Khanh,Trung,Thuy", None,
                   "Nguyen,Tran,Le,Pham,Hoang,Huynh,Vu,Vo,Dang,Bui,Do,Ngo,Duong,Ly,Phan,Truong,Nguyễn", None),
    "arabic": ("Mohammed,Muhammad,Ahmad,Fatima,Aisha,Omar,Khalid,Yusuf,Layla,Samir,Rania,Tariq,Nour,Hassan,Mariam,"
               "Ibrahim,Huda,Walid,Zainab,Abdullah,Salma,Karim,Amal,Bilal,Yasmin", None,
               "Haddad,Khoury,Nasser,Farouk,Mansour,Saleh,Hamdan,Darwish,Aziz,Rahman,Hussein,Othman,Shaheen,Jaber",
               ("al-,Al-,El-,bin ,Abdel-,Abu ,Al ", "Rashid,Masri,Saadi,Hashimi,Tamimi,Zahra,Amin,Khatib,Najjar,Sayed,Obeidi,"
                "Hakim,Sharif,Qasim,Harbi,Jaziri,Rahman")),
    "hungarian": ("Zsófia,Bence,Levente,Gergely,Eszter,Katalin,Ildikó,Zoltán,Ágnes,Csaba,Tamás,Erzsébet,Gábor,Réka,Attila", None,
                  "Nagy,Kovács,Tóth,Szabó,Horváth,Varga,Kiss,Molnár,Németh,Farkas,Balogh,Papp,Takács,Juhász,Lakatos,"
                  "Mészáros,Oláh,Rácz,Fekete,Szűcs,Vörös,Bíró,Hegedűs",
                  ("Szent,Kis,Bala,Hor,Fe,Csi,Ger,Köv,Mar,Szeke,Tör", "házi,váry,falvi,ffy,kai,rényi,lányi,helyi")),
    "finnish": ("Aino,Eero,Juhani,Kalle,Liisa,Mikko,Tuula,Sirpa,Pekka,Päivi,Jussi,Hannele,Antti,Riikka,Oskari,Ville", None,
                "Virtanen,Korhonen,Mäkinen,Nieminen,Järvinen", ("Virta,Mäki,Koski,Järvi,Lahti,Niemi,Salo,Heikki,Korho,Laine,Halo,"
                                                              "Kallio,Lehto,Hämä,Nurmi,Kivi,Ranta,Saari,Pelto,Vuori",
                                                              "nen,lainen,mäki,la,ainen,koski,lä,inen,vaara,oja,aho")),
    "spanish": ("Alejandro,Guadalupe,María José,Juan Carlos,Ximena,Itzel,José Luis,Lucía,Mateo,Valentina,Santiago,"
                "Camila,Javier,Pilar,Rocío,Jesús,Inés,Raúl,Marisol,Esperanza,Dolores,Consuelo,Yolanda,Maria", None,
                "García,Hernández,López,Martínez,González,Rodríguez,Pérez,Sánchez,Ramírez,Flores,Gómez,Díaz,Reyes,"
                "Morales,Jiménez,Ruiz,Vargas,Castillo,Ortega,Delgado,Aguilar,Mendoza,Navarro,Zúñiga,Ibarra,Quintero,"
                "Lozada,Vazquez,Garcia,Hernandez", ("de la ,del ,de los ,de ", "Cruz,Rosa,Torre,Fuente,Vega,Peña,Garza,Paz,"
                                                   "Toro,Río,Valle,Campo,Santos,León")),
    "portuguese": ("João,Conceição,Joaquim,Fernanda,Thiago,Luíza,Gonçalo,Beatriz,Rui,Mariana,Paulo,Leonor,Graça,Vitor", None,
                   "Gonçalves,Fernandes,Pereira,Rodrigues,Oliveira,Costa,Carvalho,Almeida,Ribeiro,Sousa,Teixeira,"
                   "Moreira,Cardoso,Barbosa,Azevedo,Magalhães", ("da ,dos ,do ,das ,de ", "Silva,Santos,Costa,Carmo,Neves,Souza")),
    "dutch_german": ("Pieter,Anneke,Joost,Femke,Sander,Maarten,Lieke,Jürgen,Greta,Klaus,Ingrid,Wolfgang,Liesel,Dieter,Bram", None,
                     "Schröder,Müller,Becker,Hoffmann,Schäfer,Koch,Richter,Wagner,Zimmermann,Krüger,Hartmann,Vogel,"
                     "Janssen,Bakker,Visser,Mulder", ("van der ,van ,de ,von ,Van der ,van den ",
                                                     "Berg,Meer,Linden,Heuvel,Veen,Wal,Laan,Dijk,Dam,Leeuwen,Beek,Vries,"
                                                     "Jong,Groot,Boer,Graaf,Essen")),
    "greek_turkish": ("Dimitrios,Eleni,Giorgos,Katerina,Yiannis,Vasiliki,Nikos,Emre,Elif,Mehmet,Zeynep,Burak,Ayşe,Selin", None,
                      "Papadopoulos,Georgiou,Nikolaidis,Konstantinou,Yılmaz,Kaya,Demir,Şahin,Öztürk,Aydın,Çelik",
                      ("Papa,Kon,Niko,Chris,Vlach,Karam,Stavr", "dopoulos,stantinou,laidis,topoulos,akis,anlis,ides")),
}
CULTURES = {k: tuple(None if f is None else tuple(p.split(",") for p in f) if isinstance(f, tuple) else f.split(",")
                     for f in v) for k, v in CULTURES.items()}
CULTURE_NAMES = sorted(CULTURES)
# English words (and eponyms) that are also names: the same words appear as words elsewhere
WORD_FIRST = ("Will,Hope,Faith,Rose,Grant,Mark,Bill,Rich,Grace,Joy,May,June,April,Dawn,Summer,Penny,Ruby,"
              "Amber,Iris,Lily,Daisy,Holly,Ivy,Pearl,Guy,Jack,Pat,Sue,Art,Gene,Chase,Hunter,Miles,Wade,Dale,"
              "Glen,Dean,Frank,Sandy,Robin,Rusty,Christian,Major,Sterling,Ginger,Candy,Honey,Brandy,Sherry,Olive,"
              "Basil,Sage,Rosemary,Clementine").split(",")
WORD_LAST = ("Young,Hall,Hill,White,Brown,Green,Bath,Good,Rich,King,Bell,Black,Gray,Wood,Stone,Cross,Little,"
             "Long,Short,Moody,Sharp,Strong,Wise,Love,Rice,Cook,Baker,Walker,Price,Banks,Fields,Marsh,Lamb,Fox,"
             "Wolf,Page,Best,Lane,Hope,May,Foley,Murphy,Graves,Addison,Barrett,Cushing,Whipple,Mallory,Wells,"
             "Hoyer,Fowler,Tanner,Child,Braden,Morse,Hickman,Jackson,Pratt,Mayo,Bland,Rash,Paine,Cough,Heart,"
             "Coffee,Waters,Organ,Temple,Salmon,Berry,Sugar,Pepper,Mustard,Bean,Holter,Doppler,Heimlich,Gleason,"
             "Apgar,Lachman,Tinel,Phalen,McMurray,Hashimoto,Kawasaki,Smith,Parkinson,Hodgkin,Raynaud,Babinski,"
             "Romberg,Epley,Wilson,Turner,Baker,Still,Paget,Lynch,Sweet,Charcot,Kaposi,Marfan,Noonan,Williams").split(",")
NICK = {"Robert": "Bobby", "William": "Bill", "Elizabeth": "Betty", "Margaret": "Peggy", "James": "Jimmy",
        "Richard": "Rick", "Katherine": "Kate", "Joseph": "Joe", "Michael": "Mikey", "Thomas": "Tommy",
        "Charles": "Chuck", "Edward": "Ted", "Chinonso": "Nonso", "Oluwaseun": "Seun", "Alejandro": "Alex"}
PET_NAMES = ["Buddy", "Sonny", "Red", "Skip", "Junior", "Tiny", "Sissy", "Bubba", "Dee", "Lulu", "Moe", "Tex"]
C, V = list("bdfgklmnprstvz") + ["th", "sh", "ch", "br", "tr"], ["a", "e", "i", "o", "u", "ae", "ou", "ei"]


def _ranked(rng: random.Random, items: list[str]) -> str:
    """Skewed to the top of a frequency-ranked list, reaching its tail now and then."""
    return items[int(len(items) * rng.random() ** 2.2)]


def _invented(rng: random.Random) -> str:
    """A name-shaped word that is in no list ("Tarvik", "Molenar")."""
    word = "".join(rng.choice(C) + rng.choice(V) for _ in range(rng.randint(1, 3)))
    return (word + rng.choice(["", "n", "s", "k", "r", "l", "ck", "nd", "tz", "sen", "ov"])).capitalize()


def _culture_part(rng: random.Random, fixed: list[str], parts) -> str:
    if parts and rng.random() < 0.5:
        return rng.choice(parts[0]) + rng.choice(parts[1])
    return rng.choice(fixed)


class Person:
    def __init__(self, rng: random.Random, wl: dict):
        r = rng.random()
        if r < 0.36:
            self.first, self.last = _ranked(rng, wl["first"]), _ranked(rng, wl["surnames"])
        elif r < 0.45:  # words that are names: "Will Young", "Hope Bath", "Dr. Foley"
            self.first = rng.choice(WORD_FIRST) if rng.random() < 0.6 else _ranked(rng, wl["first"])
            self.last = rng.choice(WORD_LAST) if rng.random() < 0.7 else _ranked(rng, wl["surnames"])
        elif r < 0.52:
            self.first, self.last = _ranked(rng, wl["first"]), _invented(rng)
        else:
            fixed_f, parts_f, fixed_l, parts_l = CULTURES[rng.choice(CULTURE_NAMES)]
            self.first = _culture_part(rng, fixed_f, parts_f) if rng.random() < 0.85 else _ranked(rng, wl["first"])
            self.last = _culture_part(rng, fixed_l, parts_l)
            if fixed_l is CULTURES["spanish"][2] and rng.random() < 0.35:  # double surnames
                self.last += rng.choice([" ", "-"]) + rng.choice(fixed_l)
            if rng.random() < 0.2:
                self.first = self.first.replace("á", "a").replace("é", "e").replace("í", "i").replace("ó", "o")
        if rng.random() < 0.05 and " " not in self.last:
            self.last += "-" + _ranked(rng, wl["surnames"])
        self.mid = rng.choice("ABCDEFGHJKLMNPRSTW")
        self.nick = NICK.get(self.first) or (self.first[:3] + "ie" if rng.random() < 0.4 else rng.choice(PET_NAMES))
        self.suffix = rng.choice([" Jr.", " Sr.", " III", " II"]) if rng.random() < 0.03 else ""
        self.female = rng.random() < 0.5
        self.title = rng.choice(["Ms.", "Mrs.", "Miss", "Ms"]) if self.female else rng.choice(["Mr.", "Mr"])

    def form(self, form: str, rng: random.Random):
        f, l = self.first, self.last
        if not form:  # no form asked: the usual mix of ways a name is written
            form = rng.choices(["fl", "l", "f", "il", "fml", "lf"], [40, 25, 15, 10, 5, 5])[0]
        text = {"fl": f"{f} {l}{self.suffix}", "l": l, "f": f, "lf": f"{l}, {f}", "lfm": f"{l}, {f} {self.mid}.",
                "il": rng.choice([f"{f[0]}. {l}", f"{f[0]} {l}", f"{f[0]}.{self.mid}. {l}"]),
                "fml": f"{f} {self.mid}. {l}", "nick": f'{f} "{self.nick}" {l}', "nk": self.nick,
                "LF": f"{l.upper()}, {f.upper()}", "lfc": f"{l},{f}"}[form]
        return text, PERSON


# ---------------------------------------------------------------- places and facilities

TOWN_ROOTS = ("North,South,East,West,Ash,Oak,Elm,Cedar,Maple,Pine,Stone,Mill,Brook,Fair,Green,Red,Clear,Spring,Glen,"
              "Bridge,Wood,Hay,Thorn,Marl,Brad,Wex,Ather,Kings,Bel,Carr,Dun,Hol,Lang,Stan,Wen,Carvel,Tarr").split(",")
TOWN_ENDS = "bury,ville,ton,ford,field,haven,wood,dale,borough,stad,mouth,port,burg,chester,ham,well,wick,mont,view,crest".split(",")
SAINTS = ("Albans,Mary's,Joseph,Luke's,Jude,Vincent,Francis,Anne's,Elizabeth,Catherine,Agnes,Raphael,Michael's,Clare,"
          "Benedict,Brigid,Anthony,Barnabas,Peter's,Margaret,Columba,Dominic,Cecilia").split(",")
TREES = "Willow,Oak,Maple,Cedar,Birch,Pine,Elm,Aspen,Laurel,Magnolia,Juniper,Hawthorn,Chestnut,Spruce".split(",")
STREET_NAMES = ("Main,Church,High,Park,Mill,Water,School,Spring,Lake,Maple,Oak,Elm,Cedar,Pine,Broad,Market,Center,"
                "Front,Bridge,1st,2nd,3rd").split(",")  # a street name with no number is no LOCATION
STREET_TYPES = "Street,St,St.,Avenue,Ave,Ave.,Road,Rd,Lane,Ln,Drive,Dr.,Boulevard,Blvd,Way,Court,Ct,Place,Terrace,Circle,Pkwy".split(",")
FOREIGN_CITIES = ("Lagos,Accra,Kumasi,Kraków,Kyiv,Lviv,Mumbai,Chennai,Lahore,Dhaka,Guadalajara,Puebla,Oaxaca,Hanoi,"
                  "Manila,Port-au-Prince,Cork,Galway,Porto,Recife,Budapest,Debrecen,Tampere,Mogadishu,Cairo,Amman,"
                  "Aleppo,Shenzhen,Busan,Osaka,San Salvador,Toronto").split(",")
COUNTRIES = ("Nigeria,Ghana,Poland,Ukraine,India,Pakistan,Bangladesh,Mexico,Guatemala,El Salvador,Vietnam,China,Korea,"
             "the Philippines,Haiti,Ireland,Portugal,Brazil,Hungary,Finland,Somalia,Ethiopia,Egypt,Jordan,Syria,"
             "Japan,Canada,Jamaica,the Dominican Republic,Cape Verde").split(",")
EMPLOYERS = ("Walmart,Target,Costco,Home Depot,Amazon,UPS,FedEx,Kroger,Boeing,General Motors,Lowe's,Starbucks,"
             "McDonald's,Safeway,Publix,Tyson Foods,Verizon,Dunkin',the Postal Service,Stop & Shop").split(",")
PHARMACIES = "CVS,Walgreens,Rite Aid,Costco Pharmacy,Walmart Pharmacy,Kroger Pharmacy".split(",")


def _acronym(name: str, clinical: set) -> str | None:
    """'St. Albans Hospital' -> 'SAH', unless it spells a clinical abbreviation."""
    words = [w for w in re.split(r"[\s\-]+", name) if w and w[0].isupper() and w not in ("The", "&")]
    acro = "".join(w[0] for w in words)
    return acro if 3 <= len(acro) <= 5 and acro.lower() not in clinical else None


class Places:
    """Lazily made towns, streets and facilities of one note, so that they recur."""

    def __init__(self, rng: random.Random, wl: dict):
        self.rng, self.wl, self.made = rng, wl, {}

    def surname(self) -> str:
        return _ranked(self.rng, self.wl["surnames"]) if self.rng.random() < 0.6 else Person(self.rng, self.wl).last

    def town(self) -> str:
        rng = self.rng
        if rng.random() < 0.55:
            return rng.choice(self.wl["places"])
        root = rng.choice(TOWN_ROOTS) if rng.random() < 0.6 else self.surname().split()[-1]
        pattern = rng.choice(["{r}{e}", "{r}{e}", "Lake {r}", "Port {r}", "Mount {r}", "Fort {r}", "{r} Falls",
                              "{r} Springs", "{r} Heights", "{r} Junction", "{r} Ridge", "New {r}", "East {r}{e}",
                              "West {r}", "{r} City", "Port {r} Heights", "{r} Hollow", "{r}-on-the-Lake"])
        return pattern.format(r=root, e=rng.choice(TOWN_ENDS))

    def street(self) -> str:
        rng = self.rng
        root = rng.choice([rng.choice(TREES), self.surname(), rng.choice(["Main", "Church", "High", "Park", "Mill",
                           "Water", "School", "Spring", "Ridge", "Lake", "Hillside", "Meadow", "Prospect"]),
                           f"{rng.randint(1, 99)}{rng.choice(['th', 'st', 'nd', 'rd'])}"])
        text = f"{rng.randint(1, 9999)} {rng.choice(['', '', '', 'N. ', 'South ', 'W ', 'East '])}{root} {rng.choice(STREET_TYPES)}"
        if rng.random() < 0.25:
            text += rng.choice([f" #{rng.randint(1, 40)}{rng.choice('ABCD')}", f", Apt {rng.randint(1, 300)}",
                                f" Unit {rng.randint(1, 12)}", f", Apt. {rng.randint(1, 9)}{rng.choice('ABC')}"])
        return f"PO Box {rng.randint(10, 9999)}" if rng.random() < 0.05 else text

    def facility(self, kind: str) -> str:
        rng, town, sur = self.rng, self.get("town") if self.rng.random() < 0.3 else self.town(), self.surname()
        pick = {
            "hosp": [f"St. {rng.choice(SAINTS)} Hospital", f"Saint {rng.choice(SAINTS)} Medical Center",
                     f"{town} General Hospital", f"{town} Regional Medical Center", f"{sur} Memorial Hospital",
                     f"{town} Community Hospital", f"{sur} Medical Center", f"Mercy {town}", f"{town} Medical Center",
                     f"University of {town} Medical Center", f"{sur} Children's Hospital", f"Good Samaritan {town}",
                     f"{town} Hospital", f"{sur}-{self.surname()} Medical Center", f"St. {rng.choice(SAINTS)}"],
            "clinic": [f"{town} Family Practice", f"{town} Medical Associates", f"{sur} Clinic",
                       f"{sur} & {self.surname()} Internal Medicine", f"{town} Health Center",
                       f"{town} Community Health Center", f"{sur} Pediatrics", f"{town} Cardiology Associates",
                       f"{town} Urgent Care", f"{sur} Family Medicine", f"{town} Primary Care"],
            "snf": [f"{sur} Nursing Home", f"{town} Nursing and Rehabilitation Center", f"{rng.choice(TREES)} Manor",
                    f"{rng.choice(TREES)} Ridge Care Center", f"{sur} House", f"{town} Manor",
                    f"St. {rng.choice(SAINTS)} Care Center", f"{town} Senior Living", f"{rng.choice(TREES)}crest Assisted Living",
                    f"{sur} Gardens", f"{town} Health Care Center"],
            "rehab": [f"{town} Rehabilitation Hospital", f"{sur} Rehab", f"{sur} Rehabilitation Institute",
                      f"{town} Acute Rehab", f"{rng.choice(TREES)} Rehabilitation Center"],
            "pharm": [rng.choice(PHARMACIES), f"{sur} Pharmacy", f"{town} Drug", f"{sur}'s Apothecary"],
            "emp": [rng.choice(EMPLOYERS), rng.choice(EMPLOYERS), f"{sur} Construction", f"{sur} & Sons",
                    f"{town} Tool and Die", f"{town} Public Schools", f"{sur} Farms", f"{town} Paper Mill",
                    f"{sur} Trucking", f"{town} Fire Department", f"{sur} Manufacturing", f"{town} Police Department"],
            "school": [f"{town} High School", f"{sur} Elementary", f"{sur} Middle School", f"{town} Community College",
                       f"University of {town}", f"{town} Academy"],
            "dial": [f"{town} Dialysis", f"{sur} Kidney Center", f"{town} Dialysis Center"],
        }[kind]
        return rng.choice(pick)

    def get(self, key: str) -> str:
        """One value per key and note: 'town', 'town2', 'hosp', 'hospA' (its acronym)..."""
        if key not in self.made:
            base = key.rstrip("0123456789A")
            if key.endswith("A"):
                full = self.get(key[:-1])
                self.made[key] = _acronym(full, self.wl["clinical"]) or full
            elif base in ("town", "htown"):
                self.made[key] = self.town()
            elif base == "street":
                self.made[key] = self.street()
            elif base == "city":  # a town line with state and ZIP, one span
                town = self.get("town" + key[4:])
                st = self.rng.choice(STATE_ABBR)
                self.made[key] = self.rng.choice([f"{town}, {st} {self.rng.randint(1000, 99950):05d}",
                                                  f"{town} {st} {self.rng.randint(1000, 99950):05d}",
                                                  f"{town}, {st}  {self.rng.randint(1000, 99950):05d}-{self.rng.randint(1000, 9999)}"])
            elif base == "county":
                self.made[key] = f"{self.surname() if self.rng.random() < 0.5 else self.town()} County"
            elif base == "fcity":
                self.made[key] = self.rng.choice(FOREIGN_CITIES)
            else:
                self.made[key] = self.facility("hosp" if base == "osh" else base)
        return self.made[key]


LOCATION_KEYS = ("town", "htown", "street", "city", "county", "fcity")
FACILITY_KEYS = ("hosp", "osh", "clinic", "snf", "rehab", "pharm", "emp", "school", "dial")
PEOPLE = ("pt", "md", "res", "rn", "np", "pa", "c", "pcp", "ref", "sw", "interp", "rt", "kin", "chap", "cm", "pharmd")


# ---------------------------------------------------------------- unlabelled slot values

DX = ("CHF exacerbation,urosepsis,COPD flare,NSTEMI,UGIB,DKA,ETOH withdrawal,PNA,SAH,cirrhosis w/ ascites,AKI on CKD,"
      "afib w/ RVR,Parkinson's disease,Crohn's flare,Hodgkin lymphoma,Guillain-Barre syndrome,Cushing syndrome,CVA,"
      "bilateral PE,hyperkalemia,SBO,gallstone pancreatitis,R hip fx,COVID PNA,Alzheimer's dementia,Bell's palsy,"
      "Graves disease,Addison's crisis,Barrett esophagus,Mallory-Weiss tear,Stevens-Johnson syndrome,cellulitis,"
      "HTN,DM2,CAD s/p CABG,ESRD on HD,OSA on CPAP,hypothyroidism,CKD stage 3,anemia,depression,gout").split(",")
PROC = ("CABG x3,Whipple procedure,ex lap,R TKA,AVR,craniotomy,ERCP,Nissen fundoplication,Roux-en-Y gastric bypass,"
        "PEG placement,trach,L hemicolectomy,Hartmann procedure,lap chole,TURP,cath w/ DES to LAD,CEA").split(",")
EPONYMS = ("Foley catheter,Murphy's sign negative,Glasgow Coma Scale {#3-15},Babinski downgoing,Homans sign neg,"
           "Swan-Ganz in place,Trendelenburg,Fowler's position,Hoyer lift for transfers,Jackson-Pratt drain,"
           "Hickman line,Port-a-Cath accessed,Yankauer at bedside,Dobhoff tube,Miami J collar,Bair Hugger on,"
           "Kussmaul respirations,Cheyne-Stokes breathing,Romberg neg,Braden score {#9-20},Morse fall score {#25-90},"
           "Wells score {#0-6},Child-Pugh B,Gleason 7,Apgar 8/9,Tanner stage 4,Richmond Agitation-Sedation Scale -{#0-3},"
           "Parkinson's disease,Hodgkin lymphoma,Crohn's disease,Cushing syndrome,Bell's palsy,Whipple procedure,"
           "Raynaud phenomenon,Hashimoto thyroiditis,Wernicke encephalopathy,Down syndrome,Wolff-Parkinson-White,"
           "Brugada pattern,Ambu bag at bedside,Pleur-evac to suction,Levin tube,Lachman neg,McMurray neg").split(",")
TRAPS = ("may d/c foley in am,will f/u lytes,good uop,brown stool x{#1-3},green sputum,bath given,hope to wean sedation today,"
         "site marked,patient bill of rights reviewed,diet rich in protein,young adult,ambulated in hall x{#1-3},"
         "white count trending down,temp rose to 38.{#1-9},faith important to pt - chaplain requested,"
         "will grant pass per team,pt in good spirits,will need PT eval,may have clears,brown liquid stool,"
         "green bile from OGT,white patches on tongue,pink frothy sputum,pt hopes to go home,mark on R flank,"
         "hill walking tolerated,stool brown and formed,faith-based support,may shower,Good effect from {drug},"
         "Will recheck lytes at {time},May advance diet,White plaques noted,Brown urine,Green drainage,"
         "Young pt anxious,Bath deferred,Rich diet discussed,Grant of guardianship pending,Bill reviewed w/ CM,"
         "will call back,MAY D/C ART LINE,WILL WEAN AS TOL,GOOD PULSES,BROWN STOOL,Denies CP/SOB,Cough productive,"
         "Abnormal labs: K {#3-3}.{#1-4},Positive UA,Grade 2/6 murmur,Negative for PE,Stable,Improved overnight").split(",")
DRUGS = ("Protonix,Zoloft,Toprol XL,Lasix,Coumadin,Eliquis,Xarelto,Norvasc,Lipitor,Plavix,Keppra,Seroquel,Ativan,"
         "Haldol,Zyprexa,Dilaudid,Tylenol,Colace,Senna,Lovenox,Flomax,Synthroid,Lantus,Humalog,Zofran,Reglan,Augmentin,"
         "Zosyn,vancomycin,cefepime,metoprolol,lisinopril,amlodipine,furosemide,heparin,insulin glargine,pantoprazole,"
         "sertraline,atorvastatin,apixaban,levetiracetam,quetiapine,oxycodone,acetaminophen,gabapentin,prednisone").split(",")
GENERIC = ("the ED,the floor,rehab,home,OSH,the ICU,MICU,SNF,cardiology clinic,dialysis,the cath lab,IR,the OR,PACU,"
           "urgent care,hospice,an outside hospital,the nursing home,clinic,the hospital,step-down,tele,acute rehab,"
           "LTAC,the ER,radiology,the lab,pre-op,endoscopy").split(",")
RELATIONS = ("wife,husband,son,daughter,sister,brother,mother,father,niece,nephew,granddaughter,grandson,partner,"
             "friend,neighbor,cousin,aunt,uncle,stepson,daughter-in-law,significant other,fiance").split(",")
DEPTS = "cardiology,nephrology,pulmonary,GI,ID,neurology,oncology,surgery,urology,endocrine,palliative care,geriatrics".split(",")
JOBS = ("teacher,truck driver,nurse,cashier,mechanic,machinist,accountant,farmer,carpenter,student,home health aide,"
        "electrician,bus driver,cook,construction worker,janitor,engineer,secretary").split(",")
LANGS = "Spanish,Portuguese,Haitian Creole,Vietnamese,Mandarin,Cantonese,Arabic,Russian,Polish,Somali,Korean,Yoruba".split(",")
COLORS = "tan,white,yellow,green,brown,blood-tinged,thick white,creamy,clear".split(",")


# ---------------------------------------------------------------- more negatives (every kind)
# Words a tagger takes for names when they stand capitalised at a line start or in a list:
# drugs, procedures and tests, eponymous diseases and signs, diseases and scales named
# after places, foods, heading words and adverbs, generic place words, typos. None is ever
# labelled; the same surnames appear as people elsewhere ("Dr. Graves", "Ginger Holter").

COMMON_DRUGS = (
    "Ibuprofen,Farxiga,Jardiance,Ozempic,Trulicity,Mounjaro,Wegovy,Victoza,Januvia,Metformin,Glipizide,Lantus,"
    "Tresiba,Novolog,Humalog,Lisinopril,Losartan,Valsartan,Amlodipine,Norvasc,Carvedilol,Metoprolol,Toprol,"
    "Entresto,Hydrochlorothiazide,Chlorthalidone,Spironolactone,Lasix,Furosemide,Torsemide,Atorvastatin,"
    "Rosuvastatin,Crestor,Lipitor,Simvastatin,Zetia,Eliquis,Xarelto,Warfarin,Coumadin,Plavix,Aspirin,"
    "Levothyroxine,Synthroid,Unithroid,Omeprazole,Prilosec,Nexium,Pantoprazole,Protonix,Famotidine,Pepcid,"
    "Gabapentin,Neurontin,Lyrica,Meloxicam,Mobic,Naproxen,Aleve,Advil,Motrin,Tylenol,Acetaminophen,Celebrex,"
    "Prednisone,Medrol,Methylprednisolone,Dexamethasone,Flonase,Zyrtec,Claritin,Singulair,Albuterol,Advair,"
    "Symbicort,Spiriva,Trelegy,Sertraline,Zoloft,Lexapro,Escitalopram,Prozac,Fluoxetine,Wellbutrin,Bupropion,"
    "Trazodone,Cymbalta,Duloxetine,Buspar,Xanax,Ativan,Klonopin,Ambien,Adderall,Ritalin,Keppra,Lamictal,Depakote,"
    "Topamax,Imitrex,Sumatriptan,Flomax,Tamsulosin,Finasteride,Cialis,Humira,Enbrel,Methotrexate,Plaquenil,"
    "Colchicine,Allopurinol,Augmentin,Amoxicillin,Keflex,Cephalexin,Doxycycline,Bactrim,Cipro,Levaquin,"
    "Azithromycin,Zithromax,Valtrex,Tamiflu,Paxlovid,Diflucan,Mucinex,Sudafed,Benadryl,Zofran,Reglan,Miralax,"
    "Colace,Dulcolax,Linzess,Fosamax,Prolia,Melatonin,Cyclobenzaprine,Flexeril,Tizanidine,Tramadol,Percocet,"
    "Vicodin,Oxycodone,Suboxone,Narcan,Chantix,Estradiol,Premarin,Letrozole,Tamoxifen,Arimidex,Kenalog,"
    "Hydrocortisone,Triamcinolone,Clobetasol,Mupirocin,Tretinoin,Accutane,Spironolactone,Testosterone,"
    "Celestone,Toradol,Voltaren,Lidoderm,Biktarvy,Xiidra,Restasis,Latanoprost,Timolol,Nitroglycerin").split(",")
SUPPLEMENTS = "Vitamin D,Vitamin B12,Vitamin C,Fish oil,Co-Q 10,Magnesium,Iron,Calcium,Folic acid,Probiotic,Biotin,Turmeric".split(",")
FREQS = ("once daily,twice daily,daily,at bedtime,as needed,every 6 hours as needed,weekly,by mouth daily,"
         "three times a day,every morning,once a week,in the evening").split(",")
SURGERIES = (
    "Biopsy,Rhinoplasty,Arthroscopy,Total knee arthroplasty,Total hip replacement,Carpal tunnel release,Cholecystectomy,"
    "Appendectomy,Hysterectomy,Tonsillectomy,Septoplasty,Cataract surgery,Lumpectomy,Mastectomy,Vasectomy,Tubal ligation,"
    "Cesarean section,Hernia repair,Spinal fusion,Laminectomy,Rotator cuff repair,ACL reconstruction,Thyroidectomy,"
    "Prostatectomy,Skin graft,Excision of lipoma,Trans-sphenoidal resection,Cardiac catheterization,Angioplasty,"
    "Stent placement,Ablation,Cardioversion,Pacemaker placement,Kidney transplant,Liver transplant,Bone marrow biopsy,"
    "Skin biopsy,Punch biopsy,Prostate biopsy,Breast biopsy,Trigger finger release,Open reduction internal fixation,"
    "Coronary artery bypass grafting,Gastric sleeve,Gallbladder removal,Wisdom teeth extraction,Colposcopy,"
    "Endometrial ablation,Myomectomy,Dilation and curettage,Lithotripsy,Ureteroscopy,Tympanostomy tubes,"
    "Adenoidectomy,Sinus surgery,Blepharoplasty,Abdominoplasty,Liposuction,Breast augmentation,Varicose vein ablation,"
    "Colonoscopy,Upper endoscopy,Bronchoscopy,Cystoscopy,Cortisone injection,Epidural steroid injection").split(",")
TESTS = ("Chest x-ray,Complete ultrasound,MRI of the brain,MRI of the lumbar spine,CT of the abdomen and pelvis,CT angiogram,"
         "Echocardiogram,Mammogram,Bone density scan,DEXA scan,Stress test,Nuclear stress test,Pulmonary function tests,"
         "Sleep study,Renal ultrasound,Thyroid ultrasound,Pelvic ultrasound,Abdominal ultrasound,Carotid ultrasound,"
         "X-ray of the right knee,X-ray of the left ankle,EMG,Nerve conduction study,Bone scan,PET scan,Pap smear,Urinalysis,"
         "Lipid panel,Comprehensive metabolic panel,Hemoglobin A1c,Thyroid panel,Allergy testing,Genetic testing,"
         "Fine needle aspiration,Holter monitor,Doppler ultrasound of the lower extremities").split(",")
PROCS_CAP = SURGERIES + TESTS
SYNDROMES = (
    "Smith-Magenis syndrome,Down syndrome,Hashimoto's thyroiditis,Graves disease,Graves' disease,Addison's disease,"
    "Addison's,Guillain-Barre syndrome,Sjogren's syndrome,Sjogren's,Raynaud's phenomenon,Raynaud's,Barrett's esophagus,"
    "Kawasaki disease,Tourette syndrome,Wernicke encephalopathy,Korsakoff syndrome,Wernicke-Korsakoff syndrome,"
    "Osgood-Schlatter disease,Epstein-Barr virus,Stevens-Johnson syndrome,Bell's palsy,Crohn's disease,"
    "Parkinson's disease,Alzheimer's disease,Huntington's disease,Marfan syndrome,Turner syndrome,Klinefelter syndrome,"
    "Ehlers-Danlos syndrome,Cushing's syndrome,Conn syndrome,Meniere's disease,Dupuytren's contracture,Baker's cyst,"
    "Morton's neuroma,Achilles tendinitis,Colles fracture,Hodgkin lymphoma,Non-Hodgkin lymphoma,Kaposi sarcoma,"
    "Ewing sarcoma,Wilms tumor,Paget's disease,Peyronie's disease,Hirschsprung disease,Tay-Sachs disease,"
    "Gaucher disease,Fabry disease,Wilson's disease,Legg-Calve-Perthes disease,Still's disease,Behcet's disease,"
    "Bartholin cyst,Zollinger-Ellison syndrome,Budd-Chiari syndrome,Arnold-Chiari malformation,von Willebrand disease,"
    "Charcot-Marie-Tooth disease,Charcot foot,Duchenne muscular dystrophy,Horner syndrome,Brown-Sequard syndrome,"
    "Reye syndrome,Munchausen syndrome,Asperger's,Sheehan syndrome,Prader-Willi syndrome,Angelman syndrome,"
    "Williams syndrome,Noonan syndrome,Rett syndrome,DiGeorge syndrome,Fanconi anemia,Takayasu arteritis,"
    "Buerger disease,Churg-Strauss syndrome,Henoch-Schonlein purpura,Goodpasture syndrome,Alport syndrome,"
    "Gilbert syndrome,Lynch syndrome,Peutz-Jeghers syndrome,Zenker's diverticulum,Meckel's diverticulum,"
    "Schatzki ring,Ludwig's angina,Prinzmetal angina,Dressler syndrome,Brugada syndrome,Wolff-Parkinson-White syndrome,"
    "Tetralogy of Fallot,Ebstein anomaly,Eisenmenger syndrome,Scheuermann's kyphosis,De Quervain's tenosynovitis,"
    "Sever's disease,Kienbock disease,Osler-Weber-Rendu syndrome,Mallory-Weiss tear,Whipple disease,Tietze syndrome,"
    "Lofgren syndrome,Sweet syndrome,Hurler syndrome,Pierre Robin sequence,Dandy-Walker malformation,Tourette's").split(",")
EXAM_SIGNS = ("Tinel's sign,Phalen's test,McMurray test,Lachman test,Lachman,Murphy's sign,Rovsing's sign,Kernig's sign,"
              "Brudzinski's sign,Babinski sign,Romberg test,Spurling's test,Finkelstein's test,Thompson test,Hawkins test,"
              "Neer test,Apley scratch test,Dix-Hallpike maneuver,Allen test,Adson test,Patrick test,Ober test,Thomas test,"
              "Homans sign,Chvostek's sign,Trousseau's sign,Hoffmann sign,Lhermitte sign,Weber test,Rinne test").split(",")
SIGNS = EXAM_SIGNS + (
    "Apgar score {#5-9}/{#7-10},Wells score {#0-6},"
    "Glasgow Coma Scale {#3-15},Gleason {#3-4}+{#3-5},Gleason score {#6-9},Holter monitor,Doppler,Heimlich maneuver,"
    "McBurney's point tenderness,Trendelenburg gait,"
    "Valsalva maneuver,Epley maneuver,Snellen chart {#20-20}/{#20-80},"
    "Schober test,Tanner stage {#1-5},"
    "Beck Depression Inventory,Mini-Cog,Ranson criteria,Child-Pugh class B,MELD score {#8-30},CHA2DS2-VASc score {#0-6},"
    "Bishop score {#3-10},Karnofsky score {#50-90},ECOG {#0-3},Breslow thickness {#1-4}.{#0-9} mm,Clark level {#2-4},"
    "Gram stain,Coombs test,Mantoux test,Cullen sign,Grey Turner sign,"
    "Battle sign,Marcus Gunn pupil,Jackson-Pratt drain,Foley catheter,Swan-Ganz catheter,"
    "Hickman catheter,Mohs surgery,Whipple procedure,Nissen fundoplication,Roux-en-Y gastric bypass,Billroth II,"
    "Hartmann procedure,Lasik,Cheyne-Stokes respirations,Kussmaul breathing,Austin Flint murmur,Osler nodes,"
    "Janeway lesions,Virchow's node,Sister Mary Joseph nodule,Heberden's nodes,Bouchard's nodes,Fowler's position").split(",")
# diseases, tests and scales named after places: never a LOCATION
PLACE_INFECTIONS = (
    "Lyme disease,Rocky Mountain spotted fever,West Nile virus,Coxsackie virus,Norwalk virus,Ebola,Marburg virus,"
    "Zika virus,Lassa fever,Rift Valley fever,Japanese encephalitis,St. Louis encephalitis,"
    "Eastern equine encephalitis,La Crosse encephalitis,Powassan virus,Valley fever,German measles,"
    "Legionnaires' disease,Pontiac fever,Bornholm disease,Middle East respiratory syndrome,"
    "Crimean-Congo hemorrhagic fever,Jamestown Canyon virus,Heartland virus,Bourbon virus").split(",")
PLACE_DX = PLACE_INFECTIONS + (
    "Stockholm syndrome,Spanish flu,Mediterranean diet,Boston Naming Test,"
    "Denver Developmental Screening Test,Minnesota Multiphasic Personality Inventory,Montreal Cognitive Assessment,"
    "Ottawa ankle rules,Ottawa knee rules,Canadian C-spine rule,San Francisco syncope rule,Framingham risk score,"
    "Seattle Heart Failure Model,New York Heart Association class II,Kansas City Cardiomyopathy Questionnaire,"
    "Geneva score,Los Angeles grade B esophagitis,Atlanta classification,Bethesda category II,Berlin criteria,"
    "Rome IV criteria,Amsterdam criteria,Milan criteria,Edinburgh Postnatal Depression Scale,Oxford knee score,"
    "Nottingham grade 2,Duke criteria,Duke treadmill score,Montreal classification,Paris classification,"
    "Tokyo guidelines,Manchester triage,Lyme titer,Lyme arthritis,Coxsackie,Norwalk,Lyme").split(",")
FOODS = ("Orange juice,Apple juice,Cranberry juice,Grapefruit juice,Water,Coffee,Tea,Green tea,Milk,Soda,Diet soda,"
         "Gatorade,Brussels sprouts,Swiss cheese,French fries,Greek yogurt,Cheddar cheese,Canadian bacon,Buffalo wings,"
         "Dijon mustard,Hamburger,Bologna,Champagne,Brazil nuts,Key lime pie,Chinese food,Mexican food,Italian food,"
         "Peanut butter,Bread,Rice,Pasta,Candy,Chocolate,Ice cream,Popcorn,Cereal,Oatmeal,Bananas,Grapes,Honey,Salt,"
         "Sugar,Ginger ale,Licorice,Almonds,Turkey,Salmon,Tuna,Chicken soup,Pizza,Sushi,Red wine,Beer,Energy drinks,"
         "Sweet tea,Lemonade,Kale,Spinach,Cheese,Eggs,Pork,Shellfish,Peanuts,Strawberries,Tomatoes,Oranges").split(",")
FOOD_PRED = ("makes the heartburn worse,seems to trigger the symptoms,intake is about {#2-8} cups a day,helps when her sugar is low,"
             "was discussed,should be limited,is avoided,causes bloating,intake has increased,is tolerated well,"
             "was recommended,is part of the usual breakfast,upsets the stomach,triggers the migraines").split(",")
# heading words, adverbs and everyday words that open a line
LINE_WORDS = [
    "Occasionally, the pain radiates to the left arm.", "Occasionally {he} notices palpitations.", "Temperature: {#97-100}.{#0-9} F.",
    "Temperature is normal.", "Issues with sleep.", "Issues: none today.", "Genetics: referred for counseling.",
    "Genetics consult pending.", "Instability of the right knee.", "Instability when walking on uneven ground.",
    "Organs: no hepatosplenomegaly.", "Organs were not enlarged.", "Twin pregnancy, delivered at {#32-38} weeks.",
    "Twin brother with asthma.", "Water intake is poor.", "Water: {#2-8} glasses a day.", "Sometimes the pain wakes {him} up.",
    "Usually the symptoms resolve with rest.", "Overall, {he} is doing well.", "Otherwise, no complaints.",
    "Apparently the swelling started after the fall.", "Previously treated with {drugl}.", "Recently, {he} has had more fatigue.",
    "Currently taking no medications.", "Additionally, {he} reports {#1-3} episodes of dizziness.", "Unfortunately, the pain persists.",
    "Lately the cough has improved.", "Typically the headaches occur in the morning.", "Hobbies: golf, gardening.",
    "Exercise: walks {#1-5} miles a day.", "Diet: low salt.", "Sleep: {#4-9} hours a night.", "Stress: work related.",
    "Pets: two dogs.", "Travel: none recently.", "Hearing: decreased on the left.", "Vision: wears glasses.",
    "Dentition: good.", "Gait: normal.", "Posture: mild kyphosis.", "Mood: euthymic.", "Affect: appropriate.",
    "Memory: intact.", "Judgment: fair.", "Insight: good.", "Appetite: decreased.", "Energy: low.", "Balance: unsteady.",
    "Strength: 5/5 throughout.", "Sensation: intact to light touch.", "Reflexes: 2+ and symmetric.", "Coordination: normal.",
    "Speech: fluent.", "Swallowing: no difficulty.", "Bowels: regular.", "Menses: regular.", "Contraception: none.",
    "Immunizations: up to date.", "Screening: colonoscopy due.", "Prognosis: good.", "Compliance: good.",
    "Adherence: misses doses.", "Goals: lose weight.", "Concerns: cost of medications.", "Supports: lives with family.",
    "Disposition: home.", "Procedures: none.", "History: as above.", "Impression: stable.", "Instructions: return as needed.",
    "Results: pending.", "Vitals: stable.", "Mother: breast cancer.", "Father: type 2 diabetes.", "Siblings: healthy.",
    "Organ donor.", "Epsiode of syncope last week.", "Recieved the flu shot.", "Denies any issues with water intake.",
    "Discussed genetics and family risk.", "No instability of the knee.", "No organs palpable.", "{He} is a twin.",
]
# generic place words: "the Main Street office" holds no town and no street number, so no span
PLACE_WORDS = ("the Town Center location,our downtown office,the north campus,the Main Street office,the main campus,"
               "the south campus,our satellite office,the Medical Plaza,the Professional Building,the West Wing,"
               "the east clinic,the uptown location,the lab on the first floor,the Walk-in Center,the Oak Street clinic,"
               "the Park Avenue office,the Town Center clinic,our Main Street location,the transplant clinic,"
               "the kidney clinic,the dialysis center,the infusion center,the imaging center,the pain clinic,"
               "the wound clinic,the sleep lab,the heart failure clinic,the breast center,the women's health clinic").split(",")
PLACE_WORD_SENT = ["Seen at {placeword} last month.", "Labs drawn at {placeword}.", "Follow up at {placeword} in {#2-8} weeks.",
                   "{He} prefers {placeword}.", "Imaging was done at {placeword}.", "Referred to {placeword}.",
                   "{He} would like to transfer care to {placeword}.", "Candidate for kidney transplant or dialysis.",
                   "Evaluated for liver or kidney transplant.", "Physical therapy at {placeword}."]
MISSPELL = {"episode": "epsiode", "received": "recieved", "occurred": "occured", "separate": "seperate",
            "definitely": "definately", "patient": "pateint", "because": "becuase", "exercise": "excercise",
            "tomorrow": "tommorow", "until": "untill", "noticeable": "noticable", "beginning": "begining",
            "believe": "beleive", "chief": "cheif", "system": "sytsem", "pressure": "presure",
            "hypertension": "hypertnesion", "diabetes": "diabtes", "abdominal": "abdomnial", "dizziness": "dizzyness",
            "nausea": "nasuea", "vomiting": "vomitting", "diarrhea": "diarhea", "pneumonia": "pnuemonia",
            "occasionally": "ocasionally", "swollen": "swolen", "medication": "medicaiton", "prescription": "perscription",
            "history": "histroy", "symptoms": "symtpoms", "shoulder": "sholder", "aspirin": "asprin", "which": "wich",
            "with": "wiht", "the": "hte", "and": "adn", "weight": "wieght", "again": "agian", "recommend": "reccomend"}


def _misspell(rng: random.Random, s: str) -> str:
    """One word misspelt: a common slip ("recieved") or two letters swapped ("epsiode")."""
    known = [m for m in re.finditer(r"[A-Za-z]+", s) if m.group().lower() in MISSPELL]
    words = [m for m in re.finditer(r"[A-Za-z]{5,}", s)]
    if known and rng.random() < 0.5:
        m = rng.choice(known)
        w = MISSPELL[m.group().lower()]
    elif words:
        m = rng.choice(words)
        w, i = m.group(), rng.randrange(1, len(m.group()) - 2)
        w = w[:i] + w[i + 1] + w[i] + w[i + 2:]
    else:
        return s
    old = m.group()
    w = w.upper() if old.isupper() and len(old) > 1 else w.capitalize() if old[0].isupper() else w.lower()
    return s[:m.start()] + w + s[m.end():]


@lru_cache(maxsize=1)
def _drug_names() -> list[str]:
    """Common drug names, less any that is also a first name, surname or place word."""
    wl = word_lists()
    return sorted({d for d in COMMON_DRUGS if d.lower() not in wl["name_set"] and d not in wl["place_set"]})


def _drug(rng: random.Random, wl: dict) -> str:
    return rng.choice(_drug_names()) if rng.random() < 0.65 else rng.choice(wl["drugs"]).capitalize()


PROPER_FOODS = ("Brussels sprouts,Swiss cheese,French fries,Greek yogurt,Cheddar cheese,Canadian bacon,Buffalo wings,"
                "Dijon mustard,Bologna,Champagne,Brazil nuts,Key lime pie,Chinese food,Mexican food,Italian food,Gatorade").split(",")


@lru_cache(maxsize=1)
def _proper() -> frozenset:
    return frozenset(SYNDROMES + SIGNS + PLACE_DX + PROPER_FOODS)


def _lower_first(s: str) -> str:
    """'Chest x-ray' -> 'chest x-ray', but 'MRI of the brain' and "Bell's palsy" keep their capitals."""
    return s if s.split()[0].isupper() or s in _proper() else s[0].lower() + s[1:]


NEGATIVES = {
    "drug": (14, ["{Drug} {dose} {freq}.", "{Drug} {dose}.", "{Drug}: continue current dose.", "{Drug} was started {#2-6} weeks ago.",
                  "{Drug}, {Drug} and {Drug}.", "Continue {Drug}.", "Stop {Drug}.", "{Drug} refilled today.", "Allergic to {Drug}.",
                  "{Drug} {dose} and {drugl} {dose} daily.", "{Drug} as needed.", "{Supp} daily.", "{Drug} - no longer taking."]),
    "proc": (12, ["{Proc}.", "{Surg}, {yr}.", "{Surg} in {yr}.", "Schedule {procl}.", "{Proc} ordered.", "{Test} is unremarkable.",
                  "Order {testl}.", "Obtain {testl}.", "{Proc} next month.", "Status post {surgl}, {yr}.", "{Test}: normal."]),
    "syn": (14, ["{Syn}.", "History of {Syn}.", "{Syn}, stable.", "{Syn} ruled out.", "Family history of {Syn}.", "{Sign}.",
                 "{Esign} positive.", "{Esign} negative.", "{Esign} on the right.", "Concern for {Syn}.", "{Syn}, diagnosed in {yr}."]),
    "placedx": (7, ["{Placedx}.", "Concern for {Placeinf}.", "{Placeinf} ruled out.", "{Placeinf} titer pending.",
                    "History of {Placedx}.", "{Placedx}: negative."]),
    "food": (7, ["{Food} {foodpred}.", "{Food}.", "Drinks {foodl} daily.", "Avoid {foodl}.", "{Food} and {foodl} discussed."]),
    "word": (12, LINE_WORDS),
    "place": (6, PLACE_WORD_SENT),
    "typo": (6, ["{senttypo}"]),
}
_NEG_KINDS = sorted(NEGATIVES)


def _neg(rng: random.Random, d) -> str:
    kind = rng.choices(_NEG_KINDS, [NEGATIVES[k][0] for k in _NEG_KINDS])[0]
    return d.render(rng.choice(NEGATIVES[kind][1]))


def _date(rng: random.Random) -> str:
    m, d, y = rng.randint(1, 12), rng.randint(1, 28), rng.randint(1935, 2024)
    return rng.choice([f"{m}/{d}/{y}", f"{m:02d}/{d:02d}/{y % 100:02d}", f"{m}/{d}", f"{y}-{m:02d}-{d:02d}",
                       f"{MONTHS[m - 1][:3].title()} {d}", f"{d}-{MONTHS[m - 1][:3].title()}-{y}"])


def _med(rng: random.Random, wl: dict) -> str:
    drug = rng.choice(DRUGS) if rng.random() < 0.5 else _drug(rng, wl)
    return f"{drug} {rng.choice([5, 10, 12.5, 20, 25, 40, 50, 100, 250, 500, 1000])} {rng.choice(['mg', 'mcg', 'mg', 'units'])} " \
           f"{rng.choice(['PO daily', 'BID', 'IV q8h', 'qhs', 'PO TID', 'daily', 'q6h prn', 'IV x1', 'SQ daily'])}"


PLAIN = {
    "dr": lambda r, d: r.choice(["Dr.", "Dr.", "Dr", "dr", "dr."]),
    "age": lambda r, d: str(r.randint(19, 97)),
    "sex": lambda r, d: r.choice(["M", "F", "male", "female", "man", "woman"]), "mf": lambda r, d: r.choice("MF"),
    "date": lambda r, d: _date(r),
    "time": lambda r, d: r.choice([f"{r.randint(0, 23):02d}{r.choice(['00', '15', '30', '45'])}",
                                   f"{r.randint(1, 12)}{r.choice(['am', 'pm', 'p', 'a'])}", f"{r.randint(0, 23)}:{r.randint(10, 59)}"]),
    "phone": lambda r, d: r.choice([f"({r.randint(201, 989)}) 555-{r.randint(1000, 9999)}", f"{r.randint(201, 989)}-555-{r.randint(1000, 9999)}",
                                    f"x{r.randint(2000, 7999)}", f"{r.randint(201, 989)}.555.{r.randint(1000, 9999)}"]),
    "mrn": lambda r, d: r.choice([f"{r.randint(1000000, 9999999)}", f"{r.randint(100, 999)}-{r.randint(10, 99)}-{r.randint(10, 99)}"]),
    "pager": lambda r, d: r.choice([f"pager {r.randint(1000, 9999)}", f"p{r.randint(1000, 9999)}", f"beeper {r.randint(100, 999)}",
                                    f"pgr #{r.randint(10000, 99999)}"]),
    "drug": lambda r, d: r.choice(DRUGS),
    "med": lambda r, d: _med(r, d.wl),
    "dx": lambda r, d: r.choice(DX), "proc": lambda r, d: r.choice(PROC),
    "epo": lambda r, d: d.render(r.choice(EPONYMS)), "trap": lambda r, d: d.render(r.choice(TRAPS)),
    "generic": lambda r, d: r.choice(GENERIC),
    "dispo": lambda r, d: r.choice(["home", "home w/ VNA", "SNF", "acute rehab", "LTAC", "hospice", "TBD", "rehab vs SNF"]), "state": lambda r, d: r.choice(STATES), "st": lambda r, d: r.choice(STATE_ABBR),
    "country": lambda r, d: r.choice(COUNTRIES), "dept": lambda r, d: r.choice(DEPTS), "job": lambda r, d: r.choice(JOBS),
    "lang": lambda r, d: r.choice(LANGS), "col": lambda r, d: r.choice(COLORS),
    "sent": lambda r, d: _misspell(r, r.choice(filler()[0])) if r.random() < 0.05 else r.choice(filler()[0]),
    "find": lambda r, d: r.choice(filler()[1]),
    "ptt": lambda r, d: d.person("pt").title,
    "he": lambda r, d: "she" if d.person("pt").female else "he", "his": lambda r, d: "her" if d.person("pt").female else "his",
    "He": lambda r, d: "She" if d.person("pt").female else "He", "him": lambda r, d: "her" if d.person("pt").female else "him",
    "His": lambda r, d: "Her" if d.person("pt").female else "His",
    "abg": lambda r, d: f"7.{r.randint(20, 49)}/{r.randint(28, 70)}/{r.randint(55, 140)}",
}
PLAIN.update({  # the negatives above, and what the clinic notes below need
    "Drug": lambda r, d: _drug(r, d.wl), "drugl": lambda r, d: _drug(r, d.wl).lower(),
    "Supp": lambda r, d: r.choice(SUPPLEMENTS), "freq": lambda r, d: r.choice(FREQS),
    "dose": lambda r, d: f"{r.choice([1, 2.5, 5, 10, 20, 25, 40, 50, 81, 100, 200, 250, 500, 1000])} {r.choice(['mg', 'mg', 'mg', 'mcg'])}",
    "Proc": lambda r, d: r.choice(PROCS_CAP), "procl": lambda r, d: _lower_first(r.choice(PROCS_CAP)),
    "Surg": lambda r, d: r.choice(SURGERIES), "surgl": lambda r, d: _lower_first(r.choice(SURGERIES)),
    "Test": lambda r, d: r.choice(TESTS), "testl": lambda r, d: _lower_first(r.choice(TESTS)),
    "Syn": lambda r, d: r.choice(SYNDROMES), "Sign": lambda r, d: d.render(r.choice(SIGNS)), "Esign": lambda r, d: r.choice(EXAM_SIGNS),
    "Placedx": lambda r, d: r.choice(PLACE_DX), "Placeinf": lambda r, d: r.choice(PLACE_INFECTIONS), "Food": lambda r, d: r.choice(FOODS),
    "stname": lambda r, d: f"{r.choice(STREET_NAMES)} {r.choice(['Street', 'Street', 'Avenue', 'Road', 'St', 'Ave'])}",
    "foodl": lambda r, d: _lower_first(r.choice(FOODS)), "foodpred": lambda r, d: d.render(r.choice(FOOD_PRED)),
    "placeword": lambda r, d: r.choice(PLACE_WORDS), "yr": lambda r, d: str(r.randint(1965, 2023)),
    "senttypo": lambda r, d: _misspell(r, r.choice(filler()[0])), "neg": _neg,
    "gender": lambda r, d: "female" if d.person("pt").female else "male",
})


# ---------------------------------------------------------------- the note being written

SLOT = re.compile(r"\{([#\w.\-]+)\}")


def _recase(text: str, fn) -> str:
    out = fn(text)
    if len(out) == len(text):
        return out
    return "".join(fn(c) if len(fn(c)) == 1 else c for c in text)  # "ß".upper() is two letters


class Doc:
    """Text and spans written piece by piece; spans are offsets into the final text."""

    def __init__(self, rng: random.Random, wl: dict):
        self.rng, self.wl = rng, wl
        self.parts: list[str] = []
        self.spans: list[tuple[int, int, str]] = []
        self.size = 0
        r = rng.random()
        self.style = "upper" if r < 0.35 else "lower" if r < 0.55 else "normal"
        self.double = rng.random() < 0.15   # "Pt seen.  Plan:  ..."
        self.fancy = rng.random() < 0.15    # typographic quotes and dashes
        self.bullet = rng.choice(["", "", "- ", "• ", "* ", "-- ", "· ", "> ", "o "])
        self.sep = rng.choice([": ", ": ", ":", " - ", "- ", ": "])
        self.people: dict[str, Person] = {}
        self.places = Places(rng, wl)
        self.rel: dict[str, str] = {}

    def _typo(self, s: str) -> str:
        if self.fancy:
            s = re.sub(r'"([^"]*)"', "\u201c\\1\u201d", s).replace("'", "\u2019").replace(" - ", " \u2013 ").replace("--", "\u2014")
        return s

    def add(self, s: str) -> None:
        if s:
            s = self._typo(s)
            if self.double:
                s = s.replace(". ", ".  ").replace(": ", ":  ")
            self.parts.append(s)
            self.size += len(s)

    def ent(self, s: str, label: str) -> None:
        s = self._typo(s)
        if self.style == "normal" and self.rng.random() < 0.05:
            s = s.lower()  # hurried typing: "spoke w/ dr okafor" in a normal-case note
        self.spans.append((self.size, self.size + len(s), label))
        self.parts.append(s)
        self.size += len(s)

    def person(self, key: str) -> Person:
        if key not in self.people:
            self.people[key] = Person(self.rng, self.wl)
        return self.people[key]

    def slot(self, key: str):
        rng = self.rng
        if key[0] == "#":
            lo, hi = key[1:].split("-")
            return str(rng.randint(int(lo), int(hi)))
        name, _, form = key.partition(".")
        if name.rstrip("0123456789") in PEOPLE:
            return self.person(name).form(form, rng)
        if name.startswith("rel"):
            return self.rel.setdefault(name, rng.choice(RELATIONS))
        base = name.rstrip("0123456789A")
        if base in LOCATION_KEYS:
            return self.places.get(name), LOCATION
        if base in FACILITY_KEYS:
            return self.places.get(name), FACILITY
        return PLAIN[name](rng, self)

    def render(self, tpl: str) -> str:
        """A template's plain text with number and other unlabelled slots filled (for unlabelled phrases)."""
        return SLOT.sub(lambda m: self.slot(m.group(1)) if m.group(1)[0] == "#" or m.group(1) in PLAIN else m.group(0), tpl)

    def put(self, tpl: str) -> None:
        pos, last = 0, ""
        for m in SLOT.finditer(tpl):
            self.add(self._after(last, tpl[pos:m.start()]))
            value = self.slot(m.group(1))
            last = value[0] if isinstance(value, tuple) else ""
            if last:
                self.ent(*value)
            else:
                self.add(value)
            pos = m.end()
        self.add(self._after(last, tpl[pos:]))

    @staticmethod
    def _after(entity: str, text: str) -> str:
        """No "St.." and no "#4B." (a tokenizer keeps that period inside the name)."""
        if entity and text.startswith(".") and re.search(r"\.$|\d[A-Za-z]$|\b[A-Za-z]$", entity):
            return text[1:]
        return text

    def line(self, tpl: str, bullet: bool = False) -> None:
        self.put((self.bullet if bullet else "") + tpl)
        self.add("\n")

    def pick(self, pool: list[str], k: int, bullet: bool = False) -> None:
        for tpl in self.rng.sample(pool, min(k, len(pool))):
            self.line(tpl, bullet)

    def finish(self) -> tuple[str, list[tuple[int, int, str]]]:
        text = "".join(self.parts).rstrip("\n") + "\n"
        if self.style == "upper":
            text = _recase(text, str.upper)
        elif self.style == "lower":
            text = _recase(text, str.lower)
        else:  # some lines shouted in a normal note
            text = "\n".join(_recase(t, str.upper) if self.rng.random() < 0.08 else t for t in text.split("\n"))
        return text, sorted(self.spans)


# ---------------------------------------------------------------- templates

CALLS = ["called {dr} {md1.l} re: low uop, no new orders", "paged covering resident {res.fl} re: K 3.{#1-4}",
         "spoke with {res.fl} (night float) re: SBP 80s", "d/w {np.f} NP, will cont current plan",
         "house staff ({res.l}) aware", "per {dr} {md1.l}, hold heparin for procedure", "{md1.l} aware",
         "notified {dr} {c1.l} of trop {#1-9}.{#1-9}", "discussed w/ {md2.l} & {rn2.f}", "Drs {md1.l} & {md2.l} in to see pt",
         "rounds w/ {md1.l}, {res.l} and {rn2.l}", "seen by {c1.fl}, NP (renal)", "{rn2.fl} RN assisting w/ turn",
         "{dr} {md1.l} at bedside for line placement", "md {md1.l} paged x2", "np {np.l} aware", "per {pa.f} PA, ok to give",
         "pt seen by {dr} {c2.fl} from {dept}", "charge RN {rn3.f} aware", "resp therapist {rt.fl} at bedside",
         "{res.l}, covering, paged at {time}", "attending {md1.l} updated by phone", "updated {dr} {pcp.l} (PCP) by phone",
         "per md {md1.l} ok to advance diet", "discussed w/ {dr} {md2.l}, plan unchanged", "{md1.il} aware of BP",
         "per {dr} {md2.l}'s note, NPO after MN", "{dept} fellow {c1.fl} paged, will see pt", "{rn2.f} covered for break"]
SYSTEMS = [
    ("NEURO,Neuro,neuro,N", ["A&Ox{#1-3}", "alert, oriented x{#1-3}", "MAE x4", "PERRL {#2-4}mm brisk",
                            "sedated on propofol {#10-50}mcg/kg/min", "follows simple commands", "RASS -{#0-3}",
                            "CAM-ICU neg", "GCS {#6-15}", "c/o HA, tylenol {#500-1000}mg given w/ good effect",
                            "nonverbal, nods appropriately", "sz precautions maintained",
                            "new L sided weakness, {dr} {md1.l} aware, stat CT head", "CT head neg per {res.l}",
                            "neuro checks q{#1-4}h", "weak grips bilat", "agitated overnight, haldol {#1-5}mg IV x1 per {dr} {res.l}",
                            "pain {#0-10}/10, dilaudid {#1-2}mg IV prn", "reorients easily", "oriented to self only, pleasant",
                            "fentanyl gtt @ {#25-200}mcg/hr", "precedex weaned off", "{epo}", "neurology ({dr} {c1.l}) following", "{neg}"]),
    ("CV,CARDIAC,C/V,Cardiac", ["SR {#60-90}s-{#90-110}s, no ectopy", "NSR {#60-90}s", "ST {#100-130}s", "SBP {#90-160}s",
                               "MAP >{#60-65} on levophed {#2-20}mcg/min", "afib w/ RVR to {#120-160}s, dilt gtt started per {dr} {md1.l}",
                               "K {#3-5}.{#0-9}, repleted w/ {#20-60}meq KCl", "Mg repleted", "+{#1-3} edema BLE",
                               "pulses palp x4", "Swan-Ganz d/c'd", "{med} given", "trop trending down",
                               "heparin gtt @ {#800-1800}u/hr, PTT {#45-110}", "CVP {#4-18}", "Grade 2/6 murmur",
                               "hypotensive to {#70-85}s, bolus {#250-1000}cc NS x1 w/ good effect, {res.l} aware",
                               "R radial aline intact, good waveform", "Toprol XL held for SBP {#85-95}", "{trap}", "{neg}"]),
    ("RESP,PULM,Resp,Resp.", ["LS clear upper, diminished bases", "LS coarse t/o", "on {#2-6}L NC, sats {#90-100}%",
                             "vent AC {#400-550}x{#12-20}, PEEP {#5-12}, FiO2 {#30-60}%", "sx for thick {col} secretions",
                             "sx q{#1-4}h for sm amt {col} sputum", "RT ({rt.f}) aware", "extubated to {#2-6}L NC at {time}",
                             "ABG {abg}", "CXR w/ RLL infiltrate", "SBT today, tol {#30-120}min", "cough weak, IS encouraged",
                             "BIPAP {#10-16}/{#5-8} overnight", "R CT to -20 sxn, no airleak", "green sputum sent for cx",
                             "ETT {#21-24}cm @ lip", "trach care done", "{trap}"]),
    ("GI,GI/GU,Gi", ["abd soft, NT/ND, +BS", "TF @ goal {#40-80}cc/hr via OGT", "BM x{#1-3}, {col} soft",
                     "brown stool guaiac neg", "NPO after MN for {proc}", "Protonix 40mg IV", "tolerating clears",
                     "mod amt liquid stool, flexiseal in place", "abd distended, KUB done, {res.l} aware",
                     "LFTs up, GI ({dr} {c2.l}) following", "OGT to LIS, {#50-300}cc bilious out", "PEG site clean",
                     "diet advanced to full liquids", "Dobhoff placed, position confirmed", "{trap}", "{neg}"]),
    ("GU,RENAL,Renal", ["foley draining clear yellow urine", "uop {#20-90}cc/hr", "uop marginal, lasix {#20-80}mg IV given w/ good response",
                        "cr {#1-4}.{#1-9}", "d/w renal fellow {dr} {c1.l} re: CVVH", "CVVH running, {#50-200}cc/hr net neg",
                        "voiding qs", "foley d/c'd at {time}, due to void by {time}", "UA sent", "bladder scan {#100-600}cc, straight cath"]),
    ("ID,Id", ["Tmax {#37-39}.{#0-9}", "afebrile", "on vanc/zosyn", "abx: cefepime, flagyl", "BCx x2 pending", "WBC {#4-22}",
               "MRSA swab neg", "C diff neg", "contact precautions for VRE", "ID ({dr} {c2.l}) recs d/c vanc",
               "cultures from {oshA} pending", "procalcitonin {#0-9}.{#1-9}"]),
    ("SKIN,INTEG,Skin", ["skin intact", "stage 2 coccyx, wound RN {rn2.l} following", "turned q2h", "bath given",
                         "Braden {#9-20}", "R IJ TLC site c/d/i", "bruising to BUE", "heels offloaded", "{epo}", "{neg}"]),
    ("ENDO,Endo", ["FS {#80-300}, covered per SSI", "insulin gtt per protocol", "BS {#70-250}s", "lantus {#10-40}u qhs",
                   "stress dose steroids per {md1.l}"]),
    ("SOCIAL,SOC,FAMILY,Social,DISPO", [
        "wife {kin1.f} in to visit, updated by {dr} {md1.l}", "family ({rel1} {kin1.f}, {rel2} {kin2.f}) in to visit",
        "HCP is {rel1} {kin1.fl} ({phone})", "{kin1.f} at bedside", "{kin1.f} aware of plan", "{rel1} {kin1.f} called x{#2-4}, updated",
        "no contact from family", "pt lives in {town} w/ {rel1}", "SW {sw.fl} following",
        "interpreter ({interp.fl}) used for update, pt speaks {lang}", "pt came from {snf}",
        "{rel1} {kin1.fl} from {town2} will visit tomorrow", "chaplain {chap.f} visited", "pt's {rel1} works at {emp}",
        "family meeting w/ Drs {md1.l} & {md2.l}, {rel1} {kin1.f} and {rel2} {kin2.f} present",
        "lives alone in {town}, {rel1} {kin1.f} nearby", "{kin1.f} ({rel1}) requests call w/ changes, {phone}",
        "full code, {rel1} {kin1.f} is proxy", "{kin1.f}'s number on board", "w/ {kin1.f}, {kin2.f} and {kin3.f} at bedside",
        "{kin1.f} aware", "{pt.f}'s {rel1} {kin1.f} in from {fcity}, {country}", "{rel1} visiting from {state}",
        "pt from {town}", "{rel1} lives in {county}, will come {date}", "pt prefers to be called {pt.nk}", "d/c plan: home to {town} w/ VNA"]),
    ("PLAN,A/P,P,Plan,PLAN OF CARE", [
        "cont to monitor", "wean vent as tol", "f/u AM labs", "? extubate in am per {dr} {md1.l}", "plan for tx to {snf} vs {rehab}",
        "call out to floor when bed avail", "d/c to {rehab} when stable", "family mtg w/ {dr} {md2.l} at {time}", "cont abx",
        "will d/w {md1.l} on rounds", "awaiting bed at {hosp}", "may transfer back to {osh}", "PT/OT eval", "pain control",
        "emotional support to pt and family", "f/u w/ {pcp.l} ({clinic}) after d/c", "CM {cm.fl} working on placement at {snf}",
        "tx to {hospA} for {proc} per {md1.l}", "{trap}", "d/c to {dispo}", "{neg}"]),
]
SYSTEMS = [(h.split(","), frags) for h, frags in SYSTEMS]
OPENERS = ["{pt.fl} is a {age}yo {sex} adm {date} from {osh} w/ {dx}", "{age} yo {sex} s/p {proc} {date}, tx from {oshA} for higher level of care",
           "pt is a {age} y/o {sex} w/ h/o {dx}, {dx}, admitted w/ {dx}", "{pt.l} is a {age}yo {sex} w/ {dx}, transferred from {osh} {date}",
           "{age}{mf} w/ {dx} adm from {snf}", "A/P: {pt.f} w/ {dx}, improving", "{ptt} {pt.l}, {age} y/o w/ {dx}, POD#{#1-9} {proc}",
           "pt {pt.l} admitted via the ED w/ {dx}", "{age}yo from {town} w/ {dx}, {dx}", "{pt.f} is a {age}yo w/ {dx}",
           "{age} yo {sex} admitted from {town} nursing home w/ {dx}", "pt BIBA from home in {town} w/ {dx}",
           "{pt.fl}, {age}{mf}, from {town}, tx from {osh} in {town2} w/ {dx}", "{age}yo {sex} from {county} w/ {dx}"]
SIGN_RN = ["-- {rn1.fl} RN", "{rn1.fl}, RN", "{rn1.il} RN", "{rn1.fl} RN BSN", "signed: {rn1.fl}, R.N. {date} {time}",
           "- {rn1.f}", "{rn1.l}, RN {time}", "{rn1.fl} RN / {rn2.fl} RN", "{rn1.fl}, RN, CCRN", "{rn1.fml} RN"]
SIGN_MD = ["{res.fl}, MD / {pager}", "{res.fl}, MD PGY-{#1-3}", "Seen and examined with the resident, agree with above. {md1.fl}, MD",
           "{md1.fl}, M.D.", "Electronically signed by {md1.fl}, MD on {date} {time}", "{np.fl}, NP", "{pa.fl}, PA-C {pager}",
           "{md1.l} MD", "{md1.lf} MD", "Dictated by: {res.fl}, MD for {md1.fl}, MD", "{md1.il}, DO"]
EVENTS = ["{time}: pt pulled OGT, {dr} {res.l} notified, replaced", "{time} pt desat to 80s, {md1.l} paged",
          "pt's {rel1} {kin1.f} called at {time}, updated on condition", "{time} rapid response called, {dr} {res.l} + {rn3.f} RN responded",
          "received pt from {oshA} via ambulance at {time}", "pt transferred to {hosp} {dept} service per {dr} {md1.l}",
          "family ({rel1} {kin1.fl}) aware of transfer", "report given to {rn2.fl} RN on tele", "pt d/c'd to {snf} via ambulance at {time}",
          "fall at {time}, no injury, {res.l} aware, {rel1} {kin1.f} notified", "{kin1.f} brought in home meds from {pharm}",
          "belongings sent w/ {rel1}", "per {kin1.f}, pt was at baseline at {snf} yesterday", "{trap}", "{epo}", "{find}",
          "pt refused {drug}, {dr} {md1.l} aware", "{med} given at {time}", "pt to {generic} for CT at {time}, returned {time}",
          "EMS from {town} brought pt in at {time}", "pt's {rel1} driving in from {town2}, ETA {time}", "{neg}", "{neg}"]


def icu_note(d: Doc) -> None:
    rng = d.rng
    if rng.random() < 0.6:
        d.line(rng.choice(["NURSING PROGRESS NOTE 7a-7p", "Nsg note 7p-7a", "MICU NPN", "RN shift note {date}",
                           "{date} {time} nursing", "CCU nursing progress note", "SICU RN note", "NPN 1900-0700", "Nursing note, {date}"]))
    if rng.random() < 0.7:
        d.line(rng.choice(OPENERS))
    chosen = SYSTEMS[:4] + [s for s in SYSTEMS[4:-2] if rng.random() < 0.5] + \
        [s for s in SYSTEMS[-2:] if rng.random() < 0.85]
    flat = rng.random() < 0.25  # some shift notes are one run-on paragraph
    for heads, frags in chosen:
        frag_list = rng.sample(frags, rng.randint(1, min(4, len(frags))))
        if rng.random() < 0.35:
            frag_list.insert(rng.randrange(len(frag_list) + 1), rng.choice(CALLS))
        head = rng.choice(heads)
        sep = d.sep + " " if head.endswith(".") and d.sep == ":" else d.sep  # "Resp.:Kim" is one spaCy token
        d.put(head + sep + rng.choice([", ", ". ", "; ", ", "]).join(frag_list))
        d.add(rng.choice([". ", " ", "  "]) if flat else "\n")
    if rng.random() < 0.3:
        d.add("\n")
        d.pick(CALLS, rng.randint(1, 3), bullet=True)
    if rng.random() < 0.8:
        d.add("\n")
        d.line(rng.choice(SIGN_RN))


def event_note(d: Doc) -> None:
    rng = d.rng
    d.line(rng.choice(["Nursing event note", "Events:", "EVENT NOTE {date} {time}", "Addendum:", "Transfer note", "Late entry {date}"]))
    d.pick(EVENTS + CALLS, rng.randint(2, 6), bullet=True)
    d.line(rng.choice(SIGN_RN))


def progress_note(d: Doc) -> None:
    rng = d.rng
    if rng.random() < 0.5:
        d.line("{hosp}")
    d.line(rng.choice(["{dept} Progress Note", "PROGRESS NOTE - Hospital Day #{#2-20}", "Medicine Daily Note", "ICU Attending Note", "SOAP note"]))
    d.line(rng.choice(["Patient: {pt.lf}   MRN: {mrn}", "Pt: {pt.LF}  #{mrn}", "Name: {pt.lfm}  DOB {date}", "{pt.lfc} MRN {mrn}", "RE: {pt.fl}"]))
    if rng.random() < 0.6:
        d.line(rng.choice(["Attending: {dr} {md1.fl}", "Team: {md1.l} / {res.l}", "Service: {dept} ({md1.l})", "Author: {res.fl}, MD"]))
    d.line("S" + d.sep + " ".join(d.slot("sent") for _ in range(rng.randint(1, 3))))
    d.line(rng.choice(["Pt reports feeling better, {pt.f} ambulating w/ PT", "{rel1} {kin1.f} at bedside, reports pt more confused overnight",
                       "No acute events overnight.", "Overnight: {trap}, {trap}", "Per nursing ({rn1.f}), {trap}"]))
    d.line("O" + d.sep + f"T {rng.randint(36, 39)}.{rng.randint(0, 9)} HR {rng.randint(55, 130)} BP {rng.randint(85, 180)}/{rng.randint(40, 100)} "
           f"RR {rng.randint(12, 30)} SpO2 {rng.randint(88, 100)}% {rng.choice(['RA', '2L NC', 'on vent'])}")
    d.pick(["{find}", "{find}", "{epo}", "{trap}", "Exam: {find}", "{neg}", "{neg}"], rng.randint(1, 3), bullet=True)
    d.line("A/P" + d.sep + rng.choice(["{age} yo {sex} w/ {dx} and {dx}, {sent}", "{pt.l} is a {age}yo {sex} w/ {dx}",
                                        "{age}{mf} admitted from {osh} w/ {dx}"]))
    for i in range(rng.randint(2, 4)):
        d.line(f"#{i + 1} " + rng.choice(["{dx}", "{dx}", "{epo}", "{Syn}"]) + d.sep + rng.choice(
            ["{med}", "cont {drug}, f/u {dept} recs ({dr} {c1.l})", "d/w {dr} {c2.l} ({dept}), will narrow abx", "{sent}",
             "appreciate {dept} recs", "{trap}", "consider tx to {hospA} for {proc}", "hold {drug}", "{med}; monitor", "{neg}"]))
    d.line(rng.choice(["Dispo: {dispo}", "Dispo: d/c to {snf} when bed available", "Dispo: home w/ {rel1}, f/u {pcp.l} at {clinic}",
                       "Code: full. HCP {kin1.fl} ({rel1})", "Dispo: {rehab} vs {dispo}",
                       "Dispo: home to {town} w/ {rel1}", "Dispo: back to {snf} ({town})"]))
    d.line(rng.choice(SIGN_MD))


SOCIAL_HX = ["Lives in {town}, {st} with {his} {rel1} {kin1.f}.", "Works at {emp} as a {job}.", "Retired {job}, worked at {emp} for {#5-40} years.",
             "Originally from {fcity}, {country}; moved to {town} in {#1970-2020}.", "Lives at {snf} in {town}.", "Attends {school}.",
             "Former smoker, quit {#1-30} years ago. Drinks {#0-6} beers/week.", "From {country}, speaks {lang}; {rel1} {kin1.fl} interprets.",
             "Lives alone at {street}, {town}.", "Married to {kin1.fl}, {#1-5} children.", "Moved from {state} last year to live with {rel1} {kin1.f}.",
             "Denies drug use. {trap}", "Grew up in {htown}, {state}.", "Lives with {rel1} {kin1.nick} in {county}.",
             "{rel1} {kin1.f}'s car used for transport to {dial} three times a week.", "Works for {emp} in {town2}."]


CONSULT_HEADS = {"CC": ["CC", "CC", "CHIEF COMPLAINT", "Chief complaint"], "HPI": ["HPI", "HPI", "HISTORY OF PRESENT ILLNESS", "History"],
                 "PMH": ["PMH", "PMH", "PAST MEDICAL HISTORY", "Past medical history"],
                 "PSH": ["PSH", "PAST SURGICAL HISTORY", "Procedures", "SURGICAL HISTORY"],
                 "Meds": ["Meds", "Meds", "MEDICATIONS", "Medications"], "Allergies": ["Allergies", "ALLERGIES"],
                 "SH": ["SH", "SH", "SOCIAL HISTORY", "Social history"], "FH": ["FH", "FH", "FAMILY HISTORY", "Family history"],
                 "Exam": ["Exam", "Exam", "PHYSICAL EXAM", "Physical examination"],
                 "A/P": ["Assessment/Plan", "Assessment/Plan", "ASSESSMENT AND PLAN", "IMPRESSION", "Impression and plan"]}


def consult_note(d: Doc) -> None:
    rng = d.rng
    long = rng.random() < 0.35  # some consults write their headings out

    def head(key: str) -> str:
        return (rng.choice(CONSULT_HEADS[key]) if long else key if key != "A/P" else "Assessment/Plan") + d.sep
    d.line(rng.choice(["ADMISSION H&P", "{dept} CONSULT NOTE", "History and Physical", "ED Provider Note", "Initial consult - {dept}"]))
    d.line(rng.choice(["Requesting: {dr} {ref.fl}   Reason: {dx}", "Referring physician: {ref.fl}, MD ({osh})",
                       "Patient: {pt.lf}  DOB: {date}  MRN: {mrn}", "PCP: {pcp.fl}, MD - {clinic}", "Consulted by {dr} {md1.l} for {dx}"]))
    d.line(head("CC") + rng.choice(["{dx}", "SOB", "fall at home", "chest pain", "AMS", "{trap}", "{Syn}", "{Proc}"]))
    hpi = [rng.choice(["{pt.fl} is a {age} yo {sex} with {dx} and {dx} who presents from {snf} with",
                       "{pt.nick} is a {age} yo {sex} from {town} with {dx} who presents with",
                       "{ptt} {pt.l} is a {age}-year-old with {dx} transferred from {osh} with",
                       "This is a {age}yo {sex} from {town} with {dx} who presents with", "{age}{mf} w/ {dx}, sent in by {dr} {pcp.l} for"])
           + " " + rng.choice(["worsening dyspnea.", "fever and confusion.", "{dx}.", "a fall."])]
    hpi += [d.slot("sent") for _ in range(rng.randint(1, 3))]
    hpi.insert(rng.randint(1, len(hpi)), rng.choice(["Per {his} {rel1} {kin1.f}, {he} has been more confused.", "{He} was seen at {clinic} last week.",
                                                      "{pt.f}'s {rel1} found {him} on the floor.", "EMS brought {him} from {town}.",
                                                      "Records from {oshA} reviewed.", "{He} takes {drug} and {drug}.",
                                                      "{He} was found down at home in {town}.", "{He} recently moved to {town} from {state}."]))
    d.put(head("HPI"))
    for s in hpi:
        d.put(s + " ")
    d.add("\n")
    d.line(head("PMH") + ", ".join(rng.sample(DX, 4)) + ", " + d.render(rng.choice(EPONYMS + SYNDROMES)))
    if rng.random() < 0.4:
        d.line(head("PSH") + "; ".join(f"{d.slot('Surg')}, {d.slot('yr')}" for _ in range(rng.randint(1, 3))))
    d.line(head("Meds"))
    for _ in range(rng.randint(2, 5)):
        d.line(d.slot("med"), bullet=True)
    d.line(head("Allergies") + rng.choice(["NKDA", "PCN (rash)", "sulfa", "codeine - nausea", "{Drug}", "{Drug} (hives)"]))
    d.put(head("SH"))
    d.put(" ".join(rng.sample(SOCIAL_HX, rng.randint(2, 4))))
    d.add("\n")
    d.line(head("FH") + rng.choice(["mother w/ {dx}, father d. MI at {#50-80}", "noncontributory", "{rel1} w/ {dx}", "{rel1} w/ {Syn}"]))
    d.line(head("Exam") + " ".join(d.slot(rng.choice(["find", "find", "Sign"])) for _ in range(rng.randint(1, 3))))
    d.line(head("A/P") + "{sent} " + rng.choice(["Will discuss with {dr} {md1.l}.", "Discussed with attending {md1.fl}.",
                                                               "Recommend f/u in {dept} clinic with {dr} {c1.l}.", "{trap}", ""]))
    d.line(rng.choice(SIGN_MD))


def discharge_summary(d: Doc) -> None:
    rng = d.rng
    d.line(rng.choice(["DISCHARGE SUMMARY", "Discharge Summary - {hosp}", "D/C SUMMARY", "Transfer Summary"]))
    d.pick(["Patient: {pt.lf}", "Name: {pt.LF}   DOB: {date}", "MRN: {mrn}", "Admission date: {date}", "Discharge date: {date}",
            "Attending: {md1.fl}, MD", "PCP: {pcp.fl}, MD, {clinic}", "Referring physician: {ref.fl}, MD ({osh})", "Admitted via: {generic}",
            "Consultants: {dept} ({dr} {c1.l}), {dept} ({dr} {c2.l})"], rng.randint(4, 8))
    d.line("Discharge diagnosis" + d.sep + "{dx}; {dx}")
    d.line("Hospital course" + d.sep)
    course = [d.slot("sent") for _ in range(rng.randint(2, 4))] + rng.sample([
        "{pt.fl} was transferred from {osh} on {date}.", "{dept} ({dr} {c1.l}) was consulted and recommended {med}.",
        "ID, {dr} {c2.fl}, recommended a {#5-14} day course.", "{He} underwent {proc} by {dr} {md2.l} on {date}.", "{trap}.",
        "{His} {rel1}, {kin1.fl}, was updated daily.", "PT recommended {rehab}.", "The Foley catheter was removed on day {#2-6}.",
        "Course complicated by {dx}.", "{He} was seen by {sw.fl} (social work) regarding placement.", "{neg}", "{neg}"], 3)
    rng.shuffle(course)
    d.put(" ".join(course) + "\n")
    d.line("Disposition" + d.sep + rng.choice(["Discharged to {snf} in {town}.", "Home with VNA; lives with {rel1} in {town}.",
                                                "Transferred to {rehab}.", "Home.", "{dispo}",
                                                "Transferred to {rehab} in {town2}.", "Home to {street}, {town}."]))
    d.line("Discharge medications" + d.sep)
    for _ in range(rng.randint(2, 6)):
        d.line(d.slot("med"), bullet=True)
    d.line("Follow-up" + d.sep)
    d.pick(["{dr} {pcp.l} at {clinic}, {street}, {town}, within 1 week ({phone})", "{dept} clinic with {dr} {c1.l} in 2 weeks",
            "Labs at {clinicA} on {date}", "Outpatient {proc} at {hospA}", "{dept} clinic {phone}", "Fill Rx at {pharm}"], rng.randint(1, 3), bullet=True)
    d.line(rng.choice(SIGN_MD))
    if rng.random() < 0.5:
        d.line("cc: {pcp.fl}, MD; {ref.fl}, MD")


def letter(d: Doc) -> None:
    rng = d.rng
    if rng.random() < 0.7:
        d.line("{clinic}")
        d.line("{street}")
        d.line("{city}")
        d.line(rng.choice(["Tel {phone}  Fax {phone}", "Phone: {phone}", ""]))
    d.line("{date}\n")
    if rng.random() < 0.6:
        d.line("{dr} {pcp.fl}")
        d.line("{clinic2}")
        d.line("{street2}\n{city2}\n")
    d.line(rng.choice(["RE: {pt.fl}   DOB: {date}", "Re: {pt.lf} (DOB {date})", "Patient: {pt.fl}, MRN {mrn}"]) + "\n")
    d.line(rng.choice(["Dear {dr} {pcp.l},", "Dear Dr. {pcp.l},", "Dear Colleague,", "Dear {pcp.f},", "Dear {dr} {pcp.l} and team,"]) + "\n")
    body = [rng.choice(["Thank you for referring {ptt} {pt.l}, a {age}-year-old {sex}, whom I saw today in {dept} clinic at {hosp}.",
                        "I had the pleasure of seeing {pt.fl} in the {dept} clinic on {date}.",
                        "I saw your patient {pt.fl} today for {dx}."])]
    body += [d.slot("sent") for _ in range(rng.randint(2, 4))]
    body += rng.sample(["As you know, {he} was recently admitted to {hosp} with {dx}.", "{He} lives in {town} with {his} {rel1}, {kin1.f}, who accompanied {him} today.",
                        "I have asked {him} to see {dr} {c1.fl} at {clinic3}.", "{He} works at {emp}.", "{His} {rel1} {kin1.fl} can be reached at {phone}.",
                        "We will repeat the echo at {hospA} in {#2-6} months.", "{trap}.", "{pt.f} was started on {med}.",
                        "{He} recently moved to {town} from {state}.", "{He} grew up in {htown} and moved here from {country}.", "{neg}"], 2)
    d.line(" ".join(body) + "\n")
    d.line(rng.choice(["Please do not hesitate to contact me with any questions.", "Thank you for allowing me to participate in {his} care.", ""]) + "\n")
    d.line(rng.choice(["Sincerely,", "With kind regards,", "Best wishes,", "Yours sincerely,"]) + "\n")
    d.line(rng.choice(["{md1.fl}, MD", "{md1.fl}, MD, FACC", "{md1.fml}, DO", "{np.fl}, FNP-BC", "{md1.fl} MD PhD"]))
    d.line(rng.choice(["{dept}", "{hosp}", "Department of {dept}, {hosp}", ""]))
    if rng.random() < 0.5:
        d.line(rng.choice(["cc: {ref.fl}, NP", "cc: {pcp.fl}, MD; patient", "cc: {dr} {c1.l}, {clinic}"]))


def social_work(d: Doc) -> None:
    rng = d.rng
    d.line(rng.choice(["SOCIAL WORK NOTE {date}", "Case Management Note", "SW Assessment", "Family meeting note"]))
    d.line(rng.choice(["Met with pt and family at bedside. Present: {rel1} {kin1.fl}, {rel2} {kin2.fl}, {rel3} {kin3.f}.",
                       "Family meeting held w/ Drs {md1.l} & {md2.l}, SW {sw.f}, {rel1} {kin1.fl} and {rel2} {kin2.f}.",
                       "Spoke with pt's {rel1}, {kin1.fl}, by phone ({phone})."]))
    d.line(rng.choice(["Family contacts:", "Contacts:", "Family members:", "Next of kin:"]))
    for i in range(1, rng.randint(2, 4)):
        d.line(rng.choice(["{kin%d.fl} ({rel%d}) {phone}", "{kin%d.fl} ({rel%d}), lives in {town%d}, {st}",
                           "{kin%d.lf} ({rel%d}) - {phone}", "{rel%d}: {kin%d.fl}"]).replace("%d", str(i)), bullet=True)
    d.put(" ".join(rng.sample(SOCIAL_HX, 3)) + "\n")
    d.pick(["Pt lives at {street}, {town} w/ {rel1}.", "Previously at {snf}.", "Receives dialysis at {dial}.", "HCP: {kin1.fl}.",
            "Referrals sent to {snf}, {snf2} and {rehab}.", "Insurance: Medicare/Medicaid.", "{trap}", "Pt's {rel2} {kin2.f} works at {emp}.",
            "Pharmacy: {pharm} on {street2}.", "Pt prefers to go home with {rel1}.", "Needs {lang} interpreter ({interp.fl} used today).",
            "{neg}", "Pharmacy: {pharm}, {placeword}."],
           rng.randint(2, 5), bullet=True)
    d.line(rng.choice(["{sw.fl}, LICSW  x{#4000-4999}", "{cm.fl}, RN CM", "{sw.fl}, MSW", "-- {sw.f}"]))


def face_sheet(d: Doc) -> None:
    rng = d.rng
    d.line(rng.choice(["PATIENT INFORMATION", "REGISTRATION", "Demographics", "FACE SHEET - {hosp}"]))
    rows = ["Name: {pt.lfm}", "Preferred name: {pt.nk}", "DOB: {date}   Age: {age}   Sex: {sex}", "Address: {street}\n         {city}",
            "Phone: {phone} (h)  {phone} (c)", "Emergency contact: {kin1.fl} ({rel1}) {phone}", "PCP: {pcp.fl}, MD - {clinic}",
            "Pharmacy: {pharm}, {town}", "Employer: {emp}", "Insurance: Medicare", "Language: {lang}", "County: {county}",
            "Admitting: {dr} {md1.fl}", "Referring: {ref.lf}", "School: {school}", "Previous facility: {snf}", "Religion: none",
            "Allergies: {Drug}", "Medications: {Drug}, {Drug}", "Past surgical: {Surg}, {yr}", "Clinic site: {placeword}"]
    d.line(rows[0])
    for row in rng.sample(rows[1:], rng.randint(5, 10)):
        d.line(row)


def quiet_note(d: Doc) -> None:
    """Mostly negatives: eponyms, drugs and name-like words used as words, few or no names."""
    rng = d.rng
    d.line(rng.choice(["Assessment", "Nursing note", "Exam", "ROS", "Hospital course", "PLAN", "Brief note"]))
    pool = ["{trap}", "{trap}", "{epo}", "{epo}", "{med}", "{find}", "{sent}", "{sent}", "{dx}", "Transfer to {generic}",
            "F/u in {generic}", "Denies fever, chills.", "Cough: productive of {col} sputum", "{neg}", "{neg}", "{neg}", "{neg}"]
    d.pick(pool, rng.randint(3, 8), bullet=rng.random() < 0.5)
    if rng.random() < 0.4:
        d.line(rng.choice(CALLS + SIGN_RN))


# ---------------------------------------------------------------- physician clinic notes (ACI-Bench layout)
# Office notes as ACI-Bench writes them: headings in capitals on their own lines, bulleted
# review of systems and exam by body system, vitals and results lines, numbered or titled
# problems with "Medical Reasoning:" bullets, medication lists, "Hysterectomy, 1996."
# history entries. Few names (the patient two or three times, now and then a physician, a
# relative, a pharmacy or practice, a town) among many headings and clinical words, which
# stay unlabelled. Their lines come from the ACI-Bench train notes and MTS-Dialog training
# sections by section, cleaned as the filler is, and from the tables below.

_SECTION_KEYS = [("CHIEF", "cc"), ("REASON FOR", "cc"), ("CC", "cc"), ("PRESENT ILLNESS", "hpi"), ("HPI", "hpi"),
                 ("REVIEW OF SYSTEMS", "ros"), ("ROS", "ros"), ("VITAL", "vitals"), ("EXAM", "exam"),
                 ("RESULT", "results"), ("LAB", "results"), ("IMAGING", "results"), ("INSTRUCTION", "instr"),
                 ("ASSESSMENT", "ap"), ("IMPRESSION", "ap"), ("PLAN", "ap"), ("MEDICATION", "meds"),
                 ("ALLERG", "allergy"), ("SOCIAL", "social"), ("FAMILY", "family"), ("SURGICAL", "psh"),
                 ("PROCEDURE", "proc"), ("HISTORY", "pmh")]
_MTS_KEYS = {"CC": "cc", "GENHX": "hpi", "ROS": "ros", "EXAM": "exam", "PASTSURGICAL": "psh", "PASTMEDICALHX": "pmh",
             "MEDICATIONS": "meds", "ALLERGY": "allergy", "FAM/SOCHX": "social", "IMAGING": "results", "LABS": "results",
             "PLAN": "ap_free", "ASSESSMENT": "ap_free", "DIAGNOSIS": "ap_problem", "PROCEDURES": "psh"}
_BULLETS = "•*-·o "


def _section_key(line: str) -> str | None:
    """'PHYSICAL EXAMINATION' -> 'exam', 'Results:' -> 'results'; None for a line that is no heading."""
    t = line.strip().rstrip(":").strip()
    if t in ("Medical", "Surgical"):  # "PAST HISTORY" split in two
        return "pmh" if t == "Medical" else "psh"
    if not t or len(t) > 45 or t.endswith(".") or not re.search("[A-Za-z]", t):
        return None
    if t != t.upper() and not line.strip().endswith(":"):
        return None
    for word, key in _SECTION_KEYS:
        if re.search(r"\b" + word, t.upper()):
            return key
    return None


@lru_cache(maxsize=1)
def clinic_text() -> dict[str, list]:
    """Name-free lines of the corpora's office notes by section: 'cc', 'hpi' (sentences),
    'ros' and 'exam' ("Label: finding"), 'exam_head' ("Musculoskeletal"), 'vitals',
    'results', 'ap_problem' ("Congestive heart failure"), 'ap_bullet' ((label, sentence)),
    'ap_free', 'instr', 'pmh', 'psh', 'meds', 'allergy', 'social', 'family'."""
    aci, mts, _, _ = _corpora()
    out: dict[str, set] = {}

    def keep(key: str, text: str, lo: int = 4, hi: int = 260) -> None:
        text = text.strip()
        if key in ("hpi", "ap_free") and re.search(r"\d+[- ]year[- ]old|\by\.o\.", text):
            return  # an age that would disagree with the opener's
        if key in ("ros", "exam") and ":" not in text:
            key += "_free"
        if key.startswith("ap_") and (re.search(r"\.\s*\d+\.?$", text) or key == "ap_problem" and len(text.split()) > 6):
            return
        if _clean(text, lo, hi) and not re.search(r"\S\s+[A-Z]{4,}:", text):  # no run-in MTS heading
            out.setdefault(key, set()).add(text)

    for note in aci:
        sec = "other"
        for raw in note.splitlines():
            key = _section_key(raw)
            if key:
                sec = key
                continue
            line = raw.strip()
            bulleted = line[:1] in "•-*"
            line = line.lstrip(_BULLETS).strip()
            if not line:
                continue
            if sec == "hpi":
                for s in _sentences(line):
                    keep("hpi", s, 15)
            elif sec in ("ros", "exam"):
                if sec == "exam" and ":" not in line and len(line.split()) <= 4 and not line.endswith("."):
                    keep("exam_head", line, 3)
                else:
                    keep(sec, line, 8)
            elif sec == "ap":
                label, _, rest = line.partition(":")
                numbered = re.match(r"\d+\.\s+(.*)", line)
                if bulleted and rest and len(label.split()) <= 5:
                    for s in _sentences(rest):
                        if _clean(s) and _clean(label, 3):
                            out.setdefault("ap_bullet", set()).add((label.strip(), s))
                elif len(line) <= 70 and (line.endswith(".") or line.endswith(":")) and ": " not in line and \
                        len(line.split()) <= 8 and not numbered and not line.startswith(("The ", "She ", "He ", "We ", "I ")):
                    keep("ap_problem", line.rstrip(".:"), 3)
                else:
                    for s in _sentences(numbered.group(1) if numbered else line):
                        keep("ap_free", s, 15)
            elif sec in ("cc", "vitals", "results", "instr", "pmh", "psh", "meds", "allergy", "social", "family", "proc"):
                keep(sec, line, 3, 300)
    for header, text in mts:
        key = _MTS_KEYS.get(header)
        if not key or len(text) > 300:
            continue
        if key in ("hpi", "ap_free"):
            for s in _sentences(text):
                keep(key, s, 15)
        else:
            for part in text.split("  "):
                keep(key, part, 4)
    return {k: sorted(v) for k, v in out.items()}


CLINIC_HEADS = {
    "cc": ["CHIEF COMPLAINT", "CHIEF COMPLAINT", "CC", "REASON FOR VISIT"],
    "hpi": ["HISTORY OF PRESENT ILLNESS", "HISTORY OF PRESENT ILLNESS", "HPI", "HISTORY"],
    "pmh": ["PAST MEDICAL HISTORY", "MEDICAL HISTORY", "PAST HISTORY", "HISTORY"],
    "psh": ["SURGICAL HISTORY", "PAST SURGICAL HISTORY", "PROCEDURES", "Procedures"],
    "social": ["SOCIAL HISTORY"], "family": ["FAMILY HISTORY"],
    "meds": ["MEDICATIONS", "CURRENT MEDICATIONS", "MEDICATIONS"], "allergy": ["ALLERGIES"],
    "ros": ["REVIEW OF SYSTEMS", "REVIEW OF SYSTEMS", "ROS"],
    "vitals": ["VITALS", "VITALS", "VITALS REVIEWED", "VITAL SIGNS"],
    "exam": ["PHYSICAL EXAMINATION", "PHYSICAL EXAM", "PHYSICAL EXAM", "EXAM"],
    "results": ["RESULTS", "RESULTS", "RESULTS", "LABS", "IMAGING", "DATA REVIEWED"],
    "proc": ["PROCEDURE"],
    "ap": ["ASSESSMENT AND PLAN", "ASSESSMENT AND PLAN", "ASSESSMENT", "IMPRESSION", "IMPRESSION AND PLAN", "ASSESSMENT & PLAN"],
    "plan": ["PLAN"], "instr": ["INSTRUCTIONS", "INSTRUCTIONS", "PATIENT INSTRUCTIONS", "FOLLOW-UP"],
}
ROS_SYSTEMS = {
    "Constitutional": "fevers,chills,weight loss,fatigue,night sweats,weight gain",
    "Eyes": "blurred vision,eye pain,double vision,redness",
    "Ears, Nose, Mouth and Throat": "nasal congestion,sore throat,ear pain,hearing loss,sinus pressure",
    "Ears, Nose, Throat": "nasal congestion,sore throat,ear pain", "HEENT": "headache,sore throat,nasal congestion",
    "Ears": "ear pain,hearing loss,tinnitus", "Nose": "congestion,nosebleeds", "Mouth": "mouth sores,dry mouth",
    "Throat": "sore throat,hoarseness", "Cardiovascular": "chest pain,palpitations,dyspnea on exertion,leg swelling",
    "Respiratory": "shortness of breath,cough,wheezing", "Gastrointestinal": "abdominal pain,nausea,vomiting,diarrhea,"
    "constipation,heartburn,blood in the stool", "Genitourinary": "dysuria,hematuria,urinary frequency,incontinence",
    "Musculoskeletal": "joint pain,back pain,muscle aches,knee swelling,instability", "Integumentary": "rash,itching,new moles",
    "Skin": "rash,bruising,itching", "Neurological": "headaches,dizziness,numbness,tingling,weakness",
    "Psychiatric": "depression,anxiety,suicidal ideation,trouble sleeping", "Endocrine": "heat intolerance,cold intolerance,"
    "polyuria,excessive thirst", "Hematologic/Lymphatic": "easy bruising,swollen glands",
    "Allergic/Immunologic": "seasonal allergies,frequent infections", "Breast": "breast lumps,nipple discharge",
}
EXAM_SYSTEMS = {
    "Constitutional": ["Well-developed, well-nourished, in no acute distress.", "Pleasant, cooperative, in no distress."],
    "General": ["Alert and in no acute distress.", "Appears stated age."],
    "Neck": ["Supple.", "Supple. No thyromegaly or lymphadenopathy.", "No carotid bruits.", "No JVD."],
    "Eyes": ["PERRLA. EOMI.", "Conjunctivae are clear.", "Snellen chart {#20-20}/{#20-60} bilaterally."],
    "Ears, Nose, Mouth and Throat": ["Nasal mucosa is erythematous.", "Oropharynx is clear.", "Tympanic membranes are intact."],
    "HENT": ["Normocephalic, atraumatic.", "Moist mucous membranes."], "Head": ["Normocephalic, atraumatic."],
    "Mouth": ["Moist mucous membranes.", "No oral lesions."],
    "Cardiovascular": ["Regular rate and rhythm. No murmurs.", "Grade {#1-3}/6 systolic ejection murmur.", "Regular rate and rhythm."],
    "Respiratory": ["Lungs are clear to auscultation bilaterally.", "Scattered wheezes.", "No wheezes, rales, or rhonchi."],
    "Gastrointestinal": ["Soft, nontender, nondistended.", "Tenderness to palpation in the right upper quadrant. Positive Murphy's sign.",
                         "Tenderness at McBurney's point.", "No hepatosplenomegaly."],
    "Genitourinary": ["No CVA tenderness.", "Normal external genitalia."],
    "Musculoskeletal": ["Full range of motion.", "Tenderness over the medial joint line. Positive McMurray test.",
                        "Negative Lachman.", "Positive Tinel's sign at the wrist. Positive Phalen's test.", "Negative straight leg raise.",
                        "Spurling's test is negative.", "Finkelstein's test is positive.", "Hawkins and Neer tests are positive.",
                        "Trace edema of the bilateral lower extremities.", "Thompson test negative."],
    "MSK": ["Full range of motion.", "Pain with flexion and extension.", "Negative Lachman and McMurray tests."],
    "Extremities": ["No edema.", "Pulses 2+ bilaterally.", "Negative Homans sign."],
    "Integumentary": ["No rashes or lesions.", "Warm and dry."], "Skin": ["No rashes.", "Well-healed surgical scar."],
    "Neurological": ["Alert and oriented x3. Cranial nerves II-XII intact.", "Romberg negative.", "Babinski is downgoing.",
                     "Dix-Hallpike maneuver reproduces the vertigo."],
    "Psychiatric": ["Normal mood and affect.", "Anxious affect."], "Lymphatic": ["No cervical lymphadenopathy."],
    "Back": ["Tenderness to palpation at L{#3-5}.", "No spinous process tenderness."],
    "Auscultation of Heart": ["Regular rate and rhythm."], "Auscultation of Lungs": ["Clear bilaterally."],
    "Examination of Abdomen": ["Soft, nontender."], "Palpation": ["Tenderness over the lateral epicondyle."],
    "Gait": ["Normal.", "Antalgic."], "Breast": ["No palpable masses."],
}
ROS_VERBS = ["Denies", "Denies", "Endorses", "Reports", "Negative for", "Positive for", "No"]
VITAL_LINES = ["Blood Pressure: {#100-170}/{#60-100} mmHg.", "Blood pressure: {#100-170}/{#60-100}", "BP: {#100-170}/{#60-100}.",
               "Heart Rate: {#55-110} bpm.", "HR: {#55-110}.", "Pulse: {#55-110}.", "Respiratory Rate: {#12-22}.",
               "RR: {#12-22}.", "Temperature: {#97-100}.{#0-9} degrees F.", "Oxygen Saturation: {#92-100}%.",
               "SpO2: {#92-100}% on room air.", "Weight: {#110-290} lb.", "BMI: {#19-42}.{#0-9}.",
               "Blood Pressure: Elevated.", "All vital signs are within the normal limits."]
RESULT_LINES = ["{Test} is unremarkable.", "{Test} demonstrates no acute abnormality.", "{Test} was normal.",
                "{Test} shows mild degenerative changes.", "{Test} is pending.", "{Test} was reviewed today and is stable.",
                "Hemoglobin A1c is {#6-11}.{#0-9}.", "Lipid panel: LDL {#90-210}.", "TSH is {#0-9}.{#1-9}.",
                "{Placeinf}: negative.", "Lyme titer is negative.", "Epstein-Barr virus antibodies are positive.",
                "Urinalysis is negative.", "Creatinine is {#0-2}.{#1-9}.", "Chest x-ray is clear.",
                "MRI of the brain demonstrates a {#1-3} cm pituitary adenoma.", "Complete ultrasound of the abdomen is normal.",
                "Complete blood count is within normal limits.", "Vitamin D level is low at {#10-29}."]
CLINIC_DX = ("Type 2 diabetes,Hypertension,Hyperlipidemia,Congestive heart failure,Chronic obstructive pulmonary disease,"
             "Depression,Anxiety,Gastroesophageal reflux disease,Hypothyroidism,Kidney stones,Migraines,Atrial fibrillation,"
             "Obesity,Anemia,Gout,Chronic kidney disease stage 3,Asthma,Colon cancer,Alcohol use disorder,Glaucoma,"
             # the first twenty run in families; the rest are visit problems
             "Osteoarthritis of the right knee,Acute lumbar strain,Seasonal allergies,Pituitary adenoma,Carpal tunnel syndrome,"
             "Plantar fasciitis,Rotator cuff tendinitis,Lateral epicondylitis,Vitamin D deficiency,Insomnia,Sinusitis,"
             "Trigger finger,Polycystic ovary syndrome,Benign prostatic hyperplasia,Prediabetes").split(",")
CLINIC_OPEN = [  # {pmh}, {visit}, {pre} and {age} are filled once, so that the assessment can repeat it word for word
    "{name} is a {age}-year-old {gender} with a past medical history significant for {pmh}, who presents {visit}.",
    "{name} is a {age}-year-old {gender} who presents {visit}.",
    "{name} is a pleasant {age}-year-old {hand}{gender} here {visit}.",
    "{name} is a {age} y.o. {gender} who presents {visit}.",
    "{name} is a {age}-year-old {gender} with a history of {pmh} who presents {visit}.",
]
CLINIC_VISIT = ["for {his} annual exam", "today for abnormal labs", "with back pain", "for follow-up of {his} chronic problems",
                "for evaluation of right knee pain", "today for a new patient evaluation", "for a 2nd opinion",
                "with a {#2-6}-week history of cough", "for evaluation of {prob}", "to establish care", "for follow-up of {prob}"]
CLINIC_NAMED = [  # HPI sentences with the few names a clinic note holds, and their look-alikes
    "{He} is accompanied today by {his} {rel1}, {kin1.f}.", "{His} {rel1}, {kin1.f}, is present and contributes to the history.",
    "{He} was seen by {dr} {c1.fl} at {hosp} {#2-6} weeks ago.", "{He} previously saw {dr} {c1.l}, who started {him} on {Drug}.",
    "{He} notes that {he} saw {dr} {c1.l} a couple of weeks ago, and everything was normal at that time.",
    "{He} was seen in urgent care at {placeword} last week.", "{He} lives in {town} and drives {#10-60} minutes to the clinic.",
    "{He} recently moved to {town} from {state}.", "{He} works as a {job} at {emp}.",
    "{He} fills {his} prescriptions at the {pharm} on {stname}.",
    "{He} picks up {his} medications at {pharm} in {town}.", "{He} had a {surgl} at {hosp} in {yr}.", "Records from {clinic} were reviewed.",
    "{His} {rel1} {kin1.f} has noticed that {he} is more tired.", "{He} is followed by {dr} {c1.l} in {dept}.",
    "{He} was referred by {his} primary care physician, {dr} {pcp.fl}.", "{He} was referred by {dr} {pcp.l} at {clinic}.",
    "{He} went to the emergency room at {hosp} over the weekend.", "{He} drinks a lot of orange juice and soda.",
    "Occasionally, {he} wakes up at night with the pain.", "{He} has been using {Drug} as needed with some relief.",
    "{He} and {his} {rel1}, {kin1.fl}, moved from the West Coast last year.",
    "{He} was scheduled to see {dr} {c2.fl}, but has not seen {him} yet.",
    "{He} has been going to physical therapy at {placeword}.", "{He} recently traveled to {fcity} to visit family.",
    "{His} {rel1}, {kin1.f}, was diagnosed with {Syn}.", "{He} had a {surgl} in {yr} by {dr} {c2.l}.",
]
CLINIC_PLAN = {  # the assessment's bullets beyond those taken from the notes
    "Medical Reasoning": ["{His} symptoms are consistent with {prob}.", "This is likely related to {Syn}.",
                          "{Esign} is positive on exam today.", "Orange juice seems to help when {his} blood sugar is low."],
    "Medical Treatment": ["Start {Drug} {dose} {freq}.", "Continue {Drug} {dose} {freq}.", "Increase {drugl} to {dose} {freq}.",
                          "Prescription for {Drug} sent to the {pharm} on {stname}.", "Prescription for {Drug} sent to {pharm}.",
                          "Discontinue {Drug}.", "Schedule {procl}."],
    "Additional Testing": ["We will order {testl}.", "{Test} ordered.", "Repeat {testl} in {#2-6} months.", "Check {Placeinf} titer."],
    "Specialist Referrals": ["We will refer {him} to {dr} {c1.fl} in {dept}.", "Referral to {dept} at {hosp}.",
                             "We will refer {him} to physical therapy at {placeword}.", "Referral to {dept}.",
                             "{He} will see {dr} {c1.l} at {clinic}."],
    "Patient Education and Counseling": ["I advised {him} to limit {foodl}.", "We discussed the risks of {surgl}.",
                                         "Water intake should be increased.", "Coffee and alcohol should be limited.",
                                         "Occasionally {he} may need {Drug} for flares.", "We discussed {Syn} at length."],
}
CLINIC_INSTR = ["The patient will follow up in {#2-6} weeks.", "Return to clinic in {#1-6} months.",
                "Follow up with {dr} {md1.l} in {#2-8} weeks.",
                "Call the office at {phone} with any questions.", "Pick up the prescription at the {pharm} on {stname}.",
                "Schedule {procl} at {hosp}.", "Schedule {procl}.", "Follow up at {placeword} in {#2-6} weeks.",
                "Return sooner if symptoms worsen.", "{Proc} before the next visit.", "Follow up with {dr} {c1.fl} as scheduled."]
CLINIC_SOCIAL = ["Alcohol: Socially.", "Tobacco: Never.", "Tobacco: Former smoker, quit {#2-30} years ago.", "Illicit drug use: Never.",
                 "{He} lives in {town} with {his} {rel1}, {kin1.f}.", "{He} lives with {his} {rel1}.", "{He} works as a {job} at {emp}.",
                 "{He} is a retired {job}.", "Coffee: {#1-4} cups a day.", "Exercise: walks daily.", "Hobbies: golf and gardening.",
                 "{He} is married with {#1-5} children.", "{He} moved from {state} {#2-10} years ago.", "Occupation: {job}."]
CLINIC_FAMILY = ["Mother: {prob}.", "Father: {prob}.", "Mother: {Syn}.", "Brother: {Syn}.", "Maternal grandfather: {prob}.",
                 "Sister: breast cancer.", "Father: prostate cancer.", "Twin sister: healthy.", "Noncontributory.",
                 "No family history of colon cancer.", "Father died of a heart attack at {#50-80}."]
CLINIC_ALLERGY = ["No known drug allergies.", "Penicillin.", "Sulfa drugs.", "{Drug} (rash).", "{Drug}.", "Shellfish.", "Latex.",
                  "{Drug} causes nausea.", "NKDA."]
CLINIC_HEADER = ["{clinic}", "{clinic}, {placeword}", "Patient: {pt.fl}   DOB: {date}", "Provider: {dr} {md1.fl}",
                 "Date of service: {date}", "{dept} clinic note", "Visit type: office follow-up", "Location: {placeword}",
                 "PATIENT NAME: {pt.LF}", "Referring provider: {dr} {pcp.fl}"]
CLINIC_SIGN = ["{md1.fl}, MD", "Electronically signed by: {dr} {md1.fl}", "{md1.fl}, MD, {dept}", "{np.fl}, FNP-C",
               "{pa.fl}, PA-C", "Dictated but not read. {md1.fl}, MD"]


_OTHER_SEX = {True: r"prostat|testic|scrot|penile|peyronie|klinefelter|vasectomy",  # what a woman (True) or a man cannot have
              False: r"ovar|uter|cervical cancer|breast|pregnan|menstrua|turner syndrome|hysterectomy|tubal|cesarean|"
                     r"myomectomy|endometri|colposcopy|curettage"}


def _fits(s: str, female: bool) -> bool:
    """No "he" in a note about a woman (and so on), so that taken sentences agree."""
    words = set(re.findall(r"[a-z]+", s.lower()))
    return not words & ({"he", "his", "him", "himself"} if female else {"she", "her", "hers", "herself"})


def clinic_note(d: Doc) -> None:
    """A physician's office note laid out as ACI-Bench notes are (see the section comment)."""
    rng, pool = d.rng, clinic_text()
    d.style = rng.choices(["normal", "upper", "lower"], [78, 13, 9])[0]
    d.double, d.bullet = False, ""
    pt = d.person("pt")
    gap = "\n" if rng.random() < 0.75 else ""
    colon = ":" if rng.random() < 0.12 else ""
    titled = rng.random() < 0.12  # "History of Present Illness"
    ros_b = rng.choice(["• ", "• ", "• ", "- ", "", "* "])
    exam_b = rng.choice(["• ", "• ", "- ", "- ", ""])
    named = rng.random() < 0.9  # a tenth of the notes never name the patient

    def take(key: str, n: int = 1) -> list[str]:
        lines = pool.get(key, [])
        got = []
        for _ in range(n * 4):
            s = rng.choice(lines) if lines else ""
            if s and _fits(s, pt.female) and s not in got:
                got.append(s)
            if len(got) == n:
                break
        return got

    def head(key: str) -> None:
        h = rng.choice(CLINIC_HEADS[key])
        if titled and h not in ("CC", "HPI", "ROS"):
            h = " ".join(w.lower() if w in ("AND", "OF") else w.capitalize() for w in h.split())
        d.add(h + colon + "\n" + gap)

    def body(lines: list[str], bullet: str = "") -> None:
        for s in lines:
            d.put(bullet + s + "\n")
        d.add(gap)

    def problem() -> str:
        pr = take("ap_problem")
        if pr and rng.random() < 0.5 and not re.search(_OTHER_SEX[pt.female], pr[0].lower()):
            return pr[0]
        picked = rng.choice([rng.choice(CLINIC_DX)] * 3 + [rng.choice(SYNDROMES), rng.choice(PLACE_INFECTIONS)])
        return "Hypertension" if re.search(_OTHER_SEX[pt.female], picked.lower()) else picked

    # the opener: plain values filled once, the patient's name as a slot
    problems = [problem() for _ in range(rng.randint(2, 4))]
    pmh = [_lower_first(p) for p in problems[:rng.randint(1, 3)]]
    pmh_text = pmh[0] if len(pmh) == 1 else ", ".join(pmh[:-1]) + ", and " + pmh[-1]
    name = rng.choice(["{pt.fl}", "{pt.fl}", "{ptt} {pt.fl}", "{ptt} {pt.l}", "{pt.fml}"]) if named else "The patient"
    opener = rng.choice(CLINIC_OPEN).replace("{visit}", rng.choice(CLINIC_VISIT)).replace("{pmh}", pmh_text)
    opener = d.render(opener.replace("{name}", "\0").replace("{prob}", _lower_first(problems[0]))
                      .replace("{hand}", rng.choice(["", "", "right-hand-dominant ", "left-hand-dominant "]))).replace("\0", name)
    opener = re.sub(r"\ba (8\d|11|18)\b", r"an \1", opener)

    if rng.random() < 0.25:
        d.pick(CLINIC_HEADER, rng.randint(1, 2))
        d.add(gap)
    if rng.random() < 0.92:
        head("cc")
        body([rng.choice(take("cc") + [problems[0] + ".", "Follow-up of " + _lower_first(problems[0]) + ".", "{Test} results."])])
    head("hpi")
    paras = [[opener]]
    for _ in range(rng.randint(1, 4)):
        paras.append([_misspell(rng, s) if rng.random() < 0.05 else s for s in take("hpi", rng.randint(1, 4))] or [d.slot("sent")])
    if named and rng.random() < 0.5:  # "Mr. White reports ..." in place of "The patient reports ..."
        p = rng.randrange(1, len(paras))
        paras[p][0] = re.sub(r"^(The patient|She|He) ", rng.choice(["{ptt} {pt.l} ", "{ptt} {pt.l} ", "{pt.f} "]), paras[p][0])
    for _ in range(rng.choices([0, 1, 2, 3], [25, 40, 25, 10])[0]):
        p = rng.randrange(len(paras))
        paras[p].insert(rng.randint(1, len(paras[p])), rng.choice(CLINIC_NAMED))
    if rng.random() < 0.3:
        p = rng.randrange(1, len(paras))
        paras[p].insert(rng.randint(0, len(paras[p])), d.slot("neg"))
    for para in paras:
        d.put(" ".join(para) + "\n" + gap)

    optional = [("pmh", 0.3), ("psh", 0.35), ("social", 0.4), ("family", 0.25), ("meds", 0.45), ("allergy", 0.35)]
    chosen = [k for k, p in optional if rng.random() < p]
    if rng.random() < 0.5:
        rng.shuffle(chosen)
    for key in chosen:
        head(key)
        n = rng.randint(1, 4)
        if key == "pmh":
            lines = [rng.choice([p + ".", p, "History of " + _lower_first(p) + "."]) for p in problems[:n]] + \
                    [rng.choice(["{Syn}.", "{prob}."]).replace("{prob}", rng.choice(CLINIC_DX))] + take("pmh", 1)
        elif key == "psh":
            lines = []
            while len(lines) < n:
                line = d.render(rng.choice(["{Surg}, {yr}.", "{Surg} in {yr}.", "{Surg}.", "{Surg}, {yr}.", "{Surg} at {hosp} in {yr}.",
                                            "{Surg} by {dr} {c2.l}, {yr}.", "Hysterectomy, {yr}."]))
                if not re.search(_OTHER_SEX[pt.female], line.lower()):
                    lines.append(line)
            lines += take("psh", 1)
        elif key == "social":
            lines = rng.sample(CLINIC_SOCIAL, n) + take("social", 1)
        elif key == "family":
            lines = [s.replace("{prob}", rng.choice(CLINIC_DX[:20])) for s in rng.sample(CLINIC_FAMILY, n)] + take("family", 1)
        elif key == "meds":
            lines = [rng.choice(["{Drug} {dose} {freq}.", "{Drug} {dose} {freq}.", "{Drug} {dose}.", "{Drug}.", "{Supp}.",
                                 "{drugl} {dose} {freq}"]) for _ in range(n + 1)] + take("meds", 1)
        else:
            lines = rng.sample(CLINIC_ALLERGY, min(n, 2)) if rng.random() < 0.7 else take("allergy", 1)
        body(lines, rng.choice(["", "", "• ", "- "]))

    def ros() -> None:
        head("ros")
        if rng.random() < 0.15:
            body(take("ros_free", 2) or ["Negative except as noted in the HPI."])
            return
        lines = take("ros", rng.randint(0, 3))
        for label in rng.sample(sorted(ROS_SYSTEMS), rng.randint(2, 6)):
            options = ROS_SYSTEMS[label].split(",")
            symptoms = rng.sample(options, min(len(options), rng.randint(1, 3)))
            verb = rng.choice(ROS_VERBS)
            conj = rng.choice([", or ", " or "]) if verb in ("Denies", "Negative for", "No") else rng.choice([", and ", " and "])
            said = symptoms[0] if len(symptoms) == 1 else ", ".join(symptoms[:-1]) + conj + symptoms[-1]
            lines.append(f"{label}: {verb} {said}.")
        if rng.random() < 0.2:
            lines.insert(rng.randrange(len(lines) + 1), d.slot("neg"))
        rng.shuffle(lines)
        body(lines, ros_b)

    def vitals() -> None:
        head("vitals")
        body(take("vitals", 1) if rng.random() < 0.3 else rng.sample(VITAL_LINES, rng.randint(1, 5)), rng.choice(["", "• ", "- "]))

    def exam() -> None:
        head("exam")
        if rng.random() < 0.3:  # "Musculoskeletal" on its own line, then "- Examination of ...: ..."
            for label in rng.sample(sorted(EXAM_SYSTEMS), rng.randint(1, 3)):
                d.add(label + "\n")
                body([f"{rng.choice(['Examination', 'Inspection', 'Palpation', label])}: {rng.choice(EXAM_SYSTEMS[label])}"]
                     + take("exam_free", rng.randint(0, 1)), "- ")
            return
        lines = take("exam", rng.randint(0, 3))
        for label in rng.sample(sorted(EXAM_SYSTEMS), rng.randint(2, 5)):
            lines.append(f"{label}: " + " ".join(rng.sample(EXAM_SYSTEMS[label], min(len(EXAM_SYSTEMS[label]), rng.randint(1, 2)))))
        rng.shuffle(lines)
        body(lines, exam_b)

    if rng.random() < 0.8:
        ros()
    for part in ([vitals, exam] if rng.random() < 0.5 else [exam, vitals]):
        if rng.random() < (0.45 if part is vitals else 0.85):
            part()
    if rng.random() < 0.7:
        head("results")
        lines = take("results", rng.randint(0, 2)) + rng.sample(RESULT_LINES, rng.randint(1, 2))
        rng.shuffle(lines)
        body(lines)
    if rng.random() < 0.06:
        head("proc")
        body(take("proc", 1) or ["{Proc}."])

    # assessment and plan: the opener again, then problems with their bullets
    head("ap")
    if named and rng.random() < 0.6:
        d.put(opener + "\n" + gap)
    numbered = rng.random() < 0.4
    bullets = [(label, s) for label, s in pool.get("ap_bullet", []) if _fits(s, pt.female)]
    for i, prob in enumerate(problems):
        d.put((f"{i + 1}. " if numbered else "") + prob + rng.choice([".", ".", ":", ""]) + "\n")
        lines = []
        for _ in range(rng.randint(1, 4)):
            if rng.random() < 0.25 or not bullets:
                label = rng.choice(sorted(CLINIC_PLAN))
                said = rng.choice(CLINIC_PLAN[label])
            else:
                label, said = rng.choice(bullets)
            lines.append(f"{label}: {said.replace('{prob}', _lower_first(prob))}")
        body(lines, rng.choice(["• ", "• ", "- "]))
    if rng.random() < 0.3:
        head("plan")
        body([f"{i + 1}. {s}" for i, s in enumerate(take("ap_free", rng.randint(1, 3)) + rng.sample(CLINIC_PLAN["Medical Treatment"], 1))])
    if rng.random() < 0.6:
        d.put("Patient Agreements: The patient understands and agrees with the recommended medical treatment plan.\n" + gap)
    if rng.random() < 0.5:
        head("instr")
        body(take("instr", rng.randint(0, 2)) + rng.sample(CLINIC_INSTR, rng.randint(1, 2)))
    if rng.random() < 0.2:
        d.line(rng.choice(CLINIC_SIGN))


NOTE_KINDS = [(icu_note, 25), (event_note, 9), (progress_note, 15), (consult_note, 13), (discharge_summary, 12),
              (letter, 10), (social_work, 6), (face_sheet, 4), (quiet_note, 6), (clinic_note, 33)]


def make_note(rng: random.Random, wl: dict) -> tuple[str, list[tuple[int, int, str]], str, str]:
    d = Doc(rng, wl)
    kind = rng.choices([k for k, _ in NOTE_KINDS], [w for _, w in NOTE_KINDS])[0]
    kind(d)
    text, spans = d.finish()
    return text, spans, kind.__name__, d.style


def make_examples(n: int, seed: int) -> list[tuple[str, list[tuple[int, int, str]]]]:
    """n (text, [(start, end, label)]) notes; the same n and seed give the same notes."""
    wl = word_lists()
    return [make_note(random.Random(seed * 1_000_003 + i), wl)[:2] for i in range(n)]


# ---------------------------------------------------------------- CLI and self-check

def check(text: str, spans: list[tuple[int, int, str]]) -> None:
    end = 0
    for s, e, label in spans:
        piece = text[s:e]
        assert piece and piece == piece.strip() and label in (PERSON, LOCATION, FACILITY), (piece, label)
        assert s >= end, f"overlap at {s}: {text[s:e]!r}"
        end = e


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=6000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    started = time.time()
    wl = word_lists()
    labels, styles, kinds, notes = Counter(), Counter(), Counter(), []
    with open(args.out, "w", encoding="utf-8") as out:
        for i in range(args.n):
            text, spans, kind, style = make_note(random.Random(args.seed * 1_000_003 + i), wl)
            check(text, spans)
            labels.update(label for *_, label in spans)
            styles[style] += 1
            kinds[kind] += 1
            notes.append((text, spans))
            out.write(json.dumps({"text": text, "spans": [list(s) for s in spans]}, ensure_ascii=False) + "\n")
    elapsed = time.time() - started
    try:  # spans a spaCy tokenizer cannot align would be lost in training: count them
        import spacy
        nlp = spacy.blank("en")
        bad = [t[s:e] for t, sp in notes for doc in [nlp.make_doc(t)] for s, e, _ in sp
               if doc.char_span(s, e) is None]
        print(f"spans not on spaCy token boundaries: {len(bad)}", bad[:5])
    except ImportError:
        pass
    print(f"{args.n} notes in {elapsed:.1f}s -> {args.out}")
    print("labels:", dict(labels), "| notes without spans:", sum(1 for _, s in notes if not s))
    print("styles:", dict(styles))
    print("kinds:", dict(kinds))
    prose, findings = filler()
    print(f"filler: {len(prose)} sentences, {len(findings)} findings")
    for text, spans in random.Random(args.seed).sample(notes, min(5, len(notes))):
        marked, pos = "", 0
        for s, e, label in spans:
            marked += text[pos:s] + f"[{text[s:e]}]{label[:3]}"
            pos = e
        print("-" * 60 + "\n" + marked + text[pos:])


if __name__ == "__main__":
    sys.exit(main())
