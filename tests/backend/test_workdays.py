"""Deadlines: an hour for urgent concerns, three Swedish working days for the rest."""

from __future__ import annotations

from datetime import UTC, date, datetime

from backend.workdays import STOCKHOLM, acknowledge_by, is_working_day


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=STOCKHOLM)


def test_weekends_holidays_and_the_three_eves_are_not_working_days() -> None:
    assert is_working_day(date(2026, 11, 24))  # a Tuesday
    assert not is_working_day(date(2026, 11, 28))  # Saturday
    assert not is_working_day(date(2026, 12, 24))  # Christmas Eve
    assert not is_working_day(date(2026, 12, 25))  # Christmas Day
    assert not is_working_day(date(2026, 12, 31))  # New Year's Eve
    assert not is_working_day(date(2026, 1, 6))  # Epiphany
    assert not is_working_day(date(2026, 6, 19))  # Midsummer Eve (a Friday)
    assert not is_working_day(date(2026, 4, 6))  # Easter Monday


def test_urgent_within_an_hour() -> None:
    created = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
    assert acknowledge_by(created, "urgent") == datetime(2026, 11, 24, 10, 30, tzinfo=UTC)


def test_others_within_three_working_days_at_the_same_local_time() -> None:
    assert acknowledge_by(local(2026, 11, 24, 14, 0), "normal") == local(2026, 11, 27, 14, 0)  # Tue -> Fri
    assert acknowledge_by(local(2026, 11, 26, 14, 0), "low") == local(2026, 12, 1, 14, 0)  # Thu -> Tue
    # Over Christmas: 23 Dec (Wed) -> 28, 29, 30 Dec
    assert acknowledge_by(local(2026, 12, 23, 8, 0), "high") == local(2026, 12, 30, 8, 0)
    # Across the change to summer time the local clock time is kept.
    assert acknowledge_by(local(2026, 3, 27, 9, 0), "normal") == local(2026, 4, 1, 9, 0)
