"""Consent, and a family's rights over their data: see it all (``user_data``), erase it all.

``PrivacyQueries`` is a part of ``storage.repositories.Store``; it is kept apart so that what touches
consent and erasure can be read (and reviewed for a DPIA) in one place.
"""

from __future__ import annotations

from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from storage.errors import NotFound
from storage.models import CONSENT_SCOPES, Answer, Base, Child, Concern, Consent, Conversation, User, utcnow
from storage.plans import Assessment, ChildPlan, PlanLink
from storage.records import AnswerRecord, ChildRecord, ConcernRecord, ConsentRecord, ErasedCounts, UserData


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
        """Delete the user and everything about them; returns what was deleted (zeros if nothing).

        Rows are counted and deleted explicitly, table by table, rather than left to ON DELETE
        CASCADE, so the counts are exact and nothing depends on SQLite's foreign-key setting.
        """
        # in deletion order: answers and concerns are found through conversations and children
        concerns = sa.select(Concern.id).where(_concerns_of(user_id))
        wheres: dict[str, tuple[type[Base], sa.ColumnElement[bool]]] = {
            "plans": (ChildPlan, sa.or_(ChildPlan.user_id == user_id, ChildPlan.concern_id.in_(concerns))),
            "plan_links": (PlanLink, PlanLink.user_id == user_id),
            "assessments": (Assessment, Assessment.concern_id.in_(concerns)),
            "answers": (Answer, _answers_of(user_id)),
            "concerns": (Concern, _concerns_of(user_id)),
            "consents": (Consent, Consent.user_id == user_id),
            "conversations": (Conversation, Conversation.user_id == user_id),
            "children": (Child, Child.user_id == user_id),
        }
        counts: dict[str, int] = {}
        for name, (entity, where) in wheres.items():
            count = await self.session.scalar(sa.select(sa.func.count()).select_from(entity).where(where))
            counts[name] = int(count or 0)
        for entity, where in wheres.values():
            await self.session.execute(sa.delete(entity).where(where))
        await self.session.execute(sa.delete(User).where(User.id == user_id))
        del counts["plan_links"], counts["assessments"]  # they follow the plans and the concerns
        return ErasedCounts(**counts)


def _check_scope(scope: str) -> None:
    if scope not in CONSENT_SCOPES:
        raise ValueError(f"unknown consent scope {scope!r}; expected one of {', '.join(CONSENT_SCOPES)}")


def _answers_of(user_id: int) -> sa.ColumnElement[bool]:
    conversations = sa.select(Conversation.id).where(Conversation.user_id == user_id)
    children = sa.select(Child.id).where(Child.user_id == user_id)
    return sa.or_(Answer.conversation_id.in_(conversations), Answer.child_id.in_(children))


def _concerns_of(user_id: int) -> sa.ColumnElement[bool]:
    children = sa.select(Child.id).where(Child.user_id == user_id)
    return sa.or_(Concern.user_id == user_id, Concern.child_id.in_(children))
