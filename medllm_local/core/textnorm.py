"""Text as detection should see it, with a map back to the original offsets.

Word and PDF text layers carry characters that break patterns without changing what a
reader sees: non-breaking and thin spaces, soft hyphens and zero-width characters inside
words, curly apostrophes, fullwidth digits, accents written as combining marks. Every
rule and the residual scan run on the folded text; a finding is mapped back to the
original span, which then covers the whole identifier, invisible characters included.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

# One character each, so the map stays simple: quotes and dashes to ASCII.
_SINGLE = {"\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
           "\u00b4": "'", "\u0060": "'", "\u201c": '"', "\u201d": '"', "\u201e": '"',
           "\u2033": '"', "\u2212": "-", "\u2028": "\n", "\u2029": "\n", "\u0085": "\n"}
# Letters that Unicode does not decompose into a base letter and a mark ("Yıldırım",
# "Łukasz", "Søren", "Weiß"): folded as a reader would type them.
_LETTERS = {"\u0131": "i", "\u0142": "l", "\u0141": "L", "\u00f8": "o", "\u00d8": "O",
            "\u0111": "d", "\u0110": "D", "\u0127": "h", "\u0126": "H", "\u00df": "ss",
            "\u00e6": "ae", "\u00c6": "AE", "\u0153": "oe", "\u0152": "OE", "\u00fe": "th",
            "\u00de": "Th", "\u00f0": "d", "\u00d0": "D", "\u0259": "e", "\u014b": "ng"}


def _fold_char(char: str) -> str:
    if char in _SINGLE:
        return _SINGLE[char]
    if char in _LETTERS:
        return _LETTERS[char]
    category = unicodedata.category(char)
    if category == "Cf":  # soft hyphen, zero-width space/joiners, BOM, bidi marks
        return ""
    if category == "Zs":  # no-break, thin, figure, ideographic ... spaces
        return " "
    if category == "Pd":  # hyphen, non-breaking hyphen, en and em dashes
        return "-"
    if category == "Mn":  # a lone combining mark
        return ""
    folded = unicodedata.normalize("NFKD", char)
    return "".join(c for c in folded if not unicodedata.combining(c)) or ""


@dataclass(frozen=True)
class FoldedText:
    """``text`` is what detection sees; ``origin[i]`` is the original offset of its
    character i (``origin`` is None when nothing changed)."""

    original: str
    text: str
    origin: tuple[int, ...] | None

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original span of folded ``[start, end)``."""
        if self.origin is None or start >= end:
            return start, end
        return self.origin[start], self.origin[end - 1] + 1


def fold(text: str) -> FoldedText:
    """The folded text and its offset map (plain ASCII passes through unchanged)."""
    if text.isascii():
        return FoldedText(text, text, None)
    out: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text):
        if char.isascii():
            out.append(char)
            origin.append(index)
            continue
        folded = _fold_char(char)
        out.extend(folded)
        origin.extend([index] * len(folded))
    folded_text = "".join(out)
    if folded_text == text:
        return FoldedText(text, text, None)
    return FoldedText(text, folded_text, tuple(origin))


def fold_value(value: str) -> str:
    """A value as detection saw it (surrogates and known values are keyed by this)."""
    return fold(value).text
