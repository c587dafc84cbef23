"""The wellbeing wheel: eight indicators, one answer scale, one plain definition each.

Answers are stored as these codes, never as translated text, so anyone can read
a family's answers in their own language.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from flows.i18n import G_, N_, S_


class Indicator(StrEnum):
    SAFE = "safe"
    HEALTHY = "healthy"
    ACHIEVING = "achieving"
    NURTURED = "nurtured"
    ACTIVE = "active"
    RESPECTED = "respected"
    RESPONSIBLE = "responsible"
    INCLUDED = "included"


class Scale(StrEnum):
    """The one answer scale used everywhere. Only the first three are ratings."""

    GOOD = "good"
    SOME_WORRIES = "some_worries"
    WORRIED = "worried"
    DONT_KNOW = "dont_know"
    SKIPPED = "skipped"


class Priority(StrEnum):
    URGENT = "urgent"
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"

    @property
    def rank(self) -> int:
        return _PRIORITY_RANK[self]


_PRIORITY_RANK = {Priority.LOW: 0, Priority.NORMAL: 1, Priority.HIGH: 2, Priority.URGENT: 3}


@dataclass(frozen=True)
class IndicatorText:
    name: str  # family-facing name
    meaning: str  # one plain sentence, the common definition
    staff_name: str


INDICATORS: dict[Indicator, IndicatorText] = {
    Indicator.SAFE: IndicatorText(
        G_("Safe"),
        G_("Safe means that a child feels secure at home and with other people."),
        S_("Safe"),
    ),
    Indicator.HEALTHY: IndicatorText(
        G_("Healthy"),
        G_("Healthy means that a child's body and mind feel well, and the child gets care."),
        S_("Healthy"),
    ),
    Indicator.ACHIEVING: IndicatorText(
        G_("Learning"),
        G_("Learning means that a child gets help to learn new things and to feel able."),
        S_("Learning (achieving)"),
    ),
    Indicator.NURTURED: IndicatorText(
        G_("Cared for"),
        G_("Cared for means that a child gets love, warmth and a good home."),
        S_("Cared for (nurtured)"),
    ),
    Indicator.ACTIVE: IndicatorText(
        G_("Active"),
        G_("Active means that a child can play, move and do fun things."),
        S_("Active"),
    ),
    Indicator.RESPECTED: IndicatorText(
        G_("Respected"),
        G_("Respected means that adults listen to a child and take the child seriously."),
        S_("Respected"),
    ),
    Indicator.RESPONSIBLE: IndicatorText(
        G_("Responsible"),
        G_("Responsible means a child can help out and try things, with an adult close by."),
        S_("Responsible"),
    ),
    Indicator.INCLUDED: IndicatorText(
        G_("Included"),
        G_("Included means that a child belongs in the family, the group and where they live."),
        S_("Included"),
    ),
}

SCALE_LABELS: dict[Scale, str] = {
    Scale.GOOD: N_("It goes well"),
    Scale.SOME_WORRIES: N_("Some worries"),
    Scale.WORRIED: N_("Worried"),
    Scale.DONT_KNOW: N_("Don't know"),
    Scale.SKIPPED: N_("Skipped"),
}

STAFF_SCALE_LABELS: dict[Scale, str] = {
    Scale.GOOD: S_("Goes well"),
    Scale.SOME_WORRIES: S_("Some worries"),
    Scale.WORRIED: S_("Worried"),
    Scale.DONT_KNOW: S_("Don't know"),
    Scale.SKIPPED: S_("Skipped"),
}

STAFF_PRIORITY_LABELS: dict[Priority, str] = {
    Priority.URGENT: S_("Urgent"),
    Priority.HIGH: S_("High"),
    Priority.NORMAL: S_("Normal"),
    Priority.LOW: S_("Low"),
}

RATINGS = (Scale.GOOD, Scale.SOME_WORRIES, Scale.WORRIED)
WORRIES = (Scale.SOME_WORRIES, Scale.WORRIED)
