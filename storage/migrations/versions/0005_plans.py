"""The child's plan (a draft and the copy shared with the family), private plan links, assessments.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _fk(table: str, column: str, target: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"), ondelete=ondelete
    )


def upgrade() -> None:
    op.create_table(
        "child_plans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("concern_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("child_id", sa.Integer(), nullable=True),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("shared", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("written_by_id", sa.Integer(), nullable=True),
        sa.Column("shared_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("shared_at", sa.DateTime(timezone=True), nullable=True),
        _fk("child_plans", "concern_id", "concerns", "CASCADE"),
        _fk("child_plans", "user_id", "users", "CASCADE"),
        _fk("child_plans", "child_id", "children", "CASCADE"),
        _fk("child_plans", "written_by_id", "staff", "SET NULL"),
        _fk("child_plans", "shared_by_id", "staff", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_child_plans")),
        sa.UniqueConstraint("concern_id", name=op.f("uq_child_plans_concern_id")),
    )
    op.create_index(op.f("ix_child_plans_user_id"), "child_plans", ["user_id"])
    op.create_index(op.f("ix_child_plans_child_id"), "child_plans", ["child_id"])
    op.create_table(
        "plan_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        _fk("plan_links", "user_id", "users", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_links")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_plan_links_key_hash")),
    )
    op.create_index(op.f("ix_plan_links_user_id"), "plan_links", ["user_id"])
    op.create_table(
        "assessments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("concern_id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        _fk("assessments", "concern_id", "concerns", "CASCADE"),
        _fk("assessments", "staff_id", "staff", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assessments")),
    )
    op.create_index(op.f("ix_assessments_concern_id_id"), "assessments", ["concern_id", "id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_assessments_concern_id_id"), table_name="assessments")
    op.drop_table("assessments")
    op.drop_index(op.f("ix_plan_links_user_id"), table_name="plan_links")
    op.drop_table("plan_links")
    op.drop_index(op.f("ix_child_plans_child_id"), table_name="child_plans")
    op.drop_index(op.f("ix_child_plans_user_id"), table_name="child_plans")
    op.drop_table("child_plans")
