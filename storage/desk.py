"""Tables of the named person's desk: the directory, staff and their sessions, the concern timeline
and the audit log.

The directory follows Kronoberg's chain: municipalities hold units (MVC, BVC, preschool, school, KAA,
social services, and a coordinator unit for concerns nobody else matches); units hold staff with a
role. Routing rules say which kind of unit is responsible for a child of a given age.
Notes and messages are encrypted. The audit log is append-only (a database trigger refuses updates).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from storage.crypto import EncryptedText
from storage.models import Base, utcnow

UNIT_KINDS: Final = ("mvc", "bvc", "preschool", "school", "kaa", "social_services", "coordinator")
ROLES: Final = ("named_person", "unit_lead", "admin")
CONCERN_STATUSES: Final = ("new", "acknowledged", "in_progress", "closed")
OUTCOMES: Final = (
    "advice_given",
    "universal_support",
    "childs_plan_started",
    "reported_to_social_services",
    "family_declined",
)
EVENT_KINDS: Final = (
    "created",
    "signal",
    "report",
    "routed",
    "reason_added",
    "acknowledged",
    "assigned",
    "status",
    "note",
    "message_to_family",
    "message_from_family",
    "overdue",
    "escalated",
    "closed",
    "plan_saved",
    "plan_shared",
    "plan_consent",
    "assessment",
)


class Municipality(Base):
    __tablename__ = "municipalities"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(40), unique=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    phone_social: Mapped[str] = mapped_column(sa.String(40), default="")
    phone_socialjour: Mapped[str] = mapped_column(sa.String(40), default="")


class Unit(Base):
    __tablename__ = "units"

    id: Mapped[int] = mapped_column(primary_key=True)
    municipality_id: Mapped[int] = mapped_column(
        sa.ForeignKey("municipalities.id", ondelete="CASCADE"), index=True
    )
    code: Mapped[str] = mapped_column(sa.String(40), unique=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    kind: Mapped[str] = mapped_column(sa.String(20))
    # Where concerns about children here go when the age rule names another kind of unit
    # (a preschool's BVC, say).
    partner_id: Mapped[int | None] = mapped_column(sa.ForeignKey("units.id", ondelete="SET NULL"))
    phone: Mapped[str] = mapped_column(sa.String(40), default="")
    email: Mapped[str] = mapped_column(sa.String(200), default="")
    office_hours: Mapped[str] = mapped_column(sa.String(200), default="")
    active: Mapped[bool] = mapped_column(default=True)


class RoutingRule(Base):
    """Children of ages [min, max] months are the responsibility of a unit of `kind`."""

    __tablename__ = "routing_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    municipality_id: Mapped[int] = mapped_column(
        sa.ForeignKey("municipalities.id", ondelete="CASCADE"), index=True
    )
    min_age_months: Mapped[int]
    max_age_months: Mapped[int]
    kind: Mapped[str] = mapped_column(sa.String(20))


class Staff(Base):
    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(200), unique=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    role: Mapped[str] = mapped_column(sa.String(16))
    unit_id: Mapped[int | None] = mapped_column(sa.ForeignKey("units.id", ondelete="SET NULL"), index=True)
    title: Mapped[str] = mapped_column(sa.String(120), default="")  # "BVC nurse", "head teacher"
    phone: Mapped[str] = mapped_column(sa.String(40), default="")
    language: Mapped[str] = mapped_column(sa.String(8), default="sv")
    password_hash: Mapped[str | None] = mapped_column(sa.String(200))
    active: Mapped[bool] = mapped_column(default=True)
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class StaffToken(Base):
    """An API token: only its SHA-256 is kept."""

    __tablename__ = "staff_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(sa.ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class StaffSession(Base):
    """A signed-in browser: the cookie holds a random id, the table only its SHA-256."""

    __tablename__ = "staff_sessions"

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    staff_id: Mapped[int] = mapped_column(sa.ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)


class ConcernEvent(Base):
    """One line of a concern's timeline. `body` (a note, a message) is encrypted."""

    __tablename__ = "concern_events"
    __table_args__ = (sa.Index(None, "concern_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    concern_id: Mapped[int] = mapped_column(sa.ForeignKey("concerns.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(sa.String(24))
    staff_id: Mapped[int | None] = mapped_column(sa.ForeignKey("staff.id", ondelete="SET NULL"))
    body: Mapped[str | None] = mapped_column(EncryptedText())
    body_language: Mapped[str | None] = mapped_column(sa.String(8))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)


class AuditEntry(Base):
    """Who read or changed what, when. Never updated; holds ids and actions, no personal data."""

    __tablename__ = "audit_log"
    __table_args__ = (sa.Index(None, "object_type", "object_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    staff_id: Mapped[int | None] = mapped_column(sa.ForeignKey("staff.id", ondelete="SET NULL"), index=True)
    action: Mapped[str] = mapped_column(sa.String(40))
    object_type: Mapped[str] = mapped_column(sa.String(24))
    object_id: Mapped[int | None]
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
