"""The directory's queries: municipalities, units, routing rules, staff, their tokens and sessions.

Like ``Store``, a ``Directory`` works on one session whose transaction the caller owns; it flushes,
never commits. ``replace`` swaps the whole directory in that transaction (an import is all or
nothing). Secrets are only ever stored as hashes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from storage.desk import Municipality, RoutingRule, Staff, StaffSession, StaffToken, Unit
from storage.models import Concern, utcnow


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass
class DirectoryData:
    """The directory as plain data (what an import file holds)."""

    municipalities: list[dict[str, Any]] = field(default_factory=list)
    units: list[dict[str, Any]] = field(default_factory=list)  # municipality and partner by code
    rules: list[dict[str, Any]] = field(default_factory=list)  # municipality by code
    staff: list[dict[str, Any]] = field(default_factory=list)  # unit by code


class Directory:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # ---- reading --------------------------------------------------------

    async def municipalities(self) -> list[Municipality]:
        return list(await self.session.scalars(sa.select(Municipality).order_by(Municipality.name)))

    async def municipality(self, municipality_id: int) -> Municipality | None:
        return await self.session.get(Municipality, municipality_id)

    async def units(self, municipality_id: int | None = None) -> list[Unit]:
        query = sa.select(Unit).order_by(Unit.name)
        if municipality_id is not None:
            query = query.where(Unit.municipality_id == municipality_id)
        return list(await self.session.scalars(query))

    async def unit(self, unit_id: int) -> Unit | None:
        return await self.session.get(Unit, unit_id)

    async def unit_by_code(self, code: str) -> Unit | None:
        return await self.session.scalar(sa.select(Unit).where(Unit.code == code))

    async def rules(self, municipality_id: int) -> list[RoutingRule]:
        query = sa.select(RoutingRule).where(RoutingRule.municipality_id == municipality_id)
        return list(await self.session.scalars(query.order_by(RoutingRule.min_age_months)))

    async def staff_list(self, unit_id: int | None = None) -> list[Staff]:
        query = sa.select(Staff).order_by(Staff.name)
        if unit_id is not None:
            query = query.where(Staff.unit_id == unit_id)
        return list(await self.session.scalars(query))

    async def staff(self, staff_id: int) -> Staff | None:
        return await self.session.get(Staff, staff_id)

    async def staff_by_email(self, email: str) -> Staff | None:
        return await self.session.scalar(sa.select(Staff).where(Staff.email == email.strip().lower()))

    async def open_loads(self, staff_ids: Sequence[int]) -> dict[int, int]:
        """How many open concerns each of these staff members has."""
        if not staff_ids:
            return {}
        query = (
            sa.select(Concern.assigned_to_id, sa.func.count())
            .where(Concern.assigned_to_id.in_(staff_ids), Concern.status != "closed")
            .group_by(Concern.assigned_to_id)
        )
        loads = {staff_id: 0 for staff_id in staff_ids}
        for staff_id, count in await self.session.execute(query):
            loads[staff_id] = count
        return loads

    # ---- changing -------------------------------------------------------

    async def add(self, row: Municipality | Unit | RoutingRule | Staff) -> None:
        self.session.add(row)
        await self.session.flush()

    async def delete(self, row: Municipality | Unit | RoutingRule | Staff) -> None:
        await self.session.delete(row)
        await self.session.flush()

    async def replace(self, data: DirectoryData) -> dict[str, int]:
        """Make the directory exactly `data` (already validated), keeping rows that stay by code/email.

        Staff who are no longer listed are deactivated, not deleted: the timeline keeps their name.
        Passwords and tokens of staff who stay are kept.
        """
        municipalities = {m.code: m for m in await self.municipalities()}
        for item in data.municipalities:
            row = municipalities.get(item["code"]) or Municipality(code=item["code"])
            row.name, row.phone_social = item["name"], item.get("phone_social", "")
            row.phone_socialjour = item.get("phone_socialjour", "")
            self.session.add(row)
            municipalities[row.code] = row
        await self.session.flush()
        wanted = {item["code"] for item in data.municipalities}
        units = {u.code: u for u in await self.units()}
        for item in data.units:
            row = units.get(item["code"]) or Unit(code=item["code"])
            row.municipality_id = municipalities[item["municipality"]].id
            row.name, row.kind = item["name"], item["kind"]
            row.phone, row.email = item.get("phone", ""), item.get("email", "")
            row.office_hours, row.active = item.get("office_hours", ""), True
            self.session.add(row)
            units[row.code] = row
        await self.session.flush()
        listed_units = {item["code"] for item in data.units}
        for item in data.units:
            partner = item.get("partner")
            units[item["code"]].partner_id = units[partner].id if partner else None
        for code, unit in units.items():
            if code not in listed_units:
                unit.active = False
        await self.session.execute(sa.delete(RoutingRule))
        for item in data.rules:
            self.session.add(
                RoutingRule(
                    municipality_id=municipalities[item["municipality"]].id,
                    min_age_months=item["min_age_months"],
                    max_age_months=item["max_age_months"],
                    kind=item["kind"],
                )
            )
        people = {s.email: s for s in await self.staff_list()}
        for item in data.staff:
            row = people.get(item["email"]) or Staff(email=item["email"], failed_logins=0)
            row.name, row.role, row.title = item["name"], item["role"], item.get("title", "")
            row.unit_id = units[item["unit"]].id if item.get("unit") else None
            row.phone, row.language, row.active = item.get("phone", ""), item.get("language", "sv"), True
            self.session.add(row)
        listed_staff = {item["email"] for item in data.staff}
        for email, person in people.items():
            if email not in listed_staff:
                person.active = False
        for code, municipality in municipalities.items():
            if code not in wanted and not any(u.municipality_id == municipality.id for u in units.values()):
                await self.session.delete(municipality)
        await self.session.flush()
        return {
            "municipalities": len(data.municipalities),
            "units": len(data.units),
            "rules": len(data.rules),
            "staff": len(data.staff),
        }

    async def export(self) -> DirectoryData:
        municipalities = await self.municipalities()
        by_id = {m.id: m.code for m in municipalities}
        units = await self.units()
        unit_codes = {u.id: u.code for u in units}
        rules = [r for m in municipalities for r in await self.rules(m.id)]
        return DirectoryData(
            municipalities=[
                {
                    "code": m.code,
                    "name": m.name,
                    "phone_social": m.phone_social,
                    "phone_socialjour": m.phone_socialjour,
                }
                for m in municipalities
            ],
            units=[
                {
                    "code": u.code,
                    "name": u.name,
                    "kind": u.kind,
                    "municipality": by_id[u.municipality_id],
                    "partner": unit_codes.get(u.partner_id) if u.partner_id else None,
                    "phone": u.phone,
                    "email": u.email,
                    "office_hours": u.office_hours,
                }
                for u in units
                if u.active
            ],
            rules=[
                {
                    "municipality": by_id[r.municipality_id],
                    "min_age_months": r.min_age_months,
                    "max_age_months": r.max_age_months,
                    "kind": r.kind,
                }
                for r in rules
            ],
            staff=[
                {
                    "email": s.email,
                    "name": s.name,
                    "role": s.role,
                    "unit": unit_codes.get(s.unit_id) if s.unit_id else None,
                    "title": s.title,
                    "phone": s.phone,
                    "language": s.language,
                }
                for s in await self.staff_list()
                if s.active
            ],
        )

    # ---- tokens and sessions --------------------------------------------

    async def add_token(self, staff_id: int, token: str) -> None:
        self.session.add(StaffToken(staff_id=staff_id, token_hash=digest(token)))
        await self.session.flush()

    async def staff_by_token(self, token: str) -> Staff | None:
        query = (
            sa.select(Staff, StaffToken)
            .join(StaffToken, StaffToken.staff_id == Staff.id)
            .where(StaffToken.token_hash == digest(token), StaffToken.revoked_at.is_(None), Staff.active)
        )
        row = (await self.session.execute(query)).first()
        if row is None:
            return None
        staff, stored = row
        stored.last_used_at = utcnow()
        return staff  # type: ignore[no-any-return]

    async def add_session(self, session_id: str, staff_id: int, csrf_token: str) -> None:
        self.session.add(StaffSession(id=digest(session_id), staff_id=staff_id, csrf_token=csrf_token))
        await self.session.flush()

    async def session_of(self, session_id: str) -> tuple[StaffSession, Staff] | None:
        query = (
            sa.select(StaffSession, Staff)
            .join(Staff, Staff.id == StaffSession.staff_id)
            .where(StaffSession.id == digest(session_id), Staff.active)
        )
        row = (await self.session.execute(query)).first()
        return (row[0], row[1]) if row else None

    async def end_session(self, session_id: str) -> None:
        await self.session.execute(sa.delete(StaffSession).where(StaffSession.id == digest(session_id)))

    async def end_sessions_of(self, staff_id: int) -> int:
        """Sign a staff member out everywhere (after a password reset or deactivation)."""
        result = await self.session.execute(sa.delete(StaffSession).where(StaffSession.staff_id == staff_id))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def end_idle_sessions(self, before: datetime) -> int:
        result = await self.session.execute(sa.delete(StaffSession).where(StaffSession.last_seen_at < before))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]
