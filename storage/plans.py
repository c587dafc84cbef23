"""The child's plan and the named person's assessment, kept with the concern they came from.

A plan is written on the desk (``content``, a draft) and shared with the family (``shared``, the copy
the family reads, and ``version``, how many times it was shared). Both are encrypted: the plan holds
free text about a child. The family reads it through their web chat cookie or through a private link
(``PlanLink``: only the link key's SHA-256 is kept; it expires).

An assessment (My World Triangle, the resilience matrix, the five questions) is kept as a new row on
every save, so earlier versions stay readable for whoever may see the concern. Like ``Directory``,
these functions flush and never commit.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from storage.crypto import EncryptedJSON
from storage.directory import digest
from storage.models import Base, utcnow

LINK_DAYS: Final = 30


class ChildPlan(Base):
    __tablename__ = "child_plans"

    id: Mapped[int] = mapped_column(primary_key=True)
    concern_id: Mapped[int] = mapped_column(sa.ForeignKey("concerns.id", ondelete="CASCADE"), unique=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    child_id: Mapped[int | None] = mapped_column(sa.ForeignKey("children.id", ondelete="CASCADE"), index=True)
    content: Mapped[dict[str, Any]] = mapped_column(EncryptedJSON())
    shared: Mapped[dict[str, Any] | None] = mapped_column(EncryptedJSON())
    version: Mapped[int] = mapped_column(default=0)
    written_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("staff.id", ondelete="SET NULL"))
    shared_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("staff.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    shared_at: Mapped[datetime | None]


class PlanLink(Base):
    """A private link to a family's plans, sent to them in their own chat."""

    __tablename__ = "plan_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    key_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]


class Assessment(Base):
    __tablename__ = "assessments"
    __table_args__ = (sa.Index(None, "concern_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    concern_id: Mapped[int] = mapped_column(sa.ForeignKey("concerns.id", ondelete="CASCADE"))
    staff_id: Mapped[int | None] = mapped_column(sa.ForeignKey("staff.id", ondelete="SET NULL"))
    content: Mapped[dict[str, Any]] = mapped_column(EncryptedJSON())
    at: Mapped[datetime] = mapped_column(default=utcnow)


async def plan_of_concern(session: AsyncSession, concern_id: int, *, lock: bool = False) -> ChildPlan | None:
    query = sa.select(ChildPlan).where(ChildPlan.concern_id == concern_id)
    return await session.scalar(query.with_for_update() if lock else query)


async def shared_plans(session: AsyncSession, user_id: int) -> list[ChildPlan]:
    """The plans shared with this family, newest first; drafts are never among them."""
    query = (
        sa.select(ChildPlan)
        .where(ChildPlan.user_id == user_id, ChildPlan.version > 0)
        .order_by(ChildPlan.shared_at.desc(), ChildPlan.id.desc())
    )
    return list(await session.scalars(query))


async def new_link(session: AsyncSession, user_id: int, now: datetime | None = None) -> str:
    """A fresh private link key for this family (32 random bytes, URL-safe); it works LINK_DAYS."""
    now = now or utcnow()
    key = secrets.token_urlsafe(32)
    session.add(
        PlanLink(user_id=user_id, key_hash=digest(key), created_at=now, expires_at=now + timedelta(LINK_DAYS))
    )
    await session.flush()
    return key


async def user_of_link(session: AsyncSession, key: str, now: datetime | None = None) -> int | None:
    """The family a link key belongs to, while it has not expired."""
    if not 20 <= len(key) <= 100:
        return None
    query = sa.select(PlanLink.user_id).where(
        PlanLink.key_hash == digest(key), PlanLink.expires_at > (now or utcnow())
    )
    return await session.scalar(query)


async def assessments(session: AsyncSession, concern_id: int) -> list[Assessment]:
    """Every saved assessment of a concern, newest first."""
    query = sa.select(Assessment).where(Assessment.concern_id == concern_id).order_by(Assessment.id.desc())
    return list(await session.scalars(query))
