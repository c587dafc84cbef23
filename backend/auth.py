"""Signing staff in: argon2id passwords, server-side sessions, CSRF tokens, throttling, API tokens.

- The session cookie holds a random id (the database keeps only its SHA-256); HttpOnly,
  SameSite=Strict, Secure when the desk is served over TLS; it ends after 30 minutes without use.
- Every form carries the session's CSRF token; a POST without the right one is refused.
- Five wrong passwords lock an account for 15 minutes; one address may try 20 times in 15 minutes.
  A wrong e-mail address costs the same time as a wrong password.
- The JSON API takes `Authorization: Bearer <token>` (`hjulet staff token EMAIL`).
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.passwords import hash_password, needs_rehash, verify_password
from storage.concerns import Audit
from storage.desk import Staff, StaffSession
from storage.directory import Directory
from storage.models import utcnow

COOKIE: Final = "hjulet_session"
LOCK_AFTER: Final = 5
LOCK_FOR: Final = timedelta(minutes=15)
IP_WINDOW: Final = 15 * 60.0
IP_ATTEMPTS: Final = 20
TOUCH_EVERY: Final = timedelta(seconds=60)


class LoginRefused(Exception):
    """Wrong e-mail or password, a locked account, or too many attempts (reason for the log only)."""

    def __init__(self, reason: str, throttled: bool = False) -> None:
        super().__init__(reason)
        self.throttled = throttled


@dataclass
class IpThrottle:
    """Failed logins per client address, in memory (a sliding window)."""

    attempts: int = IP_ATTEMPTS
    window: float = IP_WINDOW
    _failures: dict[str, deque[float]] = field(default_factory=lambda: defaultdict(deque))

    def blocked(self, ip: str) -> bool:
        recent = self._failures[ip]
        while recent and recent[0] < time.monotonic() - self.window:
            recent.popleft()
        return len(recent) >= self.attempts

    def failed(self, ip: str) -> None:
        self._failures[ip].append(time.monotonic())


@dataclass
class Auth:
    sessions: async_sessionmaker[AsyncSession]
    idle: timedelta
    throttle: IpThrottle = field(default_factory=IpThrottle)

    async def login(self, email: str, password: str, ip: str) -> tuple[str, Staff]:
        """A new session id for a correct e-mail and password; LoginRefused otherwise."""
        if self.throttle.blocked(ip):
            raise LoginRefused("too many attempts from this address", throttled=True)
        async with self.sessions() as session, session.begin():
            directory = Directory(session)
            staff = await directory.staff_by_email(email)
            now = utcnow()
            locked = staff is not None and staff.locked_until is not None and staff.locked_until > now
            correct = verify_password(staff.password_hash if staff else None, password)
            if staff is None or not staff.active or locked or not correct:
                self.throttle.failed(ip)
                if staff is not None and not locked:
                    staff.failed_logins += 1
                    if staff.failed_logins >= LOCK_AFTER:
                        staff.locked_until, staff.failed_logins = now + LOCK_FOR, 0
                        await Audit(session).record(staff.id, "locked", "staff", staff.id)
                raise LoginRefused("locked" if locked else "wrong e-mail or password")
            staff.failed_logins, staff.locked_until = 0, None
            if staff.password_hash and needs_rehash(staff.password_hash):
                staff.password_hash = hash_password(password)
            session_id = secrets.token_urlsafe(32)
            await directory.add_session(session_id, staff.id, secrets.token_urlsafe(24))
            await Audit(session).record(staff.id, "login", "staff", staff.id)
        return session_id, staff

    async def resolve(self, session_id: str | None) -> tuple[StaffSession, Staff] | None:
        """The live session behind a cookie; an idle one is ended."""
        if not session_id or len(session_id) > 200:
            return None
        async with self.sessions() as session, session.begin():
            directory = Directory(session)
            found = await directory.session_of(session_id)
            if found is None:
                return None
            live, staff = found
            now = utcnow()
            if now - live.last_seen_at > self.idle:
                await directory.end_session(session_id)
                return None
            if now - live.last_seen_at > TOUCH_EVERY:
                live.last_seen_at = now
        return live, staff

    async def logout(self, session_id: str | None, staff: Staff | None) -> None:
        if not session_id:
            return
        async with self.sessions() as session, session.begin():
            await Directory(session).end_session(session_id)
            if staff is not None:
                await Audit(session).record(staff.id, "logout", "staff", staff.id)

    async def bearer(self, header: str | None) -> Staff | None:
        if not header or not header.startswith("Bearer "):
            return None
        token = header.removeprefix("Bearer ").strip()
        if not token or len(token) > 200:
            return None
        async with self.sessions() as session, session.begin():
            return await Directory(session).staff_by_token(token)


def csrf_ok(expected: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(expected.encode(), (given or "").encode())
