"""``Store``: Hjulet's queries, on one ``AsyncSession`` whose transaction the caller owns.

    async with factory() as session, session.begin():
        store = Store(session)
        if not await store.claim_event(f"telegram:{update_id}"):
            return  # a redelivery: already handled
        user = await store.get_or_create_user("telegram", pseudonym(secret, "telegram", raw_id))

Methods flush, never commit. Racing inserts (users, answers, events) use INSERT ... ON CONFLICT on
both databases; conversations use optimistic locking (``ConcurrentUpdate``). Consent, ``user_data``
and ``erase_user`` are in ``storage.privacy``."""

from __future__ import annotations

import functools
import re
from collections.abc import Collection, Mapping
from typing import Any, Final, cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import attributes
from sqlalchemy.orm.exc import StaleDataError

from storage.errors import ConcurrentUpdate, NotFound
from storage.models import (
    CHANNELS,
    CLOSED,
    CONCERN_KINDS,
    CONVERSATION_STATUSES,
    INDICATORS,
    PRIORITIES,
    Answer,
    Base,
    Child,
    Concern,
    Conversation,
    ProcessedEvent,
    User,
    utcnow,
)
from storage.privacy import PrivacyQueries
from storage.records import AnswerRecord

CHILD_FIELDS: Final = frozenset({"name", "age_years", "age_months", "unit_text", "unit_code"})
_PSEUDONYM: Final = re.compile(r"[0-9a-f]{64}")


def _check(value: object, allowed: Collection[object], what: str) -> None:
    if value not in allowed:
        raise ValueError(f"unknown {what} {value!r}; expected one of {', '.join(map(str, allowed))}")


class Store(PrivacyQueries):
    """Typed queries over one session: ORM rows to change, plain records for people to read."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def _insert(self, entity: type[Base]) -> postgresql.Insert | sqlite.Insert:
        if self.session.get_bind().dialect.name == "postgresql":
            return postgresql.insert(entity)
        return sqlite.insert(entity)

    # users

    async def get_or_create_user(self, channel: str, pseudonym: str, language: str | None = None) -> User:
        """The user with this pseudonym on this channel, created (with ``language``) if new."""
        _check(channel, CHANNELS, "channel")
        if not _PSEUDONYM.fullmatch(pseudonym):
            raise ValueError("pseudonym must be 64 lower-case hex characters (storage.identity.pseudonym)")
        query = sa.select(User).where(User.channel == channel, User.pseudonym == pseudonym)
        found = await self.session.scalar(query)  # nearly always: only a first message writes
        if found is not None:
            return found
        statement = self._insert(User).values(
            channel=channel, pseudonym=pseudonym, language=language, created_at=utcnow()
        )
        await self.session.execute(statement.on_conflict_do_nothing(index_elements=["channel", "pseudonym"]))
        return (await self.session.scalars(query)).one()  # inserted now, or by a concurrent first message

    async def get_user(self, channel: str, pseudonym: str) -> User | None:
        query = sa.select(User).where(User.channel == channel, User.pseudonym == pseudonym)
        return await self.session.scalar(query)

    async def set_user_language(self, user: User, language: str) -> None:
        user.language = language
        await self.session.flush()

    # conversations

    async def active_conversation(self, user_id: int) -> Conversation | None:
        """The newest conversation of the user that is not done."""
        return await self._newest_conversation(user_id, Conversation.status != "done")

    async def latest_conversation(self, user_id: int) -> Conversation | None:
        """The newest conversation of the user, done or not."""
        return await self._newest_conversation(user_id)

    async def _newest_conversation(self, user_id: int, *where: sa.ColumnElement[bool]) -> Conversation | None:
        query = sa.select(Conversation).where(Conversation.user_id == user_id, *where)
        return await self.session.scalar(query.order_by(Conversation.id.desc()).limit(1))

    async def create_conversation(
        self,
        user_id: int,
        flow: str,
        language: str,
        state: Mapping[str, Any],
        *,
        child_id: int | None = None,
    ) -> Conversation:
        conversation = Conversation(
            user_id=user_id, child_id=child_id, flow=flow, language=language, state=dict(state)
        )
        self.session.add(conversation)
        await self.session.flush()
        return conversation

    async def save_conversation(
        self,
        conversation: Conversation,
        *,
        step: str | None,
        status: str,
        language: str,
        state: Mapping[str, Any],
        child_id: int | None = None,
    ) -> None:
        """Write the conversation now; raise ``ConcurrentUpdate`` if someone saved it since it was read.

        ``child_id`` links the conversation to a child when given; None leaves the link as it is.
        """
        _check(status, CONVERSATION_STATUSES, "conversation status")
        conversation.step = step
        conversation.status = status
        conversation.language = language
        conversation.state = dict(state)
        if child_id is not None:
            conversation.child_id = child_id
        attributes.flag_modified(conversation, "state")  # always an UPDATE, so always a version check
        self.session.add(conversation)
        conversation_id = conversation.id  # the failed flush expires the object
        try:
            await self.session.flush()
        except StaleDataError as exc:
            raise ConcurrentUpdate(
                f"conversation {conversation_id} was saved by someone else; reload it and try again"
            ) from exc

    # children

    async def create_child(self, user_id: int) -> Child:
        child = Child(user_id=user_id)
        self.session.add(child)
        await self.session.flush()
        return child

    async def update_child(self, child_id: int, **fields: str | int | None) -> Child:
        """Set some of ``name``, ``age_years``, ``age_months``, ``unit_text``, ``unit_code``."""
        unknown = set(fields) - CHILD_FIELDS
        if unknown:
            raise TypeError(f"update_child() got unknown fields: {', '.join(sorted(unknown))}")
        child = await self.session.get(Child, child_id)
        if child is None:
            raise NotFound(f"no child with id {child_id}")
        for name, value in fields.items():
            setattr(child, name, value)
        await self.session.flush()
        return child

    # answers

    async def upsert_answer(
        self,
        *,
        conversation_id: int,
        child_id: int | None,
        indicator: str | None,
        question_id: str,
        code: str,
        language: str,
    ) -> Answer:
        """Store the answer code to a question; answering again changes the code, keeps the free text."""
        if indicator is not None:
            _check(indicator, INDICATORS, "indicator")
        now = utcnow()
        values = {
            "conversation_id": conversation_id,
            "child_id": child_id,
            "indicator": indicator,
            "question_id": question_id,
            "code": code,
            "language": language,
            "answered_at": now,
            "updated_at": now,
        }
        statement = _answer_upsert(self.session.get_bind().dialect.name)
        rows = await self.session.scalars(statement, values, execution_options={"populate_existing": True})
        return rows.one()

    async def set_answer_text(
        self, *, conversation_id: int, question_id: str, text: str, text_language: str | None
    ) -> Answer:
        """Keep the family's own words about an answer, exactly as written."""
        query = sa.select(Answer).where(
            Answer.conversation_id == conversation_id, Answer.question_id == question_id
        )
        answer = await self.session.scalar(query)
        if answer is None:
            raise NotFound(f"no answer to {question_id!r} in conversation {conversation_id}")
        answer.free_text = text
        answer.free_text_language = text_language
        await self.session.flush()
        return answer

    async def answers_for_conversation(self, conversation_id: int) -> list[AnswerRecord]:
        query = (
            sa.select(Answer)
            .where(Answer.conversation_id == conversation_id)
            .order_by(Answer.answered_at, Answer.id)
        )
        return [AnswerRecord.of(row) for row in await self.session.scalars(query)]

    # concerns

    async def open_concern(self, conversation_id: int, kind: str) -> Concern | None:
        """The open concern of this kind from this conversation, if any."""
        query = (
            sa.select(Concern)
            .where(Concern.conversation_id == conversation_id, Concern.kind == kind, Concern.status != CLOSED)
            .order_by(Concern.id.desc())
            .limit(1)
        )
        return await self.session.scalar(query)

    async def raise_concern(
        self,
        *,
        user_id: int,
        child_id: int | None,
        conversation_id: int | None,
        kind: str,
        reason: str,
        priority: str,
        answers_shared: bool,
    ) -> Concern:
        """Open a concern, or add to the open one of the same kind from the same conversation.

        Merging adds ``reason`` if it is new and raises the priority if this one is higher; a
        priority is never lowered.
        """
        _check(kind, CONCERN_KINDS, "concern kind")
        _check(priority, PRIORITIES, "priority")
        existing = None
        if conversation_id is not None:
            query = (
                sa.select(Concern)
                .where(
                    Concern.conversation_id == conversation_id,
                    Concern.kind == kind,
                    Concern.status != CLOSED,
                )
                .order_by(Concern.id.desc())
                .limit(1)
                .with_for_update()
            )
            existing = await self.session.scalar(query)
        if existing is None:
            concern = Concern(
                user_id=user_id,
                child_id=child_id,
                conversation_id=conversation_id,
                kind=kind,
                reasons=[reason],
                priority=priority,
                status="new",
                answers_shared=answers_shared,
            )
            self.session.add(concern)
            await self.session.flush()
            return concern
        if reason not in existing.reasons:
            existing.reasons = [*existing.reasons, reason]
        if PRIORITIES.index(priority) > PRIORITIES.index(existing.priority):
            existing.priority = priority
        existing.updated_at = utcnow()
        await self.session.flush()
        return existing

    # redelivered events

    async def claim_event(self, event_id: str) -> bool:
        """True the first time ``event_id`` is claimed; False if it was already (or is being) handled.

        The claim is part of the caller's transaction: if that rolls back, the event can be claimed
        again. A second transaction claiming the same id waits for the first to finish. Event ids
        are kept after erasure, so they must hold no personal data (a Telegram update_id is fine).
        """
        if not event_id or len(event_id) > 120:
            raise ValueError("event_id must be 1 to 120 characters")
        statement = (
            self._insert(ProcessedEvent)
            .values(event_id=event_id, processed_at=utcnow())
            .on_conflict_do_nothing(index_elements=["event_id"])
        )
        result = cast(CursorResult[Any], await self.session.execute(statement))
        return result.rowcount == 1


@functools.cache
def _answer_upsert(dialect: str) -> Any:
    """Insert an answer, or change the code of the one already given to that question (keeping its free
    text). Built once per dialect: making the ON CONFLICT clause costs more than running it."""
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(Answer)
    changed = ("child_id", "indicator", "code", "language", "updated_at")
    return insert.on_conflict_do_update(
        index_elements=["conversation_id", "question_id"],
        set_={name: insert.excluded[name] for name in changed},
    ).returning(Answer)
