"""Which of the supported languages a text is written in; used to suggest a switch, never to switch.

Script first: Ethiopic letters are Tigrinya; Arabic script with letters only Sorani uses is Sorani.
Then py3langid, restricted to the supported languages of that script (Bosnian, Croatian and Serbian
count as one, bs; Kurdish in Latin letters is Kurmanji, kmr). Persian and Dari cannot be told apart:
both come back as fa, and a family that chose prs is never asked to switch to fa.
"""

from __future__ import annotations

import threading
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from typing import Final

from py3langid.langid import LanguageIdentifier  # type: ignore[import-untyped]

from nlu.identifier import load_identifier
from nlu.text import clean

# Our code -> py3langid's codes that count for it, per script.
_LANGID: Final[dict[str, dict[str, tuple[str, ...]]]] = {
    "latin": {
        "sv": ("sv",),
        "en": ("en",),
        "so": ("so",),
        "pl": ("pl",),
        "bs": ("bs", "hr", "sr"),
        "kmr": ("ku",),
        "fi": ("fi",),
        "tr": ("tr",),
    },
    "arabic": {"ar": ("ar",), "fa": ("fa",)},
    "cyrillic": {"uk": ("uk",), "bs": ("sr",)},
}
_SORANI_LETTERS: Final = frozenset("ڕڵێۆەڤ")
SUGGEST_MIN_LETTERS: Final = 12  # "ok", "hej", "tack så mycket" never trigger a suggestion
SUGGEST_MIN_WORDS: Final = 2
SUGGEST_CONFIDENCE: Final = 0.9
SAME_FAMILY: Final = {"prs": "fa"}  # detected fa is no reason to move a family that chose prs


@dataclass(frozen=True)
class LanguageGuess:
    """The most likely language (None: no letters to go by), its probability, and every probability."""

    code: str | None
    confidence: float
    scores: dict[str, float] = field(default_factory=dict)


def _script(char: str) -> str | None:
    if not char.isalpha():
        return None
    point = ord(char)
    if 0x1200 <= point <= 0x139F or 0x2D80 <= point <= 0x2DDF or 0xAB00 <= point <= 0xAB2F:
        return "ethiopic"
    name = unicodedata.name(char, "")
    for script in ("ARABIC", "CYRILLIC", "LATIN"):
        if name.startswith(script):
            return script.lower()
    return "other"


def letters(text: str) -> int:
    return sum(1 for c in text if c.isalpha())


class LanguageDetector:
    """Script rules, then py3langid (loaded on first use; thread-safe; see nlu/identifier.py).

    One identifier is restricted to every supported language at once; within a script its
    probabilities are renormalised, which is the same as restricting it to that script's languages.
    """

    def __init__(self) -> None:
        self._identifier: LanguageIdentifier | None = None
        self._lock = threading.Lock()

    def _ranked(self, text: str) -> dict[str, float]:
        with self._lock:
            if self._identifier is None:
                codes = {c for table in _LANGID.values() for codes in table.values() for c in codes}
                self._identifier = load_identifier(sorted(codes))
            return {str(code): float(score) for code, score in self._identifier.rank(text)}

    def warm_up(self) -> None:
        self._ranked("hej")

    def detect(self, text: str) -> LanguageGuess:
        text = clean(text)
        scripts = Counter(s for s in map(_script, text) if s is not None)
        if not scripts:
            return LanguageGuess(None, 0.0)
        script, count = scripts.most_common(1)[0]
        share = count / sum(scripts.values())
        if script == "ethiopic":
            return LanguageGuess("ti", share, {"ti": share})
        if script == "arabic" and _SORANI_LETTERS & set(text):
            return LanguageGuess("ckb", share, {"ckb": share})
        if script not in _LANGID:
            return LanguageGuess(None, 0.0)
        ranked = self._ranked(text)
        sums = {code: sum(ranked.get(c, 0.0) for c in codes) for code, codes in _LANGID[script].items()}
        total = sum(sums.values()) or 1.0
        scores = {code: share * value / total for code, value in sums.items()}
        best = max(scores, key=lambda code: scores[code])
        return LanguageGuess(best, scores[best], scores)

    def suggest(self, text: str, current: str | None) -> str | None:
        """A language to offer the family, or None: only for a long enough text, only when confident,
        and only when it is not the language they use (fa for a prs family counts as theirs)."""
        if letters(text) < SUGGEST_MIN_LETTERS or len(clean(text).split()) < SUGGEST_MIN_WORDS:
            return None
        guess = self.detect(text)
        if guess.code is None or guess.confidence < SUGGEST_CONFIDENCE:
            return None
        if current is not None and guess.code in (current, SAME_FAMILY.get(current)):
            return None
        return guess.code
