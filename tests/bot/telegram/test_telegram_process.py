"""`hjulet telegram` as a real process: killed mid-conversation it loses nothing; SIGTERM stops it cleanly."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from tests.bot.telegram.conftest import TOKEN
from tests.bot.telegram.fakeapi import FakeBotAPI, Phone

pytestmark = pytest.mark.slow
HJULET = Path(sys.executable).parent / "hjulet"


async def until(condition: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def start_bot(api: FakeBotAPI, database_url: str, data_dir: Path) -> asyncio.subprocess.Process:
    """The bot as its own process. The fake server runs in this event loop: never block it."""
    env = {
        **os.environ,
        "HJULET_DATA_DIR": str(data_dir),
        "HJULET_DATABASE_URL": database_url,
        "HJULET_TELEGRAM_TOKEN": TOKEN,
        "HJULET_TELEGRAM_API_BASE": api.base,
        "HJULET_LOG_LEVEL": "INFO",
        "HJULET_OUTBOX_LEASE_SECONDS": "3",  # what a killed sender had claimed is free again soon
    }
    return await asyncio.create_subprocess_exec(
        HJULET, "telegram", env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )


async def stopped(process: asyncio.subprocess.Process, timeout: float = 20.0) -> tuple[int | None, str]:
    """Wait for the process to end (killing it after `timeout`); its exit code and its log."""
    try:
        await asyncio.wait_for(process.wait(), timeout)
    except TimeoutError:
        process.kill()
        await process.wait()
        assert process.stderr is not None
        raise AssertionError(
            "the bot did not stop: " + (await process.stderr.read()).decode()[-3000:]
        ) from None
    assert process.stderr is not None
    return process.returncode, (await process.stderr.read()).decode()


async def outbox_quiet(database_url: str, timeout: float = 10.0) -> None:
    """Wait until no outbox row is on its way (only the status is read: no key needed)."""
    engine = create_async_engine(database_url, poolclass=NullPool)
    try:
        deadline = time.monotonic() + timeout
        while True:
            async with engine.connect() as connection:
                busy = await connection.scalar(
                    text("select count(*) from outbox where status in ('pending', 'sending')")
                )
            if not busy:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"{busy} outbox rows still on their way")
            await asyncio.sleep(0.05)
    finally:
        await engine.dispose()


async def step(phone: Phone, action: str, label: str, expect: Callable[[Phone], bool]) -> None:
    if action == "press":
        await phone.press(label)
    else:
        await phone.say(label)
    await until(lambda: bool(phone.inbox) and expect(phone), f"the reply to {label!r}")


async def test_killed_mid_conversation_the_bot_continues_at_the_saved_step(
    fake_api: FakeBotAPI, database_url: str, tmp_path: Path
) -> None:
    phone = Phone(fake_api, 3001, "sv")
    first = await start_bot(fake_api, database_url, tmp_path / "var")
    try:
        await step(phone, "say", "/start", lambda p: "Svenska" in p.buttons)
        await step(phone, "press", "Svenska", lambda p: "Ja, spara mina svar" in p.buttons)
        await step(phone, "press", "Ja, spara mina svar", lambda p: "Ja, dela mina svar" in p.buttons)
        await step(phone, "press", "Ja, dela mina svar", lambda p: p.texts[-1].startswith("Vad heter"))
        await step(phone, "say", "Ali", lambda p: p.texts[-1].startswith("Hur gammal"))
        await step(phone, "say", "4", lambda p: p.texts[-1].startswith("Vilken förskola"))
        await step(phone, "press", "Hoppa över", lambda p: p.texts[-1].startswith("Känner sig"))
        await step(phone, "press", "Det går bra", lambda p: p.texts[-1].startswith("Kan du trösta"))
        await outbox_quiet(database_url)  # marked sent: the kill falls between messages, not inside one

        await phone.press("Orolig")  # ...and the bot dies at once, perhaps before it has handled this
        first.send_signal(signal.SIGKILL)
        await stopped(first)
    finally:
        if first.returncode is None:
            first.kill()

    second = await start_bot(fake_api, database_url, tmp_path / "var")
    try:
        try:
            await until(lambda: phone.texts[-1].startswith("Vill du berätta mer"), "the comment question")
        except AssertionError:
            second.terminate()
            _, log = await stopped(second)
            raise AssertionError(f"{phone.texts[-3:]}\n{log[-4000:]}") from None
        await step(phone, "press", "Hoppa över", lambda p: p.texts[-1] == "Hur sover ditt barn?")
        second.send_signal(signal.SIGTERM)
        code, log = await stopped(second)
        assert code == 0 and "Traceback" not in log  # a clean stop
    finally:
        if second.returncode is None:
            second.kill()

    comfort = [t for t in phone.texts if t.startswith("Kan du trösta")]
    assert len(comfort) == 1  # asked before the kill: not asked again
    assert phone.texts.count("Hur sover ditt barn?") == 1  # after the restart: once
    # The reply to the press the kill fell on arrives: once, or twice only if the kill fell in the
    # moment between Telegram taking the message and the sender marking it sent.
    assert 1 <= sum(t.startswith("Vill du berätta mer") for t in phone.texts) <= 2
    answers = [a for a in phone.texts if a.endswith("✓ Orolig")]
    assert len(answers) == 1


async def test_sigterm_finishes_the_update_in_progress_before_stopping(
    fake_api: FakeBotAPI, database_url: str, tmp_path: Path
) -> None:
    phone = Phone(fake_api, 3002, "en")
    bot = await start_bot(fake_api, database_url, tmp_path / "var")
    try:
        await step(phone, "say", "/start", lambda p: "English" in p.buttons)
        fetches = sum(c.method == "getUpdates" for c in fake_api.calls)
        await phone.press("English")
        await until(lambda: sum(c.method == "getUpdates" for c in fake_api.calls) > fetches, "a fetch")
        bot.send_signal(signal.SIGTERM)  # while the press may still be in hand
        code, log = await stopped(bot)
        assert code == 0, log
    finally:
        if bot.returncode is None:
            bot.kill()
    assert "Yes, save my answers" in phone.buttons  # handled and delivered before the process ended
