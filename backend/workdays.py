"""Deadlines in working days, Swedish style: weekends, public holidays and the three eves off.

An urgent concern must be acknowledged within an hour; any other within three working days (the
same time of day, in Stockholm). Public holidays come from the `holidays` package; Midsummer Eve,
Christmas Eve and New Year's Eve are not public holidays but are days off almost everywhere.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import holidays

STOCKHOLM = ZoneInfo("Europe/Stockholm")
URGENT_WITHIN = timedelta(hours=1)
WORKING_DAYS_WITHIN = 3


@cache
def _days_off(year: int) -> frozenset[date]:
    official = holidays.country_holidays("SE", years=year, include_sundays=False)  # type: ignore[call-arg]
    days = set(official)
    midsummer = next(day for day, name in official.items() if "Midsummer" in name)
    days |= {midsummer - timedelta(days=1), date(year, 12, 24), date(year, 12, 31)}
    return frozenset(days)


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and day not in _days_off(day.year)


def add_working_days(start: datetime, days: int) -> datetime:
    local = start.astimezone(STOCKHOLM)
    day = local.date()
    counted = 0
    while counted < days:
        day += timedelta(days=1)
        if is_working_day(day):
            counted += 1
    return datetime.combine(day, local.timetz().replace(tzinfo=None), STOCKHOLM).astimezone(UTC)


def acknowledge_by(created: datetime, priority: str) -> datetime:
    """When a concern of `priority` created at `created` must have been acknowledged."""
    if priority == "urgent":
        return created + URGENT_WITHIN
    return add_working_days(created, WORKING_DAYS_WITHIN)
