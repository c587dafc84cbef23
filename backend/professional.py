"""Professionals ask whom to contact about a child, and a verified one hands a worry to the named person.

The directory answers: the unit the professional names (fuzzy search on its name), the unit that is
responsible for a child of that age there (Kronoberg's chain, backend/routing.py), and its named
person; a unit without one sends the professional, and the worry, to the municipality's coordinator
(the fallback queue). A filed worry becomes a concern from source "professional": the structured
description is encrypted on its timeline, with the professional's name and unit and the wellbeing
indicators the NLU suggests. Nothing about it goes back to the chat.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from backend import unit_search
from backend.intake import Desk, file_concern, home_municipality, named_person, route_concern
from storage.concerns import Concerns
from storage.desk import Staff, Unit

MAX_CANDIDATES = 6
CLOSE = 0.1  # units scoring within this of the best are offered together


@dataclass(frozen=True)
class Contact:
    """Whom a professional contacts about a child: a unit and, if it has one, its named person."""

    unit_id: int | None
    staff_id: int | None
    fields: Mapping[str, str]  # flows.events.CONTACT_FIELDS


async def find_units(session: AsyncSession, typed: str) -> list[tuple[str, str]]:
    """(code, name) of the active units the words fit: one when it is clear, several when not."""
    units = [(u.code, u.name) for u in await session.scalars(sa.select(Unit).where(Unit.active))]
    clear = unit_search.best(typed, units)
    if clear is not None:
        return [(clear.code, clear.name)]
    matches = unit_search.search(typed, units, limit=MAX_CANDIDATES)
    if not matches:
        return []
    return [(m.code, m.name) for m in matches if m.score >= matches[0].score - CLOSE - 0.2]


async def contact_for(
    session: AsyncSession, desk: Desk, unit_code: str | None, age_months: int | None
) -> Contact:
    """The responsible unit for a child of this age at this unit, and its named person; where
    nobody is named, the municipality's coordinator unit (the fallback queue) and its named person,
    if it has one."""
    hints: dict[str, str | int] = {"unit_code": unit_code or ""}
    if age_months is not None:
        hints["age_months"] = age_months
    target = await route_concern(session, desk, None, hints)
    unit = await session.get(Unit, target.unit_id) if target.unit_id is not None else None
    person_id = await named_person(session, target.unit_id)
    if person_id is None:  # nobody named there: the coordinator's queue takes it
        coordinator = await _coordinator(session, desk)
        if coordinator is not None:
            unit, person_id = coordinator, await named_person(session, coordinator.id)
    person = await session.get(Staff, person_id) if person_id is not None else None
    return Contact(unit.id if unit else None, person.id if person else None, _fields(unit, person))


async def _coordinator(session: AsyncSession, desk: Desk) -> Unit | None:
    home = await home_municipality(session, desk)
    query = sa.select(Unit).where(Unit.kind == "coordinator", Unit.active).order_by(Unit.id)
    if home is not None:
        query = query.where(Unit.municipality_id == home.id)
    return await session.scalar(query.limit(1))


def _fields(unit: Unit | None, person: Staff | None) -> dict[str, str]:
    fields = {
        "unit_code": unit.code if unit else "",
        "unit_name": unit.name if unit else "",
        "unit_phone": unit.phone if unit else "",
        "unit_email": unit.email if unit else "",
        "office_hours": unit.office_hours if unit else "",
        "person": (f"{person.name}, {person.title}" if person.title else person.name) if person else "",
        "title": person.title if person else "",
        "phone": (person.phone if person else "") or (unit.phone if unit else ""),
        "email": person.email if person else (unit.email if unit else ""),
    }
    return fields


async def file_report(
    session: AsyncSession,
    desk: Desk,
    *,
    user_id: int,
    professional: Staff,
    contact: Contact,
    report: Mapping[str, str],
    language: str,
    indicators: Sequence[str],
) -> int:
    """A concern in the named person's queue (or the unit's, without one); returns its id."""
    urgent = report.get("urgency") == "danger"
    concern = await file_concern(
        session,
        desk,
        user_id=user_id,
        child_id=None,
        conversation_id=None,
        kind="concern",
        reason="professional_report",
        priority="urgent" if urgent else "high" if report.get("urgency") == "worried" else "normal",
        answers_shared=False,
        source="professional",
        hints={"unit_code": contact.fields.get("unit_code", "")},
    )
    if contact.unit_id is not None and concern.unit_id == contact.unit_id and contact.staff_id:
        concern.assigned_to_id = contact.staff_id  # the person the professional was told of
        await session.flush()
    from_unit = await session.get(Unit, professional.unit_id) if professional.unit_id else None
    body = "\n".join(
        part
        for part in (
            report.get("seen", ""),
            f"— {report['when']}" if report.get("when") else "",
            f"— {report['identity']}" if report.get("identity") else "",
        )
        if part
    )
    await Concerns(session).add_event(
        concern.id,
        "report",
        staff_id=professional.id,
        body=body,
        body_language=language,
        data={
            "role": report.get("role", ""),
            "urgency": report.get("urgency", ""),
            "age_months": report.get("age_months", ""),
            "indicators": list(indicators),
            "by": professional.name,
            "by_unit": from_unit.name if from_unit else "",
            "child_identity": bool(report.get("identity")),
        },
    )
    return concern.id
