"""Where a patient lives and who comes to the home, found by the words before them, in any
letter case (stages/deid/places.py runs this beside its facilities and towns):

- streets: a house number, one to three name words and a street word ("347 merritt dr"),
  a street without its number after on/off ("CVS on Depot Rd"), numbered routes;
- home towns: capitalised words after "lives in", "moved to" ("Lives in Unity");
- a town before its police ("Millinocket PD notified");
- the agency after "VNA from" ("VNA FROM GREEN HOUSE").
"""

from __future__ import annotations

import bisect
import re

from medllm_local.core.records import Finding
from medllm_local.stages.deid.vocab import Vocabulary

STREET_WORDS = re.compile(
    r"(?:street|st|avenue|ave|road|rd|drive|dr|lane|ln|boulevard|blvd|court|ct|place|pl|"
    r"terrace|ter|way|circle|cir|parkway|pkwy|highway|hwy|square|sq|trail|trl|row|path|"
    r"crescent|close|alley|plaza|pike|turnpike)", re.IGNORECASE)
ROUTE_WORDS = {"route", "rte", "road", "rd", "highway", "hwy"}
ROUTE_NUMBER = re.compile(r"[ \t]+\d{1,4}[A-Za-z]?\b")  # after a route word: "Route 2A", "County Road 12"
# Before a home town: what follows, capitalised, is a place whatever its words.
HOME_TRIGGERS = {("lives", "in"), ("living", "in"), ("resides", "in"), ("moved", "to"), ("moved", "from"),
                 ("born", "in"), ("native", "of"), ("grew", "up"), ("relocated", "to"), ("relocated", "from")}
MONTH_AND_DAY_WORDS = {"january", "february", "march", "april", "may", "june", "july", "august",
                       "september", "october", "november", "december", "monday", "tuesday",
                       "wednesday", "thursday", "friday", "saturday", "sunday"}
# How someone lives, not where: "Lives in Assisted Living", "Lives in Apartment 4".
HOUSING_WORDS = {"assisted", "independent", "living", "apartment", "apartments", "apt", "house", "home",
                 "group", "senior", "housing", "shelter", "condo", "condominium", "trailer", "mobile",
                 "community", "facility", "nursing", "rehab", "care", "section", "public", "subsidized",
                 "town", "city", "country", "area", "same", "rural", "suburbs", "suburban", "family",
                 "transitional", "supportive", "memory", "long", "term", "skilled", "residence"}
# Home care that comes "from" an agency named next.
AGENCY_WORDS = {"vna", "hospice", "services", "homecare", "aide", "aides", "infusion", "oxygen", "dme"}


def tokens_from(tokens, position: int, count: int) -> list:
    """The first ``count`` tokens starting at or after ``position`` (tokens are in text
    order, so a binary search finds the first)."""
    first = bisect.bisect_left(tokens, position, key=lambda token: token.start)
    return tokens[first:first + count]


def finding(text: str, start: int, end: int, recognizer: str, kind: str = "FACILITY",
            score: float = 0.8) -> Finding:
    return Finding(start, end, kind, score, recognizer, text[start:end])


def adjacent(text: str, left, right) -> bool:
    """Two tokens that can be words of one name: a space, an abbreviation's full stop or a hyphen between."""
    return re.fullmatch(r"[ \t]|\.[ \t]|[ \t]*-[ \t]*", text[left.end:right.start]) is not None


def last_of_run(text: str, tokens, first: int, word_ok, most: int = 3) -> int:
    """The index of the last of up to ``most`` adjacent tokens from ``first`` that
    ``word_ok(token, is_first)`` accepts; ``first - 1`` when it takes none."""
    last = first - 1
    while last + 1 < len(tokens) and last + 1 - first < most \
            and (last + 1 == first or adjacent(text, tokens[last], tokens[last + 1])) \
            and word_ok(tokens[last + 1], last + 1 == first):
        last += 1
    return last


class AddressFinder:
    """Streets, home towns, police towns and agencies in one folded text."""

    def __init__(self, vocab: Vocabulary, stop: set[str], common):
        self.vocab, self.stop, self.common = vocab, stop, common

    def find(self, text: str, tokens, mixed_case: bool) -> list[Finding]:
        return (self.streets(text, tokens) + self.named_streets(text, tokens, mixed_case)
                + self.home_towns(text, tokens, mixed_case) + self.police(text, tokens, mixed_case)
                + self.agencies(text, tokens))

    def home_towns(self, text: str, tokens, mixed_case: bool) -> list[Finding]:
        """Capitalised words after "lives in", "moved to", "born in" in mixed case: a place,
        whatever the words ("Lives in Unity with her friend", "moved to Walnut Creek")."""
        found = []
        if not mixed_case:
            return found
        for i in range(2, len(tokens)):
            if (tokens[i - 2].lower, tokens[i - 1].lower) not in HOME_TRIGGERS \
                    or not adjacent(text, tokens[i - 1], tokens[i]):
                continue
            last = last_of_run(text, tokens, i, lambda token, _: self._home_word(token))
            if last >= i:
                found.append(finding(text, tokens[i].start, tokens[last].end, "context:home_town", "LOCATION", 0.7))
        return found

    def _home_word(self, token) -> bool:
        word = token.lower
        return token.text[:1].isupper() and not token.text.isupper() and word not in self.stop \
            and not self.vocab.is_clinical(word) and word not in MONTH_AND_DAY_WORDS and word not in HOUSING_WORDS

    def agencies(self, text: str, tokens) -> list[Finding]:
        """The agency after "VNA from", "hospice from", "services from": one to three words,
        whatever they are ("VNA from cedar ridge", "VNA FROM GREEN HOUSE")."""
        found = []
        for i in range(2, len(tokens)):
            if tokens[i - 1].lower != "from" or tokens[i - 2].lower not in AGENCY_WORDS \
                    or not adjacent(text, tokens[i - 2], tokens[i - 1]) \
                    or not adjacent(text, tokens[i - 1], tokens[i]):
                continue
            last = last_of_run(text, tokens, i, self._agency_word)
            if last >= i:
                found.append(finding(text, tokens[i].start, tokens[last].end, "context:agency"))
        return found

    def _agency_word(self, token, first: bool) -> bool:
        word = token.lower  # "VNA from home" is no agency; "Green House" is one
        return word.isalpha() and word not in self.stop and word not in MONTH_AND_DAY_WORDS \
            and not (first and word in HOUSING_WORDS) and not self.vocab.is_clinical(word)

    def police(self, text: str, tokens, mixed_case: bool) -> list[Finding]:
        """A town named before its police ("Millinocket PD notified", "KEENE POLICE"), when
        it is no everyday or clinical word; the places list has only towns of 5,000 or more."""
        found = []
        for i in range(len(tokens) - 1):
            following = tokens[i + 1]
            police = following.lower in ("police", "sheriff") or following.text == "PD" and re.match(
                r"[ \t]*(?:notified|called|contacted|aware|was|were|at|on[ \t]+scene|arrived|officer)",
                text[following.end:following.end + 20], re.IGNORECASE)
            word = tokens[i]
            if police and adjacent(text, word, following) and len(word.text) > 2 \
                    and (word.text[:1].isupper() or not mixed_case) and not self.common(word.lower) \
                    and word.lower not in self.stop and not self.vocab.is_clinical(word.lower) \
                    and word.lower not in ("state", "city", "county", "local", "campus", "hospital"):
                found.append(finding(text, word.start, word.end, "context:police_town", "LOCATION", 0.7))
        return found

    def streets(self, text: str, tokens) -> list[Finding]:
        """A house number, one to three name words and a street word, in any case."""
        found = []
        for match in re.finditer(r"(?<![\d.,/:-])\d{1,6}(?=[ \t]+[A-Za-z])", text):
            words = tokens_from(tokens, match.end(), 4)
            for size in range(2, len(words) + 1):
                name, kind = words[:size - 1], words[size - 1]
                if not STREET_WORDS.fullmatch(kind.text):
                    continue
                lefts = [None] + name  # the word before each gap (None: the number)
                if any(not re.fullmatch(r"\.?[ \t]+" if left is not None and len(left.text) == 1
                                        else r"[ \t]+", text[(left.end if left else match.end()):right.start])
                       for left, right in zip(lefts, name + [kind])):
                    break
                if all(t.lower not in self.stop and not self.vocab.is_clinical(t.lower)
                       and t.text.isalpha() for t in name):
                    end = kind.end + (1 if text[kind.end:kind.end + 1] == "." else 0)
                    route = ROUTE_NUMBER.match(text[end:])  # "County Road 12"
                    end += route.end() if route else 0
                    found.append(finding(text, match.start(), end, "context:street", "LOCATION", 0.8))
                break
        return found

    def named_streets(self, text: str, tokens, mixed_case: bool) -> list[Finding]:
        """A street without its number after on/off/near ("CVS on Depot Rd in Greenfield",
        "off Route 2A"): in mixed case, capitalised name words and a street word; in any
        case, a numbered route."""
        found = []
        for i in range(1, len(tokens)):
            if tokens[i - 1].lower not in ("on", "off", "near", "along") \
                    or not adjacent(text, tokens[i - 1], tokens[i]):
                continue
            for size in range(1, 5):
                if i + size >= len(tokens):
                    break
                name, kind = tokens[i:i + size], tokens[i + size]
                if not all(adjacent(text, a, b) for a, b in zip(name, name[1:] + [kind])):
                    break
                after = text[kind.end:kind.end + 16]
                route = ROUTE_NUMBER.match(after) if kind.lower in ROUTE_WORDS else None
                # "Dr"/"St" before a capitalised word is a title or a saint ("on Elm Dr Smith"?)
                abbreviated = kind.lower in ("st", "dr") and re.match(r"\.?[ \t]+[A-Z]", after)
                street = route or STREET_WORDS.fullmatch(kind.text) and not abbreviated and mixed_case \
                    and all(t.text[:1].isupper() and not t.text.isupper() for t in name + [kind])
                if not street:
                    continue
                if all(t.lower not in self.stop and not self.vocab.is_clinical(t.lower) and t.text.isalpha()
                       for t in name):
                    end = kind.end + (route.end() if route else 1 if after[:1] == "." else 0)
                    found.append(finding(text, tokens[i].start, end, "context:street", "LOCATION", 0.75))
                break
        # "Route 2A", "1193 ROUTE 2A", "County Road 12" alone, in any case
        for match in re.finditer(r"\b(?:\d{1,6}[ \t]+)?(?:(?:county|state|us|u\.s\.)[ \t]+)?(?:route|rte|highway|hwy)[ \t]+\d{1,4}[A-Za-z]?\b",
                                 text, re.IGNORECASE):
            found.append(finding(text, match.start(), match.end(), "context:street", "LOCATION", 0.7))
        return found
