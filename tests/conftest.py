"""Shared fixtures: real databases, SQLite always and PostgreSQL when configured.

``database_url`` runs every test that uses it twice: on a fresh SQLite file, and on a fresh PostgreSQL
database created for the test on the server named by ``HJULET_TEST_DATABASE_URL`` (an admin URL such
as ``postgresql+asyncpg://postgres@127.0.0.1:5432/postgres``) and dropped afterwards. Without that
variable the PostgreSQL runs are skipped.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

POSTGRES_ADMIN_URL_ENV = "HJULET_TEST_DATABASE_URL"

# tests/ mirrors the package names (tests/storage, tests/bot, ...) without __init__.py files, and
# pytest puts tests/ itself on sys.path for this conftest: there, tests/storage would be imported as
# a namespace package in place of the real storage/. With the project root on sys.path the regular
# packages win. (`pythonpath = ["."]` in pytest's settings would do the same.)
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@pytest.fixture(params=["sqlite", "postgresql"])
async def blank_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """The URL of an empty database that exists only for this test."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'db' / 'hjulet.db'}"
        return
    admin_url = os.environ.get(POSTGRES_ADMIN_URL_ENV)
    if not admin_url:
        pytest.skip(f"{POSTGRES_ADMIN_URL_ENV} not set")
    name = f"hjulet_test_{secrets.token_hex(6)}"
    admin = create_async_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        async with admin.connect() as connection:
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        finally:
            async with admin.connect() as connection:
                await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await admin.dispose()


@pytest.fixture
async def database_url(blank_database_url: str) -> str:
    """The URL of a database of this test, migrated to the newest revision."""
    from storage.database import upgrade

    await asyncio.to_thread(upgrade, blank_database_url)
    return blank_database_url


@pytest.fixture(scope="session")
def understanding():
    """The real NLU (language, intent, risk), loaded once for the whole run."""
    from nlu import load

    return load()


@pytest.fixture
def cipher():
    """An encryption keyring with one fresh key."""
    from storage.crypto import Cipher

    return Cipher([("test", secrets.token_bytes(32))])


@pytest.fixture
async def session_factory(database_url: str, cipher) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions on the migrated test database; the engine is disposed after the test."""
    from storage.database import make_engine, make_session_factory

    engine = make_engine(database_url, cipher=cipher)
    try:
        yield make_session_factory(engine)
    finally:
        await engine.dispose()
