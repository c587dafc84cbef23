"""PostgreSQL away for 10 seconds, while families write, and back: Hjulet recovers by itself.

A TCP proxy stands between Hjulet and PostgreSQL; cutting it resets every connection and refuses new
ones. Meanwhile:
- webhook mode (`hjulet serve`) answers Telegram 503, so Telegram delivers the update again;
- long polling (`hjulet telegram`) leaves the update unconfirmed, so it is fetched again;
- either way the family is told once, in their language, that their message is kept and will be
  answered (they need not send it again: a second copy would answer the next question);
- the web chat answers 503 with a "try again in a moment" text (nothing redelivers there);
- a message Telegram took while the database was away is recorded as sent afterwards, not sent again.
When the proxy is back, the same processes go on: each kept update is handled once, nothing is lost,
nothing doubled.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from aiogram.types import Update
from sqlalchemy.exc import IntegrityError

from bot.i18n import Catalogs
from bot.service import TROUBLE, WILL_ANSWER
from bot.settings import load_settings
from bot.telegram.polling import AWAY_PAUSE, MAX_FAILURES, Poller
from storage.database import make_engine, unavailable
from tests.conftest import POSTGRES_ADMIN_URL_ENV
from tests.faults.conftest import Records, postgres_database
from tests.faults.harness import SCRIPT, Family, Hjulet, Telegram, free_port
from tests.faults.proxy import TcpProxy

CUT_SECONDS = 10.0


def catalog_text(message: str, lang: str, data_dir: Path) -> str:
    return Catalogs(load_settings(data_dir=data_dir).locales_dir, "family").gettext(message, lang)


@pytest.mark.slow
async def test_the_database_away_for_ten_seconds_families_are_told_and_nothing_is_lost_or_doubled(
    telegram: Telegram, proxy: TcpProxy, tmp_path: Path
) -> None:
    polled = Telegram()
    await polled.start()
    data = tmp_path / "var"
    will_answer = catalog_text(WILL_ANSWER, "sv", data)
    try_again = catalog_text(TROUBLE, "sv", data)
    async with postgres_database() as hook_db, postgres_database() as poll_db:
        webhook = Hjulet.webhook(telegram, proxy.url_for(hook_db), data, tmp_path / "serve.log")
        polling = Hjulet.polling(polled, proxy.url_for(poll_db), data, tmp_path / "telegram.log")
        # the third of each has a phone in English but chose Swedish: told in Swedish all the same
        hooked = [Family(telegram, 6101 + n, phone_language="en" if n == 2 else "sv") for n in range(3)]
        polling_families = [
            Family(polled, 6201 + n, phone_language="en" if n == 2 else "sv") for n in range(3)
        ]
        everyone = [*hooked, *polling_families]
        try:
            await asyncio.gather(webhook.start(), polling.start())
            assert telegram.webhooks and not polled.webhooks
            await asyncio.gather(*(f.run_steps(SCRIPT[:4]) for f in everyone))  # up to the child's name
            web = httpx.AsyncClient(base_url=webhook.url, headers={"Accept-Language": "sv"}, timeout=30)
            opened = await web.post("/chat/api/messages", json={"start": True})
            assert opened.status_code == 200

            # a reply Telegram takes while the database goes away: its answer is held until after the cut
            late = hooked[0]
            held = telegram.hold_next_send(late.user_id, after_store=True)
            acting = [asyncio.create_task(late.act(SCRIPT[4]))]
            await telegram.until(held.reached.is_set, "the sender to hold a reply")

            await proxy.cut()
            held.release.set()  # Telegram answers; the sender cannot record it now
            acting += [asyncio.create_task(f.act(SCRIPT[4])) for f in everyone if f is not late]
            for family in everyone:
                if family is late:
                    continue
                api = family.api  # every other family hears, once, that their words are kept
                await api.until(lambda f=family: will_answer in f.phone.texts, f"{family.user_id} told")
            kept = {f.updates[-1] for f in hooked if f is not late}

            def refused() -> set[int]:
                cut_at = proxy.cut_at or 0.0
                return {d.update_id for d in telegram.deliveries if d.at > cut_at and d.status == 503}

            await telegram.until(lambda: kept <= refused(), "the webhook to answer 503")
            chat = await web.post("/chat/api/messages", json={"text": "Ali"})
            assert chat.status_code == 503 and chat.headers["content-type"].startswith("application/json")
            assert [r["text"] for r in chat.json()["replies"]] == [try_again]
            assert "Traceback" not in chat.text
            page = await web.get("/chat")  # the page opens; its first message hears "try again"
            assert page.status_code == 200 and 'lang="sv"' in page.text
            waiting = await web.get("/chat/api/waiting")  # the page's poll: asked again later
            assert waiting.status_code == 503 and waiting.headers["Retry-After"] == "5"
            assert waiting.json()["replies"] == [] and "Traceback" not in waiting.text

            await asyncio.sleep(max(0.0, CUT_SECONDS - (time.monotonic() - (proxy.cut_at or 0))))
            redelivered = sum(1 for d in telegram.deliveries if d.status >= 500 or d.status == 0)
            await proxy.restore()
            await asyncio.gather(*acting)
            restored = proxy.restored_at or 0.0
            recovered = {  # the first update handled, and the first reply, after the database came back
                "webhook": min(d.at for d in telegram.deliveries if d.at > restored and d.status == 200),
                "polling": min(s.at for s in polled.stored if s.at > restored),
            }
            chat = await web.post("/chat/api/messages", json={"text": "Ali"})
            assert chat.status_code == 200  # the web chat works again, in the same process
            await asyncio.gather(*(f.act(SCRIPT[5]) for f in everyone))  # and the conversations go on
            assert webhook.running and polling.running and webhook.starts == polling.starts == 1
            assert await webhook.stopped_cleanly() and await polling.stopped_cleanly()
            await web.aclose()
        finally:
            await webhook.close()
            await polling.close()
            await polled.stop()

        for url, api, families in ((hook_db, telegram, hooked), (poll_db, polled, polling_families)):
            async with Records(url, data) as db:
                handled = await db.rows("select event_id from processed_events")
                outbox = dict(await db.rows("select status, count(*) from outbox group by status"))
                for family in families:
                    record = await db.family(family.user_id)
                    sends = api.sends_to(family.user_id)
                    assert sends.count(will_answer) == (0 if family is late else 1)
                    assert len(sends) == len(set(sends)), f"{family.user_id} got a message twice"
                    assert record.children == [("Ali", 3)]  # the name written during the cut: once
            updates = [f"telegram:{update}" for family in families for update in family.updates]
            assert sorted(event for (event,) in handled) == sorted(updates)  # each handled, once
            assert set(outbox) == {"sent"}
    print(
        f"database cut {CUT_SECONDS:.0f} s: webhook refused {redelivered} deliveries (redelivered); "
        f"first update handled {recovered['webhook'] - restored:.2f} s (webhook) and "
        f"first reply {recovered['polling'] - restored:.2f} s (polling) after the database "
        "came back; lost 0, doubled 0, restarts 0"
    )


# ---- the pieces, without processes ----------------------------------------------


async def test_what_counts_as_the_database_being_away(tmp_path: Path) -> None:
    """Worth waiting for: refused, broken, locked. Not: a bug or bad data (waiting would not help)."""
    nowhere = make_engine(f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/none")
    with pytest.raises(Exception) as refused:
        async with nowhere.connect():
            pass
    await nowhere.dispose()
    assert unavailable(refused.value)

    path = tmp_path / "locked.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("create table t (id integer primary key)")
    holder.execute("begin immediate")  # holds the write lock
    other = sqlite3.connect(path, timeout=0)
    with pytest.raises(sqlite3.OperationalError) as locked:
        other.execute("insert into t values (1)")
    with pytest.raises(sqlite3.OperationalError) as no_table:
        other.execute("select * from nothing_here")
    holder.execute("rollback")
    holder.close(), other.close()
    assert unavailable(locked.value) and not unavailable(no_table.value)

    engine = make_engine(f"sqlite+aiosqlite:///{path}")
    async with engine.begin() as connection:
        await connection.execute(sa.text("insert into t values (1)"))
    with pytest.raises(IntegrityError) as duplicate:
        async with engine.begin() as connection:
            await connection.execute(sa.text("insert into t values (1)"))
    await engine.dispose()
    assert not unavailable(duplicate.value) and not unavailable(ValueError("a bug"))


async def test_a_connection_broken_mid_transaction_counts_as_away_and_the_engine_recovers(
    proxy: TcpProxy,
) -> None:
    engine = make_engine(proxy.url_for(os.environ[POSTGRES_ADMIN_URL_ENV]))
    try:
        with pytest.raises(Exception) as broken:
            async with engine.begin() as connection:
                await connection.execute(sa.text("select 1"))
                await proxy.cut()
                await connection.execute(sa.text("select 2"))
        assert unavailable(broken.value)
        await proxy.restore()
        async with engine.connect() as connection:  # the same engine, no restart
            assert await connection.scalar(sa.text("select 3")) == 3
    finally:
        await engine.dispose()


class _Channel:
    """Stands in for the Telegram channel: `process` fails as told, per update id."""

    def __init__(self, failures: dict[int, list[Exception]]) -> None:
        self.failures, self.done = failures, []  # type: ignore[var-annotated]

    async def process(self, update: object) -> None:
        update_id = update.update_id  # type: ignore[attr-defined]
        if self.failures.get(update_id):
            raise self.failures[update_id].pop(0)
        self.done.append(update_id)


async def test_polling_waits_out_the_database_however_long_and_gives_up_only_on_a_broken_update() -> None:
    def update(update_id: int, chat: int) -> Update:
        chat_json = {"id": chat, "type": "private"}
        message = {"message_id": update_id, "date": 0, "chat": chat_json, "text": "bra"}
        return Update.model_validate({"update_id": update_id, "message": message})

    away = [ConnectionRefusedError(111, "Connect call failed")] * (MAX_FAILURES * 3)
    channel = _Channel({1: list(away), 2: [ValueError("a bug")] * (MAX_FAILURES * 3)})
    poller = Poller(channel)  # type: ignore[arg-type]
    updates, rounds, pauses = [update(1, 501), update(2, 502), update(3, 501)], 0, []
    while await poller.handle_batch([u for u in updates if u.update_id >= (poller.offset or 0)]):
        rounds += 1
        pauses.append(poller._pause())
    assert channel.done == [1, 3]  # after 15 refusals, in order; the broken one given up
    assert rounds == MAX_FAILURES * 3 and max(pauses) <= AWAY_PAUSE
    assert poller.offset == 4
