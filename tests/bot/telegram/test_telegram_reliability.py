"""Telegram reliability: exactly once, in order per chat, retries, invitations, privacy, the webhook."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from bot.invitations import sign
from bot.telegram.webhook import webhook_router
from storage import load_or_create_secret
from tests.bot.telegram.conftest import RunningBot
from tests.bot.telegram.test_telegram_story import press, say, through_consent

pytestmark = pytest.mark.slow


async def test_the_same_update_delivered_twice_gives_one_reply_and_one_answer(
    telegram_bot: RunningBot,
) -> None:
    bot = telegram_bot
    phone = bot.phone(2001, "sv")
    await through_consent(bot, phone, "sv")
    update_id = await phone.press(bot.label("Worried", "sv"))
    await bot.settle()
    messages = len(phone.inbox)

    await bot.api.redeliver(bot.api.update(update_id))  # as after a crash before it was confirmed
    await bot.settle()

    assert len(phone.inbox) == messages
    assert await bot.rows("select question_id, code from answers") == [("safe_home", "worried")]
    assert await bot.rows("select count(*) from concerns") == [(1,)]


async def test_two_chats_interleaved_never_mix(telegram_bot: RunningBot) -> None:
    bot = telegram_bot
    anna, omar = bot.phone(2002, "sv"), bot.phone(2003, "ar")
    await anna.say("/start")
    await omar.say("/start")
    await bot.settle()
    await anna.press("Svenska")
    await omar.press("العربية")
    await bot.settle()
    for phone, lang in ((anna, "sv"), (omar, "ar")):  # both at once, then both again
        await phone.press(bot.label("Yes, save my answers", lang))
    await bot.settle()
    for phone, lang in ((anna, "sv"), (omar, "ar")):
        await phone.press(bot.label("Yes, share my answers", lang))
    await bot.settle()
    await anna.say("Anna-barnet")
    await omar.say("Omar-child")
    await bot.settle()

    # names are encrypted: the database cannot sort them, so they are sorted here
    assert sorted(await bot.rows("select name from children")) == [("Anna-barnet",), ("Omar-child",)]
    assert all("Omar" not in text for text in anna.texts)
    assert all("Anna" not in text for text in omar.texts)
    assert anna.texts[-1].startswith("Hur gammal är ditt barn?")
    assert omar.texts[-1] == bot.label(
        "How old is your child? Write years and months, for example 3 years 4 months.", "ar"
    )
    languages = await bot.rows("select language from users order by id")
    assert sorted(lang for (lang,) in languages) == ["ar", "sv"]


async def test_a_burst_of_messages_from_one_chat_is_handled_in_order(telegram_bot: RunningBot) -> None:
    bot = telegram_bot
    phone = bot.phone(2004, "sv")
    await through_consent(bot, phone, "sv")
    for word in ("bra", "orolig", "hoppa över", "lite orolig", "hoppa över", "bra"):  # no waiting
        await phone.say(word)
    await bot.settle()

    assert await bot.rows("select question_id, code from answers order by id") == [
        ("safe_home", "good"),
        ("safe_comfort", "worried"),
        ("healthy_sleep", "some_worries"),
        ("healthy_food", "good"),
    ]


async def test_a_429_is_retried_after_its_retry_after(telegram_bot: RunningBot) -> None:
    bot = telegram_bot
    phone = bot.phone(2005, "sv")
    await say(bot, phone, "/start")
    bot.api.fail("sendMessage", 429, retry_after=1)
    started = time.monotonic()

    await phone.press("Svenska")
    await bot.settle()

    sends = [c for c in bot.api.calls if c.method == "sendMessage" and c.at >= started]
    assert len(sends) >= 2 and sends[1].at - sends[0].at >= 0.95  # waited as told
    question = bot.label(
        "May we save your answers? We need to save them so that we can go on. "
        "You can read or delete them at any time.",
        "sv",
    )
    assert phone.texts.count(question) == 1  # delivered once, not lost, not doubled


async def test_a_server_error_is_retried_and_a_blocked_chat_given_up(telegram_bot: RunningBot) -> None:
    bot = telegram_bot
    phone = bot.phone(2006, "sv")
    bot.api.fail("sendMessage", 500, times=2)
    await say(bot, phone, "/start")
    assert phone.texts[0].startswith("Hej!")  # after two failures
    assert len(phone.texts) == len(set(phone.texts))

    bot.api.fail("sendMessage", 403, times=10)
    await phone.press("Svenska")
    await bot.settle()
    assert await bot.rows("select count(*) from outbox where status = 'failed'") != [(0,)]
    assert await bot.rows("select count(*) from outbox where payload is not null and status = 'sent'") == [
        (0,)
    ]


async def test_an_invitation_names_the_unit_and_a_forged_one_is_ignored(telegram_bot: RunningBot) -> None:
    bot = telegram_bot
    payload = sign(load_or_create_secret(bot.settings.key_file), "solrosen_fsk")
    invited, forger = bot.phone(2007, "sv"), bot.phone(2008, "sv")

    for phone, start in ((invited, payload), (forger, "solrosen_fsk-AAAAAAAAAAAAAAAA")):
        await say(bot, phone, f"/start {start}")
        await phone.press("Svenska")
        await bot.settle()
        await press(bot, phone, "Yes, save my answers", "sv")
        await press(bot, phone, "No, do not share", "sv")
        await say(bot, phone, "Lo")
        await say(bot, phone, "2")

    assert invited.texts[-1] == "Känner sig ditt barn tryggt och lugnt hemma?"  # the link named the unit
    assert forger.texts[-1].startswith("Vilken förskola")
    assert sorted(await bot.rows("select name, unit_code from children"), key=lambda row: row[1] or "") == [
        ("Lo", None),
        ("Lo", "solrosen_fsk"),
    ]


async def test_raw_telegram_ids_and_message_text_never_reach_the_database_or_the_logs(
    telegram_bot: RunningBot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    bot = telegram_bot
    raw_id = 7718264533
    phone = bot.phone(raw_id, "sv")
    await through_consent(bot, phone, "sv", name="Kanariefågel")
    await press(bot, phone, "Worried", "sv")
    await say(bot, phone, "zebrakanariekommentar")

    for table in ("users", "children", "conversations", "answers", "consents", "concerns", "outbox"):
        for row in await bot.rows(f"select * from {table}", raw=True):
            assert str(raw_id) not in " ".join(map(str, row)), table
    outbox = await bot.rows("select address, payload from outbox", raw=True)
    assert outbox and all(str(raw_id) not in str(address) for address, _ in outbox)  # encrypted
    assert "Kanariefågel" not in caplog.text and "zebrakanariekommentar" not in caplog.text
    assert str(raw_id) not in caplog.text


async def test_the_webhook_takes_updates_only_with_the_secret(telegram_bot: RunningBot) -> None:
    bot = telegram_bot
    app = FastAPI()
    app.include_router(webhook_router(bot.channel, "s3cret-token"))
    phone = bot.phone(2009, "en")
    update = {"update_id": 990001, **phone.message_update("/start")}

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://desk") as client:
        for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "wrong"}):
            response = await client.post("/telegram/webhook", json=update, headers=headers)
            assert response.status_code == 401
        assert await bot.rows("select count(*) from users") == [(0,)]  # nothing processed

        good = {"X-Telegram-Bot-Api-Secret-Token": "s3cret-token"}
        assert (await client.post("/telegram/webhook", json=update, headers=good)).status_code == 200
        assert (await client.post("/telegram/webhook", json=update, headers=good)).status_code == 200  # again
        assert (await client.post("/telegram/webhook", json={"x": 1}, headers=good)).status_code == 400
    await bot.settle()

    assert await bot.rows("select count(*) from users") == [(1,)]
    assert phone.texts[0].startswith("Hi! This is Hjulet") and phone.texts.count(phone.texts[0]) == 1
    assert phone.buttons[:3] == ["English", "Svenska", "العربية"]  # the phone's language first


def test_invite_prints_a_link_and_writes_a_qr_code(tmp_path: Path) -> None:
    import subprocess
    import sys

    env = {
        "HJULET_DATA_DIR": str(tmp_path / "var"),
        "HJULET_TELEGRAM_BOT_USERNAME": "hjulet_test_bot",
        "PATH": "/usr/bin:/bin",
    }
    hjulet = Path(sys.executable).parent / "hjulet"
    done = subprocess.run(
        [hjulet, "invite", "--unit", "solrosen_fsk", "--out", str(tmp_path / "qr.png")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    link = done.stdout.strip()
    assert link.startswith("https://t.me/hjulet_test_bot?start=solrosen_fsk-")
    payload = link.split("start=")[1]
    assert len(payload) <= 64 and payload.replace("-", "").replace("_", "").isalnum()
    assert payload == sign(load_or_create_secret(tmp_path / "var" / "secret.key"), "solrosen_fsk")
    assert (tmp_path / "qr.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    bad = subprocess.run(
        [hjulet, "invite", "--unit", "no spaces!"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert bad.returncode == 2 and "unit code" in bad.stderr and "Traceback" not in bad.stderr


async def test_stopping_finishes_the_work_in_progress(telegram_bot: RunningBot) -> None:
    bot = telegram_bot
    phone = bot.phone(2010, "sv")
    await phone.say("/start")
    await asyncio.sleep(0)  # the stop arrives while the update may still be on its way
    await bot.settle()
    assert phone.texts and phone.texts[0].startswith("Hej!")
