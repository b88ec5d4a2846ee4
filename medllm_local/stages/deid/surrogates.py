"""Consistent, realistic surrogates for identifiers.

The same real value always gets the same surrogate, within a document and across every
document of the workspace: each surrogate is drawn from Faker (offline, never from the
input) with a seed made from a keyed hash (HMAC-SHA256) of the real value under a
secret kept in the workspace's owner-only raw area. So no real-to-surrogate table is
needed for consistency; one is kept (also in the raw area) only when the settings ask,
for the residual-PHI scan to look for the real values.

Dates move by one offset per patient (a whole number of days from the same keyed hash
of the patient's key), so intervals between a patient's events stay true; or they are
reduced to the year.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import re
import secrets
from pathlib import Path

from medllm_local.stages.deid.rules import MONTHS

MONTH_NAMES = ["January", "February", "March", "April", "May", "June", "July", "August",
               "September", "October", "November", "December"]
NUMERIC_DATE = re.compile(r"^(\d{1,2})([/\-.])(\d{1,2})(?:([/\-.])(\d{2}|\d{4}))?$")
ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
YEAR_ONLY = re.compile(r"^(')?(\d{4}|\d{2})$")
MONTH_YEAR = re.compile(r"^(\d{1,2})([/\-])(\d{4}|3[2-9]|[4-9]\d|0\d)$")
NAMED_DATE = re.compile(rf"^({MONTHS})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?(?:,?\s+(\d{{4}}))?$", re.I)


@functools.lru_cache(maxsize=1)
def _first_names_by_sex() -> tuple[frozenset[str], frozenset[str]]:
    from faker.providers.person.en_US import Provider

    return (frozenset(n.lower() for n in Provider.first_names_female),
            frozenset(n.lower() for n in Provider.first_names_male))


def first_name_sex(word: str) -> str | None:
    """"female", "male" or "either" for a first name of Faker's US lists; None otherwise."""
    female, male = _first_names_by_sex()
    word = word.lower()
    if word in female:
        return "either" if word in male else "female"
    return "male" if word in male else None


def load_secret(path: Path) -> bytes:
    """The workspace's surrogate key: made once, owner-only, never leaves the raw area."""
    if path.exists():
        return bytes.fromhex(path.read_text().strip())
    key = secrets.token_bytes(32)
    from medllm_local.core.files import atomic_write

    atomic_write(path, key.hex())
    return key


def match_case(surrogate: str, original: str) -> str:
    if original.isupper() and len(original) > 1:
        return surrogate.upper()
    if original.islower():
        return surrogate.lower()
    return surrogate


class Surrogates:
    """Makes surrogates for one workspace (or one ``deid --file`` run)."""

    def __init__(self, secret: bytes, date_mode: str = "shift"):
        from faker import Faker

        if date_mode not in ("shift", "year"):
            raise ValueError("date_mode must be 'shift' or 'year'")
        self.secret = secret
        self.date_mode = date_mode
        self.faker = Faker("en_US")
        self.used: set[tuple[str, str, str]] = set()  # (type, real, surrogate) this run

    def patient_hash(self, patient_key: str) -> str:
        """A patient's key as stored in the catalogue: keyed, so it reveals nothing."""
        return f"{self._seed('patient', patient_key):016x}"

    def _seed(self, kind: str, value: str) -> int:
        digest = hmac.new(self.secret, f"{kind}\0{value.strip().lower()}".encode(), hashlib.sha256)
        return int.from_bytes(digest.digest()[:8], "big")

    def _fake(self, kind: str, value: str, make) -> str:
        """A surrogate drawn with the value's keyed seed; drawn again, with a salt, in
        the rare case that it comes out equal to the real value."""
        for salt in range(5):
            self.faker.seed_instance(self._seed(f"{kind}:{salt}" if salt else kind, value))
            fake = make(self.faker)
            if fake.strip().lower() != value.strip().lower():
                return fake
        return f"[{kind.upper()}]"

    def date_offset_days(self, patient_key: str) -> int:
        """The patient's date shift: 30 to 365 days back or forward, never zero."""
        seed = self._seed("date-shift", patient_key)
        days = 30 + seed % 336
        return days if (seed >> 20) % 2 else -days

    # -- per type ---------------------------------------------------------------------
    def person(self, real: str) -> str:
        """Name by name: "Alex Example" and later "Mr. Example" stay consistent. A known
        first name gets a first name of the same sex, wherever it stands ("Mrs. Mary
        Smith", "Mary", "SMITH, MARY"), so a surrogate never reads "Mrs. Allen"."""
        out = []
        words = real.split()
        for index, word in enumerate(words):
            core = word.rstrip(",;")
            if re.fullmatch(r"[A-Za-z]\.?", core):  # an initial: another letter
                letter = self._fake("initial", core[0], lambda f: f.random_uppercase_letter())
                out.append(letter + ("." if core.endswith(".") else "") + word[len(core):])
                continue
            sex = first_name_sex(core)
            after_comma = index > 0 and words[index - 1].endswith(",")  # "SMITH, MARY"
            if sex and (index == 0 or after_comma):
                make = {"female": lambda f: f.first_name_female(), "male": lambda f: f.first_name_male(),
                        "either": lambda f: f.first_name()}[sex]
            elif index == 0 and len(words) > 1 and not word.endswith(","):
                make = lambda f: f.first_name()  # noqa: E731 (a first name no list knows)
            else:
                make = lambda f: f.last_name()  # noqa: E731
            out.append(match_case(self._fake("name", core, make), core) + word[len(core):])
        return " ".join(out)

    def date(self, real: str, patient_key: str) -> str:
        text = real.strip()
        parsed = _parse_date(text)
        if parsed is None:
            return "[DATE]"
        day, style = parsed
        if self.date_mode == "year":
            return str(day.year) if style.get("year") else "[DATE]"
        try:
            shifted = day + dt.timedelta(days=self.date_offset_days(patient_key))
        except OverflowError:  # year 1 or 9999: no sensible shift
            return "[DATE]"
        return _format_date(shifted, style)

    def replacement(self, entity: str, real: str, patient_key: str) -> str:
        """The surrogate text for one identifier of type ``entity``."""
        surrogate = self._replacement(entity, real, patient_key)
        self.used.add((entity, real, surrogate))
        return surrogate

    def _replacement(self, entity: str, real: str, patient_key: str) -> str:
        if entity == "PERSON":
            return self.person(real)
        if entity == "DATE_TIME":
            return self.date(real, patient_key)
        if entity == "AGE":
            return "90+"
        fake = {
            "PHONE_NUMBER": lambda f: f"(555) 01{f.random_int(0, 9)}-{f.random_int(1000, 9999)}",
            "EMAIL_ADDRESS": lambda f: f"{f.user_name()}@example.org",
            "URL": lambda f: f"https://example.org/{f.slug()}",
            "IP_ADDRESS": lambda f: f"192.0.2.{f.random_int(1, 254)}",
            "LOCATION": lambda f: f.street_address() if real[:1].isdigit() else f.city(),
            "ZIP": lambda f: f.numerify("#####"),
            "FACILITY": lambda f: f"{f.last_name()} {f.random_element(['Hospital', 'Clinic', 'Medical Center'])}",
            "US_SSN": lambda f: f.numerify("9##-##-####"),
            "DENY_LIST": lambda f: f.last_name(),
        }.get(entity)
        if fake is None:  # record numbers and other IDs: same shape, other characters
            return self._fake(entity, real, lambda f: re.sub(
                r"[A-Za-z]", lambda _: f.random_uppercase_letter(),
                re.sub(r"\d", lambda _: str(f.random_digit()), real)))
        return match_case(self._fake(entity, real, fake), real)


class SurrogateMap:
    """The surrogates handed out, in the owner-only raw area only: the residual-PHI scan
    ignores them and, when the settings keep real values too, looks for those."""

    def __init__(self, path: Path):
        import sqlite3

        self.path = path
        with sqlite3.connect(path) as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS surrogates (type TEXT, real TEXT, "
                         "surrogate TEXT, UNIQUE(type, real, surrogate))")
        path.chmod(0o600)

    def add(self, rows: set[tuple[str, str, str]], keep_real: bool = True) -> None:
        """Record surrogates handed out; their real values only when ``keep_real``."""
        import sqlite3

        rows = {(kind, real if keep_real else "", surrogate) for kind, real, surrogate in rows}
        with sqlite3.connect(self.path) as conn:
            conn.executemany("INSERT OR IGNORE INTO surrogates VALUES (?, ?, ?)", sorted(rows))

    def forget(self, real_values: set[str]) -> None:
        """Stop treating these as real values in every document of the workspace: only
        for a value that is no identifier anywhere ("reject everywhere") or data being
        deleted. A reviewer's rejection in one document is not this: it is kept on that
        document's finding, and the scan lets the value through there only."""
        import sqlite3

        with sqlite3.connect(self.path) as conn:
            conn.executemany("DELETE FROM surrogates WHERE real = ?", [(v,) for v in real_values])

    def real_values(self) -> set[str]:
        import sqlite3

        with sqlite3.connect(self.path) as conn:
            return {row[0] for row in conn.execute("SELECT real FROM surrogates") if row[0]}

    def surrogate_values(self) -> set[str]:
        """Every surrogate handed out: the residual scan does not flag these."""
        import sqlite3

        with sqlite3.connect(self.path) as conn:
            return {row[0] for row in conn.execute("SELECT surrogate FROM surrogates")}


def _parse_date(text: str) -> tuple[dt.date, dict] | None:
    """(date, how it was written) for the forms the rules find; None if unparseable."""
    try:
        if match := YEAR_ONLY.match(text):  # "2001", "'94", "94" ("MI 94")
            apostrophe, year = match.groups()
            full = int(year) if len(year) == 4 else int(year) + (1900 if int(year) > 30 else 2000)
            return dt.date(full, 7, 1), {"kind": "year", "year": True, "year_digits": len(year),
                                         "apostrophe": bool(apostrophe)}
        if match := MONTH_YEAR.match(text):  # "6/98", "3/2019"
            month, sep, year = match.groups()
            full = int(year) if len(year) == 4 else int(year) + (1900 if int(year) > 30 else 2000)
            return dt.date(full, int(month), 15), {"kind": "month_year", "sep": sep, "year": True,
                                                   "year_digits": len(year), "apostrophe": False}
        if match := ISO_DATE.match(text):
            year, month, day = map(int, match.groups())
            return dt.date(year, month, day), {"kind": "iso", "year": True}
        if match := NUMERIC_DATE.match(text):
            month, sep, day, _, year = match.groups()
            full_year = None if year is None else int(year) + (0 if len(year) == 4 else
                                                               (1900 if int(year) > 30 else 2000))
            base = dt.date(full_year or 2001, int(month), int(day))
            return base, {"kind": "numeric", "sep": sep, "year": year is not None,
                          "year_digits": len(year or ""), "pad": len(match.group(1)) == 2}
        if match := NAMED_DATE.match(text):
            name, day, year = match.groups()
            month = next(i for i, m in enumerate(MONTH_NAMES, 1) if m.lower().startswith(name.lower()[:3]))
            return dt.date(int(year or 2001), month, int(day)), {"kind": "named", "year": year is not None}
    except ValueError:
        return None
    return None


def _format_date(day: dt.date, style: dict) -> str:
    if style["kind"] in ("year", "month_year"):
        year = str(day.year) if style["year_digits"] == 4 else f"{day.year % 100:02d}"
        year = ("'" if style["apostrophe"] else "") + year
        return f"{day.month}{style['sep']}{year}" if style["kind"] == "month_year" else year
    if style["kind"] == "iso":
        return day.isoformat()
    if style["kind"] == "numeric":
        month, date = (f"{day.month:02d}", f"{day.day:02d}") if style["pad"] else (str(day.month), str(day.day))
        text = f"{month}{style['sep']}{date}"
        if style["year"]:
            year = str(day.year) if style["year_digits"] == 4 else f"{day.year % 100:02d}"
            text += f"{style['sep']}{year}"
        return text
    text = f"{MONTH_NAMES[day.month - 1]} {day.day}"
    return f"{text}, {day.year}" if style["year"] else text
