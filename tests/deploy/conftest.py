"""Deployment tests: the desk as `hjulet serve` runs it, with the fake Telegram Bot API on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.backend.conftest import directory  # noqa: F401 (a fixture: the small Växjö directory)
from tests.bot.telegram.conftest import TOKEN
from tests.bot.telegram.fakeapi import FakeBotAPI

WEBHOOK_SECRET = "webhook-secret-0123456789abcdef"


@pytest.fixture
async def bot_api() -> AsyncIterator[FakeBotAPI]:
    api = FakeBotAPI(TOKEN)
    await api.start()
    try:
        yield api
    finally:
        await api.stop()
