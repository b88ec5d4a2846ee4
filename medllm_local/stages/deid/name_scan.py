"""One text's pass of the context finder (stages/deid/context.py): its tokens, read left to
right for titles, roles, relatives, contact verbs, credentials, lists and signatures, and
the name spans they put beside them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from medllm_local.stages.deid.name_words import (
    AFTER_NAME, AMBIGUOUS_FIRST, COMMON_FIRST_RANK, CONTACT_VERBS, CREDENTIALS, DASH_SIGNATURE, DOTTED_CREDENTIAL,
    IS_A_AGE, LABEL_BEFORE, LIST_JOINS, NICKNAME, PARTICLES, PHRASES_BY_FIRST, RELATIVE_WORDS,
    ROLE_GAP, ROLE_WORDS, SIGN_OFFS, STAFF_ABBREVIATIONS, STOP, TITLES, WEAK_TRIGGERS, WORD)
from medllm_local.stages.deid.vocab import bare_word
from medllm_local.core.records import Finding

if TYPE_CHECKING:
    from medllm_local.stages.deid.context import ContextFinder


@dataclass
class Token:
    start: int
    end: int
    text: str
    lower: str


def tokens_of(text: str) -> list[Token]:
    return [Token(m.start(), m.end(), m.group(), m.group().lower()) for m in WORD.finditer(text)]



class NameScan:
    """One text's tokens and the names found in them."""

    def __init__(self, finder: ContextFinder, text: str):
        self.finder, self.vocab, self.text = finder, finder.vocab, text
        self.tokens = tokens_of(text)
        self.mixed_case = is_mixed_case(text)
        self.found: list[Finding] = []

    # -- helpers -----------------------------------------------------------------------
    def gap(self, index: int) -> str:
        """The text between token ``index - 1`` and token ``index``."""
        return self.text[self.tokens[index - 1].end:self.tokens[index].start]

    def adjacent(self, index: int) -> bool:
        """Token ``index`` directly follows the one before, as words of a name do."""
        if not 0 < index < len(self.tokens):
            return False
        gap, before = self.gap(index), self.tokens[index - 1].lower
        if gap.startswith("."):  # "J. Morrow", "Dr. Haas", "St. Albans"; not a full stop
            return (len(before) == 1 or before in TITLES or before in PARTICLES) \
                and re.fullmatch(r"\.[ \t]{0,2}", gap) is not None
        return re.fullmatch(r"[ \t]{1,3}|/|[ \t]*-[ \t]*", gap) is not None

    def capitalised(self, index: int) -> bool:
        """A capital in mixed-case text is evidence of a name; an acronym ("MRI") is not."""
        text = self.tokens[index].text
        return self.mixed_case and text[:1].isupper() and not text.isupper()

    def initial(self, index: int) -> bool:
        token = self.tokens[index]  # not the unit of "+1.2L. Foley draining"
        return len(token.text) == 1 and self.text[token.end:token.end + 1] == "." \
            and not self.text[max(0, token.start - 1):token.start].isalnum()

    def particle(self, index: int) -> bool:
        """"O" of "O Hogain", "van" of "van Dijk", "mac an" of "Mac an Mhaistir": part of a
        name when a word that can go on a name follows ("dr.mac cuarta", "DE BRUIN")."""
        tokens, lower = self.tokens, self.tokens[index].lower
        if lower in ("mac", "nic") and index + 2 < len(tokens) and tokens[index + 1].lower == "an" \
                and self.adjacent(index + 1) and self.adjacent(index + 2):
            return True
        if lower == "an" and index > 0 and tokens[index - 1].lower in ("mac", "nic") and self.adjacent(index) \
                and index + 1 < len(tokens) and self.adjacent(index + 1):
            return True
        following = tokens[index + 1] if index + 1 < len(tokens) else None
        if lower not in PARTICLES or following is None or not self.adjacent(index + 1):
            return False
        word = following.lower
        if word in PARTICLES and word != lower and self.particle(index + 1) or self.closing_o(index + 1):
            return True  # "de la Cruz", "van der Berg", "Drs. de la o & vavra"
        return (self.vocab.is_nameish(word) or self.vocab.is_name_only(word) or self.vocab.is_unknown(word)
                or self.finder.continues(following))

    def hyphen_part(self, index: int) -> bool:
        """The second half of a double-barrelled name, even an English word: "ford-loyal"."""
        word = self.tokens[index].lower
        return self.gap(index) == "-" and word.isalpha() and len(word) > 1 and word not in STOP \
            and not self.vocab.is_clinical(word)

    def closing_o(self, index: int) -> bool:
        """The "O" of "de la O" (a Spanish surname), possessive or not."""
        return 1 < index < len(self.tokens) and bare_word(self.tokens[index].lower) == "o" \
            and self.tokens[index - 1].lower == "la" and self.tokens[index - 2].lower == "de" \
            and self.adjacent(index) and self.adjacent(index - 1)

    def first_name_word(self, index: int) -> bool:
        """A frequent census first name, even one that is also a word ("may", "summer")."""
        word = self.tokens[index].lower
        return self.vocab.first_names.get(word, 10**6) < COMMON_FIRST_RANK \
            and (word not in STOP or word in AMBIGUOUS_FIRST) and not self.vocab.is_clinical(word)

    def first_name_before_credential(self, first: int, index: int) -> int | None:
        """Where a name before the credential at ``index`` starts when a first name leads
        it that ``take`` would not start on, its surname starting at ``first`` (``index``:
        nothing taken): "MAY KIM, RN", "-summer liu, rn", and, before a surname that is a
        word, an unambiguous first name: "SARA CONTRACTOR, M.D."."""
        tokens = self.tokens
        if first == index:
            surname = tokens[index - 1].lower if index >= 1 else ""
            return index - 2 if index >= 2 and self.adjacent(index - 1) and self.first_name_word(index - 2) \
                and tokens[index - 2].lower not in AMBIGUOUS_FIRST and surname.isalpha() and surname not in STOP \
                and not self.vocab.is_clinical(surname) else None
        if first > 0 and self.adjacent(first) and self.first_name_word(first - 1):
            return first - 1
        return first if first < index - 1 and self.first_name_word(first) else None

    def alone_on_line(self, index: int) -> bool:
        token = self.tokens[index]
        line_start = self.text.rfind("\n", 0, token.start) + 1
        line_end = self.text.find("\n", token.end)
        line = self.text[line_start:len(self.text) if line_end < 0 else line_end]
        return line.strip(" \t-,") == token.text

    def surname(self, index: int) -> None:
        """Token ``index`` as the surname of the name before it, when the name stopped short
        of it (a clinical word: "Chantal Colon")."""
        token = self.tokens[index]
        self.found.append(Finding(token.start, token.end, "PERSON", 0.85, "context:surname", token.text))

    def list_next(self, end: int) -> int | None:
        """The token that goes on a list after the word ending at ``end - 1`` ("Marin &
        Michnowicz", "SAYIN, LESLIE AND JELLE", "gyamfi/raynaud"), or None."""
        if end >= len(self.tokens):
            return None
        if LIST_JOINS.fullmatch(self.gap(end)):
            return end
        if self.tokens[end].lower == "and" and end + 1 < len(self.tokens) \
                and re.fullmatch(r",?[ \t]+", self.gap(end)) and re.fullmatch(r"[ \t]+", self.gap(end + 1)):
            return end + 1
        return None

    def list_before(self, start: int) -> int | None:
        """The list member ending just before token ``start``, or None."""
        if start <= 0:
            return None
        if LIST_JOINS.fullmatch(self.gap(start)):
            return start - 1
        if start >= 2 and self.tokens[start - 1].lower == "and" \
                and re.fullmatch(r"[ \t]+", self.gap(start)) and re.fullmatch(r",?[ \t]+", self.gap(start - 1)):
            return start - 2
        return None

    def take(self, index: int, strength: str, rule: str, lists: bool = True,
             list_strength: str = "medium") -> int:
        """A name starting at token ``index`` (with what follows it in a list: "Drs
        Marin & Michnowicz", "w/ SAYIN, LESLIE AND JELLE", each judged at
        ``list_strength``); returns the index after it."""
        tokens = self.tokens
        capitalised = index < len(tokens) and self.capitalised(index)
        if index >= len(tokens) or not (self.initial(index) or self.particle(index)
                                        or self.finder.name_like(tokens[index], strength, capitalised,
                                                                 mixed_case=self.mixed_case)):
            return index
        end = index + 1
        while end < len(tokens) and end - index < 5 and self.adjacent(end) and (
                self.initial(end) or self.particle(end) or self.closing_o(end)
                or self.finder.continues(tokens[end]) or self.hyphen_part(end)):
            end += 1
        # "DR. K. SARIN": after a title and initials the next word is the surname, even
        # one that is also a clinical word
        if strength == "title" and end < len(tokens) and self.adjacent(end) \
                and all(self.initial(k) for k in range(index, end)) and tokens[end].lower.isalpha() \
                and len(tokens[end].text) > 1 and tokens[end].lower not in STOP | CREDENTIALS:
            end += 1
        if all(self.initial(k) or len(tokens[k].text) == 1 for k in range(index, end)):
            return index  # initials alone are no name ("S.O.B.", "w/ A. fib")
        start_char = tokens[index].start
        end_char = tokens[end - 1].end + (1 if self.initial(end - 1) else 0)
        if bare_word(tokens[end - 1].text) != tokens[end - 1].text:
            end_char -= 2  # "BRO IGNAC'S CAR": the name without its possessive
        self.found.append(Finding(start_char, end_char, "PERSON", 0.85, f"context:{rule}",
                                  self.text[start_char:end_char]))
        follower = self.list_next(end) if lists else None
        if follower is not None:
            follower += 1 if tokens[follower].lower in TITLES else 0
            return self.take(follower, list_strength, rule, list_strength=list_strength)
        return end

    def take_before(self, index: int, rule: str, strength: str = "medium") -> None:
        """The name ending just before token ``index`` ("JURISIC aware"); ``strength``:
        how sure the context is that a name stands there."""
        first = index
        while first > 0 and index - first < 4 and (first == index or self.adjacent(first)) \
                and (self.initial(first - 1) or self.particle(first - 1)
                     or self.finder.continues(self.tokens[first - 1])
                     or strength in ("title", "credential") and first == index
                     and self.finder.name_like(self.tokens[first - 1], "title", mixed_case=self.mixed_case)):
            first -= 1
        lead = self.first_name_before_credential(first, index) if strength == "credential" else None
        if lead is not None:
            start, end = self.tokens[lead].start, self.tokens[index - 1].end
            self.found.append(Finding(start, end, "PERSON", 0.85, f"context:{rule}", self.text[start:end]))
            return
        if first < index and self.finder.name_like(self.tokens[first], strength, self.capitalised(first),
                                                   mixed_case=self.mixed_case) \
                or first < index - 1:
            self.take(first, "title", rule, lists=False)
            # "Gungordu, Borivoj and Rohat (children)": the list before it too
            previous = self.list_before(first) if rule == "role_after" else None
            while previous is not None and self.finder.name_like(self.tokens[previous], "strong",
                                                                 self.capitalised(previous),
                                                                 mixed_case=self.mixed_case):
                self.take(previous, "title", rule, lists=False)
                previous = self.list_before(previous)

    # -- the pass ----------------------------------------------------------------------
    def run(self) -> None:
        tokens, vocab = self.tokens, self.vocab
        for i, token in enumerate(tokens):
            word, nxt = token.lower, i + 1
            # the last word only looks back ("... Ottavio (grandsons)", "... JURISIC AWARE")
            last = nxt >= len(tokens)
            gap = "" if last else self.gap(nxt)
            if word in TITLES and self.adjacent(nxt):
                # after a title a list holds names too: "drs gyamfi/raynaud", "Dr Odunsi/Cerna"
                self.take(nxt, "title", "title", list_strength="title")
                continue
            phrase = next((p for p in PHRASES_BY_FIRST.get(word, ())
                           if tuple(t.lower for t in tokens[i:i + len(p)]) == p), None)
            if phrase:
                j = i + len(phrase)
                if j < len(tokens) and ROLE_GAP.fullmatch(self.gap(j)) and tokens[j].lower not in TITLES:
                    self.take(j, "role", "role")
                continue
            if word in ROLE_WORDS and not last and ROLE_GAP.fullmatch(gap) and "\n" not in gap \
                    and tokens[nxt].lower not in TITLES:
                # an abbreviated role has a second sense ("NP swab": nasopharyngeal), so the
                # uncommon-word bar of a spelt-out role does not apply to it
                self.take(nxt, "relative" if word in RELATIVE_WORDS else "role" if len(word) > 3 else "strong",
                          "role")
            elif word in STAFF_ABBREVIATIONS and self.adjacent(nxt):
                self.take(nxt, "medium", "role")
            elif word in WEAK_TRIGGERS and self.adjacent(nxt):
                self.take(nxt, "contact" if word in CONTACT_VERBS else "weak", "contact")
            before = self.text[max(0, token.start - 30):token.start]
            if NICKNAME.search(before):
                self.take(i, "nickname", "nickname")
            if LABEL_BEFORE.search(before):
                self.take(i, "strong", "label")
            # "sherry oak (brother)", "Maria (daughter)"
            if word in ROLE_WORDS and i > 0 and re.fullmatch(r"[ \t]*\(", self.gap(i)):
                self.take_before(i, "role_after")
            if word in AFTER_NAME and i > 0 and self.adjacent(i):
                # one word opening a clause before "aware" is its subject: a rare word
                # there is a name ("..., barad aware"), as after a relative
                clause_start = i == 1 or re.search(r"(?:^|[\n,;.:])[ \t]*$",
                                                   self.text[max(0, tokens[i - 1].start - 4):tokens[i - 1].start])
                self.take_before(i, "said_of", "relative" if clause_start else "medium")
            # the line after a sign-off ("Best,\nFaith", "Thanks,\nDr. Patel")
            if word in SIGN_OFFS and not last and re.fullmatch(r",?[ \t]*\n[ \t]*-?[ \t]*", self.gap(nxt)):
                if self.take(nxt + (1 if tokens[nxt].lower in TITLES else 0), "title", "sign_off",
                             lists=False) == nxt and self.alone_on_line(nxt) and tokens[nxt].text[:1].isupper() \
                        and vocab.is_first_name(tokens[nxt].lower):
                    self.surname(nxt)  # a first name that is also a word, alone: "Best,\nWill"
            if IS_A_AGE.match(self.text[token.end:token.end + 24]):
                self.take_before(i + 1, "is_a", "title")  # "RAY IS A 27 YO"

        for i, token in enumerate(tokens):
            word = token.lower
            # a census name that is no English or clinical word, anywhere ("KAREN")
            if vocab.is_name_only(word) and len(word) >= 4 and not self.finder._common(word):
                first = i
                while first > 0 and first > i - 2 and self.adjacent(first) and (
                        self.initial(first - 1) or self.particle(first - 1) or vocab.is_unknown(tokens[first - 1].lower)
                        or (vocab.is_first_name(tokens[first - 1].lower) and tokens[first - 1].lower not in STOP
                            and not vocab.is_clinical(tokens[first - 1].lower))):
                    first -= 1
                if self.take(first, "title", "name_word") == i + 1 and nxt_ok(self, i):
                    self.surname(i + 1)  # "Rosalind Colon"
            # initials + surname ("J. MORROW", "F.G. ababei", "N. O HOGAIN")
            elif self.initial(i) and not (i > 0 and self.initial(i - 1) and self.adjacent(i)) \
                    and not (word == "y" and i + 1 < len(tokens) and tokens[i + 1].lower == "o"):
                j = i
                while j < len(tokens) and self.initial(j) and (j == i or self.adjacent(j)):
                    j += 1
                if j < len(tokens) and self.adjacent(j) and (
                        self.particle(j) or len(tokens[j].text) > 2 and self.finder.continues(tokens[j])
                        or short_surname(self, i, j)  # "N. VU RN", "J. Li"
                        or self.capitalised(j) and vocab.is_surname(tokens[j].lower)):  # "N.E. Colon"
                    self.take(i, "title", "initial_surname")
            # two capitalised words in mixed case, one in no list and the other in none
            # or a name ("Arin Zbroja resting", "Boglarka PROCTOR")
            elif self.capitalised(i) and vocab.is_unknown(word) and i + 1 < len(tokens) \
                    and self.adjacent(i + 1) and (self.capitalised(i + 1) or self.mixed_case
                                                  and tokens[i + 1].text.isupper() and len(tokens[i + 1].text) > 2) \
                    and (vocab.is_unknown(tokens[i + 1].lower) or vocab.is_nameish(tokens[i + 1].lower)
                         and not vocab.is_clinical(tokens[i + 1].lower)):
                # the two words only: what follows in lower case is the sentence ("resting")
                self.found.append(Finding(token.start, tokens[i + 1].end, "PERSON", 0.85,
                                          "context:capitalised_pair", self.text[token.start:tokens[i + 1].end]))
            # first name + surname ("GRACE WHITE" is no English phrase)
            elif (vocab.first_names.get(word, 10**6) < COMMON_FIRST_RANK or self.capitalised(i) and vocab.is_first_name(word)) \
                    and word not in AMBIGUOUS_FIRST and word not in STOP and nxt_ok(self, i):
                if self.take(i, "title", "first_last") == i + 1:
                    self.surname(i + 1)
            # names and initials before a credential ("ann reyes rn", "/pw rn")
            credential = word in CREDENTIALS or DOTTED_CREDENTIAL.match(self.text, token.start) is not None
            if credential and i > 0 and (self.adjacent(i) or self.gap(i) in (", ", ",")
                                         or self.initial(i - 1) and self.gap(i) in ("., ", ".,")) \
                    and (word != "do" or token.text == "DO") and (word != "pa" or token.text.isupper()):
                before = tokens[i - 1]
                # at a line start, or after a full stop or a wide gap ("... 9993502  AM RN")
                line_start = re.search(r"(?:^|\n|/|\.[ \t]|[ \t]{2})[ \t]*$",
                                       self.text[max(0, before.start - 8):before.start])
                line_initials = line_start and before.text.isupper() and token.text.isupper() \
                    and re.fullmatch(r"[A-Z]{2,3}", before.text) and before.lower not in CREDENTIALS
                # "/is rn" closing a line: initials after the slash, even when they spell a word
                slash_initials = re.search(r"(?:^|\n)[ \t]*/$", self.text[max(0, before.start - 8):before.start]) \
                    and re.fullmatch(r"[A-Za-z]{2,3}", before.text)
                # "MAY KIM, RN", "summer liu, rn": after a first name a short word is a surname
                if i > 1 and self.adjacent(i - 1) and self.first_name_word(i - 2):
                    self.take_before(i, "credential", "credential")
                elif line_initials or slash_initials or re.fullmatch(r"[A-Za-z]{2,3}", before.text) and before.lower not in STOP | CREDENTIALS \
                        and (line_start or not vocab.is_english(before.lower) and not vocab.is_clinical(before.lower)):
                    self.found.append(Finding(before.start, before.end, "PERSON", 0.7,
                                              "context:initials", before.text))
                else:
                    self.take_before(i, "credential", "credential")
        self.signature()

    def signature(self) -> None:
        """The last words of a note, after its last full stop or line break, when they
        are all name-like: a signature ("... 900U/HR. KAREN", "-jim")."""
        tokens = self.tokens
        if not tokens:
            return
        tail_start = max(self.text.rfind("\n", 0, tokens[-1].start),
                         self.text.rfind(". ", 0, tokens[-1].start))
        tail = [i for i, t in enumerate(tokens) if t.start > tail_start and t.lower not in CREDENTIALS]
        if 0 < len(tail) <= 3 and all(len(tokens[i].text) == 1 or self.finder.name_like(tokens[i], "strong", mixed_case=self.mixed_case)
                                      for i in tail):
            self.take(tail[0], "title", "signature")
        starts = {t.start: i for i, t in enumerate(tokens)}
        # a line that is a name and "SN" (student nurse) alone: "DITA SN" (elsewhere SN
        # is often a serial number)
        for match in SN_SIGNATURE.finditer(self.text):
            index = starts.get(match.start(1))
            if index is not None and self.finder.name_like(tokens[index], "title", mixed_case=self.mixed_case):
                self.take(index, "title", "signature", lists=False)
        # a line signed with a dash: "tolerated well  --Kasiyah", "-jim"
        for match in DASH_SIGNATURE.finditer(self.text):
            index = starts.get(match.start(1))
            # two dashes before a lone name are as sure as a title ("--jean"); one may
            # start a heading's topic ("C/L Note - elopement")
            strength = "title" if "--" in match.group(0) else "strong"
            if index is not None and self.finder.name_like(tokens[index], strength, mixed_case=self.mixed_case):
                self.take(index, "title", "signature", lists=False)


SN_SIGNATURE = re.compile(r"(?m)^[ \t]*([A-Za-z][A-Za-z']+)[ \t]+(?:SN|sn)[ \t]*$")


def nxt_ok(scan: NameScan, index: int) -> bool:
    """Token ``index + 1`` can be a surname after a first name at ``index``."""
    if index + 1 >= len(scan.tokens) or not scan.adjacent(index + 1):
        return False
    following = scan.tokens[index + 1].lower
    if scan.capitalised(index) and scan.capitalised(index + 1) and scan.vocab.is_surname(following) \
            and not scan.finder._common(following):
        return True  # written as a name in mixed case, even a clinical word: "Chantal Colon"
    return ((scan.vocab.is_surname(following) or scan.vocab.is_unknown(following))
            and following not in STOP and not scan.vocab.is_clinical(following)
            and not scan.finder._common(following))


SHORT_NOT_SURNAME = {"oh", "ha", "so", "to", "ta", "ko", "tu"}


def short_surname(scan: NameScan, initial: int, index: int) -> bool:
    """A two-letter census surname after a capital initial ("N. VU", "K. Ho"); after a
    lower-case one it is shorthand ("p. o.")."""
    word = scan.tokens[index].lower
    return len(word) == 2 and scan.tokens[initial].text.isupper() and word not in STOP \
        and word not in SHORT_NOT_SURNAME and scan.vocab.surnames.get(word, 10**6) < 10000


def is_mixed_case(text: str) -> bool:
    """Written with ordinary capitals (not ALL CAPS, not all lower case)."""
    letters = sum(map(str.isalpha, text))  # map, not a generator: this runs for every note
    upper = sum(map(str.isupper, text))
    return letters > 0 and 0.05 < upper / letters < 0.6
