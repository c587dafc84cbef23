"""Long polling that never loses an update: a batch is confirmed only after it is handled.

getUpdates returns a batch; its updates are handled (one chat's in order, different chats at the
same time); only then does the next getUpdates confirm them with its offset. An update that fails
(the database is away, say) is fetched again later; the ones after it that did get handled are
recognised by their update id and not handled twice. While the database is away an update is tried
again every few seconds for as long as it takes (Telegram keeps it 24 hours); only an update that
fails for another reason (a bug) is given up after MAX_FAILURES tries, so one chat is not stuck.
SIGTERM or SIGINT: the batch in progress is finished, the outbox drained, and the process stops.
Retention runs alongside (at start, then every HJULET_RETENTION_INTERVAL_HOURS).
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections import defaultdict
from contextlib import suppress

from aiogram.exceptions import TelegramRetryAfter
from aiogram.methods import GetUpdates
from aiogram.types import Update

from bot.i18n import Catalogs
from bot.retention_cli import retention_job
from bot.telegram.channel import TelegramChannel
from bot.telegram.handlers import chat_of
from storage.database import unavailable

log = logging.getLogger(__name__)
POLL_TIMEOUT = 25
MAX_FAILURES = 5  # after this many failures one update is given up, so one chat is not stuck forever
AWAY_PAUSE = 4.0  # at most this long between tries while the database is away: back soon after it is


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    with suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


class Poller:
    def __init__(self, channel: TelegramChannel, timeout: int = POLL_TIMEOUT) -> None:
        self.channel, self.timeout = channel, timeout
        self.offset: int | None = None
        self.failures: dict[int, int] = defaultdict(int)
        self.handled = 0
        self.away = 0  # batches in a row that found the database away
        self.given_up: set[int] = set()
        self._away_now = False

    async def run(self, stop: asyncio.Event) -> None:
        backoff = 1.0
        while not stop.is_set():
            try:
                updates = await self._fetch(stop)
            except TelegramRetryAfter as exc:
                await _sleep(stop, exc.retry_after)
                continue
            except Exception as exc:  # Telegram unreachable: keep trying, a little slower each time
                log.warning("getUpdates failed (%s); again in %.0f s", type(exc).__name__, backoff)
                await _sleep(stop, backoff)
                backoff = min(backoff * 2, 60.0)
                continue
            backoff = 1.0
            if updates:
                failed = await self.handle_batch(updates)
                if failed:
                    await _sleep(stop, self._pause())
        await self._confirm()

    async def _fetch(self, stop: asyncio.Event) -> list[Update] | None:
        method = GetUpdates(
            offset=self.offset, timeout=self.timeout, allowed_updates=["message", "callback_query"]
        )
        fetch = asyncio.ensure_future(self.channel.bot(method, request_timeout=self.timeout + 10))
        stopped = asyncio.ensure_future(stop.wait())
        done, _ = await asyncio.wait({fetch, stopped}, return_when=asyncio.FIRST_COMPLETED)
        stopped.cancel()
        if fetch not in done:
            fetch.cancel()
            with suppress(asyncio.CancelledError, Exception):
                await fetch
            return None
        return fetch.result()

    async def handle_batch(self, updates: list[Update]) -> bool:
        """Handle a batch; set the offset past what is done. True when something must be retried."""
        chats: dict[int | None, list[Update]] = defaultdict(list)
        for update in updates:
            chats[chat_of(update)].append(update)
        self._away_now = False
        stuck = await asyncio.gather(*(self._handle_chat(group) for group in chats.values()))
        retry = [update_id for update_id in stuck if update_id is not None]
        self.offset = min(retry) if retry else updates[-1].update_id + 1
        self.given_up = {update_id for update_id in self.given_up if update_id >= self.offset}
        self.away = self.away + 1 if self._away_now else 0
        return bool(retry)

    def _pause(self) -> float:
        """Seconds before the stuck updates are tried again: 1, 2, 4, 4, ... while the database is
        away; longer, up to 30, for an update that fails by itself."""
        if self.away:
            return min(2.0 ** (self.away - 1), AWAY_PAUSE)
        return min(2.0 ** max(self.failures.values(), default=0), 30.0)

    async def _handle_chat(self, updates: list[Update]) -> int | None:
        """Handle one chat's updates in order; the id of the first that must be tried again, if any."""
        for update in updates:
            if update.update_id in self.given_up:
                continue
            try:
                await self.channel.process(update)
                self.handled += 1
            except Exception as exc:
                if unavailable(exc):  # not the update's fault: it waits, however long that takes
                    if not self._away_now:
                        log.warning(
                            "update %d waits: the database is away (%s)", update.update_id, type(exc).__name__
                        )
                    self._away_now = True
                    return update.update_id
                self.failures[update.update_id] += 1
                count = self.failures[update.update_id]
                log.warning("update %d failed (%s), attempt %d", update.update_id, type(exc).__name__, count)
                if count < MAX_FAILURES:
                    return update.update_id  # keep this chat's order: stop here, try again later
                log.error("update %d given up after %d attempts", update.update_id, count)
                self.given_up.add(update.update_id)  # fetched again while another chat waits: skip it
            self.failures.pop(update.update_id, None)
        return None

    async def _confirm(self) -> None:
        """Tell Telegram what is handled, so a restart does not fetch it again."""
        if self.offset is None:
            return
        with suppress(Exception):
            await self.channel.bot(GetUpdates(offset=self.offset, timeout=0, limit=1))


async def run_polling(
    channel: TelegramChannel,
    catalogs: Catalogs,
    stop: asyncio.Event | None = None,
    *,
    poll_timeout: int = POLL_TIMEOUT,
    handle_signals: bool = True,
) -> None:
    """Poll and deliver until SIGTERM/SIGINT (or `stop`); then finish cleanly."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = (signal.SIGTERM, signal.SIGINT) if handle_signals else ()
    for sig in signals:
        with suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await channel.bot.delete_webhook(
            drop_pending_updates=False
        )  # polling and a webhook exclude each other
    except Exception as exc:
        log.warning("could not remove a webhook: %s", type(exc).__name__)
    await channel.register_commands(catalogs)
    sending = asyncio.create_task(channel.sender.run(stop))
    retention = asyncio.create_task(retention_job(channel.service.sessions, channel.settings, stop))
    try:
        await Poller(channel, poll_timeout).run(stop)
    finally:
        stop.set()
        await sending
        await retention  # it stops after the batch in progress
        await channel.sender.drain(seconds=10.0)  # what the last batch queued
        for sig in signals:
            with suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)
