"""The e-mail sender: delivers the outbox rows of channel "email" (notices to staff) over SMTP.

Each round claims the due rows and sends them over a few SMTP connections at once; each connection
carries several messages in turn. Every row is marked sent, to be retried later (no connection,
a timeout, a 4xx answer) or given up (a 5xx refusal of the recipient or of the message, or too many
attempts) as soon as its own outcome is known. STARTTLS, implicit TLS or plain SMTP as configured
(``HJULET_SMTP_SECURITY``); a login only when ``HJULET_SMTP_USER`` is set. The logs name outbox ids
and error classes only: never an address, a subject or a text.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
import time
from collections import deque
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from typing import Final

import aiosmtplib
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.settings import Settings
from storage.models import utcnow
from storage.outbox import Outbox, OutboxItem

log = logging.getLogger(__name__)
CHANNEL: Final = "email"
CONNECTIONS: Final = 3  # SMTP connections per round, each sending its messages one after another
PER_CONNECTION: Final = 8  # messages claimed per connection and round
MESSAGE_TIMEOUT: Final = 10.0  # seconds for one message, a connection's set-up included
MAX_ATTEMPTS: Final = 24  # with the backoff below: about six hours of trying, then given up
MAX_BACKOFF: Final = 1800.0
IDLE_WAIT: Final = 1.0


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one message: sent (neither flag set), to be retried, or given up for good."""

    reason: str = ""
    retry: bool = False
    permanent: bool = False
    drop_connection: bool = False


SENT: Final = Outcome()


def classify(exc: BaseException) -> Outcome:
    """The outcome of a message whose sending raised ``exc``; the reason holds no address."""
    name = type(exc).__name__
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = [refused.code for refused in exc.recipients]
        if codes and all(code >= 500 for code in codes):
            return Outcome(f"{codes[0]} recipient refused", permanent=True)
        return Outcome(f"{min(codes, default=0)} recipient deferred", retry=True)
    if isinstance(exc, aiosmtplib.SMTPDataError) and exc.code >= 500:
        return Outcome(f"{exc.code} message refused", permanent=True)
    if isinstance(exc, aiosmtplib.SMTPNotSupported | ValueError):
        return Outcome(f"not sendable: {name}", permanent=True)  # e.g. an address the server cannot take
    if isinstance(exc, aiosmtplib.SMTPResponseException):  # 4xx, or a refusal of us rather than of it
        return Outcome(f"{exc.code} {name}", retry=True, drop_connection=exc.code == 421)
    return Outcome(name, retry=True, drop_connection=True)  # timeouts, lost connections, the unknown


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(MAX_BACKOFF, 2.0 ** max(0, attempts - 1)))


class EmailSender:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        settings: Settings,
        *,
        connections: int = CONNECTIONS,
        timeout: float = MESSAGE_TIMEOUT,
        lease: timedelta | None = None,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        """``tls_context`` replaces the system's trusted certificates (a private CA, or a test's)."""
        self.sessions, self.settings = sessions, settings
        self.connections = connections
        self.lease = lease or timedelta(seconds=settings.outbox_lease_seconds)
        self.timeout = min(timeout, self.lease.total_seconds() / 4)  # a message ends well inside its lease
        self.tls_context = tls_context
        self.sender = parseaddr(settings.smtp_from)[1] or settings.smtp_from
        self.domain = self.sender.rpartition("@")[2] or "hjulet.invalid"
        self._ehlo_name: str | None = None
        self._wake = asyncio.Event()
        self.sent = 0

    @property
    def enabled(self) -> bool:
        return bool(self.settings.smtp_host)

    def wake(self) -> None:
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until `stop` is set; then finish the round in progress."""
        while not stop.is_set():
            try:
                busy = await self.round()
            except Exception as exc:  # the database may be away for a moment: try again soon
                log.warning("e-mail round failed: %s", type(exc).__name__)
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
        while time.monotonic() < deadline and await self.round():
            pass

    async def round(self) -> bool:
        """One round; True when something was claimed."""
        if self._ehlo_name is None:  # a DNS lookup: done once, and before any lease starts to run
            self._ehlo_name = await asyncio.to_thread(socket.getfqdn)
        limit = self.connections * PER_CONNECTION
        async with self.sessions() as session, session.begin():
            items = await Outbox(session).claim_due(CHANNEL, limit=limit, lease=self.lease)
        if not items:
            return False
        waiting = deque(items)
        # No message starts so late that it could outlive its lease (and be claimed a second time).
        last_start = time.monotonic() + self.lease.total_seconds() - self.timeout - 1.0
        workers = min(self.connections, len(items))
        down = await asyncio.gather(*(self._work(waiting, last_start) for _ in range(workers)))
        reason = down[0] if all(down) else None  # no connection could be made: the server is away
        for item in waiting:  # every connection failed, or the round ran out of time
            late = Outcome(reason, retry=True) if reason else Outcome("not reached in its round", retry=True)
            await self._record(item, late, delay=backoff(item.attempts) if reason else timedelta(0))
        return True

    async def _work(self, waiting: deque[OutboxItem], last_start: float) -> str | None:
        """Send messages from `waiting` over one connection; the reason when no connection could be made."""
        smtp: aiosmtplib.SMTP | None = None
        try:
            while waiting and time.monotonic() < last_start:
                item = waiting.popleft()
                try:
                    message = self._message(item)
                except (KeyError, TypeError, ValueError) as exc:  # a broken payload or address
                    await self._record(item, Outcome(f"not sendable: {type(exc).__name__}", permanent=True))
                    continue
                connecting = smtp is None
                try:
                    async with asyncio.timeout(self.timeout):
                        if smtp is None:
                            smtp = self._client()
                            await smtp.connect()
                            connecting = False
                        await smtp.send_message(message, sender=self.sender, recipients=[item.address])
                except Exception as exc:
                    outcome = classify(exc)
                    if connecting or isinstance(exc, aiosmtplib.SMTPConnectError):
                        outcome = Outcome(outcome.reason, retry=True, drop_connection=True)
                else:
                    outcome = SENT
                await self._record(item, outcome)
                if smtp is not None and (outcome.drop_connection or not smtp.is_connected):
                    smtp.close()
                    smtp = None
                if connecting:
                    return outcome.reason  # the server is away or refuses us: leave the rest for later
            return None
        finally:
            if smtp is not None:
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(self.timeout):
                        await smtp.quit()
                smtp.close()

    def _client(self) -> aiosmtplib.SMTP:
        settings = self.settings
        security = settings.smtp_security
        return aiosmtplib.SMTP(
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_user or None,
            password=settings.smtp_password if settings.smtp_user else None,
            use_tls=security == "tls",
            start_tls=security == "starttls",  # required when configured: never fall back to plain text
            tls_context=self.tls_context,
            local_hostname=self._ehlo_name,
            timeout=self.timeout,
        )

    def _message(self, item: OutboxItem) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.settings.smtp_from
        message["To"] = item.address
        message["Subject"] = str(item.payload["subject"])
        message["Date"] = format_datetime(utcnow())
        message["Message-ID"] = make_msgid(idstring="hjulet", domain=self.domain)
        message["Auto-Submitted"] = "auto-generated"
        message["X-Auto-Response-Suppress"] = "All"  # no out-of-office replies to a no-reply notice
        message.set_content(str(item.payload["text"]))
        return message

    async def _record(self, item: OutboxItem, outcome: Outcome, delay: timedelta | None = None) -> None:
        async with self.sessions() as session, session.begin():
            outbox = Outbox(session)
            if outcome.retry and item.attempts < MAX_ATTEMPTS:
                wait = delay if delay is not None else backoff(item.attempts)
                await outbox.retry_later(item.id, wait, outcome.reason)
            elif outcome.retry:
                await outbox.give_up(item.id, f"gave up: {outcome.reason}")
                log.warning(
                    "outbox %d: gave up after %d attempts (%s)", item.id, item.attempts, outcome.reason
                )
            elif outcome.permanent:
                await outbox.give_up(item.id, outcome.reason)
                log.info("outbox %d: e-mail not deliverable (%s)", item.id, outcome.reason)
            else:
                await outbox.mark_sent(item.id)
                self.sent += 1
