"""Encryption at rest: what families, professionals and staff write is nowhere in the database as text.

Canaries (distinct random words) go in through the real code paths: a family in the chat gives the
child's name, the preschool and their own words; a professional hands over a worry; the named person
writes a note, a message to the family, a plan and an assessment. Then the whole database is dumped
(SQLite: the raw bytes of the file and its -wal/-shm/-journal files, before and after a checkpoint;
PostgreSQL: pg_dump) and no canary is in it, nor in the log. Every canary reads back through the app,
so the test cannot pass by losing what was written. Also: the migration that encrypts existing rows.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.casework import Casework
from backend.plans import AssessmentWork, PlanWork
from bot.service import ConversationService, IncomingMessage
from storage import (
    Store,
    alembic_config,
    chat_links,
    current_revision,
    make_engine,
    make_session_factory,
    plans,
    upgrade,
)
from storage.concerns import Concerns
from storage.crypto import Cipher
from storage.desk import Staff
from storage.errors import StorageError
from storage.models import Concern, Conversation, User
from tests.backend.conftest import desk_service, directory  # noqa: F401 (fixtures)

Factory = async_sessionmaker[AsyncSession]
PG_DUMP = "/usr/bin/pg_dump"


def canary(what: str) -> str:
    return f"Kanarie{what}{secrets.token_hex(4)}"


def say(service: ConversationService, user: str, **fields: Any) -> Any:
    return service.handle(IncomingMessage(channel="web", user_id=user, language_hint="en", **fields))


async def family_in_the_chat(service: ConversationService, name: str, unit: str, words: str) -> None:
    """English, both consents, the child's name, 3 years, the preschool as typed; worried about the
    first question, in their own words."""
    await say(service, "family", start=True)
    for choice in ("en", "yes", "yes"):
        await say(service, "family", choice=choice)
    await say(service, "family", text=name)
    await say(service, "family", text="3")
    await say(service, "family", text=unit)
    await say(service, "family", choice="worried")
    await say(service, "family", text=f"Hon är rädd på nätterna, {words}")


async def professional_in_the_chat(service: ConversationService, code: str, seen: str, when: str) -> None:
    await say(service, "pro", command="professional")
    for choice in ("worried", "preschool", "small"):
        await say(service, "pro", choice=choice)
    await say(service, "pro", text="solrosen")
    await say(service, "pro", text=code)
    await say(service, "pro", choice="yes")
    await say(service, "pro", text=f"Han kommer hungrig varje morgon: {seen}")
    await say(service, "pro", text=f"Sedan två veckor, {when}")


async def dump(url: str, sessions: Factory) -> bytes:
    """Everything the database holds, as an attacker with a copy of its files (or a dump) reads it."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":  # while the app runs, and after a checkpoint
        path = Path(parsed.database or "")
        files = [Path(f"{path}{suffix}") for suffix in ("", "-wal", "-shm", "-journal")]
        live = b"".join(f.read_bytes() for f in files if f.exists())  # the WAL as the app left it
        assert Path(f"{path}-wal").exists(), "expected SQLite's write-ahead log while the app runs"
        async with sessions() as session:
            await session.execute(sa.text("PRAGMA wal_checkpoint(TRUNCATE)"))
        return live + b"".join(f.read_bytes() for f in files if f.exists())
    assert Path(PG_DUMP).exists(), "the PostgreSQL run needs pg_dump"
    env = {**os.environ, "PGPASSWORD": parsed.password or ""}
    arguments = [PG_DUMP, "-h", parsed.host or "127.0.0.1", "-p", str(parsed.port or 5432)]
    arguments += ["-U", parsed.username or "postgres", "--no-password", parsed.database or ""]
    done = await asyncio.to_thread(subprocess.run, arguments, capture_output=True, env=env, check=False)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    assert b"CREATE TABLE public.answers" in done.stdout  # a real dump, not an empty one
    return done.stdout


def found_in(data: bytes, text: str) -> bool:
    """Whether ``text`` is in ``data`` in any encoding a database or a JSON writer might use."""
    forms = {text.encode(), text.encode("utf-16-le"), json.dumps(text).encode()[1:-1]}
    return any(form in data for form in forms)


async def test_no_canary_is_in_the_database_dump_or_the_log_and_every_one_reads_back(
    desk_service: ConversationService,  # noqa: F811
    directory: dict[str, int],  # noqa: F811
    session_factory: Factory,
    database_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    c = {k: canary(k) for k in ("Name", "Unit", "Words", "Seen", "When", "Note", "Msg", "Plan", "Triangle")}
    casework = Casework(desk_service)
    async with session_factory() as session, session.begin():
        teacher = Staff(email="t@solrosen.se", name="Tove", role="unit_lead", unit_id=directory["preschool"])
        session.add(teacher)
        await session.flush()
        code = await chat_links.new_code(session, teacher.id)
        anna = await session.get(Staff, directory["nurse_a"])
    assert anna is not None

    await family_in_the_chat(desk_service, c["Name"], c["Unit"], c["Words"])
    await professional_in_the_chat(desk_service, code, c["Seen"], c["When"])
    async with session_factory() as session:
        family = await session.scalar(sa.select(Concern).where(Concern.source == "family"))
        report = await session.scalar(sa.select(Concern).where(Concern.source == "professional"))
    assert family is not None and report is not None, "the family's worry and the report are concerns"
    await casework.note(anna, family.id, f"Ringde mamman. {c['Note']}")
    await casework.message_family(anna, family.id, f"Hej! Vill ni träffas på tisdag? {c['Msg']}")
    await PlanWork(casework).save(
        anna, family.id, {"needs": {"healthy": f"Sova hela natten {c['Plan']}"}, "expected": "Bättre sömn"}
    )
    await AssessmentWork(casework).save(
        anna, family.id, {"triangle": {"growing": {"strengths": f"Nyfiken {c['Triangle']}"}}}
    )

    stored = await dump(database_url, session_factory)
    assert [k for k, v in c.items() if found_in(stored, v)] == []
    assert [k for k, v in c.items() if found_in(caplog.text.encode(), v)] == []

    async with session_factory() as session:  # and all of it reads back, decrypted, through the app
        user_id = family.user_id
        data = await Store(session).user_data(user_id)
        assert [(child.name, child.unit_text) for child in data.children] == [(c["Name"], c["Unit"])]
        assert [a.free_text for a in data.answers if a.free_text] == [
            f"Hon är rädd på nätterna, {c['Words']}"
        ]
        conversation = await Store(session).latest_conversation(user_id)
        assert conversation is not None and c["Name"] in json.dumps(conversation.state, ensure_ascii=False)
        bodies = " ".join(e.body or "" for e in await Concerns(session).events(family.id))
        assert c["Note"] in bodies and c["Msg"] in bodies
        reports = [e.body or "" for e in await Concerns(session).events(report.id) if e.kind == "report"]
        assert len(reports) == 1 and c["Seen"] in reports[0] and c["When"] in reports[0]
        plan = await plans.plan_of_concern(session, family.id)
        assert plan is not None and c["Plan"] in plan.content["needs"]["healthy"]
        assessment = (await plans.assessments(session, family.id))[0]
        assert c["Triangle"] in assessment.content["triangle"]["growing"]["strengths"]


# ---- the migration that encrypts what was stored before ---------------------------------------

PLAIN = {
    "name": "Liv Åkesson",
    "unit": "Solrosens förskola",
    "words": "Hon sover dåligt sedan flytten",
    "state": {"vars": {"child.name": "Liv Åkesson", "comment": "sover dåligt"}, "lang": "sv"},
}


async def rows_at_0005(url: str) -> None:
    """A family's rows as the code of revision 0005 stored them: in plain text."""
    engine = make_engine(url)
    postgresql = make_url(url).get_backend_name() == "postgresql"
    state = "CAST(:state AS JSONB)" if postgresql else ":state"
    now = datetime(2026, 11, 20, 10, tzinfo=UTC) if postgresql else "2026-11-20 10:00:00.000000"
    statements = [
        "INSERT INTO users (id, channel, pseudonym, created_at) VALUES (1, 'web', :pseudonym, :now)",
        "INSERT INTO children (id, user_id, name, unit_text, created_at) VALUES (1, 1, :name, :unit, :now)",
        "INSERT INTO conversations (id, user_id, child_id, flow, status, language, state, version, "
        f"created_at, updated_at) VALUES (1, 1, 1, 'mapping', 'active', 'sv', {state}, 1, :now, :now)",
        "INSERT INTO answers (id, conversation_id, child_id, question_id, code, free_text, language, "
        "answered_at, updated_at) VALUES (1, 1, 1, 'safe_home', 'worried', :words, 'sv', :now, :now)",
        "INSERT INTO answers (id, conversation_id, child_id, question_id, code, language, answered_at, "
        "updated_at) VALUES (2, 1, 1, 'safe_comfort', 'good', 'sv', :now, :now)",
    ]
    values = {
        **PLAIN,
        "state": json.dumps(PLAIN["state"]),
        "pseudonym": "a" * 64,
        "now": now,
    }
    try:
        async with engine.begin() as connection:
            for statement in statements:
                names = {p for p in values if f":{p}" in statement}
                await connection.execute(sa.text(statement), {n: values[n] for n in names})
    finally:
        await engine.dispose()


async def raw_values(url: str) -> list[Any]:
    """The child's name and unit, the answers' own words and the conversation's state, as stored."""
    queries = (
        "SELECT name, unit_text FROM children",
        "SELECT free_text FROM answers WHERE free_text IS NOT NULL ORDER BY id",
        "SELECT state FROM conversations",
    )
    engine = make_engine(url)
    try:
        async with engine.connect() as connection:
            return [v for query in queries for row in await connection.execute(sa.text(query)) for v in row]
    finally:
        await engine.dispose()


async def test_the_migration_encrypts_stored_rows_and_the_downgrade_decrypts_them(
    blank_database_url: str, cipher: Cipher
) -> None:
    url = blank_database_url
    await asyncio.to_thread(upgrade, url, "0005")
    await rows_at_0005(url)

    with pytest.raises(StorageError, match="needs the encryption keyring"):
        await asyncio.to_thread(upgrade, url)  # no keyring: stops, with the way out in the message
    assert current_revision(url) == "0005"

    await asyncio.to_thread(upgrade, url, cipher=cipher)
    stored = await raw_values(url)
    assert len(stored) == 4 and all(isinstance(v, str) and v.startswith("test.") for v in stored)
    assert not any(
        found_in(str(v).encode(), text) for v in stored for text in ("Åkesson", "Solrosen", "flytten")
    )
    engine = make_engine(url, cipher=cipher)
    try:
        async with make_session_factory(engine)() as session:
            data = await Store(session).user_data(1)
            conversation = await session.get(Conversation, 1)
            assert await session.get(User, 1) is not None
    finally:
        await engine.dispose()
    assert [(child.name, child.unit_text) for child in data.children] == [(PLAIN["name"], PLAIN["unit"])]
    assert [a.free_text for a in data.answers] == [PLAIN["words"], None]
    assert conversation is not None and conversation.state == PLAIN["state"]

    await asyncio.to_thread(upgrade, url, cipher=cipher)  # at head: nothing encrypted twice
    assert len(await raw_values(url)) == 4

    config = alembic_config(url, cipher=cipher)
    await asyncio.to_thread(command.downgrade, config, "0005")
    plain = await raw_values(url)
    assert plain[:3] == [PLAIN["name"], PLAIN["unit"], PLAIN["words"]]
    state = plain[3] if isinstance(plain[3], dict) else json.loads(plain[3])
    assert state == PLAIN["state"]
