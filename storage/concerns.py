"""Concerns on the desk: queues, the timeline, and the audit log.

Queues are sorted by priority (urgent first) and then by waiting time (longest first). Who may see
which concern is decided in ``backend.policy``; these queries only filter as they are told.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from storage.desk import AuditEntry, ConcernEvent, Staff, Unit
from storage.models import Child, Concern, utcnow

PRIORITY_ORDER: Final = sa.case(
    {"urgent": 0, "high": 1, "normal": 2, "low": 3}, value=Concern.priority, else_=4
)


@dataclass(frozen=True, slots=True)
class QueueItem:
    id: int
    kind: str
    priority: str
    status: str
    reasons: list[str]
    created_at: datetime
    due_at: datetime | None
    overdue: bool
    unit_id: int | None
    unit_name: str | None
    assigned_to_id: int | None
    assigned_to_name: str | None
    child_age_years: int | None
    child_age_months: int | None
    source: str


class Concerns:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, concern_id: int) -> Concern | None:
        return await self.session.get(Concern, concern_id)

    async def lock(self, concern_id: int) -> Concern | None:
        """The concern, locked for update until the transaction ends (on PostgreSQL)."""
        query = sa.select(Concern).where(Concern.id == concern_id).with_for_update()
        return await self.session.scalar(query)

    async def queue(
        self,
        *,
        assigned_to: int | None = None,
        unit_ids: Sequence[int] | None = None,
        unassigned_only: bool = False,
        statuses: Sequence[str] = ("new", "acknowledged", "in_progress"),
        limit: int = 200,
        offset: int = 0,
    ) -> list[QueueItem]:
        staff = aliased(Staff)
        query = (
            sa.select(Concern, Unit.name, staff.name, Child.age_years, Child.age_months)
            .outerjoin(Unit, Unit.id == Concern.unit_id)
            .outerjoin(staff, staff.id == Concern.assigned_to_id)
            .outerjoin(Child, Child.id == Concern.child_id)
            .where(Concern.status.in_(statuses))
        )
        if assigned_to is not None:
            query = query.where(Concern.assigned_to_id == assigned_to)
        if unit_ids is not None:
            query = query.where(Concern.unit_id.in_(unit_ids))
        if unassigned_only:
            query = query.where(Concern.assigned_to_id.is_(None))
        query = query.order_by(PRIORITY_ORDER, Concern.created_at, Concern.id).limit(limit).offset(offset)
        items = []
        for concern, unit_name, staff_name, years, months in await self.session.execute(query):
            items.append(
                QueueItem(
                    id=concern.id,
                    kind=concern.kind,
                    priority=concern.priority,
                    status=concern.status,
                    reasons=list(concern.reasons),
                    created_at=concern.created_at,
                    due_at=concern.due_at,
                    overdue=concern.overdue,
                    unit_id=concern.unit_id,
                    unit_name=unit_name,
                    assigned_to_id=concern.assigned_to_id,
                    assigned_to_name=staff_name,
                    child_age_years=years,
                    child_age_months=months,
                    source=concern.source,
                )
            )
        return items

    async def count(
        self,
        *,
        assigned_to: int | None = None,
        unit_ids: Sequence[int] | None = None,
        unassigned_only: bool = False,
        statuses: Sequence[str] = ("new", "acknowledged", "in_progress"),
    ) -> int:
        """How many concerns `queue` would list with the same filters, without a limit."""
        query = sa.select(sa.func.count()).select_from(Concern).where(Concern.status.in_(statuses))
        if assigned_to is not None:
            query = query.where(Concern.assigned_to_id == assigned_to)
        if unit_ids is not None:
            query = query.where(Concern.unit_id.in_(unit_ids))
        if unassigned_only:
            query = query.where(Concern.assigned_to_id.is_(None))
        return int(await self.session.scalar(query) or 0)

    async def events(self, concern_id: int) -> list[ConcernEvent]:
        query = sa.select(ConcernEvent).where(ConcernEvent.concern_id == concern_id).order_by(ConcernEvent.id)
        return list(await self.session.scalars(query))

    async def add_event(
        self,
        concern_id: int,
        kind: str,
        *,
        staff_id: int | None = None,
        body: str | None = None,
        body_language: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> ConcernEvent:
        event = ConcernEvent(
            concern_id=concern_id,
            kind=kind,
            staff_id=staff_id,
            body=body,
            body_language=body_language,
            data=dict(data or {}),
            at=utcnow(),
        )
        self.session.add(event)
        await self.session.flush()
        return event

    async def unacknowledged_past_due(self, now: datetime) -> list[Concern]:
        """New concerns whose time to be acknowledged has run out and that are not yet marked."""
        query = sa.select(Concern).where(
            Concern.status == "new",
            Concern.due_at.is_not(None),
            Concern.due_at < now,
            Concern.overdue.is_(False),
        )
        return list(await self.session.scalars(query.order_by(Concern.id)))

    async def mark_overdue(self, concern_id: int, now: datetime) -> bool:
        """Mark the concern overdue if it still is new and not yet marked; True when this call did it.

        One conditional UPDATE is the guard against a second run at the same time: PostgreSQL makes it
        wait for the row and look again, SQLite makes it wait for the other writer. (A SELECT first is
        not enough on SQLite, whose driver begins the transaction only at the first write.)
        """
        marked = await self.session.execute(
            sa.update(Concern)
            .where(Concern.id == concern_id, Concern.status == "new", Concern.overdue.is_(False))
            .values(overdue=True, escalated_at=now)
        )
        return bool(marked.rowcount == 1)  # type: ignore[attr-defined]

    async def latest_open_for_user(self, user_id: int) -> Concern | None:
        """The newest open concern about this family that staff have written to."""
        query = (
            sa.select(Concern)
            .where(Concern.user_id == user_id, Concern.status != "closed")
            .order_by(Concern.id.desc())
            .limit(1)
        )
        return await self.session.scalar(query)


class Audit:
    """The append-only audit log."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def record(
        self,
        staff_id: int | None,
        action: str,
        object_type: str,
        object_id: int | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        self.session.add(
            AuditEntry(
                staff_id=staff_id,
                action=action,
                object_type=object_type,
                object_id=object_id,
                detail=dict(detail or {}),
                at=utcnow(),
            )
        )
        await self.session.flush()

    async def entries(
        self,
        *,
        limit: int = 200,
        offset: int = 0,
        object_type: str | None = None,
        object_id: int | None = None,
    ) -> list[tuple[AuditEntry, str | None]]:
        query = sa.select(AuditEntry, Staff.email).outerjoin(Staff, Staff.id == AuditEntry.staff_id)
        if object_type is not None:
            query = query.where(AuditEntry.object_type == object_type)
        if object_id is not None:
            query = query.where(AuditEntry.object_id == object_id)
        query = query.order_by(AuditEntry.id.desc()).limit(limit).offset(offset)
        return [(entry, email) for entry, email in await self.session.execute(query)]
