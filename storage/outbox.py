"""The outbox: messages to families, written in the same transaction as the change that caused them.

A sender claims due rows (``claim_due``), delivers them, and marks each one sent, to be retried later
or given up. Rows of one chat are claimed only when no earlier row of that chat is still on its way,
so a family reads messages in the order they were written. A claim is a lease: if the sender dies,
the lease runs out and the row is claimed again. On PostgreSQL, rows are locked with SKIP LOCKED,
so two senders never claim the same row.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from storage.models import OutboxMessage, utcnow

LEASE: Final = timedelta(seconds=20)  # a sender that died lets its rows go after this long
ON_THE_WAY: Final = ("pending", "sending")


_NO_SYNC: Final = {"synchronize_session": False}


@functools.cache
def _claim_statements(postgres: bool, one_chat: bool) -> tuple[sa.Select[Any], sa.Update]:
    """The claim's query and update, built once per kind: a sender claims several times a second,
    and building these (the aliased subquery above all) cost more than running them."""
    now = sa.bindparam("now", type_=OutboxMessage.__table__.c.next_attempt_at.type)
    earlier = aliased(OutboxMessage)
    blocked = (
        sa.select(earlier.id)
        .where(
            earlier.chat_key == OutboxMessage.chat_key,
            earlier.id < OutboxMessage.id,
            earlier.status.in_(ON_THE_WAY),
        )
        .exists()
    )
    due = sa.or_(
        sa.and_(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now),
        sa.and_(OutboxMessage.status == "sending", OutboxMessage.claimed_until < now),
    )
    query = (
        sa.select(OutboxMessage)
        .where(OutboxMessage.channel == sa.bindparam("channel"), due, ~blocked)
        .order_by(OutboxMessage.id)
        .limit(sa.bindparam("limit", type_=sa.Integer))
    )
    if one_chat:
        query = query.where(OutboxMessage.chat_key == sa.bindparam("chat_key"))
    if postgres:
        query = query.with_for_update(skip_locked=True, of=OutboxMessage)
    claim = (
        sa.update(OutboxMessage)
        .where(OutboxMessage.id == sa.bindparam("row_id"), due)
        .values(
            status="sending",
            claimed_until=sa.bindparam("until", type_=OutboxMessage.__table__.c.claimed_until.type),
            attempts=OutboxMessage.attempts + 1,
        )
    )
    return query, claim


@dataclass(frozen=True, slots=True)
class OutboxItem:
    id: int
    channel: str
    chat_key: str
    address: str
    kind: str
    payload: dict[str, Any]
    attempts: int


class Outbox:
    """Outbox queries on one session; the caller owns the transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(
        self,
        *,
        channel: str,
        chat_key: str,
        user_id: int | None,
        address: str,
        kind: str,
        payload: dict[str, Any],
        has_buttons: bool = False,
    ) -> int:
        row = OutboxMessage(
            channel=channel,
            chat_key=chat_key,
            user_id=user_id,
            address=address,
            kind=kind,
            payload=payload,
            status="pending",
            attempts=0,
            next_attempt_at=utcnow(),
            has_buttons=has_buttons,
        )
        self.session.add(row)
        await self.session.flush()
        return row.id

    async def claim_due(
        self, channel: str, limit: int = 50, lease: timedelta = LEASE, chat_key: str | None = None
    ) -> list[OutboxItem]:
        """Claim up to ``limit`` due rows: the first one of each chat (only of ``chat_key`` if given)."""
        now = utcnow()
        postgres = self.session.get_bind().dialect.name == "postgresql"
        query, claim = _claim_statements(postgres, chat_key is not None)
        params: dict[str, Any] = {"channel": channel, "now": now, "limit": limit}
        if chat_key is not None:
            params["chat_key"] = chat_key
        rows = list(await self.session.scalars(query, params))
        claimed: list[OutboxItem] = []
        for row in rows:
            result = await self.session.execute(
                claim, {"row_id": row.id, "now": now, "until": now + lease}, execution_options=_NO_SYNC
            )
            if result.rowcount == 1 and row.payload is not None:  # type: ignore[attr-defined]
                claimed.append(
                    OutboxItem(
                        row.id,
                        row.channel,
                        row.chat_key,
                        row.address,
                        row.kind,
                        row.payload,
                        row.attempts + 1,
                    )
                )
        return claimed

    async def mark_sent(self, item_id: int, sent_ref: str | None = None) -> None:
        """Delivered: keep the channel's message id, drop the text."""
        await self.session.execute(
            sa.update(OutboxMessage)
            .where(OutboxMessage.id == item_id)
            .values(status="sent", sent_at=utcnow(), sent_ref=sent_ref, payload=None, claimed_until=None),
            execution_options=_NO_SYNC,
        )

    async def update_payload(self, item_id: int, payload: dict[str, Any], lease: timedelta = LEASE) -> None:
        """Record progress within one message (how many parts of a long text are sent); renew the lease."""
        row = await self.session.get(OutboxMessage, item_id)
        if row is not None:
            row.payload = payload
            row.claimed_until = utcnow() + lease
            await self.session.flush()

    async def retry_later(self, item_id: int, delay: timedelta, error: str) -> None:
        await self.session.execute(
            sa.update(OutboxMessage)
            .where(OutboxMessage.id == item_id)
            .values(
                status="pending", next_attempt_at=utcnow() + delay, claimed_until=None, error=error[:120]
            ),
            execution_options=_NO_SYNC,
        )

    async def give_up(self, item_id: int, error: str) -> None:
        """Never deliverable (the family blocked the bot, say): later messages of the chat go on."""
        await self.session.execute(
            sa.update(OutboxMessage)
            .where(OutboxMessage.id == item_id)
            .values(status="failed", payload=None, claimed_until=None, error=error[:120]),
            execution_options=_NO_SYNC,
        )

    async def last_keyboard_ref(self, chat_key: str, before_id: int) -> str | None:
        """The channel's id of the newest message with buttons sent to this chat before ``before_id``."""
        query = (
            sa.select(OutboxMessage.sent_ref)
            .where(
                OutboxMessage.chat_key == chat_key,
                OutboxMessage.id < before_id,
                OutboxMessage.status == "sent",
                OutboxMessage.has_buttons.is_(True),
            )
            .order_by(OutboxMessage.id.desc())
            .limit(1)
        )
        return await self.session.scalar(query)

    async def counts(self, channel: str | None = None) -> dict[str, int]:
        query = sa.select(OutboxMessage.status, sa.func.count()).group_by(OutboxMessage.status)
        if channel is not None:
            query = query.where(OutboxMessage.channel == channel)
        return {status: count for status, count in await self.session.execute(query)}

    async def next_due(self, channel: str) -> datetime | None:
        """When the earliest waiting row of ``channel`` becomes due (None when nothing waits)."""
        query = sa.select(sa.func.min(OutboxMessage.next_attempt_at)).where(
            OutboxMessage.channel == channel, OutboxMessage.status.in_(ON_THE_WAY)
        )
        return await self.session.scalar(query)
