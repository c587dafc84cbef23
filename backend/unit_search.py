"""Finding a unit by what people type: "lammhult forskola" finds "Lammhults förskola".

Names and queries are folded (case, å/ä/ö and other diacritics, punctuation, a Swedish genitive
s), and every word of the query must match a word of the name, exactly, as a prefix of three
letters or more, or with a typo or two (difflib). Kind words ("förskola", "bvc", "skola") count
less than the name's own words. Pure: the caller passes the units in.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

_WORD: Final = re.compile(r"[a-z0-9]+")
GENERIC: Final = frozenset(
    {"forskola", "forskolan", "forskolor", "bvc", "mvc", "skola", "skolan", "barnavardscentral",
     "barnavardscentralen", "vardcentral", "vardcentralen", "kaa", "socialtjansten", "i", "pa", "och"}
)  # fmt: skip
TYPO: Final = 0.8


@dataclass(frozen=True)
class Match:
    code: str
    name: str
    score: float


def fold(text: str) -> list[str]:
    plain = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(c for c in plain if not unicodedata.combining(c))
    return _WORD.findall(plain)


def _stem(word: str) -> str:
    return word[:-1] if len(word) > 4 and word.endswith("s") else word  # Lammhults -> lammhult


def _word_score(query: str, name_words: Sequence[str]) -> float:
    best = 0.0
    q = _stem(query)
    for word in name_words:
        w = _stem(word)
        if q == w:
            return 1.0
        if len(q) >= 3 and w.startswith(q):
            best = max(best, 0.9)
        ratio = difflib.SequenceMatcher(None, q, w).ratio()
        if ratio >= TYPO:
            best = max(best, ratio)
    return best


def search(query: str, units: Iterable[tuple[str, str]], limit: int = 5) -> list[Match]:
    """Units whose name matches every word of `query`, best first."""
    words = fold(query)
    if not words:
        return []
    found: list[Match] = []
    for code, name in units:
        name_words = fold(name) + fold(code.replace("_", " "))
        total = weight = 0.0
        for word in words:
            score = _word_score(word, name_words)
            if score == 0.0:
                break
            factor = 0.3 if _stem(word) in GENERIC else 1.0
            total, weight = total + score * factor, weight + factor
        else:
            found.append(Match(code, name, round(total / weight, 3)))
    found.sort(key=lambda m: (-m.score, m.name))
    return found[:limit]


def best(query: str, units: Iterable[tuple[str, str]]) -> Match | None:
    """The one unit meant, when it is clear: a good score, well ahead of the next."""
    matches = search(query, units, limit=2)
    if not matches or matches[0].score < 0.85:
        return None
    if len(matches) > 1 and matches[1].score > matches[0].score - 0.1:
        return None
    return matches[0]
