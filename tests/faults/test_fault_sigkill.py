"""kill -9 of `hjulet telegram` while families talk to it: after each restart it goes on where it
stopped, every answer is stored once, every reply arrives, and none twice.

How the pieces make that true: an update's answer, new conversation state and replies (in the outbox)
are one transaction with the update's id (`processed_events`), so a kill before the commit loses
nothing (Telegram gives the unconfirmed update again) and a kill after it doubles nothing (the id is
taken). The outbox is at least once: a row is marked sent after Telegram answers. The one message
that can come twice is the one whose sendMessage Telegram had taken when the process died, before
the row was marked: Telegram has no idempotency key, so no sender can know. Each chat has at most one
message on its way (the outbox sends one chat's rows one after the other), so a kill can double at
most one message per chat, and only the newest it had. The tests check exactly that promise.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections.abc import Callable, Sized
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.faults.conftest import Records
from tests.faults.harness import COMMENT, EXPECTED_CODES, SCRIPT, Family, Hjulet, Stored, Telegram

pytestmark = pytest.mark.slow
FAMILIES = 6
KILLS = 3  # each costs a restart (~4 s of imports on this machine)


@dataclass
class Kill:
    where: str  # "handling" (updates fetched, not yet confirmed) or "sending" (a sendMessage just went out)
    restart: float  # time.monotonic() of the restart: a request the dying bot had written may still
    # have reached Telegram after the kill, never after the restart
    in_flight: int  # updates handed to the bot and not confirmed when it died
    sending: set[int]  # chats with an outbox row on its way (claimed, not marked) when it died


def in_doubt_copies(stored: list[Stored], kills: list[Kill]) -> list[tuple[Stored, Stored]]:
    """The second copies of messages Telegram had taken when a kill fell, before they were marked sent.

    A chat's outbox rows go one after the other, so after a kill the chat's next message is the row
    that was on its way. If that is the very message Telegram took last before the kill, it is a
    copy; otherwise the row had not reached Telegram and nothing is doubled."""
    copies = []
    for kill in kills:
        for chat in kill.sending:
            before = [s for s in stored if s.chat_id == chat and s.at < kill.restart]
            after = [s for s in stored if s.chat_id == chat and s.at > kill.restart]
            if before and after and after[0].text == before[-1].text:
                copies.append((before[-1], after[0]))
    return copies


def grown(items: Sized, more: int, finished: Callable[[], bool]) -> Callable[[], bool]:
    """A check: `items` has `more` entries than now (or the families are done)."""
    target = len(items) + more
    return lambda: finished() or len(items) >= target


def fetched_unconfirmed(api: Telegram) -> int:
    handed = {update_id for batch in api.batches for update_id in batch}
    return sum(1 for update_id in handed if update_id >= api.confirmed)


async def test_killed_again_and_again_mid_conversation_nothing_is_lost_or_doubled(
    telegram: Telegram, database_url: str, tmp_path: Path
) -> None:
    seed = int(os.environ.get("HJULET_FAULT_SEED") or random.randrange(1_000_000))
    rng = random.Random(seed)
    print(f"HJULET_FAULT_SEED={seed}")
    data = tmp_path / "var"
    bot = Hjulet.polling(telegram, database_url, data, tmp_path / "bot.log")
    families = [Family(telegram, 5101 + number) for number in range(FAMILIES)]
    kills: list[Kill] = []
    await bot.start()
    talking = [asyncio.create_task(family.run()) for family in families]

    def finished() -> bool:
        return all(task.done() for task in talking)

    try:
        async with Records(database_url, data) as db:
            chats = {db.chat_key(f.user_id): f.user_id for f in families}
            for number in range(KILLS):
                where = "handling" if number % 2 == 0 else "sending"
                if where == "handling":  # a batch of updates is in the bot's hands
                    await telegram.until(grown(telegram.batches, rng.randrange(1, 4), finished), "a batch")
                    delay = rng.uniform(0.0, 0.08)
                else:  # a reply is on its way to Telegram
                    await telegram.until(grown(telegram.stored, rng.randrange(1, 6), finished), "a send")
                    delay = rng.uniform(0.0, 0.004)
                await asyncio.sleep(delay)  # a random moment inside the work, not a synchronisation
                if where == "handling":  # the batch may be done by now: then kill inside the next one
                    await telegram.until(lambda: finished() or fetched_unconfirmed(telegram) > 0, "a batch")
                if finished():
                    break
                in_flight = fetched_unconfirmed(telegram)
                await bot.kill()
                sending = {chats[key] for key in await db.sending() if key in chats}
                kills.append(Kill(where, time.monotonic(), in_flight, sending))
                await bot.start()
            await asyncio.gather(*talking)
            assert await bot.stopped_cleanly(), "a clean stop after the last restart"

            updates = [u for f in families for u in f.updates]
            handled = await db.rows("select event_id from processed_events where event_id like 'telegram:%'")
            records = {f.user_id: await db.family(f.user_id) for f in families}
            outbox = dict(await db.rows("select status, count(*) from outbox group by status"))
            refs = await db.rows("select chat_key, sent_ref from outbox where kind in ('message', 'wheel')")
    finally:
        for task in talking:
            task.cancel()
        await bot.close()

    report = (
        f"seed {seed}: {len(kills)} kills ({sum(k.where == 'handling' for k in kills)} while handling, "
        f"{sum(k.in_flight for k in kills)} updates in the bot's hands at the kills), "
        f"{len(updates)} updates from {FAMILIES} families, {len(telegram.stored)} messages"
    )
    print(report)
    assert len(kills) >= 3, f"the families finished before the kills: {report}"
    assert all(k.in_flight for k in kills if k.where == "handling"), report

    # every update handled exactly once (the id is a primary key: twice cannot be stored)
    assert sorted(event for (event,) in handled) == sorted(f"telegram:{u}" for u in updates), report
    # every answer stored once, in order, the written worry with its words
    for user_id, record in records.items():
        assert [code for _, code, _ in record.answers] == list(EXPECTED_CODES), (user_id, report)
        assert len({question for question, _, _ in record.answers}) == len(EXPECTED_CODES)
        assert [text for _, _, text in record.answers if text] == [COMMENT], (user_id, report)
        assert record.concerns == 1, (user_id, report)
        assert record.children == [("Ali", 3)], (user_id, report)
    # every reply sent: nothing left in the outbox, nothing given up
    assert set(outbox) == {"sent"}, (outbox, report)

    # nothing doubled but the message Telegram had taken when a kill fell: each message Telegram
    # holds is the one its outbox row names as sent, or the first of such a pair
    copies = in_doubt_copies(telegram.stored, kills)
    first_copies = {first.message_id for first, _ in copies}
    named = {(chats[key], int(ref)) for key, ref in refs if key in chats}
    for message in telegram.stored:
        recorded = (message.chat_id, message.message_id) in named
        assert recorded or message.message_id in first_copies, (message.chat_id, message.text[:40], report)
    # every family read the same conversation, in the same order (the in-doubt copies left out)
    left_out = {again.message_id for _, again in copies}
    transcripts = {
        f.user_id: [
            s.text for s in telegram.stored if s.chat_id == f.user_id and s.message_id not in left_out
        ]
        for f in families
    }
    assert all(t == transcripts[families[0].user_id] for t in transcripts.values()), report
    assert all(f.done == len(SCRIPT) for f in families)
    print(f"lost: 0; doubled: {len(copies)}, each the message in Telegram's hands at a kill")


async def test_killed_mid_delivery_each_reply_arrives_once_but_the_one_telegram_had_not_answered(
    telegram: Telegram, sqlite_url: str, tmp_path: Path
) -> None:
    """Four families' replies go out in one round of the sender; the process dies while Telegram
    holds two of them: one it has taken (its answer not yet back), one it has not. After the restart
    the one Telegram had not taken arrives once, the others of the round (already marked sent) are
    not sent again, and only the one in doubt comes twice. (The sender does the same on both
    databases; on SQLite only, to save two process starts. The kills above cover PostgreSQL.)"""
    database_url = sqlite_url
    data = tmp_path / "var"
    bot = Hjulet.polling(telegram, database_url, data, tmp_path / "bot.log")
    doubt, done, blocker, unsent = (Family(telegram, 5201 + n, SCRIPT[:5]) for n in range(4))
    families = (doubt, done, blocker, unsent)
    await bot.start()
    try:
        async with Records(database_url, data) as db:
            await asyncio.gather(*(family.run_steps(SCRIPT[:3]) for family in families))
            # the sender is kept busy with one chat while the others' replies wait in the outbox
            held = telegram.hold_next_send(blocker.user_id, after_store=False)
            waiting = asyncio.create_task(blocker.act(SCRIPT[3]))
            await telegram.until(held.reached.is_set, "the sender to hold a reply")
            acting = [asyncio.create_task(f.act(SCRIPT[3])) for f in (doubt, done, unsent)]
            await telegram.until(lambda: all(len(f.updates) == 4 for f in families), "the presses")
            last = max(f.updates[-1] for f in families)
            await telegram.until(lambda: telegram.confirmed > last, "the three updates to be handled")
            in_doubt = telegram.hold_next_send(doubt.user_id, after_store=True)
            never = telegram.hold_next_send(unsent.user_id, after_store=False)
            held.release.set()
            await telegram.until(lambda: in_doubt.reached.is_set() and never.reached.is_set(), "both holds")
            keys = {db.chat_key(doubt.user_id), db.chat_key(unsent.user_id)}
            await _until_only_sending(db, keys)  # the round's other messages are marked sent
            await bot.kill()
            assert set(await db.sending()) == keys

            await bot.start()
            await asyncio.gather(waiting, *acting)
            await asyncio.gather(*(family.act(SCRIPT[4]) for family in families))  # they go on
            assert await bot.stopped_cleanly()
            outbox = dict(await db.rows("select status, count(*) from outbox group by status"))
    finally:
        await bot.close()

    sends = {f.user_id: telegram.sends_to(f.user_id) for f in families}
    doubled = [text for text in set(sends[doubt.user_id]) if sends[doubt.user_id].count(text) > 1]
    print(f"mid-delivery kill: 4 replies in the round, doubled {len(doubled)} (the one in doubt), lost 0")
    assert set(outbox) == {"sent"}
    assert len(doubled) == 1  # the message whose answer Telegram still held
    again = doubled[0]
    at = sends[doubt.user_id].index(again)
    assert sends[doubt.user_id][at + 1] == again  # sent again right after the restart, nothing between
    reference = sends[doubt.user_id][:at] + sends[doubt.user_id][at + 1 :]
    for family in (done, blocker, unsent):
        assert sends[family.user_id] == reference, family.user_id  # each message once, in order
    assert all(f.done == 5 for f in families)


async def _until_only_sending(db: Records, keys: set[str], timeout: float = 5.0) -> None:
    """Wait (reading the database) until only the chats `keys` have a message on its way, or give up
    after `timeout` and let the test show what was still unmarked."""
    deadline = time.monotonic() + timeout
    while set(await db.sending()) != keys and time.monotonic() < deadline:
        await asyncio.sleep(0.05)  # the database has no event to await
