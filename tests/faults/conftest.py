"""Fixtures of the fault tests: the fake Telegram, PostgreSQL databases of their own, a TCP proxy, and
a reader that sees the database as the app does (with its keys)."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from bot.settings import load_settings
from bot.wiring import load_cipher
from storage import load_or_create_secret, pseudonym
from storage.database import make_engine, upgrade
from storage.models import Answer, Child, Conversation, User
from tests.conftest import POSTGRES_ADMIN_URL_ENV
from tests.faults.harness import Telegram
from tests.faults.proxy import TcpProxy


@pytest.fixture
async def telegram() -> AsyncIterator[Telegram]:
    api = Telegram()
    await api.start()
    try:
        yield api
    finally:
        await api.stop()


@asynccontextmanager
async def postgres_database() -> AsyncIterator[str]:
    """A migrated PostgreSQL database that exists only inside the block."""
    admin_url = os.environ.get(POSTGRES_ADMIN_URL_ENV)
    if not admin_url:
        pytest.skip(f"{POSTGRES_ADMIN_URL_ENV} not set: the PostgreSQL faults need a server")
    name = f"hjulet_fault_{secrets.token_hex(6)}"
    admin = create_async_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        async with admin.connect() as connection:
            await connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        try:
            await _upgrade(url)
            yield url
        finally:
            async with admin.connect() as connection:
                await connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await admin.dispose()


async def _upgrade(url: str) -> None:
    import asyncio

    await asyncio.to_thread(upgrade, url)


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    async with postgres_database() as url:
        yield url


@pytest.fixture
async def sqlite_url(tmp_path: Path) -> str:
    """A migrated SQLite database of this test only (for tests that need not run on both)."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'db' / 'hjulet.db'}"
    await _upgrade(url)
    return url


@pytest.fixture
async def proxy() -> AsyncIterator[TcpProxy]:
    """A TCP proxy in front of the test PostgreSQL server (skipped without one)."""
    admin_url = os.environ.get(POSTGRES_ADMIN_URL_ENV)
    if not admin_url:
        pytest.skip(f"{POSTGRES_ADMIN_URL_ENV} not set: the PostgreSQL faults need a server")
    target = make_url(admin_url)
    tcp = await TcpProxy.start(target.host or "127.0.0.1", target.port or 5432)
    try:
        yield tcp
    finally:
        await tcp.close()


@dataclass(frozen=True)
class FamilyRecord:
    answers: list[tuple[str, str, str | None]]  # (question, code, free text) in the order stored
    concerns: int
    children: list[tuple[str | None, int | None]]  # (name, age in years)


class Records:
    """The database as the app sees it: with the app's keys (from its data folder), for checking."""

    def __init__(self, url: str, data_dir: Path) -> None:
        settings = load_settings(data_dir=data_dir, database_url=url)
        self.secret = load_or_create_secret(settings.key_file)
        self.engine: AsyncEngine = make_engine(url, cipher=load_cipher(settings))

    def chat_key(self, user_id: int) -> str:
        return pseudonym(self.secret, "telegram", str(user_id))

    async def scalar(self, sql: str, **params: Any) -> Any:
        async with self.engine.connect() as connection:
            return await connection.scalar(sa.text(sql), params)

    async def rows(self, sql: str, **params: Any) -> list[tuple[Any, ...]]:
        async with self.engine.connect() as connection:
            return [tuple(row) for row in await connection.execute(sa.text(sql), params)]

    async def sending(self) -> dict[str, int]:
        """Outbox rows on their way (claimed, not yet marked), per chat key."""
        rows = await self.rows(
            "select chat_key, count(*) from outbox where status = 'sending' group by chat_key"
        )
        return {key: count for key, count in rows}

    async def family(self, user_id: int) -> FamilyRecord:
        async with self.engine.connect() as connection:
            user = await connection.scalar(
                sa.select(User.id).where(User.channel == "telegram", User.pseudonym == self.chat_key(user_id))
            )
            query = (
                sa.select(Answer.question_id, Answer.code, Answer.free_text)
                .join(Conversation, Conversation.id == Answer.conversation_id)
                .where(Conversation.user_id == user)
                .order_by(Answer.id)
            )
            answers = [(q, c, t) for q, c, t in await connection.execute(query)]
            concerns = await connection.scalar(
                sa.text("select count(*) from concerns where user_id = :user"), {"user": user}
            )
            children = sa.select(Child.name, Child.age_years).where(Child.user_id == user).order_by(Child.id)
            kids = [(name, age) for name, age in await connection.execute(children)]
        return FamilyRecord(answers, int(concerns or 0), kids)

    async def __aenter__(self) -> Records:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.engine.dispose()
