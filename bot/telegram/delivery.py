"""The Telegram sender: delivers the outbox, in order per chat, retrying what fails.

Each round claims the first due message of each waiting chat, sends those concurrently (under a
global rate limit), and marks each one sent, to retry later, or given up. 429 `retry_after` is
honoured for that chat; network and server errors are retried with backoff; a family that blocked
the bot is given up. Sent texts are cleared from the database. No message text is ever logged.

A "wheel" row holds only its title: the picture is drawn when it is sent, from the codes of the
family's newest answers (never their own words) in the conversation's language, and goes as a photo
with the title and the wheel's text description as its caption.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta

from aiogram import Bot
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.types import BufferedInputFile
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.wheel_png import Rasteriser, WheelPainter
from bot.telegram.render import CAPTION_LIMIT, CallbackCodec, answered_text, keyboard, split_text
from storage import Store
from storage.outbox import LEASE, Outbox, OutboxItem

log = logging.getLogger(__name__)
CHANNEL = "telegram"
MAX_ATTEMPTS = 12
MAX_BACKOFF = 300.0
RATE_PER_SECOND = 25.0  # under Telegram's 30 messages per second per bot
IDLE_WAIT = 1.0
REQUEST_TIMEOUT = 10  # seconds per Bot API call: well inside the outbox lease
Codes = tuple[str | None, str]  # an answer as (indicator, scale code)


class _Retry(Exception):
    def __init__(self, delay: float, reason: str) -> None:
        super().__init__(reason)
        self.delay, self.reason = delay, reason


class _GiveUp(Exception):
    pass


Outcome = tuple[str | None, _Retry | None, _GiveUp | None]  # sent (its message id), to retry, refused


class RateLimit:
    """At most `rate` calls per second, spread out evenly."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate
        self.next = 0.0
        self.lock = asyncio.Lock()

    async def wait(self) -> None:
        async with self.lock:
            now = time.monotonic()
            if self.next > now:
                await asyncio.sleep(self.next - now)
            self.next = max(now, self.next) + self.interval


class TelegramSender:
    def __init__(
        self,
        bot: Bot,
        sessions: async_sessionmaker[AsyncSession],
        codec: CallbackCodec,
        painter: WheelPainter,
        rate: float = RATE_PER_SECOND,
        lease: timedelta = LEASE,
    ) -> None:
        self.bot, self.sessions, self.codec, self.painter = bot, sessions, codec, painter
        self.rasteriser = Rasteriser()  # the wheel's pixels, drawn in a process of its own
        self.rate = RateLimit(rate)
        self.lease = lease
        self._wake = asyncio.Event()
        self.sent = 0
        self._kept: list[tuple[OutboxItem, Outcome]] = []  # outcomes not yet recorded (see `round`)

    def wake(self) -> None:
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until `stop` is set; then finish the round in progress."""
        while not stop.is_set():
            try:
                busy = await self.round()
            except Exception as exc:  # the database may be away for a moment: try again soon
                log.warning("outbox round failed: %s", type(exc).__name__)
                busy = False
            if not busy:
                self._wake.clear()
                waiters = [asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stop.wait())]
                await asyncio.wait(waiters, timeout=IDLE_WAIT, return_when=asyncio.FIRST_COMPLETED)
                for waiter in waiters:
                    waiter.cancel()

    async def drain(self, seconds: float = 10.0) -> None:
        """Deliver everything that is due now (used at shutdown and in tests)."""
        deadline = time.monotonic() + seconds
        try:
            while time.monotonic() < deadline and await self.round():
                pass
            await self._record_kept()
        except Exception as exc:  # the database away at shutdown: what was not recorded goes again
            log.warning(
                "outbox: not drained (%s); %d outcomes not recorded", type(exc).__name__, len(self._kept)
            )

    async def round(self) -> bool:
        """One round; True when something was claimed. The messages of a round are sent at once; each
        outcome is recorded as soon as it is known, those known together in one transaction.

        A message Telegram took is sent again only if the process dies before its outcome is recorded
        (Telegram has no idempotency key), so that moment is kept short: one message's answer, not the
        whole round's. If the database is away then, the outcome is kept here and recorded before
        anything new is claimed; left as "on its way", the message would go again when its lease ran out.
        """
        await self._record_kept()
        async with self.sessions() as session, session.begin():
            items = await Outbox(session).claim_due(CHANNEL, lease=self.lease)
        attempts = {asyncio.ensure_future(self._attempt(item)): item for item in items}
        while attempts:
            done, _ = await asyncio.wait(attempts, return_when=asyncio.FIRST_COMPLETED)
            self._kept += [(attempts.pop(task), task.result()) for task in done]
            try:
                await self._record_kept()
            except Exception as exc:
                log.warning("outbox: %d outcomes to record later (%s)", len(self._kept), type(exc).__name__)
        return bool(items)

    async def _record_kept(self) -> None:
        """Record the outcomes not recorded yet, in one transaction; raises if the database is away."""
        if not self._kept:
            return
        async with self.sessions() as session, session.begin():
            outbox = Outbox(session)
            for item, outcome in self._kept:
                await self._record(outbox, item, *outcome)
        self.sent += sum(1 for _, (_, retry, refused) in self._kept if retry is None and refused is None)
        self._kept.clear()

    async def _attempt(self, item: OutboxItem) -> Outcome:
        try:
            return await self._send(item), None, None
        except _Retry as exc:
            return None, exc, None
        except _GiveUp as exc:
            return None, None, exc
        except Exception as exc:  # the database away while the wheel is drawn, say: not sent, so later
            return None, _Retry(min(MAX_BACKOFF, 2.0 ** max(0, item.attempts - 1)), type(exc).__name__), None

    async def _record(
        self,
        outbox: Outbox,
        item: OutboxItem,
        sent_ref: str | None,
        retry: _Retry | None,
        refused: _GiveUp | None,
    ) -> None:
        """The outcome of one attempt, in the round's transaction."""
        if retry is not None and item.attempts < MAX_ATTEMPTS:
            await outbox.retry_later(item.id, timedelta(seconds=retry.delay), retry.reason)
        elif retry is not None:
            await outbox.give_up(item.id, f"gave up: {retry.reason}")
            log.warning("outbox %d: gave up after %d attempts (%s)", item.id, item.attempts, retry.reason)
        elif refused is not None:
            await outbox.give_up(item.id, str(refused))
            log.info("outbox %d: not deliverable (%s)", item.id, refused)
        else:
            await outbox.mark_sent(item.id, sent_ref)

    async def _send(self, item: OutboxItem) -> str | None:
        try:
            if item.kind == "answered":
                return await self._close_question(item)
            if item.kind == "wheel":
                return await self._send_wheel(item)
            return await self._send_message(item)
        except TelegramRetryAfter as exc:
            raise _Retry(float(exc.retry_after), "429 too many requests") from exc
        except (TelegramNetworkError, TelegramServerError, TimeoutError, OSError) as exc:
            backoff = min(MAX_BACKOFF, 2.0 ** max(0, item.attempts - 1))
            raise _Retry(backoff, type(exc).__name__) from exc
        except TelegramForbiddenError as exc:
            raise _GiveUp("the family blocked the bot or left the chat") from exc
        except (TelegramBadRequest, TelegramNotFound) as exc:
            if "not modified" in exc.message or "not found" in exc.message:
                return None  # an edit that changes nothing, or of a message that is gone
            raise _GiveUp(f"Telegram refused the message: {type(exc).__name__}") from exc
        except TelegramAPIError as exc:
            raise _GiveUp(type(exc).__name__) from exc

    async def _send_message(self, item: OutboxItem) -> str | None:
        payload = item.payload
        chunks = split_text(str(payload["text"]))
        done = int(payload.get("done", 0))  # parts already sent by an earlier, interrupted attempt
        markup = keyboard(self.codec, payload.get("flow"), payload.get("step"), payload.get("buttons", []))
        message_id: int | None = None
        for index in range(done, len(chunks)):
            last = index == len(chunks) - 1
            await self.rate.wait()
            sent = await self.bot.send_message(
                chat_id=int(item.address),
                text=chunks[index],
                reply_markup=markup if last else None,
                request_timeout=REQUEST_TIMEOUT,
            )
            message_id = sent.message_id
            if not last:
                async with self.sessions() as session, session.begin():
                    await Outbox(session).update_payload(item.id, {**payload, "done": index + 1}, self.lease)
        return str(message_id) if message_id is not None else None

    async def _close_question(self, item: OutboxItem) -> str | None:
        payload = item.payload
        ref = payload.get("ref")
        if ref is None:
            async with self.sessions() as session:
                ref = await Outbox(session).last_keyboard_ref(item.chat_key, item.id)
        if ref is None:
            return None  # the question was never shown with buttons here
        await self.rate.wait()
        text = answered_text(str(payload["text"]), payload.get("buttons", []))
        if text is None:
            await self.bot.edit_message_reply_markup(
                chat_id=int(item.address), message_id=int(ref), request_timeout=REQUEST_TIMEOUT
            )
        else:
            await self.bot.edit_message_text(
                chat_id=int(item.address), message_id=int(ref), text=text, request_timeout=REQUEST_TIMEOUT
            )
        return str(ref)

    async def _send_wheel(self, item: OutboxItem) -> str | None:
        async with self.sessions() as session:
            found = await _answer_codes(Store(session), item.channel, item.chat_key)
        if found is None:
            return None  # the family's answers are gone (deleted): nothing to draw
        lang, answers = found
        title = str(item.payload["text"])
        try:
            picture = await self.painter.paint_apart(self.rasteriser, lang, answers, title)  # ~0.1 s of CPU
        except ValueError as exc:  # resvg refused the picture: retrying would not help
            raise _GiveUp("the wheel could not be drawn") from exc
        caption, after = f"{title}\n\n{picture.description}", []
        if len(caption) > CAPTION_LIMIT:  # not with today's catalogs (a test checks): then the words follow
            caption, after = title[:CAPTION_LIMIT], split_text(picture.description)
        await self.rate.wait()
        sent = await self.bot.send_photo(
            chat_id=int(item.address),
            photo=BufferedInputFile(picture.png, filename="wheel.png"),
            caption=caption,
            request_timeout=REQUEST_TIMEOUT,
        )
        for part in after:
            await self.rate.wait()
            await self.bot.send_message(chat_id=int(item.address), text=part, request_timeout=REQUEST_TIMEOUT)
        return str(sent.message_id)


async def _answer_codes(store: Store, channel: str, chat_key: str) -> tuple[str, list[Codes]] | None:
    """The language of the family's newest conversation and its answers as (indicator, code)."""
    user = await store.get_user(channel, chat_key)  # a chat's key is its user's pseudonym
    conversation = await store.latest_conversation(user.id) if user is not None else None
    if conversation is None:
        return None
    answers = await store.answers_for_conversation(conversation.id)
    return conversation.language, [(answer.indicator, answer.code) for answer in answers]
