"""Key rotation: what each key holds, re-encryption under the active key, and the keyring file.

A rotation without downtime (``hjulet keys rotate``):

1. A new key is put first in the keyring file (``add_key``); the old keys stay, for reading. Every
   running process reads the file again within ``RELOAD_SECONDS`` when it next encrypts, and at once
   when it meets a value under a key id it does not know (``storage.crypto.Cipher``).
2. ``reencrypt`` rewrites every value under another key, a batch of rows per short transaction. A row
   is rewritten only if it still holds the value that was read (compare and set), so a family's save
   in the meantime is never overwritten; nothing else in the row changes (not ``updated_at``, not the
   conversation's version), so no running process sees a conflict.
3. Once ``RELOAD_SECONDS`` have passed since the key file changed, a last sweep takes the values that a
   process wrote with the old key just before it noticed the new one.
4. ``retire`` removes an old key from the file, and only when it holds no value.

Every step is safe to interrupt and to run again: a rotation continues where it stopped. Key material
is never printed or logged; only key ids are.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.crypto import RELOAD_SECONDS, Cipher, EncryptedJSON, EncryptedText, new_key_line, parse_keys
from storage.crypto import write_keyring as _write_keyring
from storage.errors import StorageError
from storage.models import Base

BATCH: Final = 200  # rows per transaction: short enough not to hold a family's save for long
SETTLE_SECONDS: Final = RELOAD_SECONDS + 1.0  # running processes encrypt with a new key by then
SWEEPS: Final = 5
ENVIRONMENT: Final = "HJULET_ENCRYPTION_KEYS"
OTHER: Final = "?"  # a value under no key of the keyring: a key missing from it, or not encrypted

Factory = async_sessionmaker[AsyncSession]


@dataclass(frozen=True)
class EncryptedColumn:
    table: str
    column: str

    @property
    def name(self) -> str:
        return f"{self.table}.{self.column}"

    def raw(self) -> tuple[sa.TableClause, sa.ColumnClause[str]]:
        """The table and the column as stored (text, not decrypted, no defaults on update)."""
        table = sa.table(self.table, sa.column("id", sa.Integer()), sa.column(self.column, sa.Text()))
        return table, table.c[self.column]


def encrypted_columns() -> list[EncryptedColumn]:
    """Every encrypted column of every table, found by its type: a new one is rotated with no change here."""
    found = []
    for table in Base.metadata.sorted_tables:
        for column in table.columns:
            if isinstance(column.type, EncryptedText | EncryptedJSON):
                keys = [c.name for c in table.primary_key.columns]
                if keys != ["id"]:
                    raise StorageError(f"{table.name} has an encrypted column but no single 'id' key")
                found.append(EncryptedColumn(table.name, column.name))
    return sorted(found, key=lambda c: c.name)


# ---- what each key holds --------------------------------------------------------------------


@dataclass
class KeyCounts:
    """How many stored values each key of the keyring holds, in all and per column."""

    keys: tuple[str, ...]  # the keyring's ids, the active one first
    by_column: dict[str, dict[str, int]]  # column -> key id (or OTHER) -> values

    def held(self, key_id: str) -> int:
        """Values under ``key_id`` (or, for ``OTHER``, under no key of the keyring)."""
        return sum(counts.get(key_id, 0) for counts in self.by_column.values())

    @property
    def other(self) -> int:
        return self.held(OTHER)

    @property
    def total(self) -> int:
        return sum(sum(counts.values()) for counts in self.by_column.values())

    @property
    def outdated(self) -> int:
        """Values not under the active key: what a rotation still has to do."""
        return self.total - self.held(self.keys[0])


async def count_keys(sessions: Factory, cipher: Cipher) -> KeyCounts:
    """Count the values under each key id of ``cipher``'s keyring by the tokens' prefixes, in the
    database: no value is read out, so a value that is not encrypted is counted, never shown."""
    cipher.reload()
    keys = cipher.key_ids
    by_column: dict[str, dict[str, int]] = {}
    async with sessions() as session:
        for column in encrypted_columns():
            table, raw = column.raw()
            under = [
                sa.func.coalesce(sa.func.sum(sa.case((_prefix(raw, key_id), 1), else_=0)), 0)
                for key_id in keys
            ]
            row = (await session.execute(sa.select(sa.func.count(raw), *under).select_from(table))).one()
            counts = {key_id: int(n) for key_id, n in zip(keys, row[1:], strict=True)}
            counts[OTHER] = int(row[0]) - sum(counts.values())
            by_column[column.name] = counts
    return KeyCounts(keys, by_column)


def _prefix(raw: sa.ColumnClause[str], key_id: str) -> sa.ColumnElement[bool]:
    marker = f"{key_id}."
    return sa.func.substr(raw, 1, len(marker)) == marker


# ---- re-encryption ----------------------------------------------------------------------------


@dataclass
class Progress:
    rewritten: int = 0
    changed_meanwhile: int = 0  # saved by someone else between reading and writing: a later sweep
    unreadable: list[str] = field(default_factory=list)  # "table.column#id": damaged, or an unknown key
    batches: int = 0
    seconds: float = 0.0
    stopped: bool = False  # by max_batches, before the end

    @property
    def rate(self) -> float:
        return self.rewritten / self.seconds if self.seconds > 0 else 0.0

    def add(self, other: Progress) -> None:
        self.rewritten += other.rewritten
        self.changed_meanwhile += other.changed_meanwhile
        self.unreadable += [u for u in other.unreadable if u not in self.unreadable]
        self.batches += other.batches
        self.seconds += other.seconds
        self.stopped = other.stopped


async def reencrypt(
    sessions: Factory,
    cipher: Cipher,
    *,
    batch_size: int = BATCH,
    max_batches: int | None = None,
    on_batch: Callable[[Progress], None] | None = None,
) -> Progress:
    """Re-encrypt, under the active key, every value that is under another key.

    One transaction per batch of ``batch_size`` rows; ``max_batches`` stops early (the next run goes
    on from there). Values that cannot be decrypted are left as they are and listed by row id.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    progress = Progress()
    started = time.perf_counter()
    try:
        for column in encrypted_columns():
            table, raw = column.raw()
            last = 0
            while True:
                if max_batches is not None and progress.batches >= max_batches:
                    progress.stopped = True
                    return progress
                async with sessions() as session, session.begin():
                    active = cipher.active
                    query = (
                        sa.select(table.c.id, raw)
                        .where(raw.is_not(None), ~_prefix(raw, active), table.c.id > last)
                        .order_by(table.c.id)
                        .limit(batch_size)
                    )
                    rows = (await session.execute(query)).all()
                    if not rows:
                        break
                    done = await rewrite_many(session, column, rows, cipher)
                    progress.rewritten += done.rewritten
                    progress.changed_meanwhile += done.changed_meanwhile
                    progress.unreadable += done.unreadable
                    last = rows[-1][0]
                progress.batches += 1
                if on_batch is not None:
                    progress.seconds = time.perf_counter() - started
                    on_batch(progress)
    finally:
        progress.seconds = time.perf_counter() - started
    return progress


async def rewrite_many(
    session: AsyncSession, column: EncryptedColumn, rows: Sequence[Any], cipher: Cipher
) -> Progress:
    """Re-encrypt stored values (``(id, value)`` rows) under the active key in one statement, each only
    if its row still holds the value read (compare and set)."""
    done, changes = Progress(), []
    for row_id, value in rows:
        try:
            changes.append((row_id, value, cipher.encrypt(cipher.decrypt(value))))
        except StorageError:
            done.unreadable.append(f"{column.name}#{row_id}")
    if not changes:
        return done
    table, raw = column.raw()
    if session.get_bind().dialect.name == "postgresql":  # one statement; RETURNING tells which rows
        ids, olds, news = (list(values) for values in zip(*changes, strict=True))
        given = (
            sa.func.unnest(
                sa.bindparam("ids", ids, type_=ARRAY(sa.Integer())),
                sa.bindparam("olds", olds, type_=ARRAY(sa.Text())),
                sa.bindparam("news", news, type_=ARRAY(sa.Text())),
            )
            .table_valued("id", "old", "new")
            .render_derived(name="given")
        )
        statement = (
            sa.update(table)
            .where(table.c.id == given.c.id, raw == given.c.old)
            .values({column.column: given.c.new})
            .returning(table.c.id)
        )
        done.rewritten = len((await session.execute(statement)).all())
    else:  # SQLite: one executemany in the driver's thread; its rowcount is the sum
        many = (
            sa.update(table)
            .where(table.c.id == sa.bindparam("row_id"), raw == sa.bindparam("old"))
            .values({column.column: sa.bindparam("new")})
        )
        rows_given = [{"row_id": row_id, "old": old, "new": new} for row_id, old, new in changes]
        result = await session.execute(many, rows_given)
        done.rewritten = int(result.rowcount)  # type: ignore[attr-defined]
    done.changed_meanwhile = len(changes) - done.rewritten
    return done


@dataclass
class Rotation:
    new_key: str | None  # the key this run made; None when it went on with the active key
    progress: Progress
    counts: KeyCounts


async def rotate(
    sessions: Factory,
    cipher: Cipher,
    *,
    new_key: bool = True,
    batch_size: int = BATCH,
    max_batches: int | None = None,
    settle_seconds: float = SETTLE_SECONDS,
    on_batch: Callable[[Progress], None] | None = None,
) -> Rotation:
    """Put a new key first (``new_key``, a keyring file only) and re-encrypt everything under it.

    When values are still under older keys (an earlier rotation stopped, or a key was added by hand)
    no new key is made: this run finishes that rotation. A keyring from the environment cannot be
    changed here: put the new key first there, on every process, and run this with ``new_key=False``.
    """
    before = await count_keys(sessions, cipher)
    made = None
    if new_key and before.outdated - before.other == 0:  # nothing left under an older key it has
        if cipher.source is None:
            raise StorageError(
                f"the keyring comes from {ENVIRONMENT}: put a new key first there on every process, "
                "then re-encrypt (hjulet keys rotate --keep-key)"
            )
        made = add_key(cipher.source)
        cipher.reload()
    progress = await reencrypt(
        sessions, cipher, batch_size=batch_size, max_batches=max_batches, on_batch=on_batch
    )
    if not progress.stopped:
        await _settle(cipher, settle_seconds)
        for _sweep in range(SWEEPS):  # what processes wrote with the old key before they noticed
            more = await reencrypt(sessions, cipher, batch_size=batch_size, on_batch=on_batch)
            progress.add(more)
            if more.rewritten == 0 and more.changed_meanwhile == 0:
                break
    return Rotation(made, progress, await count_keys(sessions, cipher))


async def _settle(cipher: Cipher, seconds: float) -> None:
    """Wait until ``seconds`` have passed since the key file last changed."""
    if cipher.source is None:
        return
    try:
        changed = cipher.source.stat().st_mtime
    except OSError:
        return
    wait = changed + seconds - time.time()
    if wait > 0:
        await asyncio.sleep(min(wait, seconds))


async def retire(
    sessions: Factory, cipher: Cipher, key_id: str, *, settle_seconds: float = SETTLE_SECONDS
) -> None:
    """Remove ``key_id`` from the keyring file: never the active key, and only when it holds nothing."""
    if cipher.source is None:
        raise StorageError(
            f"the keyring comes from {ENVIRONMENT}: remove the key there, once `hjulet keys status` "
            "shows it holds 0 values"
        )
    cipher.reload()
    if key_id not in cipher.key_ids:
        raise StorageError(f"there is no key {key_id!r} in the keyring")
    if key_id == cipher.active:
        raise StorageError(f"{key_id} is the active key: rotate to a new key first (hjulet keys rotate)")
    await _settle(cipher, settle_seconds)  # no process still encrypts with it
    held = (await count_keys(sessions, cipher)).held(key_id)
    if held:
        raise StorageError(
            f"key {key_id} still holds {held} values: re-encrypt them first (hjulet keys rotate)"
        )
    remove_key(cipher.source, key_id)
    cipher.reload()


# ---- the keyring file -------------------------------------------------------------------------


def add_key(path: Path) -> str:
    """Put a new key first in the keyring file (made, mode 0600, if missing); returns its id."""
    path = Path(path).expanduser()
    with _locked(path):
        lines = _lines(path) if path.exists() else []
        line = new_key_line()
        _write(path, [line, *lines])
    return line.split()[0]


def remove_key(path: Path, key_id: str) -> None:
    path = Path(path).expanduser()
    with _locked(path):
        lines = _lines(path)
        kept = [line for line in lines if line.split()[:1] != [key_id]]
        if len(kept) == len(lines):
            raise StorageError(f"there is no key {key_id!r} in {path}")
        _write(path, kept)


def _lines(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise StorageError(f"Cannot read the encryption key file {path}") from exc
    parse_keys(text, str(path))  # a damaged file is not made worse
    return [line.strip() for line in text.splitlines() if line.strip()]


def _write(path: Path, lines: list[str]) -> None:
    parse_keys("\n".join(lines), str(path))  # never write a keyring that cannot be read
    try:
        _write_keyring(path, lines)
    except OSError as exc:
        raise StorageError(f"Cannot write the encryption key file {path}: {exc.strerror}") from exc


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One change to the keyring file at a time (two rotations started at once)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path.with_name(f".{path.name}.lock"), os.O_WRONLY | os.O_CREAT, 0o600)
    except OSError as exc:
        raise StorageError(f"Cannot lock the encryption key file {path}: {exc.strerror}") from exc
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)
