"""Retention on real databases: rows are made, their clocks set back, and `apply_retention` deletes
exactly what is past its period, kind by kind, and keeps the rest; also when two processes run it at
once, and in the long-running processes (serve's lifespan)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.retention_cli import periods, retention_job, summary
from bot.settings import load_settings
from storage import Store, make_engine, make_session_factory, pseudonym
from storage.chat_links import ChatLink
from storage.desk import AuditEntry, ConcernEvent, Staff, StaffSession
from storage.models import (
    Answer,
    Base,
    Child,
    Concern,
    Consent,
    Conversation,
    OutboxMessage,
    ProcessedEvent,
    User,
    utcnow,
)
from storage.plans import Assessment, ChildPlan, PlanLink
from storage.retention import DEFAULTS, KINDS, RULES, Periods, apply_retention, months_before
from tests.backend.desk_fixtures import desk_settings, running_desk

Factory = async_sessionmaker[AsyncSession]
SECRET = b"r" * 32
NOW = utcnow()


def ago(months: int = 0, days: float = 0, minutes: float = 0) -> datetime:
    return months_before(NOW, months) - timedelta(days=days, minutes=minutes)


def expect(**counts: int) -> dict[str, int]:
    """Every kind zero but the ones named."""
    assert set(counts) <= set(KINDS)
    return {kind: counts.get(kind, 0) for kind in KINDS}


@dataclass
class Family:
    user: int
    child: int
    conversation: int
    concern: int | None = None


async def family(
    factory: Factory,
    raw_id: str,
    *,
    last_message: datetime,
    concern: dict[str, Any] | None = None,
    closed: datetime | None = None,
) -> Family:
    """A parent with a child, a conversation with two answers (one in their own words) and two
    consents, all begun four years ago; its last message at `last_message`. With `concern`: a
    concern from that conversation (those fields), with a timeline line, a plan and an assessment,
    closed at `closed` if given."""
    begun = ago(months=48)
    async with factory() as session, session.begin():
        store = Store(session)
        user = await store.get_or_create_user("telegram", pseudonym(SECRET, "telegram", raw_id), "sv")
        child = await store.create_child(user.id)
        conversation = await store.create_conversation(
            user.id, "mapping", "sv", {"lang": "sv"}, child_id=child.id
        )
        for question, code in (("safe_home", "good"), ("healthy_sleep", "worried")):
            await store.upsert_answer(
                conversation_id=conversation.id,
                child_id=child.id,
                indicator=question.split("_")[0],
                question_id=question,
                code=code,
                language="sv",
            )
        await store.set_answer_text(
            conversation_id=conversation.id,
            question_id="healthy_sleep",
            text="sover dåligt",
            text_language="sv",
        )
        for scope in ("store", "share"):
            await store.record_consent(
                user_id=user.id, child_id=child.id, scope=scope, given=True, text_version="v1", language="sv"
            )
        made = Family(user.id, child.id, conversation.id)
        if concern is not None:
            fields = {"kind": "concern", "priority": "normal", "status": "new", **concern}
            row = Concern(
                user_id=user.id,
                child_id=child.id,
                conversation_id=conversation.id,
                reasons=["healthy=worried"],
                answers_shared=True,
                created_at=begun,
                **fields,
            )
            if closed is not None:
                row.status, row.closed_at = "closed", closed
            session.add(row)
            await session.flush()
            session.add_all(
                [
                    ConcernEvent(concern_id=row.id, kind="created", data={}),
                    ConcernEvent(concern_id=row.id, kind="note", body="Ringde förskolan", data={}),
                    ChildPlan(concern_id=row.id, user_id=user.id, child_id=child.id, content={"needs": "x"}),
                    Assessment(concern_id=row.id, content={"five": "y"}),
                ]
            )
            made.concern = row.id
        await session.execute(sa.update(User).where(User.id == user.id).values(created_at=begun))
        await session.execute(sa.update(Child).where(Child.id == child.id).values(created_at=begun))
        await session.execute(
            sa.update(Conversation)
            .where(Conversation.id == conversation.id)
            .values(created_at=begun, updated_at=last_message)
        )
    return made


async def counts(factory: Factory) -> dict[str, int]:
    tables: tuple[type[Base], ...] = (
        User, Child, Conversation, Answer, Consent, Concern, ConcernEvent, ChildPlan, Assessment
    )  # fmt: skip
    async with factory() as session:
        return {
            table.__tablename__: int(await session.scalar(sa.select(sa.func.count()).select_from(table)) or 0)
            for table in tables
        }


async def exists(factory: Factory, table: type[Base], row_id: int) -> bool:
    async with factory() as session:
        return await session.get(table, row_id) is not None


async def test_conversations_without_a_concern_go_a_year_after_the_last_message(session_factory) -> None:
    idle = await family(session_factory, "idle", last_message=ago(months=12, days=1))
    back = await family(session_factory, "back", last_message=ago(days=1))  # came back after years
    quiet = await family(session_factory, "quiet", last_message=ago(months=11))

    deleted = await apply_retention(session_factory, now=NOW)

    # the idle family's conversation and answers; then its child (and the consents about the child);
    # then the family itself
    assert deleted == expect(conversations=1, answers=2, children=1, consents=2, families=1)
    assert not await exists(session_factory, User, idle.user)
    for kept in (back, quiet):
        assert await exists(session_factory, Conversation, kept.conversation)
        assert await exists(session_factory, Child, kept.child)
    assert await counts(session_factory) == {
        "users": 2, "children": 2, "conversations": 2, "answers": 4, "consents": 4,
        "concerns": 0, "concern_events": 0, "child_plans": 0, "assessments": 0,
    }  # fmt: skip
    assert await apply_retention(session_factory, now=NOW) == expect()  # nothing left to do


async def test_a_family_that_writes_while_it_runs_keeps_its_conversation(session_factory) -> None:
    """The rule is checked again when rows are deleted: a message in between saves the conversation."""
    idle = await family(session_factory, "racing", last_message=ago(months=13))
    async with session_factory() as session, session.begin():
        await session.execute(
            sa.update(Conversation).where(Conversation.id == idle.conversation).values(updated_at=utcnow())
        )

    assert await apply_retention(session_factory, now=NOW) == expect()
    assert (await counts(session_factory))["answers"] == 2


async def test_closed_concerns_go_after_their_period_and_those_kept_by_law_after_theirs(
    session_factory,
) -> None:
    long_ago = ago(months=30)
    old = await family(
        session_factory, "old", last_message=long_ago, concern={}, closed=ago(months=24, days=1)
    )
    recent = await family(session_factory, "recent", last_message=long_ago, concern={}, closed=ago(months=23))
    danger = {"kind": "urgent", "priority": "urgent"}
    kept = await family(session_factory, "kept", last_message=long_ago, concern=danger, closed=ago(months=59))
    expired = await family(
        session_factory, "expired", last_message=ago(months=61), concern=danger, closed=ago(months=60, days=1)
    )
    reported = await family(
        session_factory,
        "reported",
        last_message=long_ago,
        concern={"outcome": "reported_to_social_services"},
        closed=ago(months=30),
    )
    high = await family(
        session_factory, "high", last_message=long_ago, concern={"priority": "urgent"}, closed=ago(months=30)
    )
    professional = await family(
        session_factory,
        "pro",
        last_message=long_ago,
        concern={"source": "professional"},
        closed=ago(months=30),
    )
    still_open = await family(session_factory, "open", last_message=ago(months=70), concern={})

    deleted = await apply_retention(session_factory, now=NOW)

    # "old" and "expired" go, each with 2 timeline lines, a plan, an assessment; then, being long
    # quiet, their conversations, answers, children, consents and themselves
    assert deleted == expect(
        concerns=1,
        concerns_kept_by_law=1,
        concern_events=4,
        plans=2,
        assessments=2,
        conversations=2,
        answers=4,
        children=2,
        consents=4,
        families=2,
    )
    for gone in (old, expired):
        assert not await exists(session_factory, User, gone.user)
    for stays in (recent, kept, reported, high, professional, still_open):
        assert stays.concern is not None and await exists(session_factory, Concern, stays.concern)
        assert await exists(session_factory, Conversation, stays.conversation)  # the concern needs it
    assert await counts(session_factory) == {
        "users": 6, "children": 6, "conversations": 6, "answers": 12, "consents": 12,
        "concerns": 6, "concern_events": 12, "child_plans": 6, "assessments": 6,
    }  # fmt: skip


async def test_short_lived_rows_go_soon(session_factory) -> None:
    async with session_factory() as session, session.begin():
        staff = Staff(email="a@bvc.se", name="Anna", role="named_person")
        user = await Store(session).get_or_create_user("telegram", pseudonym(SECRET, "telegram", "9"))
        session.add(staff)
        await session.flush()
        session.add_all(
            [
                ProcessedEvent(event_id="telegram:1", processed_at=ago(days=7, minutes=1)),
                ProcessedEvent(event_id="telegram:2", processed_at=ago(days=6)),
                PlanLink(user_id=user.id, key_hash="a" * 64, expires_at=ago(minutes=1)),
                PlanLink(user_id=user.id, key_hash="b" * 64, expires_at=ago(minutes=-60)),
                # unused and expired; used, expired and since unlinked: both go. Still linking a
                # chat, or not yet expired: both stay.
                ChatLink(staff_id=staff.id, code_hash="c" * 64, expires_at=ago(minutes=1)),
                ChatLink(staff_id=staff.id, code_hash="d" * 64, expires_at=ago(days=9), used_at=ago(days=9)),
                ChatLink(
                    staff_id=staff.id,
                    code_hash="e" * 64,
                    expires_at=ago(days=9),
                    used_at=ago(days=9),
                    user_id=user.id,
                ),
                ChatLink(staff_id=staff.id, code_hash="f" * 64, expires_at=ago(minutes=-10)),
                StaffSession(id="s" * 64, staff_id=staff.id, csrf_token="x", last_seen_at=ago(minutes=31)),
                StaffSession(id="t" * 64, staff_id=staff.id, csrf_token="x", last_seen_at=ago(minutes=29)),
            ]
        )
        for status, when in (("sent", 8), ("failed", 8), ("sent", 6), ("pending", 30), ("sending", 30)):
            session.add(
                OutboxMessage(
                    channel="telegram",
                    chat_key="k" * 64,
                    user_id=user.id,
                    address="1",
                    kind="message",
                    payload=None if status in ("sent", "failed") else {"text": "hej"},
                    status=status,
                    created_at=ago(days=when),
                )
            )

    deleted = await apply_retention(session_factory, now=NOW)

    assert deleted == expect(processed_events=1, plan_links=1, chat_codes=2, staff_sessions=1, outbox=2)
    async with session_factory() as session:
        assert list(await session.scalars(sa.select(ProcessedEvent.event_id))) == ["telegram:2"]
        hashes = sorted(await session.scalars(sa.select(ChatLink.code_hash)))
        assert [h[0] for h in hashes] == ["e", "f"]
        statuses = sorted(await session.scalars(sa.select(OutboxMessage.status)))
        assert statuses == ["pending", "sending", "sent"]  # nothing on its way is ever deleted


async def test_the_audit_log_is_deleted_after_five_years_and_stays_append_only(session_factory) -> None:
    async with session_factory() as session, session.begin():
        for months in (61, 59, 0):
            session.add(
                AuditEntry(action="read", object_type="concern", object_id=months, at=ago(months=months))
            )

    assert await apply_retention(session_factory, now=NOW) == expect(audit_log=1)
    async with session_factory() as session:
        entries = [(e.action, e.object_id, e.detail) for e in await session.scalars(sa.select(AuditEntry))]
    assert sorted(entries, key=str) == [
        ("read", 0, {}),
        ("read", 59, {}),
        ("retention", None, {"audit_log": 1}),  # the disposal itself is on record
    ]
    with pytest.raises(DBAPIError, match="append-only"):  # the trigger still refuses a change
        async with session_factory() as session, session.begin():
            await session.execute(sa.update(AuditEntry).values(action="changed"))


async def test_a_dry_run_counts_exactly_what_a_run_deletes_and_deletes_nothing(session_factory) -> None:
    await family(session_factory, "a", last_message=ago(months=40), concern={}, closed=ago(months=30))
    await family(session_factory, "b", last_message=ago(months=13))
    await family(session_factory, "c", last_message=ago(days=3))
    before = await counts(session_factory)

    counted = await apply_retention(session_factory, now=NOW, dry_run=True)

    assert await counts(session_factory) == before
    assert counted == await apply_retention(session_factory, now=NOW)
    assert counted["families"] == 2 and counted["concerns"] == 1  # kinds that follow from others too


async def test_small_batches_delete_everything(session_factory) -> None:
    for number in range(7):
        await family(session_factory, f"f{number}", last_message=ago(months=13))

    deleted = await apply_retention(session_factory, now=NOW, batch=2)

    assert deleted == expect(conversations=7, answers=14, children=7, consents=14, families=7)


async def test_two_processes_running_it_at_once_delete_each_row_once(
    session_factory, database_url, cipher
) -> None:
    for number in range(12):
        await family(session_factory, f"p{number}", last_message=ago(months=13))
    async with session_factory() as session, session.begin():
        session.add_all(ProcessedEvent(event_id=f"e{n}", processed_at=ago(days=30)) for n in range(40))
    engines = [make_engine(database_url, cipher=cipher) for _ in range(2)]
    try:
        runs = await asyncio.gather(
            *(apply_retention(make_session_factory(engine), now=NOW, batch=3) for engine in engines)
        )
    finally:
        for engine in engines:
            await engine.dispose()

    together = {kind: runs[0][kind] + runs[1][kind] for kind in KINDS}
    assert together == expect(
        conversations=12, answers=24, children=12, consents=24, families=12, processed_events=40
    )
    assert await counts(session_factory) == dict.fromkeys(
        ("users", "children", "conversations", "answers", "consents", "concerns", "concern_events",
         "child_plans", "assessments"), 0
    )  # fmt: skip


def test_months_are_calendar_months() -> None:
    assert months_before(datetime(2027, 3, 31, 12, tzinfo=UTC), 1) == datetime(2027, 2, 28, 12, tzinfo=UTC)
    assert months_before(datetime(2028, 3, 31, tzinfo=UTC), 1) == datetime(2028, 2, 29, tzinfo=UTC)
    assert months_before(datetime(2027, 1, 15, tzinfo=UTC), 60) == datetime(2022, 1, 15, tzinfo=UTC)
    assert months_before(datetime(2027, 1, 15, tzinfo=UTC), 13) == datetime(2025, 12, 15, tzinfo=UTC)


def test_the_settings_give_the_periods_and_the_table_names_them(tmp_path: Path, monkeypatch) -> None:
    assert periods(load_settings(data_dir=tmp_path)) == DEFAULTS
    monkeypatch.setenv("HJULET_RETENTION_CONVERSATION_MONTHS", "6")
    monkeypatch.setenv("HJULET_RETENTION_AUDIT_MONTHS", "120")
    monkeypatch.setenv("HJULET_SESSION_IDLE_MINUTES", "15")
    chosen = periods(load_settings(data_dir=tmp_path))
    assert chosen == Periods(conversation_months=6, audit_months=120, session_minutes=15)
    fields = set(Periods.__dataclass_fields__)
    assert {rule.period for rule in RULES if rule.period} == fields  # every period is in the table
    assert all(rule.why and rule.kept for rule in RULES)


async def test_the_job_runs_at_start_up_and_stops_when_told(session_factory, tmp_path: Path) -> None:
    async with session_factory() as session, session.begin():
        session.add(ProcessedEvent(event_id="telegram:old", processed_at=ago(days=30)))
    stop = asyncio.Event()
    job = asyncio.create_task(retention_job(session_factory, load_settings(data_dir=tmp_path), stop))

    await until_gone(session_factory, "telegram:old")
    stop.set()
    await asyncio.wait_for(job, 5)  # the next run is a day away; it stops at once


async def test_after_a_failed_run_the_job_tries_again_soon(
    session_factory, tmp_path: Path, monkeypatch
) -> None:
    """The database away at start-up: the next try is minutes away, not a whole interval."""
    monkeypatch.setattr("bot.retention_cli.RETRY_SECONDS", 0.05)
    async with session_factory() as session, session.begin():
        session.add(ProcessedEvent(event_id="telegram:old", processed_at=ago(days=30)))
    calls = 0

    def sessions() -> AsyncSession:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionRefusedError("the database is away")
        return session_factory()

    stop = asyncio.Event()
    job = asyncio.create_task(retention_job(sessions, load_settings(data_dir=tmp_path), stop))  # type: ignore[arg-type]

    await until_gone(session_factory, "telegram:old")
    stop.set()
    await asyncio.wait_for(job, 5)
    assert calls > 1


async def test_serve_runs_retention_in_its_lifespan(
    session_factory, database_url: str, tmp_path: Path
) -> None:
    quiet = await family(session_factory, "lifespan", last_message=ago(months=13))
    async with session_factory() as session, session.begin():
        session.add(ProcessedEvent(event_id="telegram:old", processed_at=ago(days=30)))

    async with running_desk(desk_settings(database_url, tmp_path / "var")):
        await until_gone(session_factory, "telegram:old")
        for _ in range(200):
            if not await exists(session_factory, User, quiet.user):
                break
            await asyncio.sleep(0.05)
    assert not await exists(session_factory, User, quiet.user)


async def until_gone(factory: Factory, event_id: str) -> None:
    for _ in range(200):
        async with factory() as session:
            if await session.get(ProcessedEvent, event_id) is None:
                return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{event_id} was not deleted")


def test_the_summary_names_only_what_went() -> None:
    assert summary(expect()) == "nothing"
    assert summary(expect(conversations=2, audit_log=1)) == "2 conversations, 1 audit log"


async def test_the_command_line_counts_in_a_dry_run_and_deletes_in_a_run(
    session_factory, database_url: str, tmp_path: Path
) -> None:
    quiet = await family(session_factory, "cli", last_message=ago(months=13))
    env = {k: v for k, v in os.environ.items() if not k.startswith("HJULET_")}
    env |= {"HJULET_DATABASE_URL": database_url, "HJULET_DATA_DIR": str(tmp_path / "var")}

    def hjulet(*args: str) -> subprocess.CompletedProcess[str]:
        command = [str(Path(sys.executable).with_name("hjulet")), "retention", *args]
        return subprocess.run(command, capture_output=True, text=True, env=env, timeout=120, check=False)

    dry = await asyncio.to_thread(hjulet, "run", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    lines = dict(line.rsplit(None, 1) for line in dry.stdout.splitlines()[:-1])
    assert (lines["conversations"], lines["answers"], lines["families"]) == ("1", "2", "1")
    assert dry.stdout.splitlines()[-1] == "7 rows would be deleted (dry run: nothing was)"
    assert await exists(session_factory, User, quiet.user)

    real = await asyncio.to_thread(hjulet, "run")
    assert real.returncode == 0, real.stderr
    assert real.stdout.splitlines()[-1] == "7 rows deleted"
    assert not await exists(session_factory, User, quiet.user)
    assert "sover dåligt" not in dry.stdout + real.stdout + dry.stderr + real.stderr  # counts, never data
