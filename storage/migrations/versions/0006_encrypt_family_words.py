"""Encrypt the family's own words (answers.free_text), the child's name and unit as the family typed
them (children.name, children.unit_text) and the conversation's variables (conversations.state).

The columns become TEXT (a token is longer than the text it holds; the state is no longer JSON to the
database) and every value already stored is encrypted with the keyring's active key, in batches. A
database with none of these values migrates without a key; one with values needs the keyring
(``upgrade(url, cipher=...)``, as ``hjulet db upgrade`` does) and stops with a clear message without it.

The downgrade decrypts the values back to plain text (again with the keyring) and restores the old
column types: the code of revision 0005 reads these columns as plain text, and a rollback that left
them unreadable, or dropped them, would lose what families wrote.

Both directions skip values already converted, so a run that stopped half-way can be run again.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any, Final

import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.dialects.postgresql import JSONB

from storage.crypto import DIALECT_ATTRIBUTE, Cipher, dump_json, looks_like_token
from storage.errors import StorageError

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, column, holds JSON)
COLUMNS: Final = (
    ("answers", "free_text", False),
    ("children", "name", False),
    ("children", "unit_text", False),
    ("conversations", "state", True),
)
BATCH: Final = 500
KEYRING_HELP: Final = (
    "give the encryption keyring (HJULET_ENCRYPTION_KEY_FILE or HJULET_ENCRYPTION_KEYS, as the running "
    "service has it) and run `hjulet db upgrade` again"
)


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    _check_keyring("encrypts")  # before any change: without a keyring nothing is half done
    with op.batch_alter_table("children") as batch:
        batch.alter_column("name", type_=sa.Text(), existing_type=sa.String(100), existing_nullable=True)
        batch.alter_column("unit_text", type_=sa.Text(), existing_type=sa.String(200), existing_nullable=True)
    with op.batch_alter_table("conversations") as batch:
        batch.alter_column(
            "state",
            type_=sa.Text(),
            existing_type=_json(),
            existing_nullable=False,
            postgresql_using="state::text",
        )
    for table, column, is_json in COLUMNS:
        _rewrite(table, column, _encrypt_json if is_json else _encrypt, "encrypts")


def downgrade() -> None:
    _check_keyring("decrypts")
    for table, column, _is_json in COLUMNS:
        _rewrite(table, column, _decrypt, "decrypts")
    with op.batch_alter_table("conversations") as batch:
        batch.alter_column(
            "state",
            type_=_json(),
            existing_type=sa.Text(),
            existing_nullable=False,
            postgresql_using="state::jsonb",
        )
    with op.batch_alter_table("children") as batch:
        batch.alter_column(
            "unit_text",
            type_=sa.String(200),
            existing_type=sa.Text(),
            existing_nullable=True,
            postgresql_using="left(unit_text, 200)",
        )
        batch.alter_column(
            "name",
            type_=sa.String(100),
            existing_type=sa.Text(),
            existing_nullable=True,
            postgresql_using="left(name, 100)",
        )


def _check_keyring(verb: str) -> None:
    """Stop at once when there are values to convert and no keyring to do it with."""
    if context.is_offline_mode():
        raise StorageError(f"migration 0006 {verb} stored values: run it on the database, not as SQL")
    bind = op.get_bind()
    for table, column, _is_json in COLUMNS:
        values: sa.ColumnClause[str] = sa.column(column, sa.Text())
        query = sa.select(values).select_from(sa.table(table, values)).where(values.is_not(None)).limit(1)
        if bind.execute(query).first() is not None:
            _cipher(verb)
            return


def _rewrite(table_name: str, column: str, change: Callable[[Cipher, str], str | None], verb: str) -> None:
    """Run ``change`` over every value of the column, ``BATCH`` rows at a time, in id order."""
    bind = op.get_bind()
    table = sa.table(table_name, sa.column("id", sa.Integer()), sa.column(column, sa.Text()))
    values = table.c[column]
    cipher: Cipher | None = None
    last = 0
    while True:
        query = (
            sa.select(table.c.id, values)
            .where(values.is_not(None), table.c.id > last)
            .order_by(table.c.id)
            .limit(BATCH)
        )
        rows = bind.execute(query).all()
        if not rows:
            return
        cipher = cipher or _cipher(verb)
        for row_id, value in rows:
            new = change(cipher, value)
            if new is not None and new != value:
                bind.execute(sa.update(table).where(table.c.id == row_id).values({column: new}))
        last = rows[-1][0]


def _cipher(verb: str) -> Cipher:
    cipher = getattr(op.get_bind().dialect, DIALECT_ATTRIBUTE, None) or context.config.attributes.get(
        "cipher"
    )
    if cipher is None:
        raise StorageError(
            f"migration 0006 {verb} the names, own words and conversations already stored and needs "
            f"the encryption keyring: {KEYRING_HELP}"
        )
    return cipher  # type: ignore[no-any-return]


def _encrypted(cipher: Cipher, value: str) -> bool:
    return cipher.reveal(value) is not value  # a token of this keyring: done by an earlier run


def _encrypt(cipher: Cipher, value: str) -> str | None:
    return None if _encrypted(cipher, value) else cipher.encrypt(value)


def _encrypt_json(cipher: Cipher, value: str) -> str | None:
    return None if _encrypted(cipher, value) else cipher.encrypt(dump_json(json.loads(value)))


def _decrypt(cipher: Cipher, value: str) -> str | None:
    """The plain text of a token (a token of an unknown key stops the downgrade); plain text stays."""
    return cipher.decrypt(value) if looks_like_token(value) else None
