"""Overdue concerns: not acknowledged in time, they are marked overdue and escalated to the unit lead.

An urgent concern must be acknowledged within an hour, any other within three working days (the
deadline is set at intake, see ``backend.workdays``). When it passes, the concern is marked overdue,
its timeline says so and names the unit leads who were told; they, and the named person it waits
with, each get an e-mail notice (a link only). A unit without a lead escalates to the leads of its
municipality's coordinator unit. Each concern is one transaction, so its mark, timeline and
e-mails are stored together or not at all, a concern is escalated only once, and a backlog never
holds the database for long.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.intake import unit_leads
from backend.notices import Notifier
from storage.concerns import Concerns
from storage.desk import Staff, Unit
from storage.directory import Directory
from storage.models import Concern, utcnow

log = logging.getLogger(__name__)
EVERY = 60.0  # seconds between runs: a deadline is noticed within a minute


async def mark_overdue(
    session_factory: async_sessionmaker[AsyncSession], notifier: Notifier | None, now: datetime
) -> list[int]:
    """Mark and escalate every new concern whose deadline has passed at `now`; the ids marked.

    One short transaction per concern (the mark, its timeline and its e-mails together), so a backlog
    never holds the database for long: staff keep working while it runs.
    """
    async with session_factory() as session:
        due = [concern.id for concern in await Concerns(session).unacknowledged_past_due(now)]
    marked: list[int] = []
    for concern_id in due:
        async with session_factory() as session, session.begin():
            if await escalate(session, notifier, concern_id, now):
                marked.append(concern_id)
    return marked


async def escalate(session: AsyncSession, notifier: Notifier | None, concern_id: int, now: datetime) -> bool:
    """Mark one concern overdue and tell its unit leads and named person; False if another run, or
    an acknowledgement, came first."""
    concerns = Concerns(session)
    if not await concerns.mark_overdue(concern_id, now):
        return False
    concern = await session.get(Concern, concern_id)
    assert concern is not None
    unit_id, leads = await escalation_leads(session, concern)
    due = concern.due_at.isoformat() if concern.due_at else None
    await concerns.add_event(concern.id, "overdue", data={"due_at": due})
    await concerns.add_event(
        concern.id, "escalated", data={"unit_id": unit_id, "staff_ids": [lead.id for lead in leads]}
    )
    named = await session.get(Staff, concern.assigned_to_id) if concern.assigned_to_id else None
    for person in [*leads, *([named] if named is not None and named not in leads else [])]:
        if notifier is not None:  # the leads, and the named person it waits with
            await notifier.tell(session, person, "escalated", concern.id)
    if not leads:
        log.warning("concern %d is overdue, but there is no unit lead to tell", concern.id)
    return True


async def escalation_leads(session: AsyncSession, concern: Concern) -> tuple[int | None, list[Staff]]:
    """The unit whose leads are told, and its active leads: the concern's own unit, else (when that
    has no lead) the coordinator unit of the same municipality."""
    leads = await unit_leads(session, concern.unit_id)
    if leads:
        return concern.unit_id, leads
    coordinator = await coordinator_unit(session, concern.unit_id)
    if coordinator is None or coordinator.id == concern.unit_id:
        return concern.unit_id, []
    return coordinator.id, await unit_leads(session, coordinator.id)


async def coordinator_unit(session: AsyncSession, unit_id: int | None) -> Unit | None:
    """The active coordinator unit (the lowest id, as routing picks it) of the unit's municipality; for
    a concern routed nowhere, of any municipality."""
    directory = Directory(session)
    unit = await directory.unit(unit_id) if unit_id is not None else None
    units = await directory.units(unit.municipality_id if unit is not None else None)
    coordinators = [u for u in units if u.kind == "coordinator" and u.active]
    return min(coordinators, key=lambda u: u.id, default=None)


async def run_overdue(
    session_factory: async_sessionmaker[AsyncSession],
    notifier: Notifier | None,
    stop: asyncio.Event,
    every: float = EVERY,
    *,
    wake: Callable[[], None] | None = None,
) -> None:
    """Mark overdue concerns every `every` seconds until `stop` is set. A failed run (the database away
    for a moment) is logged by its error class and tried again at the next one. `wake` (the e-mail
    sender's) is called when notices were queued."""
    while not stop.is_set():
        try:
            marked = await mark_overdue(session_factory, notifier, utcnow())
        except Exception as exc:
            log.warning("overdue run failed: %s", type(exc).__name__)
        else:
            if marked:
                log.info("%d concerns overdue and escalated: %s", len(marked), marked)
                if wake is not None:
                    wake()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every)
