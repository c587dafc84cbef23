"""Cleaning and normalising free text before anything reads it."""

from __future__ import annotations

import re
import unicodedata

MAX_TEXT = 2000  # characters kept of one message; the rest is cut, not stored
_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")
_ARABIC_FOLD = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ى": "ي", "ة": "ه", "ـ": None})
_PUNCT = re.compile(r"[^\w\s]", re.UNICODE)
_SPACE = re.compile(r"\s+")


def clean(text: str) -> str:
    """Remove control characters, normalise Unicode, collapse spaces, cap the length."""
    text = unicodedata.normalize("NFC", text[: MAX_TEXT * 2])
    kept = []
    for char in text:
        category = unicodedata.category(char)
        if char in "\n\t\r":
            kept.append(" ")
        elif category in ("Cc", "Cs", "Co", "Cn") or (category == "Cf" and char not in "\u200c\u200d"):
            continue
        else:
            kept.append(char)
    return _SPACE.sub(" ", "".join(kept)).strip()[:MAX_TEXT].rstrip()  # cut at a space: no space at the end


def normalize(text: str) -> str:
    """A comparison key: case-folded, no punctuation or Arabic diacritics, Western digits."""
    text = clean(text).casefold().translate(_DIGITS).translate(_ARABIC_FOLD)
    text = "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")
    return _SPACE.sub(" ", _PUNCT.sub(" ", text)).strip()
