"""Clinical identifier rules for de-identification: the patterns Presidio lacks, and the
filters that remove its usual false positives on clinical text.

Each rule is a regular expression whose group 1 (or whole match) is the identifier,
with a HIPAA Safe Harbor type. Rules are plain data, so the benchmark can score them
one by one and a user can see what fired (``recognizer`` names the rule).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MONTHS = ("january|february|march|april|may|june|july|august|september|october|november|"
          "december|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec")
WEEKDAYS = "monday|tuesday|wednesday|thursday|friday|saturday|sunday"
# Smith, McDonald, O'Neil, Smith-Jones, J. -- a capital then lower case, so that a
# following "DOB" or "MRN" is not taken for part of the name.
NAME_WORD = r"[A-Z](?:[a-z]|'[A-Z])[a-zA-Z'\-]*|[A-Z]\."
NAME = rf"(?:{NAME_WORD})(?:[ \t](?:{NAME_WORD})){{0,3}}"
CAPS_NAME = r"[A-Z][A-Z'\-]+(?:[ \t][A-Z][A-Z'\-]+){0,3}"
# The one list of words that put a name after them: titles a name follows ("Dr. Haas"),
# and role titles that do in letters ("Sister Agnes"), which the context pass leaves to
# its role-word handling.
NAME_TITLES = ("dr", "drs", "doctor", "mr", "mrs", "ms", "miss", "mx", "prof", "professor")
ROLE_TITLES = ("nurse", "sister")
TITLES = ("(?:" + "|".join(t.capitalize() for t in sorted(NAME_TITLES + ROLE_TITLES, key=len, reverse=True))
          + r")\.?")
CREDENTIALS = r"(?:MD|M\.D\.|DO|RN|NP|PA-C|PA|DDS|DMD|PhD|MBBS|MBChB|FRCP|LPN|CNM|APRN|DPM)"
NAME_LABELS = (r"(?:patient(?:'s)? name|patient|pt|name|physician|provider|attending|"
               r"referring(?: physician| doctor)?|doctor|surgeon|nurse|signed(?: by)?|"
               r"dictated by|electronically signed by|author|mother|father|wife|husband|son|"
               r"daughter|spouse|partner|guardian|contact|emergency contact|next of kin|cc|"
               r"seen by|resident|fellow|pcp|primary care(?: physician)?|"
               # insurance and intake forms: "Member: Shah, Lakshmi"
               r"member|subscriber|insured|policy ?holder|guarantor|beneficiary|client)")
ID_LABELS = (r"(?:mrn|medical record(?: number| no\.?| #)?|record(?: number| no\.?| #)|"
             r"acct|account(?: number| no\.?| #)?|accession(?: number| no\.?| #)?|"
             r"member id|policy(?: number| no\.?| #)?|health ?plan(?: id| number)?|"
             r"insurance(?: id| number)?|subscriber(?: id)?|licen[cs]e(?: number| no\.?| #)?|"
             r"lic\.?|dea|npi|serial(?: number| no\.?| #)?|device(?: id| serial)?|vin|"
             r"plate(?: number)?|case(?: number| no\.?| #)|encounter(?: id| number| #)?|"
             r"visit(?: id| number| #)|fin|csn|ssn|social security(?: number)?|"
             r"unit(?: number| no\.?| #)|hosp(?:ital)?(?: number| no\.?| #)|mr ?#|"
             r"chart(?: number| no\.?| #)|hic(?:n)?|medicaid(?: id| number| #)?|"
             r"medicare(?: id| number| #| mbi)?|mbi|patient id|pt id|id|badge|job|group|claim|"
             r"rx|prescription|specimen|requisition|order|ticket|run|dictation|confirmation|"
             r"clia|tax id|ein|passport|driver'?s licen[cs]e)(?![A-Za-z])")
# Past events written with a short year ("MI 94", "CABG '01", "appy 87").
HISTORY_EVENTS = (r"(?:mi|nstemi|stemi|cabg|pci|ptca|stent|stents|cva|tia|stroke|chf|afib|dvt|pe|"
                  r"ca|cancer|dx|dx'd|diagnosed|appy|appendectomy|chole|cholecystectomy|turp|tah|"
                  r"bso|hysterectomy|mastectomy|lumpectomy|repair|fx|thr|tkr|tka|tha|avr|mvr|ppm|"
                  r"aicd|icd|surgery|sx|resection|transplant|lap|ex-lap|colectomy|cath|echo|"
                  r"in|since|until|from|thru|through)")
HOLIDAYS = (r"christmas|xmas|thanksgiving|easter|new year'?s(?: day| eve)?|halloween|"
            r"independence day|labor day|memorial day|valentine'?s day|hanukkah|passover|"
            r"ramadan|eid|diwali|yom kippur|rosh hashanah")
# USPS street suffixes (the common ones, full and abbreviated, singular and plural)
# The flat after a street in the street rule: "12 Birch Rd. unit 4B", "8 Elm St, apt 2".
STREET_UNIT = r",?[ \t]*(?i:apt|apartment|suite|ste|unit|#)\.?[ \t]*\w+"
STREET_TYPES = (r"(?i:alley|aly|annex|arcade|avenue|ave|bayou|beach|bend|bluffs?|bottom|"
                r"boulevard|blvd|branch|bridge|brook|burgs?|bypass|camp|canyon|cape|causeway|"
                r"cent(?:er|re)s?|circles?|cir|cliffs?|club|commons?|corners?|course|courts?|ct|"
                r"coves?|creek|crescent|crest|crossing|curve|dale|dam|divide|drives?|dr|"
                r"estates?|expressway|extensions?|falls?|ferry|fields?|flats?|fords?|forest|"
                r"forges?|forks?|fort|freeway|gardens?|gateway|glens?|greens?|groves?|harbors?|"
                r"haven|heights|highway|hwy|hills?|hollow|inlet|islands?|isle|junctions?|keys?|"
                r"knolls?|lakes?|land|landing|lane|ln|lights?|loaf|locks?|lodge|loop|mall|"
                r"manors?|meadows?|mews|mills?|mission|motorway|mount|mountains?|neck|orchard|"
                r"oval|overpass|park|parkways?|pkwy|pass|passage|path|pike|pines?|place|pl|"
                r"plains?|plaza|points?|ports?|prairie|radial|ranch|rapids?|rest|ridges?|river|"
                r"road|rd|roads|route|row|rue|run|shoals?|shores?|skyway|springs?|spurs?|"
                r"squares?|sq|station|stravenue|stream|streets?|st|summit|terrace|ter|"
                r"throughway|trace|track|trafficway|trail|trailer|tunnel|turnpike|underpass|"
                r"unions?|valleys?|viaduct|views?|villages?|ville|vista|walks?|wall|ways?|"
                r"wells?|close)")
FACILITY_WORDS = (r"(?:hospital|clinic|medical cent(?:er|re)|health cent(?:er|re)|infirmary|"
                  r"practice|surgery|hospice|nursing home|care home|health system|healthcare|"
                  r"medical group|urgent care|rehabilitation cent(?:er|re)|laboratory|labs)")
US_STATES = ("AL AK AZ AR CA CO CT DE FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE "
             "NV NH NJ NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY DC").split()


@dataclass(frozen=True)
class Rule:
    """One identifier pattern: ``pattern``'s group 1 (else the match) is the identifier."""

    name: str
    entity: str
    pattern: str
    score: float = 0.9
    flags: int = re.IGNORECASE

    def compiled(self) -> re.Pattern:
        return re.compile(self.pattern, self.flags | re.MULTILINE)


RULES: list[Rule] = [
    # -- names -----------------------------------------------------------------------
    Rule("titled_name", "PERSON", rf"\b{TITLES}[ \t]+({NAME})", 0.95, 0),
    Rule("titled_caps_name", "PERSON", rf"\b(?:DR|MR|MRS|MS|MISS)\.?[ \t]+({CAPS_NAME})\b", 0.95, 0),
    Rule("name_with_credential", "PERSON", rf"\b({NAME}),?[ \t]+{CREDENTIALS}\b", 0.95, 0),
    Rule("labelled_name", "PERSON",
         rf"(?i:\b{NAME_LABELS})[ \t]*:[ \t]*(?:{TITLES}[ \t]+)?((?:{NAME}|{CAPS_NAME})"
         rf"(?:,[ \t]*(?:{NAME}|{CAPS_NAME}))?)", 0.95, 0),
    # narrative openings: "Bruce Ward is a 62-year-old", "Brittany Edwards is a pleasant"
    Rule("name_is_a", "PERSON",
         rf"\b({NAME})(?=,?[ \t]+(?:is|was|who is)[ \t]+an?[ \t]+(?:\d{{1,3}}[- ]?(?:year|yr|month|week|day)|"
         r"pleasant|very|delightful|well-known|known|previously))", 0.85, 0),
    # a header line "LAST, FIRST  1234567" or "Smith,John MRN#..."
    Rule("header_last_first", "PERSON",
         r"^[ \t]*(?:[|][ \t]*)?([A-Za-z][A-Za-z'\-]+,[ \t]*[A-Za-z][A-Za-z'\-]+(?:[ \t]+[A-Za-z]\.?(?![A-Za-z]))?)"
         r"(?=[ \t]+(?:/[ \t]*)?\(?(?:mrn|mr#|#|dob|unit|acct|ssn|bcbs|member|id|hosp|sex|age|\d{5,}|"
         r"[A-Z]{1,2}\d{5,}))", 0.85, re.MULTILINE | re.IGNORECASE),
    # "LAST, FIRST M" after a label: the middle initial too ("NEXT OF KIN: BUSH, KOFI M")
    Rule("labelled_last_first", "PERSON",
         rf"(?i:\b{NAME_LABELS}|ordered by|next of kin|hcp|name)[ \t]*:[ \t]*"
         r"([A-Z][A-Za-z'\-]+,[ \t]*[A-Z][A-Za-z'\-]+(?:[ \t]+[A-Z]\.?(?![A-Za-z]))?)", 0.9, 0),
    Rule("signature", "PERSON", rf"^[ \t]*(?:-{{2,}}|/s/)[ \t]*({NAME})", 0.9, 0),
    # a specimen or a form labelled with the name in quotes: 'received fresh labeled "ORTIZ, SANDY"'
    Rule("quoted_last_first", "PERSON",
         r"(?i:labell?ed|marked|identified as|named)[ \t]+[\"'“]"
         r"([A-Z][A-Za-z'\-]+,[ \t]*[A-Z][A-Za-z'\-]+(?:[ \t]+[A-Z]\.?(?![A-Za-z]))?)[\"'”]", 0.9, 0),
    # -- dates (all elements but the year) ---------------------------------------------
    Rule("date_numeric", "DATE_TIME",
         r"\b((?:0?[1-9]|1[0-2])[/\-.](?:0?[1-9]|[12]\d|3[01])[/\-.](?:19|20)?\d{2}"
         r"(?:[ \t]+(?:[01]?\d|2[0-3]):[0-5]\d)?)\b", 0.95),
    # "020221" (mmddyy run together), also closing a sentence ("on 102624.")
    Rule("date_compact", "DATE_TIME", r"(?<![\d.#-])((?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{2})(?!\d|\.\d)", 0.5),
    # a long bare number (7 to 12 digits) is a record number or an account, never a lab value
    Rule("long_number", "ID", r"(?<![\d.,/-])(\d{7,13}(?:-\d{2,6})?)(?![\d,/]|\.\d)", 0.6),
    # a number after '#' ("badge #0619", "Job #: 87933", "Rx #1884360-84548")
    Rule("hash_number", "ID", r"#[ \t]*:?[ \t]*(\d{3,}(?:-\d{2,})?)\b", 0.5),
    # "SSN on file ends in 7280", "SSN (LAST 4): 8378"
    Rule("ssn_last_four", "US_SSN", r"\b(?:ssn|social security)\b(?:[^.\n\d]|last[ \t]*4\b){0,25}?(\d{4})\b", 0.8),
    # "19FEB1932", "26MAR2023", "3-DEC-19"
    Rule("date_day_mon_year", "DATE_TIME",
         rf"\b((?:0?[1-9]|[12]\d|3[01])[ \-]?(?:{MONTHS})[ \-]?(?:19|20)?\d{{2}})\b", 0.9),
    # 7/22 with no year: also how murmurs, strength and doses are written ("3/6 murmur")
    Rule("date_short", "DATE_TIME",
         r"\b((?:0?[1-9]|1[0-2])/(?:0?[1-9]|[12]\d|3[01]))\b(?![/\d])(?![ \t]*(?:strength|murmur|"
         r"systolic|diastolic|holosystolic|power|reflex|pulses?|tab|pill|dose|score|scale|"
         r"in |of |times|x\b|[a-z]*motor|blood|cultures?|ns\b|normal saline))", 0.7),
    Rule("date_iso", "DATE_TIME", r"\b((?:19|20)\d{2}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01]))\b", 0.95),
    Rule("date_day_first", "DATE_TIME",
         r"\b((?:0?[1-9]|[12]\d|3[01])[/.](?:0?[1-9]|1[0-2])[/.](?:19|20)\d{2})\b", 0.9),
    Rule("date_month_name", "DATE_TIME",
         rf"\b((?:{MONTHS})\.?[ \t]+(?:0?[1-9]|[12]\d|3[01])(?:st|nd|rd|th)?(?:,?[ \t]+(?:19|20)\d{{2}})?)\b", 0.95),
    Rule("date_day_month", "DATE_TIME",
         rf"\b((?:0?[1-9]|[12]\d|3[01])(?:st|nd|rd|th)?[ \t]+(?:of[ \t]+)?(?:{MONTHS})\.?(?:,?[ \t]+(?:19|20)\d{{2}})?)\b", 0.95),
    Rule("date_month_year", "DATE_TIME", rf"\b((?:{MONTHS})\.?,?[ \t]+(?:of[ \t]+)?(?:19|20)\d{{2}})\b", 0.9),
    Rule("date_apostrophe_year", "DATE_TIME", r"(?<![\w'])('\d{2})\b", 0.6),
    Rule("weekday", "DATE_TIME", rf"\b((?:{WEEKDAYS}))\b", 0.5),
    Rule("holiday", "DATE_TIME", rf"\b((?:{HOLIDAYS}))\b", 0.6),
    Rule("weekday_short", "DATE_TIME", r"\b(?:until|on|by|since|next|this|last|thru|through|from|"
         r"til|till|before|after)[ \t]+((?:mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun))\b", 0.6),
    # a year alone (Safe Harbor lets years stay; the surrogate shifts it with the patient's
    # dates, so "S/P CABG 2001" keeps its distance to the other dates)
    Rule("year", "DATE_TIME",
         r"(?<![\d.,/:-])((?:19[0-9]\d|20[0-3]\d))(?![\d.,]\d)(?![ \t]*(?:mg|mcg|g|ml|cc|units?|"
         r"iu|meq|mmol|cells|/|%|x\b|k\b))", 0.6),
    Rule("history_year", "DATE_TIME", rf"\b{HISTORY_EVENTS}[ \t]+('?\d{{2}})\b(?![ \t]*(?:%|mg|mcg|ml|cc|"
         r"units?|y|yo|yr|years?|days?|d\b|weeks?|wks?|months?|mos?|hours?|hrs?|h\b|min|x\b|times|"
         r"/|-|\.\d|mm|cm|kg|lb|bpm|beats|breaths))", 0.6),
    # month/year: "echo 6/98", "3/2019" (not "4/10 pain", "5/5 strength")
    Rule("month_year", "DATE_TIME",
         r"(?<![\d/.])((?:0?[1-9]|1[0-2])[/\-](?:19\d{2}|20\d{2}|[3-9]\d|0\d))(?![/\d])"
         r"(?![ \t]*(?:pain|strength|scale|murmur))", 0.6),
    # "on the 3rd", "the 21st of this month"
    Rule("ordinal_day", "DATE_TIME", r"\b(?:on|the|since|until|by)[ \t]+(?:the[ \t]+)?"
         r"((?:[12]?\d|3[01])(?:st|nd|rd|th))\b(?![ \t]*(?:percentile|grade|degree|day|week|"
         r"cycle|dose|time|rib|intercostal|toe|finger|digit|ventricle|cranial|trimester))", 0.6),
    # "3-Dec", "Dec-3", "12-Dec-2019"
    Rule("date_dash_month", "DATE_TIME",
         rf"\b((?:(?:0?[1-9]|[12]\d|3[01])-(?:{MONTHS})|(?:{MONTHS})-(?:0?[1-9]|[12]\d|3[01]))"
         r"(?:-(?:19|20)?\d{2})?)\b", 0.9),
    # -- ages over 89 ------------------------------------------------------------------
    Rule("age_over_89", "AGE",
         r"\b((?:9\d|1[0-4]\d))(?=[ \t-]*(?:years?|yrs?|y/?o\b|y\.o\.|-year))", 0.95),
    # "(92) member id ...", "A/P: (98) w/ rhonchi"; not a vital sign "sat (95)"
    Rule("age_in_parentheses", "AGE",
         r"\((?<!hr \()(?<!rr \()(?<!sat \()(?<!o2 \()(?<!spo2 \()(?<!bp \()(?<!pulse \()"
         r"(?<!glucose \()(?<!fsbg \()(?<!wt \()(?<!weight \()(?<!hct \()(?<!plt \()(?<!na \()"
         r"(?<!cl \()(?<!bun \()(?<!ef \()(?<!temp \()(?<!t \()"
         r"((?:9\d|1[0-4]\d))\)(?![ \t]*(?:%|mg|kg|lb|bpm|mm|/))", 0.7),
    Rule("age_in_words", "AGE",
         r"\b((?:ninety|one hundred(?: and)?)(?:[- ](?:one|two|three|four|five|six|seven|eight|nine))?)"
         r"(?=[ \t-]*(?:years?|yrs?|y/?o\b|-year|,|[ \t]+w/|[ \t]+with))", 0.8),
    Rule("aged_in_words", "AGE",
         r"\b(?:aged?|age of)[ \t]+((?:ninety|one hundred(?: and)?)(?:[- ](?:one|two|three|four|five|"
         r"six|seven|eight|nine))?)\b", 0.9),
    Rule("aged_over_89", "AGE", r"\b(?:aged?|age:|age of)[ \t]*((?:9\d|1[0-4]\d))\b", 0.95),
    # "93F", "91 M", "92yo", "(92 Y)", "100 y/o" (not a temperature: "T 98F", "temp 99 F")
    Rule("age_sex_over_89", "AGE",
         r"(?<!\d)(?<!t )(?<!temp )(?<!tmax )(?<!t: )((?:9\d|1[0-4]\d))(?=[ \t/]?(?:f|m|y|yo|yof|yom|"
         r"y/o|y\.o\.|yr|yrs|year|years|w|wm|wf|bm|bf|female|male|woman|man)\b)", 0.8),
    # -- contact -------------------------------------------------------------------------
    Rule("phone", "PHONE_NUMBER",
         r"(?<!\d)((?:\+?1[ \t.-]?)?(?:\(\d{3}\)[ \t]*|\d{3}[ \t.-])\d{3}[ \t.-]\d{4}"
         r"(?:[ \t]*(?:x|ext\.?|extension)[ \t]*\d{1,5})?)(?!\d)", 0.9),
    # local forms: "555-1234", "x4-5678", "ext 2345", "pager 1234", "beeper #22134"
    Rule("local_phone", "PHONE_NUMBER", r"(?<![\d\-/.])(\d{3}-\d{4})(?![\d\-])", 0.7),
    Rule("extension", "PHONE_NUMBER",
         r"(?:\b(?:ext|extension|pager|pgr|beeper|bpr|page|pg|cell|tel|call|callback|"
         r"call back|x)\.?[ \t]*(?:no\.?|#|:)?[ \t]*|(?<![\w])x)(\d{1,2}-\d{4}|\d{4,6})\b", 0.8),
    Rule("number_then_pager", "PHONE_NUMBER",
         r"(?:#[ \t]*)?(?<!\d)(\d{4,6})[ \t]*\(?(?:beeper|pager|pgr|bpr)\b", 0.8),
    Rule("labelled_phone", "PHONE_NUMBER",
         r"\b(?:tel|phone|fax|pager|pgr|beeper|cell|mobile|ext)\.?[ \t]*(?:no\.?|#|:)?[ \t]*"
         r"(\+?[\d][\d \t().-]{3,18}\d)", 0.9),
    # bounded local part: "[\w.+-]+@" alone is quadratic on long runs of "a.a.a."
    Rule("email", "EMAIL_ADDRESS", r"(?<![\w.+-])([\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63}){1,8})\b", 0.95),
    Rule("url", "URL", r"\b((?:https?://|www\.)[^\s<>\"']+[^\s<>\"'.,;:!?)])", 0.9),
    # a web address without scheme: "mychart.example.org", "clinic.com/patients"
    Rule("domain", "URL", r"(?<![@\w.-])((?:[a-z0-9-]+\.)+(?:com|org|net|edu|gov|us|info|health|"
         r"care|clinic|io|co)(?:/[^\s<>\"']*[^\s<>\"'.,;:!?)])?)\b", 0.8),
    Rule("ip", "IP_ADDRESS", r"\b((?:\d{1,3}\.){3}\d{1,3})\b", 0.8),
    # -- numbers by their label -----------------------------------------------------------
    Rule("labelled_id", "ID",
         rf"\b{ID_LABELS}[ \t]*(?:number|no\.?|#)?[ \t]*(?:[:#-]|is|was)?[ \t]*"
         r"((?=[A-Z0-9\-]*\d|[A-Z]{1,4}[ .\-]?\d)[A-Z0-9](?:[A-Z0-9\-]|[. ](?=[A-Z0-9]*\d)){3,})\b", 0.95),
    # letters and six or more digits in one token: plan, member and device numbers
    # letters and six or more digits in one token ("YLB743292055", "40D2558297", "5T44AA5KG66")
    Rule("alphanumeric_id", "ID",
         r"\b(?!\d+s?-\d+s\b)((?=[A-Z0-9-]*[A-Z])(?=(?:[A-Z-]*\d){6})[A-Z0-9](?:[A-Z0-9]|-(?=[A-Z0-9])){6,})\b", 0.6),
    # ZIP codes after a state code ("MA 01439-8060"), and ZIP+4 anywhere
    Rule("state_zip", "ZIP", rf"\b(?:{'|'.join(US_STATES)})\.?,?[ \t]+(\d{{5}}(?:-\d{{4}})?)\b", 0.85),
    Rule("zip_plus_four", "ZIP", r"(?<![\d-])(\d{5}-\d{4})(?![\d-])", 0.7),
    Rule("ssn", "US_SSN", r"\b(\d{3}-\d{2}-\d{4})\b", 0.9),
    # -- places ---------------------------------------------------------------------------
    Rule("street_address", "LOCATION",
         rf"\b(\d{{1,6}}[ \t]+(?:[A-Z][a-zA-Z'\-]+[ \t]+){{1,4}}{STREET_TYPES}\.?(?:{STREET_UNIT})?)\b", 0.9, 0),
    Rule("address_by_label", "LOCATION",
         r"\b(?:lives at|living at|resides at|residing at|address|home address)[ \t]*:?[ \t]*"
         r"(\d{1,6}[ \t]+[^,\n]{3,60}?)(?=,|\n|$|\.[ \t])", 0.85),
    Rule("po_box", "LOCATION", r"\b(p\.?[ \t]*o\.?[ \t]*box[ \t]+\d+)\b", 0.9),
    Rule("city_state_zip", "LOCATION",
         rf"\b((?:[A-Z][a-zA-Z'\-]+[ \t]+){{0,2}}[A-Z][a-zA-Z'\-]+,?[ \t]+(?:{'|'.join(US_STATES)})[ \t]+\d{{5}}(?:-\d{{4}})?)\b",
         0.95, 0),
    # a town and its state without a ZIP ("Eureka, CA"); not the state codes that are
    # also credentials or words (MD, DO, PA, OR, IN, ME, OK, HI)
    Rule("city_state", "LOCATION",
         rf"\b((?:[A-Z][a-zA-Z'\-]+[ \t]+){{0,2}}[A-Z][a-zA-Z'\-]+),[ \t]*(?:"
         + "|".join(s for s in US_STATES if s not in ("MD", "DO", "PA", "OR", "IN", "ME", "OK", "HI", "DC", "ID", "CO", "DE", "LA", "AL"))
         + r")\b(?![a-z])", 0.7, 0),
    Rule("labelled_zip", "ZIP", r"\b(?:zip|postal code|post code)[ \t]*(?:code)?[ \t]*:?[ \t]*(\d{5}(?:-\d{4})?)\b", 0.95),
    Rule("city_zip", "LOCATION", r"(?<=, )([A-Z][a-zA-Z'\-]+[ \t]+\d{5}(?:-\d{4})?)\b", 0.85, 0),
    Rule("facility", "FACILITY",
         rf"\b((?:[A-Z][a-zA-Z'&\-]+[ \t]+){{1,4}}(?i:{FACILITY_WORDS}))\b", 0.85, 0),
]

# Words that Presidio's spaCy model often calls a PERSON, ORG or place in clinical text.
CLINICAL_WORDS = set("""
tel fax phone email pager cell mobile ext
dob dod mrn age sex gender male female dx ddx tx rx hx sx fhx shx pt
abdomen abdominal acute allergies allergy anemia anaemia ankle aorta appendicitis arm
arthritis assessment asthma atrial bilateral blood bp breast bronchitis cardiac
cardiology cardiovascular cc chest chief cholesterol chronic ckd clinic colon complaint
constitutional copd covid ct cva cxr daily dermatology diabetes diagnosis diet
differential dvt dyspnea ecg echo edema ekg emergency endocrine ent examination exam
extremities eyes family fever follow gastrointestinal genitourinary gi gu hba1c head
heart heent hematology hepatic history hpi hypertension imaging impression infection
insulin kidney knee labs lasix left lisinopril liver lung lungs lymph medical
medications metformin mri msk musculoskeletal neck neuro neurological neurology normal
objective oncology pain past patient pe physical plan plus pmh pneumonia procedure
psychiatric pulmonary pulse rehab renal respiratory results review right ros shoulder
sinus skin social spine subjective surgery surgical symptoms systems tachycardia
temperature thyroid tylenol ultrasound urinalysis urine vital vitals wbc xray x-ray
""".split())

# Geographic names that Safe Harbor lets stay (states and countries are not identifiers).
KEEP_PLACES = set("""
alabama alaska arizona arkansas california colorado connecticut delaware florida georgia
hawaii idaho illinois indiana iowa kansas kentucky louisiana maine maryland massachusetts
michigan minnesota mississippi missouri montana nebraska nevada ohio oklahoma oregon
pennsylvania tennessee texas utah vermont virginia washington wisconsin wyoming
america usa us u.s. uk england scotland wales ireland canada mexico france germany italy
spain china india japan africa europe asia
""".split())

# Eponyms: "Baker's cyst", "Wells score", "Parkinson disease" name no person here.
EPONYM_FOLLOWER = re.compile(
    r"^(?:'s)?[ \t]+(?:coma[ \t]+|nile[ \t]+|spotted[ \t]+)?(?:disease|syndrome|virus|fever|cyst|sign|score|criteria|test|maneuver|manoeuvre|"
    r"palsy|phenomenon|lymphoma|ulcer|node|fracture|triad|reflex|classification|scale|"
    r"operation|procedure|tumou?r|anomaly|diverticulum|esophagus|oesophagus|position|law|"
    r"rule|index|ratio|sarcoma|dementia|thyroiditis|hernia|contracture|encephalopathy)\b",
    re.IGNORECASE)
# Generic drug name stems (WHO INN): a "person" ending like this is a drug.
DRUG_STEM = re.compile(
    r"^\w{2,}(?:xaban|gatran|pril|sartan|olol|alol|dipine|statin|azole|mycin|micin|cillin|"
    r"floxacin|cycline|tidine|prazole|umab|ximab|zumab|tinib|ciclovir|clovir|amivir|"
    r"buvir|parin|gliptin|gliflozin|glutide|formin|olone|semide|thiazide|docaine|"
    r"vacaine|azepam|azolam|oxetine|traline|triptan|profen|conazole|dronate|lukast|"
    r"terol|tropium|setron|platin|rubicin|taxel|zosin|afil|pramine|tyline|peridone|"
    r"apine|barbital)$", re.IGNORECASE)

# what makes a spaCy DATE a date (else it is a duration: "four days"); the rules' own
# short forms count too, or Presidio's dedup would drop the rule's hit with spaCy's
DATE_EVIDENCE = re.compile(rf"\b\d{{1,2}}/\d{{1,2}}\b|\b\d{{1,2}}\.\d{{1,2}}\.\d{{2,4}}\b|\b\d{{1,4}}-\d{{1,2}}-\d{{1,4}}\b|\b(?:{MONTHS})\b|\b(?:{WEEKDAYS})\b|\b(?:19|20)\d{{2}}\b|"
                           r"'\d{2}\b|\b\d{6}\b|\b\d{1,2}(?:st|nd|rd|th)\b|\b(?:mon|tue|tues|wed|thu|"
                           r"thur|thurs|fri|sat|sun)\b", re.IGNORECASE)


# Capitalised at a sentence start, never a name by themselves.
NOT_NAME_WORDS = set("""
a an the this that these those he she they his her their patient pt today she's he's it
mr mrs ms dr miss mx prof doctor nurse sister
started stopped start stop continue continued increased decreased reduced given
prescribed take takes taking advised review reviewed refer referred seen discussed
""".split())


def trim_clinical_edges(span: str, also=None) -> tuple[int, int]:
    """(start, end) inside ``span`` without leading or trailing clinical words: spaCy
    often runs a name on into the next field label ("Alex Example    DOB") or word
    ("tom aware"); ``also`` is a further test of a word that may go."""
    words = list(re.finditer(r"\S+", span))
    def ordinary(word: str) -> bool:
        word = word.strip(".,:;()").lower()
        return word in CLINICAL_WORDS or word in NOT_NAME_WORDS or bool(also and word and also(word))

    while words and ordinary(words[-1].group()):
        words.pop()
    while words and ordinary(words[0].group()):
        words.pop(0)
    return (words[0].start(), words[-1].end()) if words else (0, 0)


def spacy_false_positive(entity: str, span: str, after: str = "") -> bool:
    """True when a spaCy NER span is one of its usual clinical false positives: a
    duration or frequency called a date, a clinical word, an eponym ("Baker's cyst",
    given the text ``after`` the span) or a drug called a person or place."""
    words = [w.strip(".,:;()'").lower() for w in span.split()]
    if entity == "PERSON" and any(DRUG_STEM.search(w) for w in words):
        return True
    if entity in ("PERSON", "LOCATION") and EPONYM_FOLLOWER.match(after):
        return True  # "Glasgow Coma Scale", "Lyme disease"
    if entity == "DATE_TIME":
        return not DATE_EVIDENCE.search(span)  # "four days", "daily", "65-year-old"
    if entity in ("PERSON", "LOCATION"):
        if any(not w for w in words) or not span[:1].isalpha():
            return True
        if all(w in CLINICAL_WORDS for w in words):
            return True
        if entity == "LOCATION" and span.strip().lower() in KEEP_PLACES:
            return True
    return entity in ("ORGANIZATION", "NRP")  # facilities have their own rule
