"""Overdue concerns: an urgent one not acknowledged within the hour, any other not within three working
days, is marked overdue and escalated to the unit lead, once, with one e-mail to each lead."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa

from backend.intake import Desk, file_concern
from backend.mail import EmailSender
from backend.notices import Notifier
from backend.overdue import mark_overdue, run_overdue
from backend.workdays import add_working_days
from bot.i18n import Catalogs
from bot.settings import load_settings
from storage import Store
from storage.concerns import Concerns
from storage.database import make_engine, make_session_factory, upgrade
from storage.desk import Municipality, RoutingRule, Staff, Unit
from storage.identity import pseudonym
from storage.models import Concern, OutboxMessage, utcnow
from tests.backend.mailserver import MailServer, eventually


@pytest.fixture
def mail_server() -> Iterator[MailServer]:
    server = MailServer().start()
    try:
        yield server
    finally:
        server.stop()


def notifier() -> Notifier:
    return Notifier(True, "https://desk.example", Catalogs(load_settings().locales_dir, "staff"))


async def raise_concern(session_factory, family: str, *, urgent: bool = False, age: int = 3) -> Concern:
    """A concern about a child of `age` years, filed as the conversation service files it."""
    async with session_factory() as session, session.begin():
        store = Store(session)
        user = await store.get_or_create_user("web", pseudonym(b"k" * 32, "web", family))
        child = await store.create_child(user.id)
        await store.update_child(child.id, age_years=age, age_months=0)
        return await file_concern(
            session,
            Desk(notifier=notifier(), municipality="vaxjo"),
            user_id=user.id,
            child_id=child.id,
            conversation_id=None,
            kind="urgent" if urgent else "concern",
            reason="danger_words" if urgent else "worried_answer",
            priority="urgent" if urgent else "normal",
            answers_shared=True,
        )


async def timeline(session_factory, concern_id: int) -> tuple[Concern, list[tuple[str, dict]]]:
    async with session_factory() as session:
        concern = await session.get(Concern, concern_id)
        return concern, [(e.kind, e.data) for e in await Concerns(session).events(concern_id)]


async def escalation_mails(session_factory) -> list[str]:
    """To whom the outbox holds an "item waiting" notice (in Swedish, the staff's default language)."""
    async with session_factory() as session:
        rows = await session.scalars(sa.select(OutboxMessage).where(OutboxMessage.channel == "email"))
        return [row.address for row in rows if row.payload["subject"] == "Ett ärende i Hjulet väntar"]


async def test_overdue_concerns_are_escalated_once_and_the_lead_gets_one_mail_each(
    session_factory, directory, mail_server, tmp_path
) -> None:
    urgent = await raise_concern(session_factory, "family-u", urgent=True)
    normal = await raise_concern(session_factory, "family-n")
    seen = await raise_concern(session_factory, "family-s", urgent=True)
    async with session_factory() as session, session.begin():
        acknowledged = await session.get(Concern, seen.id)
        acknowledged.status, acknowledged.acknowledged_at = "acknowledged", utcnow()
    assert urgent.due_at == urgent.created_at + timedelta(hours=1)
    assert normal.due_at == add_working_days(normal.created_at, 3)
    assert normal.due_at - normal.created_at >= timedelta(days=3)
    told = notifier()

    assert await mark_overdue(session_factory, told, urgent.due_at - timedelta(minutes=1)) == []
    assert await mark_overdue(session_factory, told, urgent.due_at + timedelta(minutes=1)) == [urgent.id]
    assert await mark_overdue(session_factory, told, normal.due_at - timedelta(minutes=1)) == []
    late = normal.due_at + timedelta(minutes=1)
    assert await mark_overdue(session_factory, told, late) == [normal.id]
    assert await mark_overdue(session_factory, told, late + timedelta(days=30)) == []  # again: nothing

    escalated = {"unit_id": directory["bvc"], "staff_ids": [directory["lead"]]}
    for concern, at in ((urgent, urgent.due_at + timedelta(minutes=1)), (normal, late)):
        stored, events = await timeline(session_factory, concern.id)
        assert stored.overdue and stored.escalated_at == at and stored.status == "new"
        assert [kind for kind, _ in events] == ["created", "routed", "overdue", "escalated"]
        assert events[3][1] == escalated
    stored, events = await timeline(session_factory, seen.id)
    assert not stored.overdue and stored.escalated_at is None
    assert [kind for kind, _ in events] == ["created", "routed"]

    await EmailSender(session_factory, mail_server.settings(tmp_path)).drain()
    to_lead = mail_server.to("lead@bvc.se")
    assert [mail.message["Subject"] for mail in to_lead] == ["Ett ärende i Hjulet väntar"] * 2
    links = sorted(mail.body.splitlines()[0].rsplit(": ", 1)[1] for mail in to_lead)
    assert links == sorted(f"https://desk.example/concerns/{c.id}" for c in (urgent, normal))
    assert mail_server.to("lead@samordning.se") == []
    new_items = [m for m in mail_server.received if m.message["Subject"] == "Nytt ärende i Hjulet"]
    waiting = [m for m in mail_server.received if m.message["Subject"] == "Ett ärende i Hjulet väntar"]
    assert len(new_items) == 3  # the named persons, at intake
    # escalated: the lead for each overdue concern, and the named person each one waits with
    nurses = {urgent.assigned_to_id, normal.assigned_to_id}
    assert len(waiting) == 2 + len([n for n in (urgent.assigned_to_id, normal.assigned_to_id) if n])
    assert len(mail_server.received) == 3 + len(waiting) and None not in nurses


@pytest.mark.parametrize("why", ["no_lead_at_the_unit", "the_lead_has_left"])
async def test_a_unit_without_a_lead_escalates_to_the_coordinator_leads(
    session_factory, directory, why: str
) -> None:
    if why == "the_lead_has_left":
        async with session_factory() as session, session.begin():
            (await session.get(Staff, directory["lead"])).active = False
    age, unit = (9, "school") if why == "no_lead_at_the_unit" else (3, "bvc")
    concern = await raise_concern(session_factory, "family-c", age=age)
    assert concern.unit_id == directory[unit]

    late = concern.due_at + timedelta(seconds=1)
    assert await mark_overdue(session_factory, notifier(), late) == [concern.id]

    _, events = await timeline(session_factory, concern.id)
    assert events[-1] == (
        "escalated", {"unit_id": directory["coordinator"], "staff_ids": [directory["coordinator_lead"]]}
    )  # fmt: skip
    nurse = ["a@bvc.se"] if why == "the_lead_has_left" else []  # the school has no named person yet
    assert sorted(await escalation_mails(session_factory)) == sorted(["lead@samordning.se", *nurse])


async def test_two_runs_at_once_escalate_a_concern_only_once(session_factory, directory) -> None:
    concern = await raise_concern(session_factory, "family-t", urgent=True)
    now = concern.due_at + timedelta(minutes=5)

    results = await asyncio.gather(
        *(mark_overdue(session_factory, notifier(), now) for _ in range(2)), return_exceptions=True
    )

    marked = [ids for ids in results if isinstance(ids, list)]
    failed = [exc for exc in results if not isinstance(exc, list)]
    assert sorted(concern_id for ids in marked for concern_id in ids) == [concern.id]
    assert all(type(exc).__name__ == "OperationalError" for exc in failed)  # SQLite: "database is locked"
    _, events = await timeline(session_factory, concern.id)
    assert [kind for kind, _ in events].count("escalated") == 1
    assert sorted(await escalation_mails(session_factory)) == ["a@bvc.se", "lead@bvc.se"]  # once each


async def test_the_periodic_run_survives_a_database_hiccup(blank_database_url, cipher, caplog) -> None:
    caplog.set_level(logging.INFO, logger="backend.overdue")
    engine = make_engine(blank_database_url, cipher=cipher)  # no tables yet: every run fails
    sessions = make_session_factory(engine)
    stop, wakes = asyncio.Event(), []
    running = run_overdue(sessions, notifier(), stop, every=0.05, wake=lambda: wakes.append(1))
    runner = asyncio.create_task(running)
    try:
        await eventually(lambda: any("overdue run failed" in r.getMessage() for r in caplog.records))
        await asyncio.to_thread(upgrade, blank_database_url)  # the database is back
        async with sessions() as session, session.begin():
            town = Municipality(code="vaxjo", name="Växjö")
            session.add(town)
            await session.flush()
            bvc = Unit(municipality_id=town.id, code="bvc", name="BVC", kind="bvc")
            session.add(bvc)
            await session.flush()
            session.add(RoutingRule(municipality_id=town.id, min_age_months=0, max_age_months=71, kind="bvc"))
            session.add(Staff(email="lead@bvc.se", name="Lena", role="unit_lead", unit_id=bvc.id))
        concern = await raise_concern(sessions, "family-h", urgent=True)
        async with sessions() as session, session.begin():
            (await session.get(Concern, concern.id)).due_at = utcnow() - timedelta(minutes=1)

        async def escalated() -> bool:
            async with sessions() as session:
                return bool((await session.get(Concern, concern.id, populate_existing=True)).overdue)

        await eventually(escalated)
        stop.set()
        await asyncio.wait_for(runner, timeout=2)
    finally:
        stop.set()
        runner.cancel()
        await engine.dispose()
    failures = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert failures and all(re.fullmatch(r"overdue run failed: \w+", text) for text in failures)
    assert wakes == [1]
