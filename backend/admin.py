"""Admin pages: the directory (municipality numbers, units, staff, routing rules) and the audit log.

Only admins; every change is audited. An admin sees no concern: children's data is for the people
who work with them.
"""

from __future__ import annotations

import re
from typing import Annotated, Final

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from backend import policy
from backend.casework import NotFound
from backend.passwords import PasswordTooWeak, hash_password
from backend.web import Poster, SignedIn, Staffer, an_id, desk, go
from storage.concerns import Audit
from storage.desk import ROLES, UNIT_KINDS, Municipality, RoutingRule, Staff, Unit
from storage.directory import Directory

router = APIRouter(prefix="/admin", include_in_schema=False)
CODE: Final = re.compile(r"^[A-Za-z0-9_]{1,40}$")
EMAIL: Final = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PAGE: Final = 100


def admin_only(who: SignedIn) -> SignedIn:
    if not policy.can_manage_directory(who.staff):
        raise NotFound("no such page")
    return who


async def admin_reading(who: Staffer) -> SignedIn:
    return admin_only(who)


async def admin_posting(who: Poster) -> SignedIn:
    return admin_only(who)


Admin = Annotated[SignedIn, Depends(admin_reading)]
AdminPost = Annotated[SignedIn, Depends(admin_posting)]


def _back(error: str = "", done: str = "") -> Response:
    return go(f"/admin?error={error}" if error else f"/admin?done={done}")


@router.get("")
async def directory_page(request: Request, who: Admin, done: str = "", error: str = "") -> Response:
    async with desk(request).service.sessions() as session:
        directory = Directory(session)
        municipalities = await directory.municipalities()
        units = await directory.units()
        rules = [rule for m in municipalities for rule in await directory.rules(m.id)]
        staff = await directory.staff_list()
    return desk(request).page(
        request, "admin.html", who.staff.language, staff=who.staff, csrf=who.live.csrf_token,
        municipalities=municipalities, units=units, rules=rules, people=staff, kinds=UNIT_KINDS,
        roles=ROLES, done=done, error=error,
    )  # fmt: skip


@router.post("/municipalities/{municipality_id}")
async def save_municipality(
    request: Request,
    municipality_id: int,
    who: AdminPost,
    name: Annotated[str, Form(max_length=100)],
    phone_social: Annotated[str, Form(max_length=40)] = "",
    phone_socialjour: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    async with desk(request).service.sessions() as session, session.begin():
        municipality = await session.get(Municipality, an_id(municipality_id))
        if municipality is None or not name.strip():
            return _back("municipality")
        municipality.name, municipality.phone_social = name.strip(), phone_social.strip()
        municipality.phone_socialjour = phone_socialjour.strip()
        await Audit(session).record(who.staff.id, "directory_change", "municipality", municipality.id)
    return _back(done="municipality")


@router.post("/units")
async def save_unit(
    request: Request,
    who: AdminPost,
    code: Annotated[str, Form(max_length=40)],
    name: Annotated[str, Form(max_length=120)],
    kind: Annotated[str, Form(max_length=20)],
    municipality_id: Annotated[int, Form()],
    partner: Annotated[str, Form(max_length=40)] = "",
    phone: Annotated[str, Form(max_length=40)] = "",
    email: Annotated[str, Form(max_length=200)] = "",
    office_hours: Annotated[str, Form(max_length=200)] = "",
    active: Annotated[str, Form()] = "",
) -> Response:
    if (
        not CODE.fullmatch(code)
        or kind not in UNIT_KINDS
        or not name.strip()
        or not 1 <= municipality_id < 2**31
    ):
        return _back("unit")
    async with desk(request).service.sessions() as session, session.begin():
        directory = Directory(session)
        if await session.get(Municipality, municipality_id) is None:
            return _back("unit")
        other = await directory.unit_by_code(partner) if partner else None
        if partner and (other is None or other.code == code):
            return _back("unit")
        unit = await directory.unit_by_code(code) or Unit(code=code)
        unit.name, unit.kind, unit.municipality_id = name.strip(), kind, municipality_id
        unit.partner_id = other.id if other else None
        unit.phone, unit.email, unit.office_hours = phone.strip(), email.strip(), office_hours.strip()
        unit.active = bool(active) or unit.id is None
        await directory.add(unit)
        await Audit(session).record(who.staff.id, "directory_change", "unit", unit.id)
    return _back(done="unit")


@router.post("/staff")
async def save_staff(
    request: Request,
    who: AdminPost,
    email: Annotated[str, Form(max_length=200)],
    name: Annotated[str, Form(max_length=120)],
    role: Annotated[str, Form(max_length=16)],
    unit: Annotated[str, Form(max_length=40)] = "",
    title: Annotated[str, Form(max_length=120)] = "",
    language: Annotated[str, Form(max_length=8)] = "sv",
    password: Annotated[str, Form(max_length=500)] = "",
    active: Annotated[str, Form()] = "",
) -> Response:
    email = email.strip().lower()
    if not EMAIL.fullmatch(email) or role not in ROLES or language not in ("sv", "en") or not name.strip():
        return _back("staff")
    async with desk(request).service.sessions() as session, session.begin():
        directory = Directory(session)
        home = await directory.unit_by_code(unit) if unit else None
        if (unit and home is None) or (role != "admin" and home is None):
            return _back("staff_unit")
        person = await directory.staff_by_email(email) or Staff(email=email, failed_logins=0)
        person.name, person.role, person.title, person.language = name.strip(), role, title.strip(), language
        person.unit_id = home.id if home else None
        person.active = bool(active) or person.id is None
        if password:
            try:
                person.password_hash = hash_password(password)
            except PasswordTooWeak:
                return _back("password")
        await directory.add(person)
        if password or not person.active:
            await directory.end_sessions_of(person.id)  # a new password or leaving signs out everywhere
        await Audit(session).record(who.staff.id, "directory_change", "staff", person.id)
    return _back(done="staff")


@router.post("/rules")
async def add_rule(
    request: Request,
    who: AdminPost,
    municipality_id: Annotated[int, Form()],
    min_age_months: Annotated[int, Form(ge=0, le=300)],
    max_age_months: Annotated[int, Form(ge=0, le=300)],
    kind: Annotated[str, Form(max_length=20)],
) -> Response:
    if kind not in UNIT_KINDS or min_age_months > max_age_months or not 1 <= municipality_id < 2**31:
        return _back("rule")
    async with desk(request).service.sessions() as session, session.begin():
        directory = Directory(session)
        if await directory.municipality(municipality_id) is None:
            return _back("rule")
        existing = await directory.rules(municipality_id)
        if any(r.min_age_months <= max_age_months and min_age_months <= r.max_age_months for r in existing):
            return _back("rule_overlap")
        rule = RoutingRule(
            municipality_id=municipality_id,
            min_age_months=min_age_months,
            max_age_months=max_age_months,
            kind=kind,
        )
        await directory.add(rule)
        await Audit(session).record(who.staff.id, "directory_change", "rule", rule.id)
    return _back(done="rule")


@router.post("/rules/{rule_id}/delete")
async def delete_rule(request: Request, rule_id: int, who: AdminPost) -> Response:
    async with desk(request).service.sessions() as session, session.begin():
        rule = await session.get(RoutingRule, an_id(rule_id))
        if rule is not None:
            await Directory(session).delete(rule)
            await Audit(session).record(who.staff.id, "directory_change", "rule", rule_id, {"deleted": True})
    return _back(done="rule")


@router.get("/audit")
async def audit_page(request: Request, who: Admin, page: int = 0) -> Response:
    if not policy.can_read_audit(who.staff):
        raise NotFound("no such page")
    page = max(0, min(page, 10_000))
    async with desk(request).service.sessions() as session, session.begin():
        entries = await Audit(session).entries(limit=PAGE, offset=page * PAGE)
        await Audit(session).record(who.staff.id, "read_audit", "audit", None, {"page": page})
    return desk(request).page(
        request, "audit.html", who.staff.language, staff=who.staff, csrf=who.live.csrf_token,
        entries=entries, page_number=page, more=len(entries) == PAGE,
    )  # fmt: skip
