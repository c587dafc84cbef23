"""The named person's desk: directory, staff, sessions, tokens, the concern timeline, the audit log.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(JSONB(), "postgresql")


def _time(name: str, nullable: bool = False) -> sa.Column[Any]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _fk(table: str, column: str, target: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"), ondelete=ondelete
    )


def upgrade() -> None:
    op.create_table(
        "municipalities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(40), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("phone_social", sa.String(40), nullable=False),
        sa.Column("phone_socialjour", sa.String(40), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_municipalities")),
        sa.UniqueConstraint("code", name=op.f("uq_municipalities_code")),
    )
    op.create_table(
        "units",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("municipality_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(40), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=True),
        sa.Column("phone", sa.String(40), nullable=False),
        sa.Column("email", sa.String(200), nullable=False),
        sa.Column("office_hours", sa.String(200), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        _fk("units", "municipality_id", "municipalities", "CASCADE"),
        _fk("units", "partner_id", "units", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_units")),
        sa.UniqueConstraint("code", name=op.f("uq_units_code")),
    )
    op.create_index(op.f("ix_units_municipality_id"), "units", ["municipality_id"])
    op.create_table(
        "routing_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("municipality_id", sa.Integer(), nullable=False),
        sa.Column("min_age_months", sa.Integer(), nullable=False),
        sa.Column("max_age_months", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        _fk("routing_rules", "municipality_id", "municipalities", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routing_rules")),
    )
    op.create_index(op.f("ix_routing_rules_municipality_id"), "routing_rules", ["municipality_id"])
    op.create_table(
        "staff",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(200), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("title", sa.String(120), nullable=False),
        sa.Column("phone", sa.String(40), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("password_hash", sa.String(200), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        _time("locked_until", nullable=True),
        _time("created_at"),
        _fk("staff", "unit_id", "units", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff")),
        sa.UniqueConstraint("email", name=op.f("uq_staff_email")),
    )
    op.create_index(op.f("ix_staff_unit_id"), "staff", ["unit_id"])
    op.create_table(
        "staff_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        _time("created_at"),
        _time("last_used_at", nullable=True),
        _time("revoked_at", nullable=True),
        _fk("staff_tokens", "staff_id", "staff", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_staff_tokens_token_hash")),
    )
    op.create_index(op.f("ix_staff_tokens_staff_id"), "staff_tokens", ["staff_id"])
    op.create_table(
        "staff_sessions",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        _time("created_at"),
        _time("last_seen_at"),
        _fk("staff_sessions", "staff_id", "staff", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_sessions")),
    )
    op.create_index(op.f("ix_staff_sessions_staff_id"), "staff_sessions", ["staff_id"])
    with op.batch_alter_table("concerns") as batch:
        batch.add_column(sa.Column("unit_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("assigned_to_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("source", sa.String(16), server_default="family", nullable=False))
        batch.add_column(_time("due_at", nullable=True))
        batch.add_column(_time("acknowledged_at", nullable=True))
        batch.add_column(sa.Column("overdue", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch.add_column(_time("escalated_at", nullable=True))
        batch.add_column(sa.Column("outcome", sa.String(32), nullable=True))
        batch.add_column(_time("closed_at", nullable=True))
        batch.create_foreign_key(op.f("fk_concerns_unit_id_units"), "units", ["unit_id"], ["id"], ondelete="SET NULL")
        batch.create_foreign_key(
            op.f("fk_concerns_assigned_to_id_staff"), "staff", ["assigned_to_id"], ["id"], ondelete="SET NULL"
        )
        batch.create_index(op.f("ix_concerns_unit_id"), ["unit_id"])
        batch.create_index(op.f("ix_concerns_assigned_to_id"), ["assigned_to_id"])
        batch.create_index(op.f("ix_concerns_unit_id_status"), ["unit_id", "status"])
    op.create_table(
        "concern_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("concern_id", sa.Integer(), nullable=False),
        _time("at"),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("body_language", sa.String(8), nullable=True),
        sa.Column("data", _json(), nullable=False),
        _fk("concern_events", "concern_id", "concerns", "CASCADE"),
        _fk("concern_events", "staff_id", "staff", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_concern_events")),
    )
    op.create_index(op.f("ix_concern_events_concern_id_id"), "concern_events", ["concern_id", "id"])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        _time("at"),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("object_type", sa.String(24), nullable=False),
        sa.Column("object_id", sa.Integer(), nullable=True),
        sa.Column("detail", _json(), nullable=False),
        _fk("audit_log", "staff_id", "staff", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(op.f("ix_audit_log_at"), "audit_log", ["at"])
    op.create_index(op.f("ix_audit_log_staff_id"), "audit_log", ["staff_id"])
    op.create_index(op.f("ix_audit_log_object_type_object_id"), "audit_log", ["object_type", "object_id"])
    _append_only()


def _append_only() -> None:
    """The audit log refuses updates on both databases (rows are deleted only when past retention)."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION hjulet_audit_append_only() RETURNS trigger AS $$ BEGIN "
            "RAISE EXCEPTION 'the audit log is append-only'; END; $$ LANGUAGE plpgsql"
        )
        op.execute(
            "CREATE TRIGGER audit_log_append_only BEFORE UPDATE ON audit_log "
            "FOR EACH ROW EXECUTE FUNCTION hjulet_audit_append_only()"
        )
    else:
        op.execute(
            "CREATE TRIGGER audit_log_append_only BEFORE UPDATE ON audit_log "
            "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS hjulet_audit_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_log_append_only")
    op.drop_table("audit_log")
    op.drop_table("concern_events")
    with op.batch_alter_table("concerns") as batch:
        batch.drop_index(op.f("ix_concerns_unit_id_status"))
        batch.drop_index(op.f("ix_concerns_assigned_to_id"))
        batch.drop_index(op.f("ix_concerns_unit_id"))
        batch.drop_constraint(op.f("fk_concerns_assigned_to_id_staff"), type_="foreignkey")
        batch.drop_constraint(op.f("fk_concerns_unit_id_units"), type_="foreignkey")
        for column in (
            "closed_at",
            "outcome",
            "escalated_at",
            "overdue",
            "acknowledged_at",
            "due_at",
            "source",
            "assigned_to_id",
            "unit_id",
        ):
            batch.drop_column(column)
    for table in ("staff_sessions", "staff_tokens", "staff", "routing_rules", "units", "municipalities"):
        op.drop_table(table)
