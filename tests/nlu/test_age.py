"""Reading a child's age from a few words, in sv, en and ar."""

from __future__ import annotations

import pytest

from nlu import parse_age


@pytest.mark.parametrize(
    "text, age",
    [
        ("3", (3, None)),
        ("3 år", (3, None)),
        ("3 år 4 mån", (3, 4)),
        ("3 år och 4 månader", (3, 4)),
        ("3 år, 4 mån", (3, 4)),
        ("2 years and 6 months", (2, 6)),
        ("3 years 4 months", (3, 4)),
        ("18 månader", (1, 6)),
        ("18 months", (1, 6)),
        ("6 mnd", (0, 6)),
        ("11 mån", (0, 11)),
        ("24 months", (2, 0)),
        ("٣", (3, None)),
        ("۳", (3, None)),
        ("٣ سنوات و ٤ أشهر", (3, 4)),
        ("١٨ شهر", (1, 6)),
        ("3,5 år", (3, 6)),
        ("2.5 years", (2, 6)),
        ("٢٫٥", (2, 6)),
        ("Hon är 4 år", (4, None)),
    ],
)
def test_ages_as_families_write_them(text: str, age: tuple[int, int | None]) -> None:
    assert parse_age(text) == age


@pytest.mark.parametrize(
    "text", ["", "   ", "hej", "tre år", "three years", "1 year 2 months 3 days", "1 2 3", "?!"]
)
def test_words_without_a_readable_age_give_none(text: str) -> None:
    assert parse_age(text) is None


def test_months_beyond_eleven_are_passed_on_for_the_engine_to_refuse() -> None:
    assert parse_age("3 år 14 mån") == (3, 14)


def test_a_very_long_number_does_not_crash() -> None:
    assert parse_age("9" * 10_000) is not None  # the engine refuses it as out of range


@pytest.mark.parametrize("text", ["2 years and a month", "2 år och en månad"])
def test_years_with_a_month_in_words_stay_years(text: str) -> None:
    assert parse_age(text) in ((2, 1), (2, None), None)  # (2, 1) best; asking again is acceptable


@pytest.mark.parametrize("text", ["10 weeks", "10 veckor"])
def test_weeks_are_not_read_as_years(text: str) -> None:
    assert parse_age(text) in ((0, 2), None)


@pytest.mark.parametrize(
    ("text", "age"),
    [
        ("3 سال و ۴ ماه", (3, 4)),  # fa, prs (Persian digits)
        ("2 sano 3 bilood", (2, 3)),  # so
        ("3 ساڵ", (3, None)),  # ckb
        ("3 ዓመታት", (3, None)),  # ti
        ("3 роки 4 місяці", (3, 4)),  # uk
        ("3 lata 4 miesiące", (3, 4)),  # pl
        ("2 godine", (2, None)),  # bs
        ("3 sal 4 meh", (3, 4)),  # kmr
        ("3 vuotta 2 kuukautta", (3, 2)),  # fi
        ("3 yaşında 4 ay", (3, 4)),  # tr
    ],
)
def test_ages_in_every_supported_language(text: str, age: tuple[int, int | None]) -> None:
    assert parse_age(text) == age
