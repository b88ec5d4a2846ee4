"""Names, facilities and places found by their words and context, in any letter case.

spaCy's small English model learned names from capitalised news text: it misses "dr
okafor", "HUSBAND TOM AWARE" and "KAREN" signing a note, and it calls "Denies" or
"Protonix" a person. This pass does not look at capitals. It reads each word against
the vocabularies of stages/deid/vocab.py (English, census names, clinical words and drugs, US
places) and the words around it (titles, roles, relatives, contact verbs, credentials,
facility words, "lives in"), in the spirit of Philter's safe-list approach: a word that
is a name and not an English or clinical word is removed wherever it stands; an English
word that is also a name ("white", "tom") only where the context says it is one.
"""

from __future__ import annotations

import re

from medllm_local.core.records import Finding
from medllm_local.stages.deid.name_scan import NameScan, Token, is_mixed_case  # noqa: F401 (is_mixed_case: re-exported)
from medllm_local.stages.deid.name_words import (
    AFTER_NAME, AMBIGUOUS_FIRST, CREDENTIALS, FREQUENT_FIRST_RANK, FREQUENT_SURNAME_RANK, RARE_DERIVED_ZIPF,
    RARE_WORD_ZIPF, RELATIVE_RARE_ZIPF, ROLE_WORDS, STATE_ENDINGS, STOP, TITLES, VERB_LIKE_FIRST, WORD)
from medllm_local.stages.deid.vocab import Vocabulary, bare_word, vocabulary


class ContextFinder:
    """Finds name, facility and place spans in one (folded) text."""

    def __init__(self, vocab: Vocabulary | None = None):
        from medllm_local.stages.deid.places import PlaceFinder

        self.vocab = vocab or vocabulary()
        self.places = PlaceFinder(self.vocab, STOP, self._common)

    def _common(self, word: str) -> bool:
        """An everyday English word (so not a name by itself): in the dictionary and
        frequent in English text."""
        from wordfreq import zipf_frequency

        return self.vocab.is_english(word) and zipf_frequency(word, "en") >= 4.0

    def _rare(self, word: str, below: float = RARE_WORD_ZIPF) -> bool:
        """A dictionary word hardly ever written (wordfreq zipf under ``below``), or a
        rare word that is English only as an inflection (so, in a name's place, most
        likely a name)."""
        from wordfreq import zipf_frequency

        if not word.isalpha() or self.vocab.is_clinical(word) or self.vocab.is_swapped_word(word):
            return False  # a clinical word, or a typo of a frequent one ("pateint")
        if below > RARE_WORD_ZIPF and word.endswith(STATE_ENDINGS):
            return False  # "wife tearful", "PA Dosing": how someone is, or what is done
        zipf = zipf_frequency(word, "en")
        return zipf < below or zipf < RARE_DERIVED_ZIPF and word not in self.vocab.english

    def _frequent_name(self, word: str, titled: bool = False) -> bool:
        """A frequent census first name ("maria"); after a title also a frequent surname
        ("dr white") or a name that is mostly a word ("Dr. Grace")."""
        if titled:
            return (self.vocab.first_names.get(word, 10**6) < FREQUENT_FIRST_RANK
                    or self.vocab.surnames.get(word, 10**6) < FREQUENT_SURNAME_RANK)
        return word not in AMBIGUOUS_FIRST and self.vocab.first_names.get(word, 10**6) < FREQUENT_FIRST_RANK

    def name_like(self, token: Token, strength: str, capitalised: bool = False, *,
                  mixed_case: bool) -> bool:
        """Whether ``token`` can start a name, given how strong the context is: 'title'
        (after Dr.), 'strong' (a label, a signature line), 'role' (after a staff role:
        'strong' and an uncommon word too, "house staff bilge"), 'relative' (after one:
        'role', and a first name that is also a word, "FRIEND MARK"), 'medium' ("pt",
        "per", a list),
        'contact' (after "paged", "called"), 'weak' (after "with", "from");
        'credential' (before MD or RN) is 'strong'."""
        word = bare_word(token.lower)
        if strength == "title" and mixed_case and token.text.isupper() and len(word) > 2 \
                and not self.vocab.is_clinical(word) and (self.vocab.is_nameish(word) or not self._common(word)):
            return True  # a name in capitals in mixed-case text, even a word: "Dictated by DR MAY"
        if word in STOP or word in CREDENTIALS or word in ROLE_WORDS or word in AFTER_NAME or word in TITLES \
                or len(word) < 2 \
                or not word.isalpha() and "'" not in word:
            return False
        if strength == "nickname":  # "PREFERS TO BE CALLED DOT": whatever word it is
            return True
        if strength == "title":  # "Dr. Cough" and "dr white" are names; "per dr. given" is not
            if capitalised or self.vocab.is_unknown(word):
                return True
            if self.vocab.is_nameish(word):  # "Dr. Grace", "dr white"
                return not self._common(word) or self._frequent_name(word, titled=True)
            return not self.vocab.is_clinical(word) and not self._common(word)
        if strength == "credential" and self.vocab.is_surname(word) and word not in AMBIGUOUS_FIRST:
            return True  # "per Zimmer M.D.": a surname that is also a clinical word
        if self.vocab.is_clinical(word) and not self.vocab.is_name_only(word):
            return False
        if self.vocab.is_name_only(word) or self.vocab.is_unknown(word) and strength != "weak":
            return True
        if strength in ("strong", "role", "relative", "credential"):  # "husband tom", "her husband Arjun White", "NP King"
            # after a relative a first name that is also a word is still a name ("FRIEND
            # MARK"), unless it reads as the verb that follows ("son will", "wife hopes")
            ambiguous_ok = capitalised or strength == "relative" and word not in VERB_LIKE_FIRST
            if not capitalised and word.endswith("s") and not self.vocab.is_first_name(word) \
                    and self.vocab.is_english(word[:-1]) and self._common(word):
                return False  # the verb after the person: "wife hopes", "son wants"
            return (word not in AMBIGUOUS_FIRST or ambiguous_ok) and (
                self.vocab.is_nameish(word) or capitalised and not self._common(word)
                or self._rare(word, RELATIVE_RARE_ZIPF if strength in ("relative", "role") else RARE_WORD_ZIPF))
        if strength == "medium":  # a capitalised name in mixed case is one ("NP King", "RN Mark")
            return self.vocab.is_nameish(word) and (capitalised or word not in AMBIGUOUS_FIRST and (
                not self._common(word) or self._frequent_name(word))) \
                or capitalised and self._rare(word, RELATIVE_RARE_ZIPF)  # "called to PA Kulkarni"
        if strength in ("contact", "weak"):  # in ALL-CAPS or lower-case notes a capital says nothing;
            # after "paged" a person is reached, so a rare word or a frequent first name is
            # a name too ("PAGED JURE X3", "CALLED CARL")
            return (self.vocab.is_unknown(word) or strength == "contact"
                    and (self._rare(word) or self._frequent_name(word))) \
                and (token.text[:1].isupper() or not mixed_case)
        return False

    def continues(self, token: Token) -> bool:
        """A further word of a name already started ("ann REYES", "J. MORROW")."""
        word = bare_word(token.lower)
        if word in STOP or word in CREDENTIALS or word in AFTER_NAME or self.vocab.is_clinical(word) \
                and not self.vocab.is_name_only(word):
            return False  # "PROXY THERESA PREFERS ...": the name ends before "prefers"
        return (self.vocab.is_nameish(word) or self.vocab.is_unknown(word)
                or not self._common(word) and word.isalpha() and len(word) > 2)

    def find(self, text: str) -> list[Finding]:
        scan = NameScan(self, text)
        scan.run()
        return scan.found + self.places.find(text, scan.tokens, scan.mixed_case)


def truecase(text: str, vocab: Vocabulary | None = None) -> str:
    """An ALL-CAPS or all-lower-case text with capitals where a writer would put them:
    sentence starts and census names that are no English word, and first names,
    capitalised; clinical abbreviations in capitals; everything else lower case. Mixed-case text is returned
    as it is. The result has the same length, so offsets carry over."""
    if is_mixed_case(text):
        return text
    vocab = vocab or vocabulary()
    out = list(text.lower())
    sentence_start = True
    for match in WORD.finditer(text):
        word = match.group().lower()
        start = match.start()
        before = text[max(0, start - 3):start]
        if re.search(r"[.!?:\n]\s*$", before) or start == 0:
            sentence_start = True
        if vocab.is_name_only(word) or word in vocab.first_names and word not in STOP \
                and word not in AMBIGUOUS_FIRST and not vocab.is_clinical(word):
            out[start] = out[start].upper()  # "karen", "victor"; not "brown stool"
        elif vocab.is_clinical(word) and len(word) <= 5 and not vocab.is_english(word):
            out[start:match.end()] = word.upper()  # "chf", "htn": abbreviations
        if sentence_start:
            out[start] = out[start].upper()
            sentence_start = False
    return "".join(out)
