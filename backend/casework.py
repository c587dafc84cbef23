"""Working a concern: every staff action in one place, for the web UI and the JSON API alike.

Each action is one transaction: the policy is checked (deny by default), the concern changes, the
timeline gets its line, the audit log records who did what, and anyone who must know is told.
Reads are audited too. A concern the staff member may not see is "not found".
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy.ext.asyncio import AsyncSession

from backend import policy
from backend.intake import unit_leads
from backend.notices import Notifier
from bot.service import ConversationService
from storage.concerns import Audit, Concerns, QueueItem
from storage.desk import OUTCOMES, Staff, Unit
from storage.models import Concern, utcnow

MAX_TEXT: Final = 4000
OPEN: Final = ("new", "acknowledged", "in_progress")
_RANK: Final = {"urgent": 0, "high": 1, "normal": 2, "low": 3}
PAGE: Final = 100  # queue items per page


class DeskError(Exception):
    status = 400


class NotFound(DeskError):
    status = 404


class Conflict(DeskError):
    status = 409


class Invalid(DeskError):
    status = 422


def _text(text: str, what: str) -> str:
    cleaned = "".join(c for c in text if c.isprintable() or c in "\n\t").strip()
    if not cleaned:
        raise Invalid(f"the {what} is empty")
    if len(cleaned) > MAX_TEXT:
        raise Invalid(f"the {what} is longer than {MAX_TEXT} characters")
    return cleaned


@dataclass
class Casework:
    service: ConversationService
    notifier: Notifier | None = None

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[AsyncSession]:
        async with self.service.sessions() as session, session.begin():
            yield session

    async def _visible(
        self, session: AsyncSession, staff: Staff, concern_id: int, *, lock: bool = False
    ) -> Concern:
        concerns = Concerns(session)
        concern = await (concerns.lock(concern_id) if lock else concerns.get(concern_id))
        if concern is None or not policy.can_see(staff, concern):
            await self.denied(staff, concern_id)
            raise NotFound("no such concern")
        return concern

    async def denied(self, staff: Staff, concern_id: int) -> None:
        """Write a refused read or change to the audit log, in its own transaction (the caller's
        rolls back as it refuses)."""
        async with self._transaction() as session:
            await Audit(session).record(staff.id, "denied", "concern", concern_id)

    async def _workable(self, session: AsyncSession, staff: Staff, concern_id: int) -> Concern:
        concern = await self._visible(session, staff, concern_id, lock=True)
        if not policy.can_work(staff, concern):
            raise Conflict("this concern is closed")
        return concern

    # ---- reading ---------------------------------------------------------

    async def queue(
        self, staff: Staff, which: str, statuses: Sequence[str] = OPEN, page: int = 0
    ) -> list[QueueItem]:
        """Queues: "mine" (assigned to me), "unit" (my unit's; a named person: its unassigned ones),
        "visible" (everything I may see: both, for a named person). PAGE items per page."""
        return (await self.queue_page(staff, which, statuses, page))[0]

    async def queue_page(
        self, staff: Staff, which: str, statuses: Sequence[str] = OPEN, page: int = 0
    ) -> tuple[list[QueueItem], int]:
        """One page of a queue, and how many items the whole queue holds."""
        if staff.role not in policy.CASE_ROLES or staff.unit_id is None:
            return [], 0
        offset = max(0, min(page, 10_000)) * PAGE
        async with self._transaction() as session:
            concerns = Concerns(session)
            mine = {"assigned_to": staff.id, "statuses": statuses}
            unit: dict[str, Any] = {"unit_ids": [staff.unit_id], "statuses": statuses}
            if staff.role == "named_person":
                unit["unassigned_only"] = True
            if which == "visible" and staff.role == "named_person":
                total = await concerns.count(**mine) + await concerns.count(**unit)
                both = [
                    *await concerns.queue(**mine, limit=offset + PAGE),
                    *await concerns.queue(**unit, limit=offset + PAGE),
                ]
                items = sorted(both, key=lambda i: (_RANK[i.priority], i.created_at, i.id))[
                    offset : offset + PAGE
                ]
            else:
                filters = mine if which == "mine" else unit
                total = await concerns.count(**filters)
                items = await concerns.queue(**filters, limit=PAGE, offset=offset)
            detail = {"count": len(items), "page": page}
            await Audit(session).record(staff.id, f"read_queue_{which}", "queue", None, detail)
        return items, total

    async def set_language(self, staff: Staff, lang: str) -> None:
        async with self._transaction() as session:
            person = await session.get(Staff, staff.id)
            if person is not None:
                person.language = lang
        staff.language = lang

    # ---- acting ----------------------------------------------------------

    async def acknowledge(self, staff: Staff, concern_id: int) -> Concern:
        async with self._transaction() as session:
            concern = await self._workable(session, staff, concern_id)
            if concern.status != "new":
                raise Conflict("this concern is already acknowledged")
            concern.status, concern.acknowledged_at = "acknowledged", utcnow()
            if concern.assigned_to_id is None and staff.role == "named_person":
                concern.assigned_to_id = staff.id  # whoever acknowledges an unassigned one takes it
            await Concerns(session).add_event(concern.id, "acknowledged", staff_id=staff.id)
            await Audit(session).record(staff.id, "acknowledge", "concern", concern.id)
        return concern

    async def start_work(self, staff: Staff, concern_id: int) -> Concern:
        async with self._transaction() as session:
            concern = await self._workable(session, staff, concern_id)
            if concern.status == "in_progress":
                raise Conflict("work on this concern has already started")
            if concern.acknowledged_at is None:
                concern.acknowledged_at = utcnow()
            concern.status = "in_progress"
            await Concerns(session).add_event(
                concern.id, "status", staff_id=staff.id, data={"status": "in_progress"}
            )
            await Audit(session).record(staff.id, "start_work", "concern", concern.id)
        return concern

    async def assign(
        self, staff: Staff, concern_id: int, target_id: int | None, unit_id: int | None
    ) -> Concern:
        """Give the concern to `target_id` (a named person), or to the queue of `unit_id` (a transfer)."""
        async with self._transaction() as session:
            concern = await self._workable(session, staff, concern_id)
            target = await session.get(Staff, target_id) if target_id is not None else None
            if target_id is not None and target is None:
                raise Invalid("no such named person")
            unit_id = unit_id or (target.unit_id if target else None) or concern.unit_id
            unit = await session.get(Unit, unit_id) if unit_id is not None else None
            if unit is None or not unit.active:
                raise Invalid("no such unit")
            if not policy.can_assign(staff, concern, target, unit.id):
                raise Invalid("you cannot give this concern to that person or unit")
            before = {"unit_id": concern.unit_id, "staff_id": concern.assigned_to_id}
            concern.unit_id, concern.assigned_to_id = unit.id, target.id if target else None
            after = {"unit_id": concern.unit_id, "staff_id": concern.assigned_to_id}
            await Concerns(session).add_event(
                concern.id, "assigned", staff_id=staff.id, data={"from": before, "to": after}
            )
            await Audit(session).record(
                staff.id, "assign", "concern", concern.id, {"from": before, "to": after}
            )
            told = [target] if target is not None and target.id != staff.id else []
            if target is None and unit.id != before["unit_id"]:
                told = await unit_leads(session, unit.id)
            for person in told:
                if self.notifier is not None:
                    await self.notifier.tell(session, person, "new", concern.id)
        return concern

    async def note(self, staff: Staff, concern_id: int, text: str) -> None:
        """A private note: only staff who may see the concern read it; the family never does."""
        body = _text(text, "note")
        async with self._transaction() as session:
            concern = await self._workable(session, staff, concern_id)
            await Concerns(session).add_event(concern.id, "note", staff_id=staff.id, body=body)
            await Audit(session).record(staff.id, "note", "concern", concern.id)

    async def message_family(self, staff: Staff, concern_id: int, text: str) -> bool:
        """Write to the family through their own channel; False when they cannot be reached now."""
        body = _text(text, "message")
        async with self._transaction() as session:
            concern = await self._workable(session, staff, concern_id)
            unit = await session.get(Unit, staff.unit_id) if staff.unit_id else None
            delivered = await self.service.message_from_staff(
                session,
                user_id=concern.user_id,
                concern_id=concern.id,
                staff_name=staff.name,
                role=staff.title or None,
                role_code=staff.role,
                unit=unit.name if unit else "",
                text=body,
            )
            await Concerns(session).add_event(
                concern.id, "message_to_family", staff_id=staff.id, body=body, data={"delivered": delivered}
            )
            await Audit(session).record(
                staff.id, "message_family", "concern", concern.id, {"delivered": delivered}
            )
        return delivered

    async def close(self, staff: Staff, concern_id: int, outcome: str) -> Concern:
        if outcome not in OUTCOMES:
            raise Invalid(f"choose an outcome: {', '.join(OUTCOMES)}")
        async with self._transaction() as session:
            concern = await self._workable(session, staff, concern_id)
            concern.status, concern.outcome, concern.closed_at = "closed", outcome, utcnow()
            await Concerns(session).add_event(
                concern.id, "closed", staff_id=staff.id, data={"outcome": outcome}
            )
            await Audit(session).record(staff.id, "close", "concern", concern.id, {"outcome": outcome})
        return concern
