"""The keyword and pattern layer of the safety net: what gives recall, in every language at once.

Patterns come from `lookup:` and `regex:` blocks in nlu/data/risk/<lang>.yml, named by risk category
(`violence`) or by a category with `_now` for acute danger (`neglect_now`: a child alone right now).
Both sides are folded the same way (nlu.text.normalize, apostrophes dropped, and letters that people
type in place of each other made one: Persian/Kurdish/Arabic yeh, kaf, heh; Turkish ı; Polish ł; đ).

- A lookup keyword is one or more words; a word ending in `*` matches any ending (`misshandl*`).
  A word of six letters or more also matches with one typo (one letter wrong, missing, added or two
  swapped), as long as the first letter is right. Such a match is marked `typo`: typos also turn
  harmless words into alarming ones ("cooking" is one letter from "choking"), so the risk layer
  asks the classifier to agree before it acts on one.
- A regex is matched on the folded text as whole words: `sl[aå]r (mig|honom)`.
Every language's patterns are tried on every message: families mix languages.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

from nlu.examples import NOW_SUFFIX, RISK_CATEGORIES, Item
from nlu.text import normalize

FUZZY_MIN: Final = 6  # letters a keyword word needs before a typo is forgiven
_APOSTROPHES = re.compile(r"['’ʼ`´]")
_JOINERS = str.maketrans({"\u200c": " ", "\u200d": None})
_EXTRA_FOLD = str.maketrans(
    {
        "ی": "ي",  # Persian/Kurdish yeh
        "ێ": "ي",
        "ک": "ك",  # Persian/Kurdish kaf
        "ە": "ه",  # Sorani ae, often typed as heh
        "ھ": "ه",
        "ۆ": "و",
        "ڕ": "ر",
        "ڵ": "ل",
        "ı": "i",  # Turkish dotless i
        "ł": "l",
        "đ": "d",
        "ø": "o",
    }
)
_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")
_ARABIC_FOLD = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ى": "ي", "ة": "ه", "ـ": None})
_ESCAPE_OR_TEXT = re.compile(r"\\.|[^\\]+")


def fold(text: str) -> str:
    """The key a message is matched on: `normalize` plus the extra letter folding above."""
    return normalize(_APOSTROPHES.sub("", text)).translate(_EXTRA_FOLD)


def _fold_letters(part: str) -> str:
    part = part.casefold().translate(_DIGITS).translate(_ARABIC_FOLD).translate(_JOINERS)
    part = "".join(c for c in unicodedata.normalize("NFD", part) if unicodedata.category(c) != "Mn")
    return part.translate(_EXTRA_FOLD)


def fold_pattern(pattern: str) -> str:
    """Fold a regex's letters like a message's, leaving escapes such as `\\w` as they are."""
    pattern = _APOSTROPHES.sub("", pattern)
    return _ESCAPE_OR_TEXT.sub(lambda m: m[0] if m[0].startswith("\\") else _fold_letters(m[0]), pattern)


def within_one_edit(a: str, b: str) -> bool:
    """True when a and b differ by at most one letter changed, added, dropped, or two swapped."""
    if a == b:
        return True
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diffs = [i for i in range(len(a)) if a[i] != b[i]]
        if len(diffs) == 1:
            return True
        if len(diffs) != 2:
            return False
        i, j = diffs
        return j == i + 1 and a[i] == b[j] and a[j] == b[i]
    short, long = (a, b) if len(a) < len(b) else (b, a)
    i = 0
    while i < len(short) and short[i] == long[i]:
        i += 1
    return short[i:] == long[i + 1 :]


@dataclass(frozen=True)
class Signal:
    """One pattern that matched: its category, whether it marks acute danger, and what it matched."""

    category: str
    urgent: bool
    language: str
    pattern: str
    found: str
    typo: bool = False


@dataclass(frozen=True)
class _Keyword:
    words: tuple[str, ...]  # folded; a trailing * marks a stem
    item: Item
    written: str


NO, EXACT, TYPO = 0, 1, 2


def _word_match(token: str, word: str) -> int:
    """EXACT, TYPO (within one edit, same first letter, word long enough) or NO."""
    stem = word.removesuffix("*")
    if token == word or (stem != word and token.startswith(stem)):
        return EXACT
    if len(stem) < FUZZY_MIN or token[:1] != stem[:1]:
        return NO
    if stem != word:
        return TYPO if any(within_one_edit(token[: len(stem) + d], stem) for d in (-1, 0, 1)) else NO
    return TYPO if within_one_edit(token, word) else NO


def _signal_name(item: Item) -> tuple[str, bool]:
    category = item.name.removesuffix(NOW_SUFFIX)
    if category not in RISK_CATEGORIES:
        raise ValueError(f"risk/{item.language}.yml: unknown risk pattern name {item.name!r}")
    return category, item.name.endswith(NOW_SUFFIX)


class Patterns:
    """Every language's keywords and regexes, compiled once."""

    def __init__(self, items: Iterable[Item]) -> None:
        self._by_first: dict[str, list[_Keyword]] = {}  # first letter of the first word -> keywords
        self._regexes: list[tuple[re.Pattern[str], Item, str]] = []
        for item in items:
            _signal_name(item)
            for written in item.examples:
                if item.kind == "regex":
                    try:
                        compiled = re.compile(rf"(?<!\w)(?:{fold_pattern(written)})(?!\w)")
                    except re.error as exc:
                        raise ValueError(f"risk/{item.language}.yml: bad regex {written!r}: {exc}") from exc
                    self._regexes.append((compiled, item, written))
                elif item.kind == "lookup":
                    words = tuple(fold(w) + ("*" if w.endswith("*") else "") for w in written.split())
                    if words and words[0].strip("*"):
                        keyword = _Keyword(words, item, written)
                        self._by_first.setdefault(words[0][0], []).append(keyword)
        self._match_word = lru_cache(maxsize=65536)(_word_match)

    def find(self, text: str) -> list[Signal]:
        """Every pattern that matches the message, in the order of the data files."""
        key = fold(text)
        tokens = key.split()
        signals = []
        for index, token in enumerate(tokens):
            for keyword in self._by_first.get(token[0], ()):
                words = keyword.words
                if index + len(words) > len(tokens):
                    continue
                matches = [self._match_word(tokens[index + k], word) for k, word in enumerate(words)]
                if all(matches):
                    found = " ".join(tokens[index : index + len(words)])
                    signals.append(self._signal(keyword.item, keyword.written, found, TYPO in matches))
        for compiled, item, written in self._regexes:
            match = compiled.search(key)
            if match:
                signals.append(self._signal(item, written, match[0]))
        return signals

    @staticmethod
    def _signal(item: Item, written: str, found: str, typo: bool = False) -> Signal:
        category, urgent = _signal_name(item)
        return Signal(category, urgent, item.language, written, found, typo)
