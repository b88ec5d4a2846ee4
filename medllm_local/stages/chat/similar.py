"""Similar past cases: rank archived case texts against a new case with Okapi BM25.

A pure function over texts, so it knows nothing of the workspace or of what may be shown;
pipeline/similar.py feeds it de-identified, approved cases only. BM25 rather than an
embedding model: it needs no model download or extra package in the offline bundle, ranks
a few thousand reports in well under a second, and matches the rare clinical words
(drug names, eponyms, lab names) that decide similarity between reports of one physician.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

from medllm_local.core.prompts import SECTION_TITLES

# Words too common in any report to say anything about which case is similar, and the
# section titles every case text carries.
STOPWORDS = frozenset(
    "a an and are as at be been but by for from had has have he her his in is it its no not "
    "of on or she that the their there they this to was were which with without year years "
    "old patient patients presents presented report".split()
    + " ".join(SECTION_TITLES.values()).lower().split())
TOKEN = re.compile(r"[a-z0-9]+(?:[-'][a-z0-9]+)*")


@dataclass
class Match:
    """One archived case and how well it matches (higher is more similar)."""

    index: int  # position in the texts given
    score: float


def tokens(text: str) -> list[str]:
    """Lower-case words and numbers without stopwords; a trailing plural 's' is dropped
    so "headaches" meets "headache" (a light stemmer is enough for ranking)."""
    words = [w for w in TOKEN.findall(text.lower()) if w not in STOPWORDS]
    return [w[:-1] if len(w) > 4 and w.endswith("s") and not w.endswith("ss") else w for w in words]


def rank(query: str, texts: list[str], top_n: int = 5, k1: float = 1.5, b: float = 0.75
         ) -> list[Match]:
    """The ``top_n`` texts most similar to ``query`` by Okapi BM25, best first; texts
    sharing no word with the query are left out. Ties keep the archive's order.

    score(d) = sum over query terms t of idf(t) * f(t,d) * (k1 + 1)
               / (f(t,d) + k1 * (1 - b + b * |d| / avgdl)),
    idf(t) = ln(1 + (N - n(t) + 0.5) / (n(t) + 0.5))  (never negative)."""
    if top_n < 1:
        raise ValueError("top_n must be at least 1")
    query_terms = set(tokens(query))
    if not query_terms or not texts:
        return []
    documents = [Counter(tokens(text)) for text in texts]
    lengths = [sum(counts.values()) for counts in documents]
    average = sum(lengths) / len(lengths) or 1.0
    frequency = Counter(term for counts in documents for term in query_terms & counts.keys())
    idf = {t: math.log(1 + (len(texts) - n + 0.5) / (n + 0.5)) for t, n in frequency.items()}
    matches = []
    for index, (counts, length) in enumerate(zip(documents, lengths)):
        score = sum(idf[t] * counts[t] * (k1 + 1) / (counts[t] + k1 * (1 - b + b * length / average))
                    for t in query_terms & counts.keys())
        if score > 0:
            matches.append(Match(index, round(score, 4)))
    matches.sort(key=lambda m: (-m.score, m.index))
    return matches[:top_n]
