"""Facilities, towns and street addresses found by their words and context, in any
letter case (the names' counterpart is stages/deid/context.py, which shares its tokens).

- Facilities: the words before a facility word ("ST. ALBANS HOSPITAL", "weaver house",
  "Nemeth Rehab"), a name after "rehab at" or "snf at", and facility acronyms where the
  context says so ("tx to SAH", "the BMC nurse", "from mgh"), including the initials of a
  facility named elsewhere in the note.
- Towns: a US place (census list) after "lives in", "from", "to"...; a place name that is
  no English, clinical or name word anywhere ("framingham"); a word no list knows after
  "from", "in", "to", with "North", "New", "Lake"... ("in south timothy").
- Streets, home towns, a town's police and home-care agencies: stages/deid/addresses.py.
"""

from __future__ import annotations

import re

from wordfreq import zipf_frequency

from medllm_local.core.records import Finding
from medllm_local.stages.deid.addresses import AddressFinder, adjacent, finding, tokens_from
from medllm_local.stages.deid.vocab import Vocabulary

FACILITY_HEADS = re.compile(
    r"\b(?:hospital|hosp|medical cent(?:er|re)|medical ctr|med ctr|med cent(?:er|re)|"
    r"health cent(?:er|re)|health ctr|healthcare|health care cent(?:er|re)|clinic|infirmary|"
    r"nursing home|nursing (?:and )?rehab(?:ilitation)?(?: cent(?:er|re))?|nursing cent(?:er|re)|"
    r"rehab(?:ilitation)? (?:cent(?:er|re)|ctr|hospital|facility)|care cent(?:er|re)|manor|"
    r"assisted living|senior living|skilled nursing(?: facility)?|hospice|medical group|"
    r"memorial|rehab|rehabilitation|nursing facility|snf|ltac|home for the aged|house|"
    r"lodge|villa|gardens|commons|pavilion|associates|physicians|primary care|internal medicine|"
    r"family (?:medicine|practice|physicians|health)|pediatrics|funeral home|imaging(?: cent(?:er|re))?|"
    r"home|hall|terrace|village|residence|estates|health care|skilled nursing|fire rescue|"
    r"fire department|rescue|ambulance)\b"
    r"(?![ \t]*(?:staff|officer|call|keeping|dust|md|bill|health aide|care|visit|oxygen|o2|meds|"
    r"medications|dose|safety|exercise|program|therapy|services))", re.IGNORECASE)
# These name a facility only after a name word: "weaver house", not "at the house".
WEAK_HEADS = {"house", "lodge", "villa", "gardens", "commons", "pavilion", "manor", "memorial",
              "hall", "terrace", "village", "residence", "estates", "associates", "physicians"}
STRONG_HEADS = {"internal medicine", "family practice", "family medicine", "family physicians",
                "primary care", "associates", "medical center", "medical ctr", "hospital",
                "health center", "medical group"}
# "home" only after a saint or a possessive name: "St. Anne's Home", "Fiske Funeral Home"
POSSESSIVE_HEADS = {"home"}
SAINT_WORDS = {"st", "saint", "mt", "mount", "ste", "san", "santa"}
# Words that name no facility by themselves ("Community Hospital" stays).
GENERIC_FACILITY = {"general", "community", "county", "regional", "university", "city",
                    "medical", "memorial", "central", "state", "public", "private", "local",
                    "outside", "osh", "childrens", "children's", "womens", "women's", "va",
                    "veterans", "psychiatric", "teaching", "district", "rural", "area",
                    "the", "a", "an", "rehab", "nursing", "care", "health", "day", "new",
                    "group", "halfway", "half", "way", "sober", "full", "open", "safe",
                    "previous", "prior", "same", "another", "nearest", "nearby", "other", "old",
                    "receiving", "referring", "transferring", "accepting", "home", "visiting",
                    "this", "that", "her", "his", "their", "your", "our", "my", "back", "internal",
                    "family", "primary", "physicians", "associates", "and", "skilled"}
AFTER_CARE = {"rehab", "snf", "nh", "ltc", "ltac", "hospice", "facility", "placement",
              "rehabilitation", "vna", "ecf", "tcu"}
PLACE_TRIGGERS = {("lives", "in"), ("living", "in"), ("resides", "in"), ("resident", "of"),
                  ("moved", "to"), ("moving", "to"), ("visiting", "from"), ("home", "in"),
                  ("native", "of"), ("born", "in"), ("trip", "to"), ("travel", "to"),
                  ("traveled", "to"), ("travelled", "to"), ("vacation", "in"), ("lives",),
                  ("from",), ("to",), ("in",), ("at",), ("near",), ("outside",), ("via",)}
TOWN_AFTER = PLACE_TRIGGERS | {("osh", "in")}  # before a town whatever its frequency in English
# A US place this seldom written as an English word (wordfreq zipf) is a place after "in",
# "from" or "to" even in lower case ("worcester" 3.6, "fresno" 3.4; "reading" 5.1 is not).
SELDOM_PLACE_ZIPF = 3.7
PLACE_PREFIXES = {"north", "south", "east", "west", "new", "port", "fort", "mount", "mt",
                  "lake", "san", "santa", "el", "la", "los", "saint", "st", "upper", "lower",
                  "glen", "falls", "le", "del", "de"}
CARE_KIND_AFTER = re.compile(r"[ \t]*\((?:nh|snf|ltac|ltach|alf|ltc|tcu|irf|ecf|rehab|nursing home)\)",
                             re.IGNORECASE)
FACILITY_CONTEXT_BEFORE = {"to", "from", "at", "osh", "tx", "transfer", "transferred", "the",
                           "via", "sent", "admitted", "discharged", "dc", "followed", "seen"}
FACILITY_CONTEXT_AFTER = {"nurse", "nurses", "er", "ed", "icu", "micu", "ccu", "team", "clinic",
                          "hospital", "staff", "rehab", "ambulance", "ems", "records", "md",
                          "physician", "doctor", "transfer", "campus"}
HEADER_PLACE = re.compile(
    r"^[ \t]*(?:[A-Za-z/&-]+[ \t]+){0,3}(?:note|report|summary|consult|consultation|letter)[ \t:,-]+"
    r"(?:\d{1,4}[/.-]\d{1,2}(?:[/.-]\d{2,4})?|[A-Za-z]{3,9}\.?[ \t]+\d{1,2}(?:st|nd|rd|th)?(?:,?[ \t]+\d{4})?)"
    r"[ \t]+([A-Za-z][A-Za-z'.-]*(?:[ \t]+[A-Za-z][A-Za-z'.-]*){0,2})[ \t]*$", re.IGNORECASE | re.MULTILINE)
FACILITY_STAFF = {"nurse", "nurses", "team", "staff", "physician", "physicians", "doctor", "doctors",
                  "ambulance", "ems", "clinic"}
EMPLOYER_TRIGGER = re.compile(r"\b(?:works?|worked|working|employed|retired|job|employee)[ \t]+"
                              r"(?:at|for|by|from|with)[ \t]+(?:the[ \t]+)?", re.IGNORECASE)


class PlaceFinder:
    """Facilities, towns and streets in one folded text, over deid_context's tokens."""

    def __init__(self, vocab: Vocabulary, stop: set[str], common):
        self.vocab, self.stop, self.common = vocab, stop, common
        self.addresses = AddressFinder(vocab, stop, common)

    def find(self, text: str, tokens, mixed_case: bool) -> list[Finding]:
        return (self._facilities(text, tokens, mixed_case) + self._towns(text, tokens, mixed_case)
                + self.addresses.find(text, tokens, mixed_case) + self._employers(text, tokens, mixed_case))

    def _name_word(self, token, mixed_case: bool) -> bool:
        """May be part of a facility or town name."""
        word = token.lower
        if word in self.stop or self.vocab.is_clinical(word) and not self.vocab.is_name_only(word):
            return False
        return (self.vocab.is_nameish(word) or self.vocab.is_unknown(word)
                or not self.common(word) or (mixed_case and token.text[:1].isupper()))

    def _facilities(self, text: str, tokens, mixed_case: bool) -> list[Finding]:
        found = []
        starts = {t.start: i for i, t in enumerate(tokens)}
        for match in FACILITY_HEADS.finditer(text):
            head = starts.get(match.start())
            if head is None:
                continue
            head_word = match.group().lower()
            weak = head_word in WEAK_HEADS or head_word in POSSESSIVE_HEADS
            first = head
            while first > 0 and head - first < 5:
                prev = tokens[first - 1]
                gap = text[prev.end:tokens[first].start]
                if not (re.fullmatch(r"[ \t]+|'s[ \t]+|[ \t]*[-&][ \t]*", gap)
                        or prev.lower in SAINT_WORDS and re.fullmatch(r"\.[ \t]*", gap)):
                    break
                saint = first >= 2 and tokens[first - 2].lower in SAINT_WORDS
                if prev.lower in SAINT_WORDS or saint and prev.lower not in self.stop:
                    first -= 1
                    continue
                # "Brigham and Women's", "Greenfield Cardiology Associates": inner words
                # may be "and" or a specialty when a name word stands before them
                inner = (prev.lower == "and" or self.vocab.is_clinical(prev.lower)) and first >= 2 \
                    and prev.lower not in ("to", "from") and self._name_word(tokens[first - 2], mixed_case)
                # in capitals, any word before "INTERNAL MEDICINE" may be the name ("MOUNTAIN VIEW")
                broad = not mixed_case and head_word in STRONG_HEADS and prev.lower not in self.stop \
                    and not self.vocab.is_clinical(prev.lower)
                if not (inner or broad or prev.lower in GENERIC_FACILITY or self._name_word(prev, mixed_case)):
                    break
                first -= 1
            while first < head and (tokens[first].lower == "and" or self.vocab.is_clinical(tokens[first].lower)):
                first += 1  # a name starts with a name word, not "and" or a specialty
            names = [t.lower for t in tokens[first:head]]
            if head_word in POSSESSIVE_HEADS and not (
                    names and (names[0] in SAINT_WORDS or "'s" in text[tokens[first].start:match.start()])):
                continue  # "went home", "to home"; not "St. Anne's Home"
            # "Cardiology Associates of Friendship"
            after = re.match(r"[ \t]+of[ \t]+((?:[A-Z][A-Za-z'\-]+[ \t]?){1,3})", text[match.end():])
            if after and not names and first > 0 and self.vocab.is_clinical(tokens[first - 1].lower):
                first -= 1
                names = [tokens[first].lower]
            if names and (any(w not in GENERIC_FACILITY for w in names) or after) and not (
                    weak and all(self.vocab.is_english(w) and self.common(w) for w in names)):
                end = match.end()
                if after:
                    end += after.end(1) - (1 if after.group(1).endswith(" ") else 0)
                found.append(self._finding(text, tokens[first].start, end, "context:facility"))
        # a name after "rehab at", "snf at": "screening for rehab at lakeside"
        for i in range(2, len(tokens)):
            if tokens[i - 1].lower in ("at", "@") and tokens[i - 2].lower in AFTER_CARE \
                    and tokens[i].lower not in self.stop and not self.vocab.is_clinical(tokens[i].lower):
                end = i + 1
                while end < len(tokens) and end - i < 3 and re.fullmatch(
                        r"[ \t]", text[tokens[end - 1].end:tokens[end].start]) \
                        and self._name_word(tokens[end], mixed_case):
                    end += 1
                found.append(self._finding(text, tokens[i].start, tokens[end - 1].end, "context:facility"))
        # a name before its kind in brackets: "returns to riverside (NH)", "Oak Glen (SNF)"
        ends = {t.end: i for i, t in enumerate(tokens)}
        for match in CARE_KIND_AFTER.finditer(text):
            last = ends.get(match.start())
            if last is None or not self._care_name_word(tokens[last]):
                continue
            first = last
            while first > 0 and last - first < 2 and self._adjacent(text, tokens[first - 1], tokens[first]) \
                    and self._care_name_word(tokens[first - 1]):
                first -= 1
            found.append(self._finding(text, tokens[first].start, tokens[last].end, "context:facility"))
        # a place closing a note's header after its date: "PROGRESS NOTE  03/18/2004  Danielburgh"
        for match in HEADER_PLACE.finditer(text):
            words = match.group(1).split()
            lowers = [w.lower().strip(".'") for w in words]
            if not any(w in self.stop or self.vocab.is_clinical(w) for w in lowers) \
                    and not all(self.common(w) for w in lowers):
                found.append(self._finding(text, match.start(1), match.end(1), "context:facility"))
        # "seen by the Pszczyna nurse", "THE MAPLE GROVE TEAM", "the saint elizabeth's nurse":
        # one to three words between "the" and a facility's staff
        for k in range(2, len(tokens)):
            if tokens[k].lower not in FACILITY_STAFF:
                continue
            for h in range(k - 2, max(-1, k - 5), -1):
                if tokens[h].lower != "the":
                    continue
                words = tokens[h + 1:k]
                if all(self._adjacent(text, a, b) for a, b in zip(tokens[h:k], tokens[h + 1:k + 1])) \
                        and self._staff_place(words, mixed_case):
                    found.append(self._finding(text, words[0].start, words[-1].end, "context:facility"))
                break
        found += self._acronyms(text, tokens, found)
        return found

    def _staff_place(self, words, mixed_case: bool) -> bool:
        """Words naming where a nurse or team comes from: a town, a word in no list, a
        saint's name; not "the night nurse", "the wound team", "the ICU nurse"."""
        lowers = [t.lower.replace("'s", "") for t in words]
        if any(w in self.stop or self.vocab.is_clinical(w) for w in lowers):
            return False
        if " ".join(lowers) in self.vocab.places or lowers[0] in SAINT_WORDS and len(lowers) > 1:
            return True
        return all(w in self.vocab.places or self.vocab.is_unknown(w) or self.vocab.is_name_only(w)
                   or mixed_case and t.text[:1].isupper() and not t.text.isupper() and not self.common(w)
                   for w, t in zip(lowers, words))

    def _care_name_word(self, token) -> bool:
        return (token.lower not in self.stop and token.lower not in FACILITY_CONTEXT_BEFORE
                and token.lower not in AFTER_CARE and not self.vocab.is_clinical(token.lower))

    def _employers(self, text: str, tokens, mixed_case: bool) -> list[Finding]:
        """A workplace after "works at", "worked at", "employed by", "retired from"."""
        found = []
        for match in EMPLOYER_TRIGGER.finditer(text):
            words = tokens_from(tokens, match.end(), 3)
            taken = []
            for token in words:
                gap_start = taken[-1].end if taken else match.end()
                if not re.fullmatch(r"[ \t]*|[ \t]*&[ \t]*", text[gap_start:token.start]) \
                        or token.lower in self.stop or self.vocab.is_clinical(token.lower) \
                        or not (mixed_case and token.text[:1].isupper() or token.text.isupper()
                                or not self.common(token.lower)):
                    break
                taken.append(token)
            if taken:
                found.append(self._finding(text, taken[0].start, taken[-1].end, "context:employer"))
        return found

    def _acronyms(self, text: str, tokens, facilities: list[Finding]) -> list[Finding]:
        """Facility initials where the context says so ("tx to SAH", "the BMC nurse",
        "from mgh"), and the initials of a facility named in this note."""
        initials = {"".join(w[0] for w in re.findall(r"[A-Za-z]+", f.text)).upper() for f in facilities}
        initials |= {i[:-1] for i in initials if len(i) > 3}
        found = []
        for i, token in enumerate(tokens):
            if not (2 <= len(token.text) <= 6 and (token.text.isupper() or token.text.islower())):
                continue
            before = tokens[i - 1].lower if i > 0 else ""
            after = tokens[i + 1].lower if i + 1 < len(tokens) else ""
            line_end = re.match(r"[ \t]*(?:\n|$)", text[token.end:]) is not None
            # ... or a hospital's initials closing a header or standing alone on a line
            # ("PROGRESS NOTE 6/4/10 SMH", a letter's "CMH" under the signature)
            in_context = (before in FACILITY_CONTEXT_BEFORE or after in FACILITY_CONTEXT_AFTER
                          or line_end and re.search(r"[-|][ \t]*$", text[max(0, token.start - 3):token.start])
                          is not None
                          or line_end and token.text.isupper() and re.search(
                              r"(?:^|\n)[ \t]*$|\d[ \t]+$", text[max(0, token.start - 40):token.start]) is not None)
            looks = re.fullmatch(r"[a-z]{1,4}(?:h|mc|hc|mh|rh|ch)", token.lower) is not None
            clinical = self.vocab.is_clinical(token.lower) or self.vocab.is_english(token.lower)
            if (token.text.isupper() and token.text in initials) or (in_context and looks and (
                    not clinical or (before in FACILITY_CONTEXT_BEFORE and after in FACILITY_CONTEXT_AFTER)
                    or before in {"tx", "transfer", "transferred", "osh"})):
                found.append(self._finding(text, token.start, token.end, "context:facility_acronym"))
        return found

    def _towns(self, text: str, tokens, mixed_case: bool) -> list[Finding]:
        found = []
        for i in range(1, len(tokens)):
            # an unknown word (or a prefix and a word) after from/in/to: a small town
            if tokens[i - 1].lower not in {"from", "in", "to", "near", "via", "at"} \
                    or not self._adjacent(text, tokens[i - 1], tokens[i]):
                continue
            last = i
            if tokens[i].lower in PLACE_PREFIXES and i + 1 < len(tokens) \
                    and self._adjacent(text, tokens[i], tokens[i + 1]) and len(tokens[i + 1].text) >= 3:
                last = i + 1
                while last + 1 < len(tokens) and last - i < 3 and self._adjacent(text, tokens[last], tokens[last + 1]) \
                        and (tokens[last + 1].lower in PLACE_PREFIXES or self.vocab.is_unknown(tokens[last + 1].lower)):
                    last += 1
                word = tokens[last]
                if word.lower in self.stop or self.vocab.is_clinical(word.lower) or not (
                        self.vocab.is_nameish(word.lower) or self.vocab.is_unknown(word.lower)
                        or mixed_case and word.text[:1].isupper()):
                    continue
            elif not (len(tokens[i].lower) >= 5 and self.vocab.is_unknown(tokens[i].lower) and (
                    zipf_frequency(tokens[i].lower, "en") < 2.5 or i > 1 and (
                        tokens[i - 2].lower, tokens[i - 1].lower) in TOWN_AFTER)):
                continue  # rarer than most medical words in English text, or after "lives in": a town
            found.append(self._finding(text, tokens[i].start, tokens[last].end, "context:unknown_place",
                                       "LOCATION", 0.6))
        for i in range(len(tokens)):
            if tokens[i].lower not in self.vocab.place_words:
                continue
            for size in (3, 2, 1):
                words = tokens[i:i + size]
                if len(words) < size or any(not self._adjacent(text, a, b) for a, b in zip(words, words[1:])):
                    continue
                name = " ".join(t.lower for t in words)
                if name not in self.vocab.places:
                    continue
                following = tokens[i + size].lower if i + size < len(tokens) else ""
                named_service = following in ("pd", "police", "fire", "ems", "ambulance", "rescue",
                                              "sheriff")  # "PALMER PD NOTIFIED", "Normal PD"
                if (size == 1 and self.vocab.is_clinical(name) and not named_service) or name in self.stop:
                    break
                before = tuple(t.lower for t in tokens[max(0, i - 2):i])
                triggered = any(before[-len(p):] == p for p in PLACE_TRIGGERS if len(before) >= len(p))
                strong = named_service or any(before[-len(p):] == p for p in TOWN_AFTER
                                              if len(p) == 2 and len(before) >= 2)
                triggered = triggered or named_service
                # "returned to normal": a town named like an everyday word needs capitals
                common = size == 1 and self.vocab.is_english(words[-1].lower) \
                    and zipf_frequency(words[-1].lower, "en") >= 4.8
                distinctive = len(name) >= 5 and not any(
                    self.vocab.is_english(t.lower) or self.vocab.is_nameish(t.lower) for t in words)
                capitalised = mixed_case and all(t.text[:1].isupper() for t in words)
                # a town that is seldom an English word keeps its place in lower case too:
                # "OSH in worcester", "lives ... in fresno"
                seldom_word = all(zipf_frequency(t.lower, "en") < SELDOM_PLACE_ZIPF for t in words)
                if distinctive or (strong and (not common or named_service and (capitalised or not mixed_case))) \
                        or (triggered and size > 1) \
                        or (triggered and (capitalised or not mixed_case or seldom_word) and not common):
                    found.append(self._finding(text, words[0].start, words[-1].end, "context:place",
                                               "LOCATION", 0.8))
                    break
        return found

    _finding = staticmethod(finding)
    _adjacent = staticmethod(adjacent)
