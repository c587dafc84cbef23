"""Importing a directory file: all or nothing, and a list of what changed.

The file is read and validated first; then the directory is replaced, and exported again to see
what changed, in one transaction. Any error, in the file or from the database, leaves the database
exactly as it was. A dry run does the same work and rolls it back.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.directory_file import read_directory
from storage.directory import Directory, DirectoryData
from storage.errors import StorageError

KEYS: Final = {"municipalities": "code", "units": "code", "staff": "email"}


@dataclass(frozen=True)
class Changes:
    """Keys (codes, e-mail addresses, rules as text) added, changed and removed, by section.

    Units and staff that are removed are deactivated, not deleted.
    """

    added: dict[str, list[str]] = field(default_factory=dict)
    changed: dict[str, list[str]] = field(default_factory=dict)
    removed: dict[str, list[str]] = field(default_factory=dict)

    @property
    def any(self) -> bool:
        return any(self.added.values()) or any(self.changed.values()) or any(self.removed.values())

    def lines(self) -> list[str]:
        """One line per section that changed, for a terminal."""
        result = []
        for section in (*KEYS, "rules"):
            parts = [
                f"{verb} {len(keys)} ({', '.join(keys)})"
                for verb, keys in (
                    ("added", self.added.get(section, [])),
                    ("changed", self.changed.get(section, [])),
                    (
                        "deactivated" if section in ("units", "staff") else "removed",
                        self.removed.get(section, []),
                    ),
                )
                if keys
            ]
            if parts:
                result.append(f"{section}: {'; '.join(parts)}")
        return result


@dataclass(frozen=True)
class ImportResult:
    counts: dict[str, int]  # municipalities, units, rules, staff in the file
    changes: Changes
    written: bool  # False for a dry run


def changes(before: DirectoryData, after: DirectoryData) -> Changes:
    result = Changes()
    for section, key in KEYS.items():
        old = {item[key]: item for item in getattr(before, section)}
        new = {item[key]: item for item in getattr(after, section)}
        result.added[section] = sorted(new.keys() - old.keys())
        result.removed[section] = sorted(old.keys() - new.keys())
        result.changed[section] = sorted(k for k in new.keys() & old.keys() if new[k] != old[k])
    old_rules, new_rules = set(map(_rule, before.rules)), set(map(_rule, after.rules))
    result.added["rules"], result.removed["rules"] = (
        sorted(new_rules - old_rules),
        sorted(old_rules - new_rules),
    )
    return result


def _rule(rule: dict[str, Any]) -> str:
    return f"{rule['municipality']} {rule['min_age_months']}-{rule['max_age_months']} {rule['kind']}"


@contextmanager
def database_errors(what: str) -> Iterator[None]:
    """Turn a database's refusal into a one-line ``StorageError`` (the transaction is rolled back)."""
    try:
        yield
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        raise StorageError(
            f"the database refused {what}, nothing was changed: {reason[0] if reason else type(exc).__name__}"
        ) from exc


async def apply_directory(
    session_factory: async_sessionmaker[AsyncSession],
    data: DirectoryData,
    *,
    dry_run: bool = False,
    then: Callable[[Directory], Awaitable[None]] | None = None,
) -> ImportResult:
    """Make the directory `data` (already validated) in one transaction; `then` runs in it too."""
    with database_errors("the directory"):
        async with session_factory() as session, session.begin() as transaction:
            directory = Directory(session)
            before = await directory.export()
            counts = await directory.replace(data)
            if then is not None:
                await then(directory)
            after = await directory.export()
            if dry_run:
                await transaction.rollback()
    return ImportResult(counts, changes(before, after), written=not dry_run)


async def import_directory(
    session_factory: async_sessionmaker[AsyncSession], path: Path | str, *, dry_run: bool = False
) -> ImportResult:
    """Read, validate and apply the directory file at `path`; all or nothing.

    Raises ``DirectoryFileError`` (a bad file, every problem with its line) or ``StorageError``.
    """
    return await apply_directory(session_factory, read_directory(path), dry_run=dry_run)
