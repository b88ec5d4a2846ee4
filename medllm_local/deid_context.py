"""Names, facilities and places found by their words and context, in any letter case.

spaCy's small English model learned names from capitalised news text: it misses "dr
okafor", "HUSBAND TOM AWARE" and "KAREN" signing a note, and it calls "Denies" or
"Protonix" a person. This pass does not look at capitals. It reads each word against
the vocabularies of deid_vocab.py (English, census names, clinical words and drugs, US
places) and the words around it (titles, roles, relatives, contact verbs, credentials,
facility words, "lives in"), in the spirit of Philter's safe-list approach: a word that
is a name and not an English or clinical word is removed wherever it stands; an English
word that is also a name ("white", "tom") only where the context says it is one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from medllm_local.deid_vocab import Vocabulary, vocabulary
from medllm_local.records import Finding

TITLES = {"dr", "doctor", "mr", "mrs", "ms", "miss", "mx", "prof", "professor", "drs"}
# Relatives and staff: the next name-like word is a name even when it is also English.
ROLE_WORDS = {
    "husband", "wife", "son", "daughter", "dtr", "mother", "mom", "mum", "father", "dad",
    "sister", "brother", "sis", "bro", "friend", "niece", "nephew", "aunt", "uncle",
    "grandson", "granddaughter", "grandmother", "grandfather", "grandma", "grandpa",
    "gdtr", "gson", "hcp", "proxy", "spouse", "partner", "fiance", "fiancee", "girlfriend",
    "boyfriend", "neighbor", "neighbour", "cousin", "stepson", "stepdaughter", "caregiver",
    "rn", "np", "resident", "intern", "attending", "fellow", "nurse", "cm", "sw", "chaplain",
    "pharmacist", "pcp", "hospitalist", "intensivist", "cardiologist", "surgeon",
    "nephrologist", "neurologist", "oncologist", "pulmonologist", "therapist", "dietitian",
    "nutritionist", "staff", "housestaff", "covering", "provider", "physician", "doc",
}
ROLE_PHRASES = {("house", "staff"), ("case", "manager"), ("social", "worker"),
                ("spoke", "with"), ("spoke", "to"), ("talked", "with"), ("talked", "to"),
                ("discussed", "with"), ("seen", "by"), ("care", "of"), ("d", "w"),
                ("family", "member"), ("next", "of", "kin")}
# Weaker: a name follows only when the word is a name and not also English ("per haas").
WEAK_TRIGGERS = {"per", "with", "w", "by", "called", "paged", "notified", "informed",
                 "updated", "asked", "told", "from", "to", "and", "cc", "via", "contacted",
                 "page", "call"}
CREDENTIALS = {"md", "rn", "np", "pa", "bsn", "lpn", "cna", "rrt", "msw", "lcsw", "pharmd",
               "phd", "aprn", "crna", "pac", "dnp", "mph", "facp", "facc", "mbbs", "do"}
# Words never part of a name, whatever the lists say.
STOP = set("""
a an the and or but if of in on at to from by for with without w wo into onto over under
is was are were be been being am has have had do does did will would shall should can
could may might must not no nor yes ok okay
he she it they we you i me him her his hers its their them our us your my this that these
those there here where when what which who whom whose why how all any each every some
none both either neither other another such same own so than too very just only also
again still then now once later soon today tonight tomorrow yesterday am pm
aware notified called paged informed updated asked told spoke talked discussed see seen
saw said says stated states reports reported agrees agreed requests requested wants
wanted feels felt thinks knows aware at bedside present in to visit visiting visited
came come coming went going gone left leave leaving arrived arrive stay stayed staying
will plan plans planned order orders ordered note notes noted review reviewed
team service services unit floor room bed office clinic phone call calls message
patient pt pts family member members staff nurse nursing doctor md rn np resident
attending intern fellow on-call oncall covering consult consulted consulting consults
re regarding about after before during while since until per via
""".split())
# First names that are mostly English words in notes ("son will visit", "may need").
AMBIGUOUS_FIRST = {"will", "may", "june", "april", "august", "grace", "hope", "faith",
                   "joy", "rose", "bill", "mark", "pat", "sue", "art", "ray", "don", "guy",
                   "jack", "frank", "rich", "gene", "dawn", "summer", "autumn", "eve", "lee",
                   "jean", "earl", "chance", "page", "penny", "max", "sunny", "sky", "sage",
                   "bob", "bud", "jay", "hunter", "major", "king", "sterling", "miles",
                   "chase", "rod", "sandy", "cliff", "dale", "glen", "wade", "drew", "pierce"}
FACILITY_HEADS = re.compile(
    r"\b(?:hospital|hosp|medical cent(?:er|re)|medical ctr|med ctr|med cent(?:er|re)|"
    r"health cent(?:er|re)|health ctr|healthcare|health care cent(?:er|re)|clinic|infirmary|"
    r"nursing home|nursing (?:and )?rehab(?:ilitation)?(?: cent(?:er|re))?|nursing cent(?:er|re)|"
    r"rehab(?:ilitation)? (?:cent(?:er|re)|ctr|hospital|facility)|care cent(?:er|re)|manor|"
    r"assisted living|senior living|skilled nursing(?: facility)?|hospice|medical group|"
    r"memorial|rehab|rehabilitation|nursing facility|snf|ltac|home for the aged)\b", re.IGNORECASE)
SAINT_WORDS = {"st", "saint", "mt", "mount", "ste", "san", "santa"}
# Words that name no facility by themselves ("Community Hospital" stays).
GENERIC_FACILITY = {"general", "community", "county", "regional", "university", "city",
                    "medical", "memorial", "central", "state", "public", "private", "local",
                    "outside", "osh", "childrens", "children's", "womens", "women's", "va",
                    "veterans", "psychiatric", "teaching", "district", "rural", "area",
                    "the", "a", "an", "rehab", "nursing", "care", "health", "day", "new"}
PLACE_TRIGGERS = {("lives", "in"), ("living", "in"), ("resides", "in"), ("resident", "of"),
                  ("moved", "to"), ("moving", "to"), ("visiting", "from"), ("home", "in"),
                  ("native", "of"), ("born", "in"), ("trip", "to"), ("travel", "to"),
                  ("traveled", "to"), ("travelled", "to"), ("vacation", "in"), ("lives",),
                  ("from",), ("to",), ("in",), ("at",), ("near",), ("outside",)}
FACILITY_CONTEXT_BEFORE = {"to", "from", "at", "osh", "tx", "transfer", "transferred", "the",
                           "via", "sent", "admitted", "discharged", "dc", "followed", "seen"}
FACILITY_CONTEXT_AFTER = {"nurse", "nurses", "er", "ed", "icu", "team", "clinic", "hospital",
                          "staff", "rehab", "ambulance", "ems", "records", "md", "physician",
                          "doctor", "transfer", "campus"}

WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?")


@dataclass
class Token:
    start: int
    end: int
    text: str
    lower: str


def _tokens(text: str) -> list[Token]:
    return [Token(m.start(), m.end(), m.group(), m.group().lower()) for m in WORD.finditer(text)]


class ContextFinder:
    """Finds name, facility and place spans in one (folded) text."""

    def __init__(self, vocab: Vocabulary | None = None):
        self.vocab = vocab or vocabulary()

    # -- word tests --------------------------------------------------------------------
    def _common(self, word: str) -> bool:
        """An everyday English word (so not a name by itself): in the dictionary and
        frequent in English text."""
        from wordfreq import zipf_frequency

        return self.vocab.is_english(word) and zipf_frequency(word, "en") >= 4.0

    def _name_like(self, token: Token, strength: str) -> bool:
        """Whether ``token`` can be (part of) a name, given how strong the context is:
        'title' (after Dr.), 'strong' (after a role), 'weak', or 'none'."""
        word = token.lower
        if word in STOP or word in CREDENTIALS or len(word) < 2 \
                or not word.isalpha() and "'" not in word:
            return False
        if strength == "title":
            return not self.vocab.is_clinical(word) or self.vocab.is_nameish(word)
        if self.vocab.is_clinical(word) and not self.vocab.is_name_only(word):
            return False
        if self.vocab.is_name_only(word):
            return True
        if strength == "strong":
            return word not in AMBIGUOUS_FIRST and (self.vocab.is_nameish(word)
                                                    or self.vocab.is_unknown(word))
        if strength == "weak":
            return self.vocab.is_unknown(word) and token.text[:1].isupper()
        return False

    def _continues(self, token: Token) -> bool:
        """A further word of a name already started ("ann REYES", "J. MORROW")."""
        word = token.lower
        if word in STOP or word in CREDENTIALS or self.vocab.is_clinical(word) \
                and not self.vocab.is_name_only(word):
            return False
        return (self.vocab.is_nameish(word) or self.vocab.is_unknown(word)
                or not self._common(word) and word.isalpha() and len(word) > 2)

    # -- the pass ------------------------------------------------------------------------
    def find(self, text: str) -> list[Finding]:
        tokens = _tokens(text)
        letters = [c for c in text if c.isalpha()]
        upper = sum(c.isupper() for c in letters)
        mixed_case = bool(letters) and 0.05 < upper / len(letters) < 0.6
        found: list[Finding] = []

        def adjacent(left: Token, right: Token, allow_newline: bool = False) -> bool:
            gap = text[left.end:right.start]
            if len(gap) > 3 or (not allow_newline and "\n" in gap):
                return False
            return re.fullmatch(r"[ \t.,/@]*" if allow_newline else r"\.?[ \t]*|/|[ \t]*-[ \t]*", gap) is not None

        def initial(index: int) -> bool:
            token = tokens[index]
            return len(token.text) == 1 and text[token.end:token.end + 1] == "."

        def take_name(index: int, strength: str, rule: str) -> int:
            """A name starting at ``tokens[index]``; returns the index after it."""
            if index >= len(tokens):
                return index
            if not (initial(index) or self._name_like(tokens[index], strength)):
                return index
            end = index + 1
            while end < len(tokens) and end - index < 4 and adjacent(tokens[end - 1], tokens[end]) \
                    and (initial(end) or self._continues(tokens[end])):
                end += 1
            if all(initial(k) or len(tokens[k].text) == 1 for k in range(index, end)):
                return index  # initials alone are no name ("S.O.B.", "w/ A. fib")
            start_char = tokens[index].start
            end_char = tokens[end - 1].end + (1 if initial(end - 1) else 0)
            found.append(Finding(start_char, end_char, "PERSON", 0.85, f"context:{rule}",
                                 text[start_char:end_char]))
            return end

        for i, token in enumerate(tokens):
            word = token.lower
            nxt = i + 1
            if word in TITLES and nxt < len(tokens) and adjacent(token, tokens[nxt]):
                take_name(nxt, "title", "title")
                continue
            phrase = next((p for p in ROLE_PHRASES
                           if tuple(t.lower for t in tokens[i:i + len(p)]) == p), None)
            if phrase:
                last = tokens[i + len(phrase) - 1]
                if nxt + len(phrase) - 1 < len(tokens) and adjacent(last, tokens[i + len(phrase)]):
                    j = i + len(phrase)
                    if tokens[j].lower in TITLES:
                        continue
                    take_name(j, "strong", "role")
                continue
            if word in ROLE_WORDS and nxt < len(tokens) and adjacent(token, tokens[nxt]):
                if tokens[nxt].lower not in TITLES:
                    take_name(nxt, "strong", "role")
            elif word in WEAK_TRIGGERS and nxt < len(tokens) and adjacent(token, tokens[nxt]):
                take_name(nxt, "weak", "contact")

        for i, token in enumerate(tokens):
            # a census name that is no English or clinical word, anywhere ("KAREN")
            if self.vocab.is_name_only(token.lower) and token.lower not in STOP \
                    and len(token.lower) >= 4 and not self._common(token.lower):
                first = i
                while first > 0 and first > i - 2 and adjacent(tokens[first - 1], tokens[first]) \
                        and (initial(first - 1) or (self.vocab.is_first_name(tokens[first - 1].lower)
                             and tokens[first - 1].lower not in STOP
                             and not self.vocab.is_clinical(tokens[first - 1].lower))):
                    first -= 1
                take_name(first, "title", "name_word")
            # initial + surname ("J. MORROW"), first name + surname ("GRACE WHITE")
            elif i + 1 < len(tokens) and adjacent(token, tokens[i + 1]):
                following = tokens[i + 1].lower
                surname_next = (self.vocab.is_surname(following) or self.vocab.is_unknown(following)) \
                    and following not in STOP and not self.vocab.is_clinical(following)
                if initial(i) and surname_next and len(following) > 2:
                    take_name(i, "title", "initial_surname")
                elif (surname_next and self.vocab.first_names.get(token.lower, 10**6) < 1500
                      and token.lower not in AMBIGUOUS_FIRST and token.lower not in STOP
                      and not self._common(following)):
                    take_name(i, "title", "first_last")
            # names before a credential ("ann reyes rn", "J. MORROW RN/BSN")
            if token.lower in CREDENTIALS and i > 0 and adjacent(tokens[i - 1], token) \
                    and (token.lower != "do" or token.text == "DO") \
                    and (token.lower != "pa" or token.text.isupper()):
                first = i
                while first > 0 and i - first < 3 and adjacent(tokens[first - 1], tokens[first]) \
                        and (initial(first - 1) or self._continues(tokens[first - 1])):
                    first -= 1
                if first < i:
                    take_name(first, "title", "credential")
                elif re.fullmatch(r"[A-Za-z]{2,3}", tokens[i - 1].text) \
                        and not self.vocab.is_english(tokens[i - 1].lower) \
                        and not self.vocab.is_clinical(tokens[i - 1].lower) \
                        and tokens[i - 1].lower not in STOP | CREDENTIALS:
                    prev = tokens[i - 1]  # initials: "/pw rn", "JM RN"
                    found.append(Finding(prev.start, prev.end, "PERSON", 0.7, "context:initials",
                                         prev.text))

        self._signature(text, tokens, found, take_name)
        found += self._facilities(text, tokens, mixed_case)
        found += self._places(text, tokens, mixed_case)
        return found

    def _signature(self, text, tokens, found, take_name) -> None:
        """The last words of a note, after its last full stop or line break, when they
        are all name-like: a signature ("... 900U/HR. KAREN", "-jim")."""
        if not tokens:
            return
        tail_start = max(text.rfind("\n", 0, tokens[-1].start), text.rfind(". ", 0, tokens[-1].start))
        tail = [i for i, t in enumerate(tokens) if t.start > tail_start]
        tail = [i for i in tail if tokens[i].lower not in CREDENTIALS]
        if 0 < len(tail) <= 3 and all(
                (len(tokens[i].text) == 1 or self._name_like(tokens[i], "strong"))
                for i in tail):
            take_name(tail[0], "title", "signature")

    def _facilities(self, text: str, tokens: list[Token], mixed_case: bool) -> list[Finding]:
        found = []
        starts = {t.start: i for i, t in enumerate(tokens)}
        for match in FACILITY_HEADS.finditer(text):
            head = starts.get(match.start())
            if head is None:
                continue
            first = head
            while first > 0 and head - first < 4:
                prev = tokens[first - 1]
                gap = text[prev.end:tokens[first].start]
                if not re.fullmatch(r"\.?[ \t]*|'s[ \t]+|[ \t]*-[ \t]*", gap):
                    break
                word = prev.lower
                saint = first >= 2 and tokens[first - 2].lower in SAINT_WORDS
                if word in SAINT_WORDS:
                    first -= 1
                    continue
                if word in STOP and not saint or (self.vocab.is_clinical(word) and not saint) or \
                        (self._common(word) and word not in GENERIC_FACILITY
                         and not self.vocab.is_nameish(word) and not saint
                         and not (mixed_case and prev.text[:1].isupper())):
                    break
                first -= 1
            names = [t.lower for t in tokens[first:head]]
            if names and any(w not in GENERIC_FACILITY for w in names):
                start, end = tokens[first].start, match.end()
                found.append(Finding(start, end, "FACILITY", 0.85, "context:facility", text[start:end]))
        # their initials elsewhere in the note ("ST. ALBANS HOSPITAL" ... "tx to SAH"),
        # and acronyms that read as a facility in context ("seen by the BMC nurse")
        initials = {"".join(w[0] for w in re.findall(r"[A-Za-z]+", f.text)).upper() for f in found}
        initials |= {i[:-1] for i in initials if len(i) > 3}
        for i, token in enumerate(tokens):
            if not (token.text.isupper() and 2 <= len(token.text) <= 6):
                continue
            before = tokens[i - 1].lower if i > 0 else ""
            after = tokens[i + 1].lower if i + 1 < len(tokens) else ""
            in_context = before in FACILITY_CONTEXT_BEFORE or after in FACILITY_CONTEXT_AFTER
            looks_facility = re.fullmatch(r"[A-Z]{1,4}(?:H|MC|HC|MH|RH|CH)", token.text) is not None
            if token.text in initials or (in_context and looks_facility
                                          and not self.vocab.is_clinical(token.lower)) \
                    or (in_context and looks_facility and before in {"tx", "transfer", "transferred", "osh"}):
                found.append(Finding(token.start, token.end, "FACILITY", 0.8, "context:facility_acronym",
                                     token.text))
        return found

    def _places(self, text: str, tokens: list[Token], mixed_case: bool) -> list[Finding]:
        """US places: after "lives in", "from", "to" and the like, or by themselves when
        the place name is no English, clinical or name word ("framingham"); and any
        word no list knows after "from", "in", "to" or "near" (a town too small for the
        list: "tx from OSH in barbaraberg")."""
        found = []
        prefixes = {"north", "south", "east", "west", "new", "port", "fort", "mount", "mt",
                    "lake", "san", "santa", "el", "la", "los", "saint", "st", "upper", "lower"}
        for i in range(1, len(tokens)):
            if tokens[i - 1].lower not in {"from", "in", "to", "near", "of"} \
                    or not self._adjacent_place(text, tokens[i - 1], tokens[i]):
                continue
            first = i
            if tokens[i].lower in prefixes and i + 1 < len(tokens) \
                    and self._adjacent_place(text, tokens[i], tokens[i + 1]):
                i += 1
            if len(tokens[i].lower) >= 5 and self.vocab.is_unknown(tokens[i].lower):
                found.append(Finding(tokens[first].start, tokens[i].end, "LOCATION", 0.6,
                                     "context:unknown_place", text[tokens[first].start:tokens[i].end]))
        for i in range(len(tokens)):
            for size in (3, 2, 1):
                words = tokens[i:i + size]
                if len(words) < size or any(not self._adjacent_place(text, a, b)
                                            for a, b in zip(words, words[1:])):
                    continue
                name = " ".join(t.lower for t in words)
                if name not in self.vocab.places:
                    continue
                before = tuple(t.lower for t in tokens[max(0, i - 2):i])
                triggered = any(before[-len(p):] == p for p in PLACE_TRIGGERS if len(before) >= len(p))
                strong = any(before[-len(p):] == p for p in PLACE_TRIGGERS
                             if len(p) == 2 and len(before) >= 2)
                last = words[-1].lower
                clinical = any(self.vocab.is_clinical(t.lower) for t in words)
                common = size == 1 and self._common(last)
                distinctive = not any(self.vocab.is_english(t.lower) or self.vocab.is_nameish(t.lower)
                                      for t in words) and len(name) >= 5
                capitalised = mixed_case and all(t.text[:1].isupper() for t in words)
                if clinical or name in STOP:
                    break
                if distinctive or (strong and not common) or (triggered and (capitalised or not mixed_case) and not common) \
                        or (triggered and size > 1):
                    start, end = words[0].start, words[-1].end
                    found.append(Finding(start, end, "LOCATION", 0.8, "context:place", text[start:end]))
                    break
        return found

    @staticmethod
    def _adjacent_place(text: str, left: Token, right: Token) -> bool:
        return re.fullmatch(r"[ \t]|\.[ \t]|[ \t]*-[ \t]*", text[left.end:right.start]) is not None
