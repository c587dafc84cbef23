"""Retention: what Hjulet keeps, for how long, and why; and the one function that deletes the rest.

``apply_retention`` deletes everything past its period, kind by kind, in small batches (one short
transaction each), and returns how many rows of each kind went. Two processes may run it at once:
on PostgreSQL each batch locks its rows with SKIP LOCKED, so the two take different rows; on both
databases every DELETE checks the rule again, so a row that came back to life meanwhile (a family
that wrote again) stays, and a row already gone counts nothing.

What is kept, how long and why is the table ``RULES`` below (``hjulet retention rules`` prints it
with the periods in force). The periods are defaults that a municipality's data protection impact
assessment can start from: its own document plan (dokumenthanteringsplan) and decisions on disposal
(gallringsbeslut, arkivlagen 1990:782) decide, and may lengthen or shorten them (each is a setting,
see ``bot/settings.py``). Legal references are pointers to verify, not quotations.
"""

from __future__ import annotations

import asyncio
import calendar
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, cast

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import InstrumentedAttribute

from storage.chat_links import ChatLink
from storage.desk import AuditEntry, ConcernEvent, StaffSession
from storage.models import (
    CLOSED,
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

BATCH: Final = 500
# What /delete keeps and what is kept longer: a child may be in danger, or it was reported onwards.
KEPT_KINDS: Final = ("urgent",)
KEPT_PRIORITIES: Final = ("urgent",)
KEPT_OUTCOMES: Final = ("reported_to_social_services",)
KEPT_SOURCES: Final = ("professional",)
KINDS: Final = (
    "plan_links",
    "chat_codes",
    "staff_sessions",
    "processed_events",
    "outbox",
    "concerns",
    "concerns_kept_by_law",
    "concern_events",
    "plans",
    "assessments",
    "conversations",
    "answers",
    "children",
    "consents",
    "families",
    "audit_log",
)


@dataclass(frozen=True)
class Periods:
    """How long each kind is kept (the table above). Months are calendar months."""

    conversation_months: int = 12
    concern_months: int = 24
    kept_concern_months: int = 60
    audit_months: int = 60
    outbox_days: int = 7
    event_days: int = 7
    session_minutes: int = 30


DEFAULTS: Final = Periods()


@dataclass(frozen=True)
class Rule:
    """A line of the retention table: what, how long (``period``: the ``Periods`` field, if any;
    ``kept``: in words, ``{n}`` for its value), which setting changes it, and why."""

    what: str
    kept: str
    why: str
    period: str | None = None
    setting: str | None = None


RULES: Final = (
    Rule(
        "Conversations and their answers, with no concern",
        "{n} months after the family's last message",
        "The mapping talk is held before preschool starts; its answers serve the family (to go on, to "
        "read them, their wheel) through the first year. A family that writes again goes on where it "
        "stopped, and the time starts again. After a year without a word the purpose is over (GDPR "
        "art. 5.1 e). The family may delete everything at any time (/delete).",
        "conversation_months",
        "HJULET_RETENTION_CONVERSATION_MONTHS",
    ),
    Rule(
        "Children, consents, the family's own row",
        "until nothing else of the family is left, and at least {n} months after they came",
        "They only describe the rows above and the concerns. A consent records what the family "
        "agreed to, so it is kept as long as what it covers.",
        "conversation_months",
        "HJULET_RETENTION_CONVERSATION_MONTHS",
    ),
    Rule(
        "Closed concerns (a worry, a wish to talk) with their timeline, plan and assessments",
        "{n} months after closing",
        "Long enough to follow up, and to answer the family's questions or a complaint to IVO or JO "
        "(JO does not usually take up matters more than two years old). The named person's duty to "
        "document is met in their own record (the BVC journal, the school's files), not here.",
        "concern_months",
        "HJULET_RETENTION_CONCERN_MONTHS",
    ),
    Rule(
        "Closed concerns kept by law: a child may be in danger (kind or priority urgent), reported to "
        "social services, or a professional's report; with timeline, plan, assessments",
        "{n} months after closing; /delete does not erase them",
        "The named person's and social services' documentation duty (socialtjänstlagen): the report "
        "must be there for the investigation, for supervision (IVO) and when new worries come. Five "
        "years is how long social services keep a closed file before it may be disposed of.",
        "kept_concern_months",
        "HJULET_RETENTION_KEPT_CONCERN_MONTHS",
    ),
    Rule(
        "Open concerns",
        "until closed (never by age)",
        "A case in progress; the desk escalates overdue ones.",
    ),
    Rule(
        "The audit log (every read and change by staff)",
        "{n} months after the entry",
        "Supervision (IVO, IMY) and a family's right to know who read their data need it for years: "
        "five years, like the concerns kept by law. Entries hold ids, no personal data. The log is "
        "append-only (a trigger refuses UPDATE); only this job deletes from it, and notes each run in it.",
        "audit_months",
        "HJULET_RETENTION_AUDIT_MONTHS",
    ),
    Rule(
        "Outbox rows sent or given up",
        "{n} days after they were written",
        "The text is cleared when sent; the row (pseudonym, encrypted chat id, message id) only "
        "serves to close an old keyboard and to look into delivery faults.",
        "outbox_days",
        "HJULET_RETENTION_OUTBOX_DAYS",
    ),
    Rule(
        "Ids of handled Telegram updates",
        "{n} days",
        "Telegram redelivers an update for at most 24 hours; a week covers an outage over a weekend. "
        "The ids hold no personal data.",
        "event_days",
        "HJULET_RETENTION_EVENT_DAYS",
    ),
    Rule("Private plan links", "until they expire (30 days)", "An expired link opens nothing."),
    Rule(
        "Chat-link codes",
        "until they expire (15 minutes); a used one while it links a professional's chat",
        "An expired code links nothing.",
    ),
    Rule(
        "Staff sessions",
        "{n} minutes idle",
        "Staff are signed out by then anyway.",
        "session_minutes",
        "HJULET_SESSION_IDLE_MINUTES",
    ),
)


def kept_by_law() -> sa.ColumnElement[bool]:
    """A concern that must be kept for the named person's and social services' documentation duty:
    a child may be in danger, it was reported to social services, or a professional reported it."""
    return sa.or_(
        Concern.kind.in_(KEPT_KINDS),
        Concern.priority.in_(KEPT_PRIORITIES),
        sa.func.coalesce(Concern.outcome, "").in_(KEPT_OUTCOMES),
        Concern.source.in_(KEPT_SOURCES),
    )


def months_before(moment: datetime, months: int) -> datetime:
    """The same moment ``months`` calendar months earlier (31 March - 1 month = 28/29 February)."""
    index = moment.year * 12 + moment.month - 1 - months
    year, month = divmod(index, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


@dataclass(frozen=True)
class _Cutoffs:
    now: datetime
    conversations: datetime
    concerns: datetime
    kept_concerns: datetime
    audit: datetime
    outbox: datetime
    events: datetime
    sessions: datetime

    @classmethod
    def of(cls, periods: Periods, now: datetime) -> _Cutoffs:
        return cls(
            now=now,
            conversations=months_before(now, periods.conversation_months),
            concerns=months_before(now, periods.concern_months),
            kept_concerns=months_before(now, periods.kept_concern_months),
            audit=months_before(now, periods.audit_months),
            outbox=now - timedelta(days=periods.outbox_days),
            events=now - timedelta(days=periods.event_days),
            sessions=now - timedelta(minutes=periods.session_minutes),
        )


Counts = dict[str, int]
Step = Callable[[AsyncSession, _Cutoffs, Counts, int], Awaitable[int]]


async def apply_retention(
    sessions: async_sessionmaker[AsyncSession],
    periods: Periods = DEFAULTS,
    now: datetime | None = None,
    *,
    dry_run: bool = False,
    batch: int = BATCH,
    stop: asyncio.Event | None = None,
) -> Counts:
    """Delete everything past retention; how many rows of each kind (``KINDS``) were deleted. A run
    that deleted anything leaves an entry in the audit log (action "retention", the counts).

    ``dry_run``: do it all in one transaction and roll it back, so the counts are exact (what a real
    run would delete now, kinds that follow from others included) and nothing changes; its locks
    are held until then (on SQLite other writers wait: 0.5 s for 5,000 idle families here). ``stop``:
    end after the batch in progress (the rest waits for the next run).
    """
    cutoffs = _Cutoffs.of(periods, now or utcnow())
    counts: Counts = dict.fromkeys(KINDS, 0)
    if dry_run:
        async with sessions() as session:
            transaction = await session.begin()
            try:
                for step in STEPS:
                    while await step(session, cutoffs, counts, batch) == batch:
                        pass
            finally:
                await transaction.rollback()
        return counts
    for step in STEPS:
        while stop is None or not stop.is_set():
            async with sessions() as session, session.begin():
                taken = await step(session, cutoffs, counts, batch)
            if taken < batch:
                break
    if any(counts.values()):  # the disposal itself is on record: when, and how much of each kind
        async with sessions() as session, session.begin():
            detail = {kind: number for kind, number in counts.items() if number}
            session.add(AuditEntry(action="retention", object_type="retention", detail=detail, at=utcnow()))
    return counts


async def _batch(
    session: AsyncSession,
    key: InstrumentedAttribute[Any],
    rule: sa.ColumnElement[bool],
    size: int,
    dependants: Sequence[tuple[str, type[Base], InstrumentedAttribute[Any]]] = (),
) -> tuple[int, dict[str, int]]:
    """Delete one batch of rows matching ``rule`` and, first, their ``dependants`` (kind, table, the
    column that refers to the row). Returns how many rows were taken (0 when another run had deleted
    them all already, so the caller stops) and what each table lost ("": the rows themselves)."""
    table = cast(type[Base], key.class_)
    query = sa.select(key).where(rule).order_by(key).limit(size)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=table)
    ids = list(await session.scalars(query))
    if not ids:
        return 0, {}
    still = sa.select(key).where(key.in_(ids), rule)  # checked again under the write lock
    deleted: dict[str, int] = {}
    for kind, dependant, column in dependants:
        deleted[kind] = deleted.get(kind, 0) + await _delete(session, dependant, column.in_(still))
    deleted[""] = await _delete(session, table, sa.and_(key.in_(ids), rule))
    return (len(ids) if deleted[""] else 0), deleted


async def _delete(session: AsyncSession, table: type[Base], where: sa.ColumnElement[bool]) -> int:
    statement = sa.delete(table).where(where).execution_options(synchronize_session=False)
    result = await session.execute(statement)
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _simple(kind: str, key: InstrumentedAttribute[Any], rule: Callable[[_Cutoffs], Any]) -> Step:
    async def step(session: AsyncSession, cutoffs: _Cutoffs, counts: Counts, size: int) -> int:
        taken, deleted = await _batch(session, key, rule(cutoffs), size)
        counts[kind] += deleted.get("", 0)
        return taken

    return step


def _concerns(kind: str, kept: bool) -> Step:
    async def step(session: AsyncSession, cutoffs: _Cutoffs, counts: Counts, size: int) -> int:
        rule = sa.and_(
            Concern.status == CLOSED,
            Concern.closed_at.is_not(None),
            Concern.closed_at < (cutoffs.kept_concerns if kept else cutoffs.concerns),
            kept_by_law() if kept else sa.not_(kept_by_law()),
        )
        dependants = (
            ("concern_events", ConcernEvent, ConcernEvent.concern_id),
            ("assessments", Assessment, Assessment.concern_id),
            ("plans", ChildPlan, ChildPlan.concern_id),
        )
        taken, deleted = await _batch(session, Concern.id, rule, size, dependants)
        counts[kind] += deleted.pop("", 0)
        for name, number in deleted.items():
            counts[name] += number
        return taken

    return step


def _conversation_rule(cutoffs: _Cutoffs) -> sa.ColumnElement[bool]:
    """Idle past retention, and no concern (open or closed, of any kind) comes from it."""
    concern = sa.select(Concern.id).where(Concern.conversation_id == Conversation.id)
    return sa.and_(Conversation.updated_at < cutoffs.conversations, ~concern.exists())


async def _conversations(session: AsyncSession, cutoffs: _Cutoffs, counts: Counts, size: int) -> int:
    dependants = (("answers", Answer, Answer.conversation_id),)
    taken, deleted = await _batch(session, Conversation.id, _conversation_rule(cutoffs), size, dependants)
    counts["conversations"] += deleted.get("", 0)
    counts["answers"] += deleted.get("answers", 0)
    return taken


def _child_rule(cutoffs: _Cutoffs) -> sa.ColumnElement[bool]:
    """Nothing refers to the child any longer (its conversations went), and it is not new."""
    return sa.and_(
        Child.created_at < cutoffs.conversations,
        ~sa.select(Conversation.id).where(Conversation.child_id == Child.id).exists(),
        ~sa.select(Answer.id).where(Answer.child_id == Child.id).exists(),
        ~sa.select(Concern.id).where(Concern.child_id == Child.id).exists(),
        ~sa.select(ChildPlan.id).where(ChildPlan.child_id == Child.id).exists(),
    )


async def _children(session: AsyncSession, cutoffs: _Cutoffs, counts: Counts, size: int) -> int:
    dependants = (("consents", Consent, Consent.child_id),)
    taken, deleted = await _batch(session, Child.id, _child_rule(cutoffs), size, dependants)
    counts["children"] += deleted.get("", 0)
    counts["consents"] += deleted.get("consents", 0)
    return taken


def _family_rule(cutoffs: _Cutoffs) -> sa.ColumnElement[bool]:
    """A family of whom nothing is left but their consents: no conversation, child, concern or plan."""
    return sa.and_(
        User.created_at < cutoffs.conversations,
        ~sa.select(Conversation.id).where(Conversation.user_id == User.id).exists(),
        ~sa.select(Child.id).where(Child.user_id == User.id).exists(),
        ~sa.select(Concern.id).where(Concern.user_id == User.id).exists(),
        ~sa.select(ChildPlan.id).where(ChildPlan.user_id == User.id).exists(),
    )


async def _families(session: AsyncSession, cutoffs: _Cutoffs, counts: Counts, size: int) -> int:
    rule = _family_rule(cutoffs)
    query = sa.select(User.id).where(rule).order_by(User.id).limit(size)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=User)
    ids = list(await session.scalars(query))
    if not ids:
        return 0
    still = sa.select(User.id).where(User.id.in_(ids), rule)
    # a professional's chat that went quiet is unlinked (the code row goes once expired); queued
    # messages keep no tie to the family
    for table, column in ((ChatLink, ChatLink.user_id), (OutboxMessage, OutboxMessage.user_id)):
        await session.execute(
            sa.update(table)
            .where(column.in_(still))
            .values({column.key: None})
            .execution_options(synchronize_session=False)
        )
    counts["consents"] += await _delete(session, Consent, Consent.user_id.in_(still))
    await _delete(session, PlanLink, PlanLink.user_id.in_(still))
    deleted = await _delete(session, User, sa.and_(User.id.in_(ids), rule))
    counts["families"] += deleted
    return len(ids) if deleted else 0


STEPS: Final[tuple[Step, ...]] = (
    _simple("plan_links", PlanLink.id, lambda c: PlanLink.expires_at < c.now),
    _simple(
        "chat_codes",
        ChatLink.id,
        lambda c: sa.and_(
            ChatLink.expires_at < c.now, sa.or_(ChatLink.used_at.is_(None), ChatLink.user_id.is_(None))
        ),
    ),
    _simple("staff_sessions", StaffSession.id, lambda c: StaffSession.last_seen_at < c.sessions),
    _simple("processed_events", ProcessedEvent.event_id, lambda c: ProcessedEvent.processed_at < c.events),
    _simple(
        "outbox",
        OutboxMessage.id,
        lambda c: sa.and_(OutboxMessage.status.in_(("sent", "failed")), OutboxMessage.created_at < c.outbox),
    ),
    _concerns("concerns", kept=False),
    _concerns("concerns_kept_by_law", kept=True),
    # in this order: a concern's going frees its conversation, a conversation's its child, and so on
    _conversations,
    _children,
    _families,
    _simple("audit_log", AuditEntry.id, lambda c: AuditEntry.at < c.audit),
)
