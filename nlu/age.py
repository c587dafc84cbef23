"""Read a child's age from a few words: '3', '3 år 4 mån', '2 years and 6 months', '١٨ شهر'.

Each number is read with the unit written after it (years, months, weeks, days); a
number without a unit is years, and a second one months. "a month" / "en månad" is one.
When the words hold no number, or more than two, the answer is None: the
conversation asks again rather than guesses.
"""

from __future__ import annotations

import re
from typing import Literal

from nlu.text import clean, normalize

Unit = Literal["year", "month", "week", "day"]

_HALF = re.compile(r"^\D*(\d+)[.,]5\b")
_GLUED = re.compile(r"(\d)(?=[^\d\s.,])|(?<=[^\d\s.,])(\d)")
_EASTERN_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹٫", "01234567890123456789.")
# Word beginnings, in every supported language, normalised as the text is ("år" -> "ar", "أشهر" ->
# "اشهر", "päivä" -> "paiva"). Checked in this order: month before year ("man" is not "ar").
_UNIT_WORDS: tuple[tuple[Unit, tuple[str, ...]], ...] = (
    ("month", (
        "mån", "month", "mon", "mnd", "mth", "شهر", "اشهر", "شهور",  # sv en ar
        "bil", "ماه", "مانگ", "ወርሒ", "ኣዋርሕ", "міс", "mies", "mjes", "mes", "meh", "kuuk", "kk", "ay",
    )),  # so fa/prs ckb ti uk pl bs kmr fi tr
    ("week", (
        "week", "wk", "veck", "v", "اسبوع", "اسابيع",
        "toddobaad", "هفته", "هەفتە", "ሰሙን", "тиж", "tydz", "tyg", "sedm", "tjed", "hefte", "viik", "haft",
    )),
    ("day", (
        "day", "dag", "يوم", "ايام",
        "maalin", "روز", "ڕۆژ", "መዓልቲ", "ден", "дні", "днів", "dzie", "dni", "dan", "roj", "päiv", "gün",
    )),
    ("year", (
        "år", "year", "yr", "y", "سنه", "سنوات", "سنين", "عام", "اعوام",
        "sano", "sann", "سال", "ساڵ", "ዓመት", "ዓመታት", "рік", "рок", "років", "rok", "lat", "god", "sal",
        "vuo", "yaş", "yıl",
    )),
)  # fmt: skip
_UNITS = tuple((unit, tuple(dict.fromkeys(normalize(word) for word in words))) for unit, words in _UNIT_WORDS)
_ONE = frozenset({"a", "an", "one", "en", "ett"})


def _unit(token: str | None) -> Unit | None:
    if token is None:
        return None
    for unit, starts in _UNITS:
        if any(token == s or (len(s) > 1 and token.startswith(s)) for s in starts):
            return unit
    return None


def _quantities(text: str) -> list[tuple[int, Unit | None]] | None:
    spaced = _GLUED.sub(lambda m: f"{m.group(1) or ''} {m.group(2) or ''}", text)
    tokens = normalize(spaced).split()
    found: list[tuple[int, Unit | None]] = []
    for index, token in enumerate(tokens):
        after = tokens[index + 1] if index + 1 < len(tokens) else None
        if token.isdecimal():
            found.append((int(token), _unit(after)))
        elif token in _ONE and _unit(after) in ("month", "week", "year"):
            found.append((1, _unit(after)))
    return found if 1 <= len(found) <= 2 and any(t.isdecimal() for t in tokens) else None


def parse_age(text: str) -> tuple[int, int | None] | None:
    """Return (years, months) or None. Months alone (12 and more too) become years and months."""
    half = _HALF.match(clean(text).translate(_EASTERN_DIGITS))
    if half:  # "3,5 år": three and a half years
        return int(half.group(1)), 6
    found = _quantities(text.translate(_EASTERN_DIGITS))
    if found is None:
        return None
    years: int | None = None
    months: int | None = None
    for value, unit in found:
        if unit == "year" or (unit is None and years is None and months is None):
            if years is not None:
                return None  # two numbers of years
            years = value
        else:
            extra = {"month": value, "week": value * 7 // 30, "day": value // 30}.get(unit or "month", value)
            months = (months or 0) + extra
    if years is None:
        total = months or 0
        return total // 12, total % 12
    return years, months
