"""Intake: a concern is stored, routed to a unit and a named person, given its deadline, written on
its timeline, and the right people are told, all in the caller's transaction.

The conversation service calls `file_concern` when a flow's concern rule fires and consent allows
(an urgent danger signal needs no consent). A second rule firing in the same conversation adds its
reason to the open concern, and may raise its priority (never lower it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from backend import unit_search
from backend.notices import Notifier
from backend.routing import Route, RuleInfo, UnitInfo, pick_named_person, route
from backend.workdays import acknowledge_by
from storage import Store
from storage.concerns import Concerns
from storage.desk import Municipality, RoutingRule, Staff, Unit
from storage.models import Child, Concern, utcnow


@dataclass(frozen=True)
class Desk:
    """What intake needs to know about the desk: how to tell staff, and the home municipality."""

    notifier: Notifier | None = None
    municipality: str | None = None  # the code of the municipality for families without a unit


async def file_concern(
    session: AsyncSession,
    desk: Desk,
    *,
    user_id: int,
    child_id: int | None,
    conversation_id: int | None,
    kind: str,
    reason: str,
    priority: str,
    answers_shared: bool,
    source: str = "family",
    hints: dict[str, str | int] | None = None,
) -> Concern:
    store, concerns = Store(session), Concerns(session)
    before = await store.open_concern(conversation_id, kind) if conversation_id is not None else None
    old = (before.priority, list(before.reasons)) if before is not None else None
    concern = await store.raise_concern(
        user_id=user_id,
        child_id=child_id,
        conversation_id=conversation_id,
        kind=kind,
        reason=reason,
        priority=priority,
        answers_shared=answers_shared,
    )
    if old is None:
        concern.source = source
        target = await route_concern(session, desk, child_id, hints or {})
        concern.unit_id = target.unit_id
        concern.assigned_to_id = await named_person(session, target.unit_id)
        concern.due_at = acknowledge_by(concern.created_at, concern.priority)
        created = {"reason": reason, "priority": concern.priority, "kind": kind, "source": source}
        await concerns.add_event(concern.id, "created", data=created)
        routed = {"unit_id": concern.unit_id, "staff_id": concern.assigned_to_id, "why": target.why}
        await concerns.add_event(concern.id, "routed", data=routed)
        for person in await recipients(session, concern):
            if desk.notifier is not None:
                await desk.notifier.tell(session, person, "new", concern.id)
    elif (concern.priority, list(concern.reasons)) != old:
        await concerns.add_event(
            concern.id, "reason_added", data={"reason": reason, "priority": concern.priority}
        )
        if concern.priority != old[0] and concern.status == "new":
            sooner = acknowledge_by(utcnow(), concern.priority)
            concern.due_at = min(concern.due_at, sooner) if concern.due_at else sooner
    await session.flush()
    return concern


async def route_concern(
    session: AsyncSession, desk: Desk, child_id: int | None, hints: dict[str, str | int] | None = None
) -> Route:
    """Where a concern goes; `hints` (unit_code, age_months) stand in when there is no child record."""
    hints = hints or {}
    child = await session.get(Child, child_id) if child_id is not None else None
    age = hints.get("age_months") if isinstance(hints.get("age_months"), int) else None
    if child is not None and child.age_years is not None:
        age = child.age_years * 12 + (child.age_months or 0)
    units = [
        UnitInfo(u.id, u.code, u.kind, u.municipality_id, u.partner_id, u.active)
        for u in await session.scalars(sa.select(Unit))
    ]
    rules = [
        RuleInfo(r.municipality_id, r.min_age_months, r.max_age_months, r.kind)
        for r in await session.scalars(sa.select(RoutingRule))
    ]
    unit_code = child.unit_code if child is not None else hints.get("unit_code")
    child_unit = next((u for u in units if unit_code and u.code == unit_code), None)
    if child_unit is None and child is not None and child.unit_text:  # typed, not invited: find it
        names = [(u.code, u.name) for u in await session.scalars(sa.select(Unit).where(Unit.active))]
        typed = unit_search.best(child.unit_text, names)
        child_unit = next((u for u in units if typed is not None and u.code == typed.code), None)
    municipality = await home_municipality(session, desk)
    return route(
        age_months=age,
        child_unit=child_unit,
        municipality_id=municipality.id if municipality else None,
        units=units,
        rules=rules,
    )


async def home_municipality(session: AsyncSession, desk: Desk) -> Municipality | None:
    """The configured municipality, else the only (or first) one in the directory."""
    query = sa.select(Municipality).order_by(Municipality.id)
    if desk.municipality:
        found = await session.scalar(query.where(Municipality.code == desk.municipality))
        if found is not None:
            return found
    return await session.scalar(query.limit(1))


async def municipality_of(session: AsyncSession, desk: Desk, unit_code: str | None) -> Municipality | None:
    """The municipality a family belongs to: their unit's, else the home one."""
    if unit_code:
        query = sa.select(Municipality).join(Unit, Unit.municipality_id == Municipality.id)
        found = await session.scalar(query.where(Unit.code == unit_code))
        if found is not None:
            return found
    return await home_municipality(session, desk)


async def named_person(session: AsyncSession, unit_id: int | None) -> int | None:
    if unit_id is None:
        return None
    query = sa.select(Staff.id).where(Staff.unit_id == unit_id, Staff.role == "named_person", Staff.active)
    candidates = list(await session.scalars(query))
    if not candidates:
        return None
    loads = dict.fromkeys(candidates, 0)
    counted = (
        sa.select(Concern.assigned_to_id, sa.func.count())
        .where(Concern.assigned_to_id.in_(candidates), Concern.status != "closed")
        .group_by(Concern.assigned_to_id)
    )
    for staff_id, count in await session.execute(counted):
        loads[staff_id] = count
    return pick_named_person(candidates, loads)


async def recipients(session: AsyncSession, concern: Concern) -> list[Staff]:
    """Who is told of a new concern: its named person, else the unit's leads."""
    if concern.assigned_to_id is not None:
        person = await session.get(Staff, concern.assigned_to_id)
        return [person] if person is not None else []
    return await unit_leads(session, concern.unit_id)


async def unit_leads(session: AsyncSession, unit_id: int | None) -> list[Staff]:
    if unit_id is None:
        return []
    query = sa.select(Staff).where(Staff.unit_id == unit_id, Staff.role == "unit_lead", Staff.active)
    return list(await session.scalars(query.order_by(Staff.id)))


async def answer_to_staff(
    session: AsyncSession, desk: Desk, concern_id: int, user_id: int, text: str, language: str
) -> None:
    """The family's answer lands on the concern's timeline; whoever wrote to them last is told."""
    concern = await session.get(Concern, concern_id)
    if concern is None or concern.user_id != user_id:
        return  # the concern is gone (deleted, or not theirs): nothing to attach the answer to
    concerns = Concerns(session)
    await concerns.add_event(concern.id, "message_from_family", body=text, body_language=language)
    writers = [e.staff_id for e in await concerns.events(concern.id) if e.kind == "message_to_family"]
    person = await session.get(Staff, writers[-1]) if writers and writers[-1] is not None else None
    if person is not None and desk.notifier is not None:
        await desk.notifier.tell(session, person, "reply", concern.id)


async def add_signal(session: AsyncSession, concern: Concern, understood: Any) -> None:
    """The family's words that raised a danger signal, on the concern's timeline (encrypted)."""
    await Concerns(session).add_event(
        concern.id,
        "signal",
        body=understood.text,
        body_language=understood.language,
        data={"level": understood.risk_level, "categories": list(understood.risk_categories)},
    )
