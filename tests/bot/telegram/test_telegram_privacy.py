"""Telegram and a family's rights: /export sends everything stored as a JSON document; retention runs
alongside the polling from start-up."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from storage.models import utcnow
from tests.bot.telegram.conftest import RunningBot
from tests.bot.telegram.test_telegram_story import press, say, through_consent

pytestmark = pytest.mark.slow


async def test_export_sends_the_family_s_data_as_a_json_document(telegram_bot: RunningBot) -> None:
    bot = telegram_bot
    phone = bot.phone(987654321, "en")
    other = bot.phone(2002, "en")
    await through_consent(bot, phone, "en", name="Noor")
    await press(bot, phone, "Worried", "en")
    await say(bot, phone, "She is afraid of the dark")
    await through_consent(bot, other, "en", name="Someone else")

    await say(bot, phone, "/export")

    sent = phone.inbox[-1]
    assert sent.document is not None and sent.filename == "hjulet-my-data.json"
    assert sent.text == "Here is everything we saved about you, as a file. Keep it safe."
    document = json.loads(sent.document)
    assert document["you"]["channel"] == "telegram"
    assert [c["name"] for c in document["children"]] == ["Noor"]
    assert [a["own_words"] for a in document["answers"]] == ["She is afraid of the dark"]
    assert b"Someone else" not in sent.document and b"987654321" not in sent.document  # no raw ids either
    assert not any(m.document for m in other.inbox)


async def test_export_before_anything_is_stored_says_so(telegram_bot: RunningBot) -> None:
    phone = telegram_bot.phone(2003, "en")

    await say(telegram_bot, phone, "/export")

    assert phone.texts == ["We have not saved anything about you."]


@pytest.fixture
async def old_event(database_url: str) -> None:
    """A handled update id from a month ago, stored before the bot starts."""
    engine = create_async_engine(database_url, poolclass=NullPool)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                text("insert into processed_events (event_id, processed_at) values ('telegram:1', :at)"),
                {"at": utcnow() - timedelta(days=30)},
            )
    finally:
        await engine.dispose()


async def test_retention_runs_when_polling_starts(old_event: None, telegram_bot: RunningBot) -> None:
    for _ in range(200):
        if await telegram_bot.rows("select count(*) from processed_events") == [(0,)]:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the month-old update id was not deleted")
