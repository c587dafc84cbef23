"""Plain, frozen records that leave the storage package: no ORM objects, no lazy loading.

They are what a family sees when they ask for their data (``UserData``), what a named person reads
(``AnswerRecord``), and what erasure reports (``ErasedCounts``). Internal ids and pseudonyms are left
out on purpose: they mean nothing to the family.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from storage.models import Answer, Child, Concern, Consent


@dataclass(frozen=True, slots=True)
class ChildRecord:
    name: str | None
    age_years: int | None
    age_months: int | None
    unit_text: str | None
    unit_code: str | None = None

    @classmethod
    def of(cls, row: Child) -> ChildRecord:
        return cls(row.name, row.age_years, row.age_months, row.unit_text, row.unit_code)


@dataclass(frozen=True, slots=True)
class AnswerRecord:
    indicator: str | None
    question_id: str
    code: str
    free_text: str | None
    free_text_language: str | None
    language: str
    answered_at: datetime

    @classmethod
    def of(cls, row: Answer) -> AnswerRecord:
        return cls(
            indicator=row.indicator,
            question_id=row.question_id,
            code=row.code,
            free_text=row.free_text,
            free_text_language=row.free_text_language,
            language=row.language,
            answered_at=row.answered_at,
        )


@dataclass(frozen=True, slots=True)
class ConsentRecord:
    scope: str
    given: bool
    text_version: str
    language: str
    given_at: datetime
    withdrawn_at: datetime | None

    @classmethod
    def of(cls, row: Consent) -> ConsentRecord:
        return cls(row.scope, row.given, row.text_version, row.language, row.given_at, row.withdrawn_at)


@dataclass(frozen=True, slots=True)
class ConcernRecord:
    kind: str
    priority: str
    status: str
    reasons: tuple[str, ...]
    created_at: datetime

    @classmethod
    def of(cls, row: Concern) -> ConcernRecord:
        return cls(row.kind, row.priority, row.status, tuple(row.reasons), row.created_at)


@dataclass(frozen=True, slots=True)
class UserData:
    """Everything stored about one user, for a subject access request."""

    channel: str
    language: str | None
    created_at: datetime
    children: list[ChildRecord]
    answers: list[AnswerRecord]
    consents: list[ConsentRecord]
    concerns: list[ConcernRecord]


@dataclass(frozen=True, slots=True)
class ErasedCounts:
    """How many rows of each kind ``Store.erase_user`` deleted, and what it kept because the law says
    so (``storage.retention.kept_by_law``): concerns, the answers staff saw with them, and the
    family's consents (marked withdrawn)."""

    children: int
    answers: int
    consents: int
    concerns: int
    conversations: int
    plans: int = 0
    kept_concerns: int = 0
    kept_answers: int = 0
    kept_consents: int = 0

    @property
    def total(self) -> int:
        return self.children + self.answers + self.consents + self.concerns + self.conversations + self.plans
