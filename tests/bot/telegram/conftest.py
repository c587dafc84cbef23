"""The real Telegram channel (aiogram, the polling loop, the sender) against a fake Bot API server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from bot.service import ConversationService
from bot.settings import Settings, load_settings
from bot.telegram.channel import TelegramChannel
from bot.telegram.polling import run_polling
from bot.wiring import load_cipher, open_service
from storage.outbox import Outbox
from tests.bot.telegram.fakeapi import FakeBotAPI, Phone

TOKEN = "123456:TEST-token_abcdefghijklmnopqrstuv"


@pytest.fixture
async def fake_api() -> AsyncIterator[FakeBotAPI]:
    api = FakeBotAPI(TOKEN)
    await api.start()
    try:
        yield api
    finally:
        await api.stop()


def telegram_settings(api: FakeBotAPI, database_url: str, data_dir: Path, **more: Any) -> Settings:
    return load_settings(
        data_dir=data_dir,
        database_url=database_url,
        telegram_token=TOKEN,
        telegram_api_base=api.base,
        telegram_bot_username="hjulet_test_bot",
        **more,
    )


@dataclass
class RunningBot:
    api: FakeBotAPI
    settings: Settings
    service: ConversationService
    channel: TelegramChannel

    def phone(self, user_id: int, language_code: str | None = "sv") -> Phone:
        return Phone(self.api, user_id, language_code)

    async def settle(self, timeout: float = 15.0) -> None:
        """Wait until every update sent so far is handled and every reply delivered."""
        last = max((u["update_id"] for u in self.api.pending), default=0)
        if last:
            await self.api.wait_confirmed(last, timeout)
        deadline = time.monotonic() + timeout
        while True:
            async with self.service.sessions() as session:
                counts = await Outbox(session).counts("telegram")
            if not counts.get("pending") and not counts.get("sending"):
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"the outbox did not empty: {counts}")
            self.channel.sender.wake()
            await asyncio.sleep(0.02)

    def label(self, message_id: str, lang: str) -> str:
        """What a family reading `lang` sees for a message id (a button label)."""
        return self.service.catalogs.gettext(message_id, lang)

    async def rows(self, sql: str, *, raw: bool = False, **params: Any) -> list[tuple[Any, ...]]:
        """Rows of `sql`, encrypted values decrypted with the bot's keyring; `raw`: exactly as stored."""
        cipher = load_cipher(self.settings)
        async with self.service.sessions() as session:
            rows = await session.execute(text(sql), params)
            return [tuple(value if raw else cipher.reveal(value) for value in row) for row in rows]


@pytest.fixture
async def telegram_bot(fake_api: FakeBotAPI, database_url: str, tmp_path: Path) -> AsyncIterator[RunningBot]:
    """The bot, polling the fake server, on SQLite (and PostgreSQL when configured)."""
    settings = telegram_settings(fake_api, database_url, tmp_path / "var")
    async with open_service(settings, migrate=False) as service:
        channel = TelegramChannel(settings, service)
        stop = asyncio.Event()
        task = asyncio.create_task(
            run_polling(channel, service.catalogs, stop, poll_timeout=1, handle_signals=False)
        )
        try:
            yield RunningBot(fake_api, settings, service, channel)
        finally:
            stop.set()
            await asyncio.wait_for(task, 20)
            await channel.close()
