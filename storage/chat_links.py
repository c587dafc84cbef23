"""A professional's chat linked to their staff account, by a one-time code.

On the desk a member of staff makes a code (``ABCD-2345``, valid CODE_MINUTES); in the chat they give
it, and the chat identity (a ``users`` row, known only by its pseudonym) is linked to them, so the bot
can trust them to file a concern. Only the code's SHA-256 is stored. A chat identity is linked to one
member of staff at a time. Like ``Directory``, these functions flush and never commit.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Final

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from storage.desk import Staff
from storage.directory import digest
from storage.models import Base, utcnow

CODE_MINUTES: Final = 15
ALPHABET: Final = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: read aloud or typed, one way
CODE_LENGTH: Final = 8
DASHES: Final = "-‐‑‒–—"  # what phones make of a typed hyphen


class ChatLink(Base):
    """A code made on the desk and, once given in the chat, the link it made (``user_id``)."""

    __tablename__ = "chat_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(sa.ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)


def normalise(typed: str) -> str:
    """The code as stored: upper case, without spaces and dashes ("abcd 2345" is "ABCD2345")."""
    return "".join(c for c in typed.upper() if not c.isspace() and c not in DASHES)


def _hash(typed: str) -> str:
    return digest(normalise(typed))


async def new_code(session: AsyncSession, staff_id: int, now: datetime | None = None) -> str:
    """A fresh code for this member of staff, shown as ``ABCD-2345``; their earlier unused codes stop
    working."""
    now = now or utcnow()
    await _void_unused(session, staff_id)
    while True:  # a clash with a stored code is one in 10^12; then draw again
        code = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
        if await session.scalar(sa.select(ChatLink.id).where(ChatLink.code_hash == _hash(code))) is None:
            break
    expires_at = now + timedelta(minutes=CODE_MINUTES)
    session.add(ChatLink(staff_id=staff_id, code_hash=_hash(code), created_at=now, expires_at=expires_at))
    await session.flush()
    return f"{code[:4]}-{code[4:]}"


async def redeem(
    session: AsyncSession, typed_code: str, user_id: int, now: datetime | None = None
) -> Staff | None:
    """The active member of staff whose unused, unexpired code this is, now linked to the chat
    identity ``user_id`` (and its other links cleared); None, and nothing changed, for any other code."""
    now = now or utcnow()
    query = (
        sa.select(ChatLink.id, Staff)
        .join(Staff, Staff.id == ChatLink.staff_id)
        .where(
            ChatLink.code_hash == _hash(typed_code),
            ChatLink.used_at.is_(None),
            ChatLink.expires_at > now,
            Staff.active,
        )
    )
    found = (await session.execute(query)).first()
    if found is None:
        return None
    link_id, staff = found
    claim = (  # only if still unused: of two chats giving the same code at once, one wins
        sa.update(ChatLink)
        .where(ChatLink.id == link_id, ChatLink.used_at.is_(None))
        .values(used_at=now, user_id=user_id)
    )
    if (await session.execute(claim)).rowcount != 1:  # type: ignore[attr-defined]
        return None
    others = sa.update(ChatLink).where(ChatLink.user_id == user_id, ChatLink.id != link_id)
    await session.execute(others.values(user_id=None))
    await session.flush()
    return staff


async def staff_of(session: AsyncSession, user_id: int) -> Staff | None:
    """The active member of staff this chat identity is linked to, if any."""
    query = (
        sa.select(Staff)
        .join(ChatLink, ChatLink.staff_id == Staff.id)
        .where(ChatLink.user_id == user_id, Staff.active)
        .order_by(ChatLink.used_at.desc(), ChatLink.id.desc())
        .limit(1)
    )
    return await session.scalar(query)


async def linked_since(session: AsyncSession, staff_id: int) -> datetime | None:
    """When this member of staff's newest chat link was made; None when no chat is linked."""
    query = (
        sa.select(ChatLink.used_at)
        .where(ChatLink.staff_id == staff_id, ChatLink.user_id.is_not(None))
        .order_by(ChatLink.used_at.desc())
        .limit(1)
    )
    return await session.scalar(query)


async def unlink(session: AsyncSession, staff_id: int) -> None:
    """Clear every chat link of this member of staff, and void a code not given yet."""
    await _void_unused(session, staff_id)
    linked = sa.update(ChatLink).where(ChatLink.staff_id == staff_id, ChatLink.user_id.is_not(None))
    await session.execute(linked.values(user_id=None))
    await session.flush()


async def _void_unused(session: AsyncSession, staff_id: int) -> None:
    await session.execute(
        sa.delete(ChatLink).where(ChatLink.staff_id == staff_id, ChatLink.used_at.is_(None))
    )
