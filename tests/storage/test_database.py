"""Engines: SQLite settings, and readable errors for bad URLs and unreachable databases."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from storage import StorageError, current_revision, make_engine, make_session_factory, mask_url, ping, upgrade

PASSWORD = "Hemlig-123"


async def test_sqlite_gets_its_folder_and_pragmas(tmp_path: Path) -> None:
    path = tmp_path / "var" / "data" / "hjulet.db"
    engine = make_engine(f"sqlite+aiosqlite:///{path}")
    try:
        async with engine.connect() as connection:
            pragmas = {
                name: (await connection.execute(text(f"PRAGMA {name}"))).scalar()
                for name in ("journal_mode", "foreign_keys", "busy_timeout", "synchronous")
            }
    finally:
        await engine.dispose()
    assert path.exists()
    assert pragmas == {"journal_mode": "wal", "foreign_keys": 1, "busy_timeout": 5000, "synchronous": 1}


async def test_postgresql_engines_ping_before_use() -> None:
    engine = make_engine("postgresql+asyncpg://hjulet@127.0.0.1:5432/hjulet")
    try:
        assert engine.pool._pre_ping
        assert engine.url.drivername == "postgresql+asyncpg"
    finally:
        await engine.dispose()


def test_bare_scheme_names_get_the_asyncio_drivers(tmp_path: Path) -> None:
    assert make_engine(f"sqlite:///{tmp_path}/a.db").url.drivername == "sqlite+aiosqlite"
    assert make_engine("postgres://u@h/db").url.drivername == "postgresql+asyncpg"


@pytest.mark.parametrize(
    ("url", "says"),
    [
        (
            f"mysql+aiomysql://hjulet:{PASSWORD}@db/hjulet",
            "Unsupported database URL mysql+aiomysql://hjulet:***@db",
        ),
        (f"hjulet:{PASSWORD}@db", "Not a database URL"),
    ],
)
def test_an_unknown_url_is_a_readable_error(url: str, says: str) -> None:
    with pytest.raises(StorageError, match="use sqlite") as caught:
        make_engine(url)
    message = str(caught.value)
    assert says in message
    assert PASSWORD not in message and "\n" not in message


def test_an_unreachable_server_is_a_readable_error_without_the_password() -> None:
    url = f"postgresql+asyncpg://hjulet:{PASSWORD}@127.0.0.1:1/hjulet"
    with pytest.raises(StorageError) as caught:
        upgrade(url)
    assert str(caught.value) == (
        "Cannot reach the database at postgresql+asyncpg://hjulet:***@127.0.0.1:1/hjulet: connection refused"
    )
    with pytest.raises(StorageError, match="connection refused"):
        current_revision(url)


async def test_ping_names_a_missing_postgresql_database() -> None:
    admin_url = os.environ.get("HJULET_TEST_DATABASE_URL")
    if not admin_url:
        pytest.skip("HJULET_TEST_DATABASE_URL not set")
    engine = make_engine(admin_url.rsplit("/", 1)[0] + "/hjulet_no_such_database")
    try:
        with pytest.raises(StorageError, match='database "hjulet_no_such_database" does not exist'):
            await ping(engine)
    finally:
        await engine.dispose()


def test_a_sqlite_file_that_cannot_be_made_is_a_readable_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(StorageError, match="Cannot create the folder"):
        make_engine(f"sqlite+aiosqlite:///{blocker}/sub/hjulet.db")
    not_a_db = tmp_path / "notes.db"
    not_a_db.write_text("hello " * 200)
    with pytest.raises(
        StorageError, match=r"Cannot reach the database at sqlite\+aiosqlite:///.*: .*not a database"
    ):
        upgrade(f"sqlite+aiosqlite:///{not_a_db}")


def test_mask_url_hides_passwords_even_in_unparsable_text() -> None:
    assert mask_url(f"postgresql+asyncpg://u:{PASSWORD}@h/db") == "postgresql+asyncpg://u:***@h/db"
    assert PASSWORD not in mask_url(f"weird://u:{PASSWORD}@h:port:x/db")


async def test_sqlite_sessions_take_turns_first_come_first_served(tmp_path: Path) -> None:
    """Sessions of different tasks never overlap on an SQLite file (none waits asleep in SQLite's
    busy handler), they go in the order they asked, and a session opened inside a turn (an audit
    row in a transaction of its own) goes in at once instead of waiting for itself."""
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'turns.db'}")
    sessions = make_session_factory(engine)
    inside, most, order, nested = 0, 0, [], []
    try:
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE t (n INTEGER)"))

        async def family(n: int) -> None:
            nonlocal inside, most
            async with sessions() as session, session.begin():
                inside += 1
                most = max(most, inside)
                order.append(n)
                await session.execute(text("INSERT INTO t VALUES (:n)"), {"n": n})
                await asyncio.sleep(0.002)  # other tasks run meanwhile, and ask for their turn
                if n % 5 == 0:
                    async with asyncio.timeout(2), sessions() as audit, audit.begin():
                        nested.append(n)
                        await audit.execute(text("SELECT count(*) FROM t"))
                inside -= 1

        tasks = []
        for n in range(40):
            tasks.append(asyncio.create_task(family(n)))
            await asyncio.sleep(0)  # each task asks for its turn before the next one starts
        await asyncio.gather(*tasks)
        async with sessions() as session:
            stored = (await session.execute(text("SELECT count(*) FROM t"))).scalar()
    finally:
        await engine.dispose()
    assert most == 1, f"{most} sessions were in at once"
    assert order == list(range(40))
    assert nested == list(range(0, 40, 5))
    assert stored == 40


async def test_postgresql_sessions_do_not_take_turns() -> None:
    engine = make_engine("postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
    try:
        assert make_session_factory(engine).class_ is AsyncSession
    finally:
        await engine.dispose()
