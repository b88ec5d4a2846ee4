"""The words around a name: titles, relatives and staff, contact verbs, credentials,
list joins and the other clues stages/deid/context.py reads names by."""

from __future__ import annotations

import re

from medllm_local.stages.deid.rules import NAME_TITLES

TITLES = frozenset(NAME_TITLES)
# Relatives and staff: the next name-like word is a name even when it is also English.
RELATIVE_WORDS = {
    "husband", "wife", "son", "daughter", "dtr", "mother", "mom", "mum", "father", "dad",
    "sister", "brother", "sis", "bro", "friend", "niece", "nephew", "aunt", "uncle",
    "grandson", "granddaughter", "grandmother", "grandfather", "grandma", "grandpa",
    "gdtr", "gson", "hcp", "proxy", "spouse", "partner", "fiance", "fiancee", "girlfriend",
    "boyfriend", "neighbor", "neighbour", "cousin", "stepson", "stepdaughter", "caregiver",
    # several of them: "dtrs feyzin & jana", "Gungordu, Borivoj and Rohat (children)"
    "dtrs", "daughters", "sons", "sisters", "brothers", "children", "kids", "grandchildren",
    "grandsons", "granddaughters", "parents", "friends", "cousins", "nieces", "nephews",
}
ROLE_WORDS = RELATIVE_WORDS | {
    "rn", "np", "resident", "intern", "attending", "fellow", "nurse", "cm", "sw", "chaplain",
    "pharmacist", "pcp", "hospitalist", "intensivist", "cardiologist", "surgeon",
    "nephrologist", "neurologist", "oncologist", "pulmonologist", "therapist", "dietitian",
    "nutritionist", "staff", "housestaff", "covering", "provider", "physician", "doc",
}
# Before a name as a role, not a relative: "per micro call from RT MARIA", "PA FLETCHER".
# A name must look like one here ("rt hand", "PA pressure" are no names).
STAFF_ABBREVIATIONS = ("pt", "rt", "ot", "slp", "per", "security", "pa")
ROLE_PHRASES = {("house", "staff"), ("case", "manager"), ("social", "worker"),
                ("spoke", "with"), ("spoke", "to"), ("talked", "with"), ("talked", "to"),
                ("discussed", "with"), ("seen", "by"), ("care", "of"), ("d", "w"),
                ("family", "member"), ("next", "of", "kin")}
PHRASES_BY_FIRST: dict[str, list[tuple[str, ...]]] = {}
for _phrase in ROLE_PHRASES:
    PHRASES_BY_FIRST.setdefault(_phrase[0], []).append(_phrase)
# Weaker: a name follows only when the word is a name and not also English ("per haas").
WEAK_TRIGGERS = {"per", "with", "w", "by", "called", "paged", "notified", "informed",
                 "updated", "asked", "told", "from", "to", "cc", "via", "contacted",
                 "page", "call"}
# Of those, the verbs of reaching a person: what follows is a person, not a place or a drug.
CONTACT_VERBS = {"called", "paged", "notified", "informed", "updated", "asked", "told",
                 "contacted", "page", "call"}
CREDENTIALS = {"md", "rn", "np", "pa", "bsn", "lpn", "cna", "rrt", "msw", "lcsw", "pharmd",
               "phd", "aprn", "crna", "pac", "dnp", "mph", "facp", "facc", "mbbs", "do",
               "lvn", "cnm", "msn", "fnp", "agnp", "ccm", "rph", "cpht", "cna", "emt", "mba"}
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
re regarding about after before during while since until per via as
electronically signed dictated transcribed cosigned works worked lives lived stays
visits case social charge night day primary float travel unit
""".split())
# First names that are mostly English words in notes ("son will visit", "may need").
AMBIGUOUS_FIRST = {"will", "may", "june", "april", "august", "grace", "hope", "faith",
                   "joy", "rose", "bill", "mark", "pat", "sue", "art", "ray", "don", "guy",
                   "jack", "frank", "rich", "gene", "dawn", "summer", "autumn", "eve", "lee",
                   "jean", "earl", "chance", "page", "penny", "max", "sunny", "sky", "sage",
                   "bob", "bud", "jay", "hunter", "major", "king", "sterling", "miles",
                   "chase", "rod", "sandy", "cliff", "dale", "glen", "wade", "drew", "pierce"}
# Of those, the ones that after a relative read as the verb or word that follows ("son
# will visit", "wife hopes", "husband major concern"); the rest are names there ("FRIEND MARK").
VERB_LIKE_FIRST = {"will", "may", "hope", "bill", "chase", "page", "miles", "wade",
                   "rich", "frank", "pierce", "cliff", "major", "chance", "sterling", "king",
                   "hunter", "sky", "sunny"}
WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?")

# A census first name this frequent is a name after a role even when it is also an
# English word ("RT MARIA"; web2 lists "maria" as the plural of "mare"); after a title,
# a surname this frequent too ("dr white").
FREQUENT_FIRST_RANK, FREQUENT_SURNAME_RANK = 500, 5000
# A census first name this common goes with a surname after it ("GRACE WHITE") or before
# a credential ("MAY KIM, RN"), even when it is also a word.
COMMON_FIRST_RANK = 1500
# An English word this rare (wordfreq zipf) after a relative, a role or before a
# credential is a name that happens to be in Webster's ("attending milas", "Frieder RN").
RARE_WORD_ZIPF = 2.0
# After a relative the bar is higher: "neighbor sienna", "sister ottilie" (an English
# word there is still a name if it is this rare; after staff it is often a clinical noun:
# "NP swab").
RELATIVE_RARE_ZIPF = 3.0
# ...unless it ends as adjectives, verb forms and abstract nouns do ("tearful",
# "Resident Note - Pronouncement"); census names were taken before this test.
STATE_ENDINGS = ("ful", "ous", "ive", "ing", "ed", "ly", "able", "ible", "less", "ular",
                 "ment", "tion", "sion", "ness", "ity", "ism")
# A word that is English only as an inflection of a Webster's word ("pieter" as piet +
# -er, "hannes", "moraes") and is this rare is most likely a name in those places too.
RARE_DERIVED_ZIPF = 3.0
DOTTED_CREDENTIAL = re.compile(r"(?:M\.D|D\.O|R\.N|N\.P|P\.A)\.?(?![A-Za-z])")


# Said of a person right after the name ("JURISIC AWARE", "security & Marceron notified").
AFTER_NAME = {"aware", "notified", "updated", "informed", "paged", "called", "present",
              "following", "agrees", "agreed", "consented", "tearful", "visited", "visiting",
              "signed", "reports", "states", "stated", "requests", "declined", "prefers", "family",
              "resting", "sleeping", "asleep"}
LIST_JOINS = re.compile(r",[ \t]*|[ \t]+(?:and|&)[ \t]+|[ \t]*&[ \t]*|[ \t]*/[ \t]*|,[ \t]+and[ \t]+")
ROLE_GAP = re.compile(r"[ \t]*[,:(-]?[ \t]*|[ \t]+is[ \t]+(?:her|his|the)?[ \t]*")
PARTICLES = {"o", "de", "van", "von", "da", "di", "la", "le", "del", "della", "mac", "st", "al",
             "el", "ben", "bin", "ter", "ten", "den", "der", "du", "dos", "das", "zu", "vom"}
DASH_SIGNATURE = re.compile(r"(?:^|[ \t])-{1,2}[ \t]*([A-Za-z][A-Za-z'\-]*(?:[ \t]+[A-Za-z][A-Za-z'\-]*)?)"
                            r"(?:,?[ \t]*(?:rn|md|np|pa|bsn))?[ \t]*$", re.MULTILINE | re.IGNORECASE)
SIGN_OFFS = {"best", "thanks", "regards", "sincerely", "cheers", "respectfully", "cordially",
             "yours", "warmly", "gratefully"}
NICKNAME = re.compile(r"\b(?:(?:prefers|likes|asks|wants) to be called|goes by|known as|nicknamed|aka)[ \t]+$", re.IGNORECASE)
IS_A_AGE = re.compile(r"^,?[ \t]+(?:is|was)[ \t]+an?[ \t]+\(?\d{1,3}", re.IGNORECASE)
LABEL_BEFORE = re.compile(r"(?:^|\n)[ \t]*(?:patient|pt|name|patient name|pt name)[ \t]*:[ \t]*$",
                          re.IGNORECASE)
