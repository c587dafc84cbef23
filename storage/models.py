"""Tables of Hjulet, as SQLAlchemy 2 typed declarative models.

Structured answers are stored as codes (``safe`` + ``worried``), never as translated text; the family's
own words are stored as written, with their language. Users are known only by a pseudonym (an HMAC of
the channel's user id, see ``storage.identity``), never by the raw id. Free text, names and notes are
encrypted (``EncryptedText`` / ``EncryptedJSON``, see ``storage.crypto`` and ``storage.keys``).
All times are timezone-aware UTC, also on SQLite (see ``UTCDateTime``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from storage.crypto import EncryptedJSON, EncryptedText

CHANNELS: Final = ("console", "telegram", "web")
INDICATORS: Final = (
    "safe",
    "healthy",
    "achieving",
    "nurtured",
    "active",
    "respected",
    "responsible",
    "included",
)
CONVERSATION_STATUSES: Final = ("active", "paused", "done")
CONSENT_SCOPES: Final = ("store", "share", "plan")
CONCERN_KINDS: Final = ("concern", "contact_request", "urgent")
# Lowest first: the index of a priority is its rank.
PRIORITIES: Final = ("low", "normal", "high", "urgent")
CLOSED: Final = "closed"
OUTBOX_STATUSES: Final = ("pending", "sending", "sent", "failed")

NAMING_CONVENTION: Final = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


class UTCDateTime(sa.TypeDecorator[datetime]):
    """``DateTime(timezone=True)`` that refuses naive datetimes and always reads back aware UTC.

    PostgreSQL keeps the zone itself; SQLite stores text without a zone, so values are converted to
    UTC on the way in and marked as UTC on the way out.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; use datetime.now(UTC)")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


JSONType = sa.JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {  # noqa: RUF012 - read by SQLAlchemy, never mutated
        datetime: UTCDateTime(),
        dict[str, Any]: JSONType,
        list[str]: JSONType,
    }


class User(Base):
    __tablename__ = "users"
    __table_args__ = (sa.UniqueConstraint("channel", "pseudonym"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(sa.String(16))
    pseudonym: Mapped[str] = mapped_column(sa.String(64))
    language: Mapped[str | None] = mapped_column(sa.String(8))
    # Where the channel reaches this user (a Telegram chat id), encrypted; None for the console.
    address: Mapped[str | None] = mapped_column(EncryptedText())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Child(Base):
    __tablename__ = "children"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str | None] = mapped_column(EncryptedText())  # the child's name, as the family wrote it
    age_years: Mapped[int | None]
    age_months: Mapped[int | None]
    unit_text: Mapped[str | None] = mapped_column(EncryptedText())  # the unit, as the family wrote it
    unit_code: Mapped[str | None] = mapped_column(sa.String(40))  # the unit that invited the family
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Conversation(Base):
    __tablename__ = "conversations"
    __table_args__ = (sa.Index(None, "user_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    child_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("children.id", ondelete="SET NULL"), index=True
    )
    flow: Mapped[str] = mapped_column(sa.String(40))
    step: Mapped[str | None] = mapped_column(sa.String(60))
    status: Mapped[str] = mapped_column(sa.String(16), default="active")
    language: Mapped[str] = mapped_column(sa.String(8))
    state: Mapped[dict[str, Any]] = mapped_column(EncryptedJSON())  # holds what the family typed
    version: Mapped[int] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - read by SQLAlchemy


class Answer(Base):
    __tablename__ = "answers"
    __table_args__ = (sa.UniqueConstraint("conversation_id", "question_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(sa.ForeignKey("conversations.id", ondelete="CASCADE"))
    child_id: Mapped[int | None] = mapped_column(sa.ForeignKey("children.id", ondelete="CASCADE"), index=True)
    indicator: Mapped[str | None] = mapped_column(sa.String(16))
    question_id: Mapped[str] = mapped_column(sa.String(60))
    code: Mapped[str] = mapped_column(sa.String(32))
    free_text: Mapped[str | None] = mapped_column(EncryptedText())
    free_text_language: Mapped[str | None] = mapped_column(sa.String(8))
    language: Mapped[str] = mapped_column(sa.String(8))
    answered_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Consent(Base):
    __tablename__ = "consents"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    child_id: Mapped[int | None] = mapped_column(sa.ForeignKey("children.id", ondelete="CASCADE"), index=True)
    scope: Mapped[str] = mapped_column(sa.String(16))
    given: Mapped[bool]
    text_version: Mapped[str] = mapped_column(sa.String(80))
    language: Mapped[str] = mapped_column(sa.String(8))
    given_at: Mapped[datetime] = mapped_column(default=utcnow)
    withdrawn_at: Mapped[datetime | None]


class Concern(Base):
    __tablename__ = "concerns"
    __table_args__ = (sa.Index(None, "status", "priority"), sa.Index(None, "unit_id", "status"))

    id: Mapped[int] = mapped_column(primary_key=True)
    child_id: Mapped[int | None] = mapped_column(sa.ForeignKey("children.id", ondelete="CASCADE"), index=True)
    conversation_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("conversations.id", ondelete="SET NULL"), index=True
    )
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(24))
    reasons: Mapped[list[str]]
    priority: Mapped[str] = mapped_column(sa.String(8))
    status: Mapped[str] = mapped_column(sa.String(16), default="new", server_default="new")
    answers_shared: Mapped[bool]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # The desk: where it was routed, who has it, and when it must be acknowledged.
    unit_id: Mapped[int | None] = mapped_column(sa.ForeignKey("units.id", ondelete="SET NULL"), index=True)
    assigned_to_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("staff.id", ondelete="SET NULL"), index=True
    )
    source: Mapped[str] = mapped_column(sa.String(16), default="family", server_default="family")
    due_at: Mapped[datetime | None]
    acknowledged_at: Mapped[datetime | None]
    overdue: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    escalated_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(sa.String(32))
    closed_at: Mapped[datetime | None]


class ProcessedEvent(Base):
    """An incoming event (e.g. a Telegram update id) already handled: the dedup of redeliveries."""

    __tablename__ = "processed_events"

    event_id: Mapped[str] = mapped_column(sa.String(120), primary_key=True)
    processed_at: Mapped[datetime] = mapped_column(default=utcnow)


class OutboxMessage(Base):
    """A message on its way to a family: stored with the change that caused it, sent, marked sent.

    Rows of one chat (``chat_key``, the user's pseudonym) are delivered in ``id`` order. The address
    and the payload are encrypted; the payload is cleared once the message is sent.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        sa.Index(None, "status", "next_attempt_at"),
        sa.Index(None, "chat_key", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(sa.String(16))
    chat_key: Mapped[str] = mapped_column(sa.String(64))
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"), index=True)
    address: Mapped[str] = mapped_column(EncryptedText())
    kind: Mapped[str] = mapped_column(sa.String(16))
    payload: Mapped[dict[str, Any] | None] = mapped_column(EncryptedJSON())
    status: Mapped[str] = mapped_column(sa.String(8), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_until: Mapped[datetime | None]
    sent_ref: Mapped[str | None] = mapped_column(sa.String(32))  # the channel's id of the sent message
    has_buttons: Mapped[bool] = mapped_column(default=False)
    error: Mapped[str | None] = mapped_column(sa.String(120))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
