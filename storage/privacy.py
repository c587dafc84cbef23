"""Consent, and a family's rights over their data: see it all (``user_data``), erase it all.

``PrivacyQueries`` is a part of ``storage.repositories.Store``; it is kept apart so that what touches
consent and erasure can be read (and reviewed for a DPIA) in one place.
"""

from __future__ import annotations

import secrets
from typing import Any, Final, cast

import sqlalchemy as sa
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from storage.chat_links import ChatLink
from storage.desk import ConcernEvent
from storage.errors import NotFound
from storage.models import (
    CONSENT_SCOPES,
    Answer,
    Base,
    Child,
    Concern,
    Consent,
    Conversation,
    OutboxMessage,
    User,
    utcnow,
)
from storage.plans import Assessment, ChildPlan, PlanLink
from storage.records import AnswerRecord, ChildRecord, ConcernRecord, ConsentRecord, ErasedCounts, UserData
from storage.retention import kept_by_law

# The channel of a user row kept only for a concern the law keeps (see ``erase_user``): no channel
# has this name, so no message finds the row and nothing is sent to it.
ERASED_CHANNEL: Final = "erased"


class PrivacyQueries:
    session: AsyncSession

    async def record_consent(
        self,
        *,
        user_id: int,
        child_id: int | None,
        scope: str,
        given: bool,
        text_version: str,
        language: str,
    ) -> Consent:
        """Record a yes or a no to the consent text ``text_version``, as shown in ``language``."""
        _check_scope(scope)
        consent = Consent(
            user_id=user_id,
            child_id=child_id,
            scope=scope,
            given=given,
            text_version=text_version,
            language=language,
        )
        self.session.add(consent)
        await self.session.flush()
        return consent

    async def consent_given(self, user_id: int, scope: str) -> bool:
        """Whether the user's latest answer for ``scope`` is yes and has not been withdrawn."""
        _check_scope(scope)
        query = (
            sa.select(Consent)
            .where(Consent.user_id == user_id, Consent.scope == scope)
            .order_by(Consent.given_at.desc(), Consent.id.desc())
            .limit(1)
        )
        latest = await self.session.scalar(query)
        return latest is not None and latest.given and latest.withdrawn_at is None

    async def withdraw_consents(self, user_id: int) -> int:
        """Mark every open consent of the user as withdrawn now; returns how many."""
        statement = (
            sa.update(Consent)
            .where(Consent.user_id == user_id, Consent.withdrawn_at.is_(None))
            .values(withdrawn_at=utcnow())
        )
        result = cast(CursorResult[Any], await self.session.execute(statement))
        return result.rowcount

    async def user_data(self, user_id: int) -> UserData:
        """Everything stored about the user and their children, as plain records."""
        user = await self.session.get(User, user_id)
        if user is None:
            raise NotFound(f"no user with id {user_id}")
        children = await self.session.scalars(
            sa.select(Child).where(Child.user_id == user_id).order_by(Child.id)
        )
        answers = await self.session.scalars(
            sa.select(Answer).where(_answers_of(user_id)).order_by(Answer.answered_at, Answer.id)
        )
        consents = await self.session.scalars(
            sa.select(Consent).where(Consent.user_id == user_id).order_by(Consent.given_at, Consent.id)
        )
        concerns = await self.session.scalars(
            sa.select(Concern).where(_concerns_of(user_id)).order_by(Concern.created_at, Concern.id)
        )
        return UserData(
            channel=user.channel,
            language=user.language,
            created_at=user.created_at,
            children=[ChildRecord.of(row) for row in children],
            answers=[AnswerRecord.of(row) for row in answers],
            consents=[ConsentRecord.of(row) for row in consents],
            concerns=[ConcernRecord.of(row) for row in concerns],
        )

    async def erase_user(self, user_id: int) -> ErasedCounts:
        """Delete the user and everything about them that the law does not require to be kept;
        returns what was deleted and what was kept (zeros if nothing).

        A concern that must be kept (``storage.retention.kept_by_law``: a child may be in danger, it
        went to social services, or a professional reported it) stays, with its timeline, plan and
        assessments, for the named person's and social services' documentation duty. With it stay the
        answers its named person could see with it (the answers of its conversation, when they were
        shared or the concern is urgent), and the child it is about (the name only when it was
        shown). The family's consents stay, marked withdrawn: they show on what terms the kept
        information was given, and that it may no longer be shared on consent. Everything else goes.
        The user row of a kept concern stays too, but cut from the chat: its pseudonym is replaced by
        a random one and its address is cleared, so the family is never recognised or reached again
        through it, and a new message starts afresh. Retention deletes what was kept in its time.

        Rows are counted and deleted explicitly, table by table, rather than left to ON DELETE
        CASCADE, so the counts are exact and nothing depends on SQLite's foreign-key setting.
        """
        kept = list(
            await self.session.scalars(sa.select(Concern).where(_concerns_of(user_id), kept_by_law()))
        )
        kept_ids = [concern.id for concern in kept]
        # the answers the named person could see with a kept concern (backend/views.py shows the
        # conversation's answers when they were shared or the concern is urgent)
        seen: set[int] = {c.conversation_id for c in kept if c.conversation_id is not None and _seen(c)}
        kept_answers = _answers_of(user_id) & Answer.conversation_id.in_(seen)
        answered_about = await self.session.scalars(sa.select(Answer.child_id).where(kept_answers))
        kept_children: set[int] = {c.child_id for c in kept if c.child_id is not None}
        kept_children |= {child_id for child_id in answered_about if child_id is not None}
        concerns = sa.select(Concern.id).where(_concerns_of(user_id), Concern.id.not_in(kept_ids))
        # in deletion order: answers and concerns are found through conversations and children
        wheres: dict[str, tuple[type[Base], sa.ColumnElement[bool]]] = {
            "plans": (ChildPlan, ChildPlan.concern_id.in_(concerns) | _plans_of(user_id, kept_ids)),
            "plan_links": (PlanLink, PlanLink.user_id == user_id),
            "assessments": (Assessment, Assessment.concern_id.in_(concerns)),
            "events": (ConcernEvent, ConcernEvent.concern_id.in_(concerns)),
            "answers": (Answer, _answers_of(user_id) & Answer.conversation_id.not_in(seen)),
            "concerns": (Concern, _concerns_of(user_id) & Concern.id.not_in(kept_ids)),
            "consents": (Consent, Consent.user_id == user_id if not kept else sa.false()),
            "conversations": (Conversation, (Conversation.user_id == user_id) & Conversation.id.not_in(seen)),
            "children": (Child, (Child.user_id == user_id) & Child.id.not_in(kept_children)),
        }
        counts: dict[str, int] = {}
        for name, (entity, where) in wheres.items():
            count = await self.session.scalar(sa.select(sa.func.count()).select_from(entity).where(where))
            counts[name] = int(count or 0)
        counts["kept_answers"] = await self._count(Answer, kept_answers)
        counts["kept_consents"] = await self._count(Consent, Consent.user_id == user_id) if kept else 0
        await self._detach(user_id, kept_ids, kept_children)
        for entity, where in wheres.values():
            await self.session.execute(sa.delete(entity).where(where))
        if kept:
            await self._keep_for_the_record(user_id, kept, seen, kept_children)
        else:
            await self.session.execute(sa.delete(User).where(User.id == user_id))
        del counts["plan_links"], counts["assessments"], counts["events"]  # they follow the concerns
        return ErasedCounts(**counts, kept_concerns=len(kept))

    async def _count(self, entity: type[Base], where: sa.ColumnElement[bool]) -> int:
        return int(
            await self.session.scalar(sa.select(sa.func.count()).select_from(entity).where(where)) or 0
        )

    async def _detach(self, user_id: int, kept_ids: list[int], kept_children: set[int]) -> None:
        """Cut what stays from what goes, explicitly (not by ON DELETE SET NULL): queued messages and a
        professional's chat link from the user; kept concerns from conversations and kept consents from
        children that go."""
        await self._set_null(OutboxMessage.user_id, OutboxMessage.user_id == user_id)
        await self._set_null(ChatLink.user_id, ChatLink.user_id == user_id)
        if kept_ids:
            conversations = sa.select(Conversation.id).where(Conversation.user_id == user_id)
            await self._set_null(
                Concern.conversation_id,
                Concern.id.in_(kept_ids) & Concern.conversation_id.in_(conversations),
            )
            await self._set_null(
                Consent.child_id, (Consent.user_id == user_id) & Consent.child_id.not_in(kept_children)
            )

    async def _set_null(self, column: Any, where: sa.ColumnElement[bool]) -> None:
        statement = sa.update(column.class_).where(where).values({column.key: None})
        await self.session.execute(statement.execution_options(synchronize_session=False))

    async def _keep_for_the_record(
        self, user_id: int, kept: list[Concern], seen: set[int], kept_children: set[int]
    ) -> None:
        """What stays with a kept concern, with nothing more in it than the record needs."""
        await self.withdraw_consents(user_id)
        conversation = sa.update(Conversation).where(Conversation.id.in_(seen))
        await self.session.execute(
            conversation.values(state={}, step=None, status="done").execution_options(
                synchronize_session=False
            )
        )
        named = {c.child_id for c in kept if c.child_id is not None and _seen(c)}
        anonymous = sa.update(Child).where(Child.id.in_(kept_children - named)).values(name=None)
        await self.session.execute(anonymous.execution_options(synchronize_session=False))
        user = await self.session.get(User, user_id)
        if user is not None:  # cut from the chat: never found by the channel's id again
            user.channel, user.pseudonym = ERASED_CHANNEL, secrets.token_hex(32)
            user.address = user.language = None
            await self.session.flush()


def _check_scope(scope: str) -> None:
    if scope not in CONSENT_SCOPES:
        raise ValueError(f"unknown consent scope {scope!r}; expected one of {', '.join(CONSENT_SCOPES)}")


def _answers_of(user_id: int) -> sa.ColumnElement[bool]:
    conversations = sa.select(Conversation.id).where(Conversation.user_id == user_id)
    children = sa.select(Child.id).where(Child.user_id == user_id)
    return sa.or_(Answer.conversation_id.in_(conversations), Answer.child_id.in_(children))


def _seen(concern: Concern) -> bool:
    """Whether the named person was shown the family's answers and the child's name with it."""
    return concern.answers_shared or concern.kind == "urgent"


def _plans_of(user_id: int, kept_ids: list[int]) -> sa.ColumnElement[bool]:
    return (ChildPlan.user_id == user_id) & ChildPlan.concern_id.not_in(kept_ids)


def _concerns_of(user_id: int) -> sa.ColumnElement[bool]:
    children = sa.select(Child.id).where(Child.user_id == user_id)
    return sa.or_(Concern.user_id == user_id, Concern.child_id.in_(children))
