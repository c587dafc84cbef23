"""Plain-language measures for family-facing text.

LIX (Swedish readability) = words per sentence + 100 x long words (> 6 letters) / words.
Below 30 is very easy; family-facing Swedish aims there.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

_PLACEHOLDER = re.compile(r"\{\w+\}")
_WORD = re.compile(r"[^\W\d_]+(?:[-'’][^\W\d_]+)*", re.UNICODE)
_SENTENCE_END = re.compile(r"[.!?:።፧؟۔？！。]+|\n+")  # Latin, Ethiopic, Arabic-script, CJK ends
_JOINERS = str.maketrans("", "", "\u200c\u200d")  # Persian's zero-width non-joiner is inside a word


@dataclass(frozen=True)
class Lix:
    words: int
    sentences: int
    long_words: int

    @property
    def value(self) -> float:
        if not self.words:
            return 0.0
        return self.words / max(self.sentences, 1) + 100 * self.long_words / self.words

    def __add__(self, other: Lix) -> Lix:
        return Lix(
            self.words + other.words, self.sentences + other.sentences, self.long_words + other.long_words
        )


def lix(text: str) -> Lix:
    text = _PLACEHOLDER.sub(" ", text)
    words = _WORD.findall(text)
    sentences = [s for s in _SENTENCE_END.split(text) if _WORD.search(s)]
    return Lix(len(words), max(len(sentences), 1 if words else 0), sum(1 for w in words if len(w) > 6))


def lix_total(texts: Iterable[str]) -> Lix:
    total = Lix(0, 0, 0)
    for text in texts:
        total = total + lix(text)
    return total


# ---- English: Flesch reading ease, computed here (no dictionary download) ----------------------

_EN_WORD = re.compile(r"[A-Za-z]+(?:['’][A-Za-z]+)?")
_VOWEL_GROUP = re.compile(r"[aeiouy]+")


def syllables(word: str) -> int:
    """English syllables by vowel groups, with the usual corrections (silent e, -ed, -le)."""
    word = word.lower().strip("'’")
    if len(word) <= 3:
        return 1
    count = len(_VOWEL_GROUP.findall(word))
    if word.endswith("e") and not word.endswith(("le", "ee", "ye")):
        count -= 1
    if word.endswith("ed") and not word.endswith(("ted", "ded")):
        count -= 1
    if word.endswith(("ia", "io", "eo")):
        count += 1
    return max(1, count)


@dataclass(frozen=True)
class Flesch:
    words: int
    sentences: int
    syllables: int

    @property
    def value(self) -> float:
        if not self.words:
            return 100.0
        return 206.835 - 1.015 * self.words / max(self.sentences, 1) - 84.6 * self.syllables / self.words

    def __add__(self, other: Flesch) -> Flesch:
        return Flesch(
            self.words + other.words, self.sentences + other.sentences, self.syllables + other.syllables
        )


def flesch(text: str) -> Flesch:
    text = _PLACEHOLDER.sub(" ", text)
    words = _EN_WORD.findall(text)
    sentences = [s for s in _SENTENCE_END.split(text) if _EN_WORD.search(s)]
    return Flesch(len(words), max(len(sentences), 1 if words else 0), sum(syllables(w) for w in words))


def sentence_lengths(text: str) -> list[int]:
    """Words in each sentence (any script; a placeholder counts as one word)."""
    text = _PLACEHOLDER.sub(" x ", text).translate(_JOINERS)
    return [n for n in (len(_WORD.findall(s)) for s in _SENTENCE_END.split(text)) if n]
