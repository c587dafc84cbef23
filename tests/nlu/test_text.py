"""Cleaning free text before anything reads it, and the comparison key used for matching."""

from __future__ import annotations

import unicodedata

import pytest

from nlu import MAX_TEXT, clean, normalize


def test_clean_strips_control_characters_but_keeps_the_words() -> None:
    assert clean("\x00Hej\x07 då\x7f") == "Hej då"
    escape = clean("\x00\x07\x1b[31mröd")
    assert not any(unicodedata.category(c) == "Cc" for c in escape)
    assert escape.endswith("röd")


def test_clean_drops_invisible_format_characters_but_keeps_the_joiners_scripts_need() -> None:
    # right-to-left override, zero-width space and BOM go; ZWNJ stays (Persian and Arabic spelling)
    assert clean("a\u202eb\u200bc\ufeffd") == "abcd"
    assert clean("می\u200cخواهم") == "می\u200cخواهم"


def test_clean_drops_lone_surrogates() -> None:
    assert clean("\ud800ok") == "ok"


def test_clean_turns_line_breaks_and_tabs_into_single_spaces() -> None:
    assert clean("  hon\n\n vaknar\t\tvarje   natt \r\n") == "hon vaknar varje natt"


def test_clean_caps_a_10_kb_message_at_max_text() -> None:
    assert len(clean("a" * 10_000)) == MAX_TEXT
    assert len(clean("ord " * 2_500)) <= MAX_TEXT
    assert clean("x" * 10_000) == "x" * MAX_TEXT


@pytest.mark.parametrize(
    "text",
    ["Åsa är född på våren, Örebro", "أريد التحدث مع شخص", "ابني عمره ٣ سنوات"],
    ids=["swedish", "arabic", "arabic digits"],
)
def test_clean_keeps_swedish_and_arabic_text_as_written(text: str) -> None:
    assert clean(text) == text


def test_clean_composes_unicode() -> None:
    assert clean("A\u030asa") == "Åsa"  # A + combining ring -> Å


def test_clean_of_nothing_is_empty() -> None:
    assert clean("") == ""
    assert clean(" \n\t\x00 ") == ""


@pytest.mark.parametrize(
    "text, key",
    [
        ("  Det GÅR Bra!  ", "det gar bra"),
        ("It's fine.", "it s fine"),
        ("Straße", "strasse"),
        ("١٢٣", "123"),  # Arabic-Indic digits
        ("۴۵", "45"),  # Persian digits
        ("أنا", "انا"),  # hamza above
        ("إجاباتي", "اجاباتي"),  # hamza below
        ("آسف", "اسف"),  # madda
        ("مستشفى", "مستشفي"),  # alef maksura
        ("قليلة", "قليله"),  # ta marbuta
        ("جـــيد", "جيد"),  # tatweel
        ("إِجَابَاتِي", "اجاباتي"),  # harakat
        ("café, naïve", "cafe naive"),
    ],
)
def test_normalize_gives_one_key_for_the_ways_people_write(text: str, key: str) -> None:
    assert normalize(text) == key


def test_normalize_keeps_only_words_and_single_spaces() -> None:
    assert normalize("--- ja ,,, tack !!!") == "ja tack"
    assert normalize("?!") == ""
