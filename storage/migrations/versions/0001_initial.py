"""Initial tables: users, children, conversations, answers, consents, concerns, processed_events.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = {
    "children": [("ix_children_user_id", ["user_id"])],
    "conversations": [
        ("ix_conversations_child_id", ["child_id"]),
        ("ix_conversations_user_id_status", ["user_id", "status"]),
    ],
    "answers": [("ix_answers_child_id", ["child_id"])],
    "consents": [
        ("ix_consents_child_id", ["child_id"]),
        ("ix_consents_user_id", ["user_id"]),
    ],
    "concerns": [
        ("ix_concerns_child_id", ["child_id"]),
        ("ix_concerns_conversation_id", ["conversation_id"]),
        ("ix_concerns_status_priority", ["status", "priority"]),
        ("ix_concerns_user_id", ["user_id"]),
    ],
}


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(JSONB(), "postgresql")


def _time(name: str, nullable: bool = False) -> sa.Column[Any]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _id() -> sa.Column[int]:
    return sa.Column("id", sa.Integer(), nullable=False)


def _fk(table: str, column: str, target: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"), ondelete=ondelete
    )


def upgrade() -> None:
    op.create_table(
        "users",
        _id(),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("pseudonym", sa.String(64), nullable=False),
        sa.Column("language", sa.String(8), nullable=True),
        _time("created_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("channel", "pseudonym", name=op.f("uq_users_channel_pseudonym")),
    )
    op.create_table(
        "children",
        _id(),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(100), nullable=True),
        sa.Column("age_years", sa.Integer(), nullable=True),
        sa.Column("age_months", sa.Integer(), nullable=True),
        sa.Column("unit_text", sa.String(200), nullable=True),
        _time("created_at"),
        _fk("children", "user_id", "users", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_children")),
    )
    op.create_table(
        "conversations",
        _id(),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("child_id", sa.Integer(), nullable=True),
        sa.Column("flow", sa.String(40), nullable=False),
        sa.Column("step", sa.String(60), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("state", _json(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        _time("created_at"),
        _time("updated_at"),
        _fk("conversations", "user_id", "users", "CASCADE"),
        _fk("conversations", "child_id", "children", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversations")),
    )
    op.create_table(
        "answers",
        _id(),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("child_id", sa.Integer(), nullable=True),
        sa.Column("indicator", sa.String(16), nullable=True),
        sa.Column("question_id", sa.String(60), nullable=False),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("free_text", sa.Text(), nullable=True),
        sa.Column("free_text_language", sa.String(8), nullable=True),
        sa.Column("language", sa.String(8), nullable=False),
        _time("answered_at"),
        _time("updated_at"),
        _fk("answers", "conversation_id", "conversations", "CASCADE"),
        _fk("answers", "child_id", "children", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_answers")),
        sa.UniqueConstraint(
            "conversation_id", "question_id", name=op.f("uq_answers_conversation_id_question_id")
        ),
    )
    op.create_table(
        "consents",
        _id(),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("child_id", sa.Integer(), nullable=True),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("given", sa.Boolean(), nullable=False),
        sa.Column("text_version", sa.String(80), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        _time("given_at"),
        _time("withdrawn_at", nullable=True),
        _fk("consents", "user_id", "users", "CASCADE"),
        _fk("consents", "child_id", "children", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consents")),
    )
    op.create_table(
        "concerns",
        _id(),
        sa.Column("child_id", sa.Integer(), nullable=True),
        sa.Column("conversation_id", sa.Integer(), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("reasons", _json(), nullable=False),
        sa.Column("priority", sa.String(8), nullable=False),
        sa.Column("status", sa.String(16), server_default="new", nullable=False),
        sa.Column("answers_shared", sa.Boolean(), nullable=False),
        _time("created_at"),
        _time("updated_at"),
        _fk("concerns", "child_id", "children", "CASCADE"),
        _fk("concerns", "conversation_id", "conversations", "SET NULL"),
        _fk("concerns", "user_id", "users", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_concerns")),
    )
    op.create_table(
        "processed_events",
        sa.Column("event_id", sa.String(120), nullable=False),
        _time("processed_at"),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_processed_events")),
    )
    for table, indexes in INDEXES.items():
        for name, columns in indexes:
            op.create_index(op.f(name), table, columns, unique=False)


def downgrade() -> None:
    for table, indexes in reversed(INDEXES.items()):
        for name, _columns in indexes:
            op.drop_index(op.f(name), table_name=table)
    for table in (
        "processed_events",
        "concerns",
        "consents",
        "answers",
        "conversations",
        "children",
        "users",
    ):
        op.drop_table(table)
