"""Two workers on one database never take the same update or the same outbox row.

An update is taken with its id (`processed_events`, a primary key, in the same transaction as its
effects): a second worker's insert waits for the first one's transaction and then finds the id taken.
An outbox row is claimed with SELECT ... FOR UPDATE SKIP LOCKED on PostgreSQL (another sender skips
rows being claimed instead of waiting for them) and an UPDATE that checks the row is still due.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.crypto import Cipher
from storage.database import make_engine, make_session_factory, unavailable
from storage.outbox import Outbox
from tests.faults.conftest import Records
from tests.faults.harness import EXPECTED_CODES, SCRIPT, Family, Hjulet, Telegram

CHATS, ROWS = 40, 6


async def _fill(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session, session.begin():
        outbox = Outbox(session)
        for row in range(ROWS):
            for chat in range(CHATS):
                await outbox.add(
                    channel="telegram",
                    chat_key=f"chat-{chat:03}",
                    user_id=None,
                    address=str(chat),
                    kind="message",
                    payload={"text": f"{chat}/{row}"},
                )


async def _sender(
    sessions: async_sessionmaker[AsyncSession], name: str, claims: list[tuple[str, int]]
) -> None:
    """Claim, "send", mark sent, as the Telegram sender does, until nothing is left."""
    idle = 0
    while idle < 3:
        try:
            async with sessions() as session, session.begin():
                items = await Outbox(session).claim_due("telegram", limit=7)
            claims.extend((name, item.id) for item in items)
            await asyncio.sleep(0)  # the other sender runs in between
            async with sessions() as session, session.begin():
                for item in items:
                    await Outbox(session).mark_sent(item.id, str(item.id))
        except Exception as exc:  # SQLite busy: the sender tries again, as the real one does
            if not unavailable(exc):
                raise
            items = []
        idle = 0 if items else idle + 1


async def test_two_senders_claim_every_outbox_row_exactly_once_and_in_order(
    database_url: str, cipher: Cipher
) -> None:
    engines = [make_engine(database_url, cipher=cipher) for _ in range(2)]
    try:
        first, second = (make_session_factory(engine) for engine in engines)
        await _fill(first)
        claims: list[tuple[str, int]] = []
        await asyncio.gather(_sender(first, "one", claims), _sender(second, "two", claims))
        async with first() as session:
            counts = await Outbox(session).counts("telegram")
    finally:
        for engine in engines:
            await engine.dispose()

    claimed = Counter(row for _, row in claims)
    assert len(claimed) == CHATS * ROWS and set(claimed.values()) == {1}  # each row once
    assert counts == {"sent": CHATS * ROWS}
    if database_url.startswith("postgresql"):  # (SQLite lets one writer at a time: one may take all)
        by = Counter(name for name, _ in claims)
        assert by["one"] and by["two"], by  # both did claim
    # a chat's rows were claimed in the order written: row n is never claimed before row n-1 is sent
    order = [row for _, row in claims]
    for chat in range(CHATS):
        ids = [row for row in order if (row - 1) % CHATS == chat]
        assert ids == sorted(ids)


async def test_a_sender_does_not_wait_for_rows_another_is_claiming(postgres_url: str, cipher: Cipher) -> None:
    """SKIP LOCKED: while one sender's claim is open, the other takes the other chats at once."""
    engines = [make_engine(postgres_url, cipher=cipher) for _ in range(2)]
    try:
        first, second = (make_session_factory(engine) for engine in engines)
        await _fill(first)
        async with first() as holding, holding.begin():
            held = await Outbox(holding).claim_due("telegram", limit=10)  # locked, not committed
            started = time.monotonic()
            async with second() as session, session.begin():
                other = await asyncio.wait_for(Outbox(session).claim_due("telegram", limit=100), 5)
            waited = time.monotonic() - started
    finally:
        for engine in engines:
            await engine.dispose()
    assert len(held) == 10 and len(other) == CHATS - 10
    assert not {item.chat_key for item in held} & {item.chat_key for item in other}
    assert waited < 1.0


@pytest.mark.slow
async def test_two_webhook_workers_each_given_every_update_handle_it_once(
    telegram: Telegram, postgres_url: str, tmp_path: Path
) -> None:
    """Two `hjulet serve` processes on one PostgreSQL, and every update delivered to both at the same
    moment (Telegram's redelivery racing the first delivery, say): each update is handled once, each
    answer stored once, each reply sent once, by whichever worker's sender claimed it."""
    telegram.fan_out = True
    data = tmp_path / "var"
    lease = {"HJULET_OUTBOX_LEASE_SECONDS": "20"}  # longer than a send can take: no lease runs out here
    workers = [
        Hjulet.webhook(
            telegram, postgres_url, data, tmp_path / f"{name}.log", **lease,
            HJULET_TELEGRAM_API_BASE=f"{telegram.base}/{name}",  # the messages show who sent them
        )
        for name in ("one", "two")
    ]  # fmt: skip
    families = [Family(telegram, 7101 + n) for n in range(6)]
    steps = SCRIPT[:14]  # through the consents, the child and seven wheel questions
    try:
        await asyncio.gather(*(worker.start() for worker in workers))
        await telegram.until(lambda: len(telegram.webhooks) == 2, "both webhooks")
        await asyncio.gather(*(family.run_steps(steps) for family in families))
        for worker in workers:
            assert await worker.stopped_cleanly()
    finally:
        for worker in workers:
            await worker.close()

    async with Records(postgres_url, data) as db:
        handled = await db.rows("select event_id from processed_events")
        records = {f.user_id: await db.family(f.user_id) for f in families}
        refs = await db.rows("select chat_key, sent_ref from outbox where kind = 'message'")
        outbox = dict(await db.rows("select status, count(*) from outbox group by status"))
        chats = {db.chat_key(f.user_id): f.user_id for f in families}
    updates = [u for f in families for u in f.updates]
    deliveries = Counter((d.update_id, d.url) for d in telegram.deliveries if d.status == 200)
    assert all(deliveries[(u, url)] == 1 for u in updates for url in telegram.webhooks)  # both got each
    assert sorted(e for (e,) in handled) == sorted(f"telegram:{u}" for u in updates)
    answered = 6  # steps[7:14] answer the first six wheel questions
    for record in records.values():
        assert [code for _, code, _ in record.answers] == list(EXPECTED_CODES[:answered])
    assert set(outbox) == {"sent"}
    named = {(chats[key], int(ref)) for key, ref in refs}
    assert sorted((s.chat_id, s.message_id) for s in telegram.stored) == sorted(named)  # each once
    transcripts = [telegram.sends_to(f.user_id) for f in families]
    assert all(t == transcripts[0] for t in transcripts)
    by = Counter(s.sender for s in telegram.stored)
    assert by["one"] and by["two"], by  # both senders delivered
    print(
        f"two workers: {len(updates)} updates, each to both ({sum(deliveries.values())} deliveries), "
        f"handled once; {len(telegram.stored)} replies sent once (worker one {by['one']}, two {by['two']})"
    )
