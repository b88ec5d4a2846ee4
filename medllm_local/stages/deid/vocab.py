"""The word knowledge de-identification decides with, loaded once.

- English: Webster's Second (public domain, from the `english-words` package), which
  writes common words in lower case and proper names capitalised, so "karen" or "reyes"
  is not an English word while "white" and "grace" are;
- names: the 1990 US Census first-name and surname lists (medllm_local/data);
- clinical: the project's medical and clinical words, its abbreviations, and single-word
  drug names (generic and brand), which are never taken for a person or a place;
- places: US cities and towns of 5,000 people or more.
The lists are rebuilt by installer/make_vocabularies.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "data"
# Surnames past this census rank are mostly rare words or spellings ("cough", "nose",
# "grade"): below it a surname is a name even when it is also an English word.
COMMON_SURNAME_RANK = 30000
# A word this frequent (wordfreq zipf) with two letters swapped is a typo of it.
SWAPPED_WORD_ZIPF = 4.0
_SUFFIXES = (("ies", "y"), ("ied", "y"), ("es", ""), ("s", ""), ("ed", ""), ("ed", "e"), ("ing", ""),
             ("ing", "e"), ("ly", ""), ("ation", "ate"), ("ations", "ate"), ("er", ""),
             ("ness", ""), ("ment", ""), ("al", ""), ("ier", "y"), ("iest", "y"), ("est", ""),
             ("ically", "ic"), ("ally", "al"), ("ily", "y"), ("ers", ""), ("ings", ""))


# Word endings of medical terms that no list can hold in full ("thyromegaly",
# "echotexture", "glomerulonephritis"): such a word is never a name or a town.
MEDICAL_ENDING = re.compile(
    r"(?:itis|osis|oses|emia|aemia|ectomy|otomy|ostomy|plasty|scopy|graphy|ology|ologist|"
    r"pathy|algia|uria|penia|megaly|plegia|paresis|trophy|texture|lysis|rrhea|rrhoea|rrhage|"
    r"centesis|genesis|stomy|ectasis|malacia|sclerosis|spasm|cardia|pnea|pnoea|phagia|"
    r"phasia|esthesia|kinesia|tropic|thymia)$")


CONTRACTIONS = ("n't", "'ll", "'re", "'ve", "'d", "'m")
APOSTROPHE_WORDS = {"o'clock", "ma'am", "y'all", "ne'er", "e'er", "o'er"}


def bare_word(word: str) -> str:
    """A word without its possessive ending ("ignac's" -> "ignac")."""
    return word[:-2] if word.endswith(("'s", "'S")) and len(word) >= 3 else word


def _name_key(word: str) -> str:
    """How the census lists write a name: "O'Brien's" -> "obrien"."""
    return bare_word(word.lower()).replace("'", "")


def _read(name: str) -> list[str]:
    lines = (DATA / name).read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


@dataclass(frozen=True)
class Vocabulary:
    english: frozenset[str]
    clinical: frozenset[str]
    first_names: dict[str, int]  # name -> rank (0 most frequent)
    surnames: dict[str, int]
    places: frozenset[str]
    place_words: frozenset[str]  # every word of a multi-word place ("falls" of "fall river")

    def is_english(self, word: str) -> bool:
        """A lower-case dictionary word, or a regular inflection of one."""
        word = word.lower()
        if word in self.english:
            return True
        for prefix in ("re", "un", "pre", "post", "non", "over", "under"):  # "reevaluate"
            rest = word[len(prefix):].lstrip("-")
            if word.startswith(prefix) and len(rest) >= 5 and rest not in self.first_names \
                    and self.is_english(rest):
                return True
        for suffix, replacement in _SUFFIXES:
            if word.endswith(suffix) and len(word) - len(suffix) + len(replacement) >= 3:
                stem = word[:-len(suffix)]
                if stem + replacement in self.english:
                    return True
                # "admitting", "stopped": the consonant doubled before the ending
                if not replacement and len(stem) > 3 and stem[-1] == stem[-2] and stem[:-1] in self.english:
                    return True
        return False

    def is_clinical(self, word: str) -> bool:
        word = word.lower().strip(".'")
        return (word in self.clinical or (word.endswith("s") and len(word) > 4 and word[:-1] in self.clinical)
                or len(word) > 6 and MEDICAL_ENDING.search(word) is not None)

    def is_first_name(self, word: str) -> bool:
        return _name_key(word) in self.first_names

    def is_surname(self, word: str, max_rank: int = COMMON_SURNAME_RANK) -> bool:
        return self.surnames.get(_name_key(word), max_rank + 1) <= max_rank

    def is_nameish(self, word: str) -> bool:
        return self.is_first_name(word) or self.is_surname(word)

    def is_name_only(self, word: str) -> bool:
        """A census name that is neither English nor clinical ("karen", "reyes", "haas")."""
        word = _name_key(word)
        return (len(word) >= 3 and (word in self.first_names or word in self.surnames)
                and not self.is_english(word) and not self.is_clinical(word))

    def is_unknown(self, word: str) -> bool:
        """Known to no list: a rare surname ("okafor", "sa'idu"), a typo, or shorthand.
        A possessive is judged by its word ("ignac's"); a contraction is never unknown."""
        word = bare_word(word.lower())
        if "'" in word:
            if word.endswith(CONTRACTIONS) or word in APOSTROPHE_WORDS:
                return False
            word_letters = word.replace("'", "")
            return (len(word_letters) >= 3 and word_letters.isalpha() and word_letters not in self.first_names
                    and word_letters not in self.surnames and not self.is_english(word_letters))
        return (len(word) >= 3 and word.isalpha() and not self.is_english(word)
                and not self.is_clinical(word) and word not in self.first_names
                and word not in self.surnames and not self.is_swapped_word(word))

    def is_swapped_word(self, word: str) -> bool:
        """A frequent word with two neighbouring letters swapped, as typed in a hurry
        ("pateint", "recieved"): a typo, not a name."""
        if len(word) < 5:
            return False
        from wordfreq import zipf_frequency

        for i in range(len(word) - 1):
            swapped = word[:i] + word[i + 1] + word[i] + word[i + 2:]
            if swapped != word and (swapped in self.english or self.is_clinical(swapped)) \
                    and zipf_frequency(swapped, "en") >= SWAPPED_WORD_ZIPF:
                return True
        return False


@lru_cache(maxsize=1)
def vocabulary() -> Vocabulary:
    from english_words import get_english_words_set

    from medllm_local.core.abbreviations import medical_words
    from medllm_local.stages.deid.rules import CLINICAL_WORDS

    english = frozenset({w for w in get_english_words_set(["web2"], lower=False) if w.islower()}
                        | {w for line in _read("english_extra.txt") for w in line.split()})
    abbreviations = set()
    for line in _read("abbreviations.tsv"):
        columns = line.split("\t")
        abbreviations.add(columns[0].lower())
        if len(columns) > 2:
            abbreviations.update(v.strip().lower() for v in columns[2].split(",") if v.strip())
    first = {name: rank for rank, name in enumerate(_read("first_names.txt"))}
    last = {name: rank for rank, name in enumerate(_read("surnames.txt"))}
    # a drug name that is also a common name ("allegra", "johnson") stays a possible name
    drugs = {w for w in _read("drug_names.txt") if w not in first and last.get(w, 10**6) >= 5000}
    clinical = (set(CLINICAL_WORDS) | set(medical_words()) | {w for line in _read("clinical_words.txt") for w in line.split()}
                | drugs | abbreviations)
    places = frozenset(_read("us_places.txt"))
    place_words = frozenset(w for p in places for w in re.findall(r"[a-z]+", p))
    return Vocabulary(english, frozenset(clinical), first, last, places, place_words)
