"""What the desk's authorization, browser and API tests share: the desk's settings, its staff with
passwords and tokens (plus a named person at the school, who must never see the BVC's concerns), a
family whose worry becomes a concern, and a helper that snapshots the database.

Not a conftest: the tests import what they use.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import secrets
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
import uvicorn
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.app import create_app
from backend.auth import COOKIE
from backend.passwords import hash_password, new_token
from bot.service import ConversationService, IncomingMessage
from bot.settings import Settings, load_settings
from storage.desk import Staff
from storage.directory import Directory
from storage.models import Base, Concern

PASSWORD = "correct horse battery staple"
TEACHER = "sara@skolan.se"  # a named person of another unit (the school)
EMAILS = {
    "nurse_a": "a@bvc.se",
    "nurse_b": "b@bvc.se",
    "lead": "lead@bvc.se",
    "coordinator_lead": "lead@samordning.se",
    "admin": "admin@kommun.se",
    "teacher": TEACHER,
}
# Rows that change by being signed in or calling the API, not by what a request asks for.
VOLATILE_TABLES = frozenset({"audit_log", "staff_sessions", "staff_tokens", "alembic_version"})


@functools.cache
def password_hash() -> str:
    """One argon2id hash for every member of staff (hashing seven times would cost seconds)."""
    return hash_password(PASSWORD)


def desk_settings(database_url: str, data_dir: Path, **more: Any) -> Settings:
    """The desk's settings on a test database; the same `data_dir` gives the same keys to a bot."""
    keys = f"t1 {base64.b64encode(secrets.token_bytes(32)).decode()}"
    more.setdefault("encryption_keys", keys)
    return load_settings(data_dir=data_dir, database_url=database_url, default_language="en", **more)


async def prepare_staff(
    sessions: async_sessionmaker[AsyncSession], directory: dict[str, int]
) -> dict[str, int]:
    """Add the school's named person; give everyone the test password and English. Returns the
    directory's ids with `teacher` added."""
    async with sessions() as session, session.begin():
        teacher = Staff(email=TEACHER, name="Sara", role="named_person", unit_id=directory["school"])
        session.add(teacher)
        await session.flush()
        for person in await Directory(session).staff_list():
            person.password_hash, person.language = password_hash(), "en"
        return {**directory, "teacher": teacher.id}


async def issue_tokens(
    sessions: async_sessionmaker[AsyncSession], staff_ids: dict[str, int]
) -> dict[str, str]:
    """A fresh API token for each named member of staff."""
    tokens = {name: new_token() for name in staff_ids}
    async with sessions() as session, session.begin():
        for name, token in tokens.items():
            await Directory(session).add_token(staff_ids[name], token)
    return tokens


@asynccontextmanager
async def running_desk(settings: Settings) -> AsyncIterator[FastAPI]:
    """The desk app with its lifespan running (as uvicorn would run it), in this process."""
    app = create_app(settings, migrate=False)
    async with app.router.lifespan_context(app):
        yield app


@asynccontextmanager
async def served(app: FastAPI) -> AsyncIterator[str]:
    """The app under uvicorn on a free port of 127.0.0.1 (its lifespan runs as in `hjulet serve`)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert not task.done(), "uvicorn stopped while starting"
            assert time.monotonic() < deadline, "uvicorn did not start"
            await asyncio.sleep(0.02)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 30)
        sock.close()


def client(app: FastAPI, **headers: str) -> httpx.AsyncClient:
    """A client of its own (its own cookies) that gets a 500 as a response, not as an exception."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(
        transport=transport, base_url="http://desk.test", headers={"Accept-Language": "en", **headers}
    )


async def open_session(
    sessions: async_sessionmaker[AsyncSession], browser: httpx.AsyncClient, staff_id: int
) -> str:
    """Sign a member of staff in without the password form (argon2 costs a quarter of a second a
    time; the form itself is tested in test_desk_story): a server-side session and its cookie.
    Returns the session's CSRF token."""
    session_id, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
    async with sessions() as session, session.begin():
        await Directory(session).add_session(session_id, staff_id, csrf)
    browser.cookies.set(COOKIE, session_id, domain=browser.base_url.host)
    return csrf


async def console_worry(service: ConversationService, user: str, words: str) -> int:
    """A family on the console: English, both consents, no name, a 3-year-old, no unit; worried
    about the first question, in `words`. Returns the concern that this filed."""

    async def say(**fields: str) -> None:
        await service.handle(IncomingMessage("console", user, language_hint="en", **fields))

    await service.handle(IncomingMessage("console", user, start=True, language_hint="en"))
    for choice in ("en", "yes", "yes", "skip"):
        await say(choice=choice)
    await say(text="3")
    for choice in ("skip", "worried"):
        await say(choice=choice)
    await say(text=words)
    async with service.sessions() as session:
        concern_id = await session.scalar(sa.select(sa.func.max(Concern.id)))
    assert concern_id is not None
    return int(concern_id)


async def snapshot(sessions: async_sessionmaker[AsyncSession]) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table that a request could change (not sessions, tokens or the audit), as
    stored: encrypted columns stay encrypted, so even a re-encryption shows."""
    rows: dict[str, list[tuple[Any, ...]]] = {}
    async with sessions() as session:
        for table in Base.metadata.sorted_tables:
            if table.name in VOLATILE_TABLES:
                continue
            order = ", ".join(column.name for column in table.primary_key.columns)
            query = sa.text(f"SELECT * FROM {table.name} ORDER BY {order}")
            rows[table.name] = [tuple(row) for row in await session.execute(query)]
    return rows


def changed(before: dict[str, list[tuple[Any, ...]]], after: dict[str, list[tuple[Any, ...]]]) -> list[str]:
    """The tables whose rows differ."""
    return [name for name in before if before[name] != after.get(name)]
