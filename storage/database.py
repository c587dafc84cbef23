"""Engines, sessions and migrations.

Hjulet runs on SQLite (the embedded default, one file) or PostgreSQL (production), both through
SQLAlchemy's asyncio drivers. Nothing here is created at import time: each process builds its own
engine with ``make_engine`` and its session factory with ``make_session_factory``.

``upgrade`` and ``current_revision`` are synchronous (for the command line and for startup); they
also work when called from inside a running event loop, by doing their work in a helper thread.
"""

from __future__ import annotations

import asyncio
import errno
import socket
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar, Token
from pathlib import Path
from typing import Any, Final, TypeVar

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, DisconnectionError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool, StaticPool

from storage.crypto import DIALECT_ATTRIBUTE, Cipher
from storage.errors import StorageError

T = TypeVar("T")

MIGRATIONS_DIR: Final = Path(__file__).resolve().parent / "migrations"
POOL_SIZE: Final = 20  # PostgreSQL connections kept per process
POOL_OVERFLOW: Final = 20
SQLITE_PRAGMAS: Final = ("journal_mode=WAL", "busy_timeout=5000", "synchronous=NORMAL")
POSTGRES_CONNECT_TIMEOUT: Final = 10  # seconds; asyncpg's own default is 60
_DRIVERS: Final = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
}
_HELP: Final = "use sqlite+aiosqlite:///path/to/hjulet.db or postgresql+asyncpg://user@host:5432/dbname"


def mask_url(url: str | URL) -> str:
    """The URL as text with any password replaced by ``***``; safe to print and log."""
    if isinstance(url, URL):
        return url.render_as_string(hide_password=True)
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):  # unparsable: hide everything before the host
        head, at, host = url.rpartition("@")
        if not at:
            return url
        scheme, separator, _credentials = head.rpartition("://")
        return f"{scheme}{separator}***@{host}"


def parse_url(url: str | URL) -> URL:
    """Parse and check a database URL, choosing the asyncio driver for a bare ``sqlite``/``postgresql``.

    Raises ``StorageError`` for anything that is not SQLite or PostgreSQL.
    """
    try:
        parsed = url if isinstance(url, URL) else make_url(url)
    except (ArgumentError, ValueError):
        raise StorageError(f"Not a database URL: {mask_url(url)!r}; {_HELP}") from None
    driver = _DRIVERS.get(parsed.drivername)
    if driver is None:
        raise StorageError(f"Unsupported database URL {mask_url(parsed)}: {_HELP}")
    return parsed.set(drivername=driver)


def make_engine(url: str | URL, *, for_migrations: bool = False, cipher: Cipher | None = None) -> AsyncEngine:
    """An async engine for ``url``, tuned for its database.

    SQLite: the file's folder is created if missing, and every connection gets WAL journaling,
    foreign keys, a 5 s busy timeout and ``synchronous=NORMAL``. PostgreSQL: connections are
    checked before use (``pool_pre_ping``). ``for_migrations`` gives an engine without a pool and,
    on SQLite, with foreign keys off, as batch migrations that copy tables require. ``cipher``
    encrypts and decrypts the encrypted columns; without it, reading or writing them fails.
    """
    engine = _make_engine(url, for_migrations, options={})
    setattr(engine.dialect, DIALECT_ATTRIBUTE, cipher)
    return engine


def _make_engine(url: str | URL, for_migrations: bool, options: dict[str, Any]) -> AsyncEngine:
    parsed = parse_url(url)
    if for_migrations:
        options["poolclass"] = NullPool
    if parsed.get_backend_name() == "sqlite":
        _ensure_sqlite_folder(parsed)
        if parsed.database in (None, "", ":memory:") and not for_migrations:
            options["poolclass"] = StaticPool  # one shared connection, or each one sees an empty db
        engine = create_async_engine(parsed, **options)
        pragmas = (*SQLITE_PRAGMAS, f"foreign_keys={'OFF' if for_migrations else 'ON'}")
        event.listen(engine.sync_engine, "connect", _pragma_setter(pragmas))
        return engine
    options["connect_args"] = {"timeout": POSTGRES_CONNECT_TIMEOUT}
    if not for_migrations:  # kept open for bursts: a new connection costs more than the query it serves
        options.update(pool_size=POOL_SIZE, max_overflow=POOL_OVERFLOW)
    return create_async_engine(parsed, pool_pre_ping=True, **options)


def make_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions whose objects stay readable after commit (``expire_on_commit=False``); on an SQLite
    file, sessions that take turns (``_turn_taking``)."""
    if engine.dialect.name == "sqlite" and not isinstance(engine.pool, StaticPool):
        return async_sessionmaker(engine, expire_on_commit=False, class_=_turn_taking())
    return async_sessionmaker(engine, expire_on_commit=False)


_IN_TURN: ContextVar[bool] = ContextVar("hjulet_sqlite_turn", default=False)


def _turn_taking() -> type[AsyncSession]:
    """A session class whose sessions take turns, first come first served, in this process.

    SQLite lets one writer in at a time. Sessions that went in together polled the file lock in
    SQLite's busy handler, which sleeps up to 100 ms between tries: under `make bench` (200
    families, 6 s apart) handling p99 was 198 ms, with most of it asleep. Taking turns, a session
    starts the moment the one before it ends (p99 35 ms). A session opened while the task already
    has its turn (an audit row written in a transaction of its own, say) goes in at once, on a
    connection of its own, as before. Another process (`hjulet retention run`) still meets the
    busy timeout.
    """
    turns: list[tuple[asyncio.AbstractEventLoop, asyncio.Lock]] = []  # made in the loop that uses it

    def turn() -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        if not turns or turns[0][0] is not loop:
            turns[:] = [(loop, asyncio.Lock())]
        return turns[0][1]

    class TurnTakingSession(AsyncSession):
        _turn: asyncio.Lock | None = None
        _token: Token[bool] | None = None

        async def __aenter__(self) -> TurnTakingSession:
            if not _IN_TURN.get():
                lock = turn()
                await lock.acquire()
                self._turn, self._token = lock, _IN_TURN.set(True)
            return self

        async def __aexit__(self, *exc: Any) -> None:
            try:
                await super().__aexit__(*exc)
            finally:
                if self._turn is not None and self._token is not None:
                    _IN_TURN.reset(self._token)
                    self._turn.release()
                    self._turn = self._token = None

    return TurnTakingSession


async def ping(engine: AsyncEngine) -> None:
    """Connect once; raise ``StorageError`` with a one-line reason if the database cannot be reached."""
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as exc:
        raise StorageError(
            f"Cannot reach the database at {mask_url(engine.url)}: {_reason(exc, engine.url)}"
        ) from exc


def unavailable(exc: BaseException) -> bool:
    """True when ``exc`` means the database cannot be reached just now, so the same work can succeed
    later: the connection refused, reset or timed out, the pool exhausted, PostgreSQL shutting down
    or not taking connections yet, SQLite locked. False for anything else (a bug, bad data), which
    trying again would not mend.

    After such an error the engine needs no restart: a broken connection is dropped from the pool,
    and ``pool_pre_ping`` tests every other one before it is used again.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, DBAPIError) and current.connection_invalidated:
            return True
        if isinstance(current, DisconnectionError | PoolTimeout | ConnectionError | TimeoutError):
            return True
        if isinstance(current, socket.gaierror) or (
            isinstance(current, OSError) and current.errno in _NETWORK_ERRNOS
        ):
            return True
        sqlstate = getattr(current, "sqlstate", None)  # asyncpg: connection, resources, shutdown
        if isinstance(sqlstate, str) and sqlstate.startswith(_UNAVAILABLE_SQLSTATES):
            return True
        if type(current).__name__ in _ASYNCPG_CONNECTION_ERRORS:
            return True
        if isinstance(current, sqlite3.OperationalError) and str(current).startswith(_SQLITE_BUSY):
            return True
        current = current.__cause__ or current.__context__
    return False


_NETWORK_ERRNOS: Final = frozenset(
    {errno.ECONNREFUSED, errno.ECONNRESET, errno.ECONNABORTED, errno.EHOSTUNREACH, errno.ENETUNREACH,
     errno.ETIMEDOUT, errno.EPIPE}
)  # fmt: skip
# SQLSTATE classes: 08 connection exception, 53 insufficient resources, 57P operator intervention
_UNAVAILABLE_SQLSTATES: Final = ("08", "53", "57P")
_SQLITE_BUSY: Final = ("database is locked", "database table is locked", "database is busy")
_ASYNCPG_CONNECTION_ERRORS: Final = frozenset({"ConnectionDoesNotExistError", "ConnectionFailureError"})


def alembic_config(url: str | URL, *, cipher: Cipher | None = None) -> Config:
    """An Alembic ``Config`` built in code: no alembic.ini; env.py reads the URL from ``attributes``.

    ``cipher`` is for migrations that encrypt or decrypt stored values (0006); a database without
    such values migrates without it.
    """
    parsed = parse_url(url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # configparser treats % as interpolation, and URL-encoded passwords contain it
    config.set_main_option("sqlalchemy.url", parsed.render_as_string(hide_password=False).replace("%", "%%"))
    config.attributes["url"] = parsed
    config.attributes["cipher"] = cipher
    return config


def upgrade(url: str, revision: str = "head", *, cipher: Cipher | None = None) -> None:
    """Migrate the database at ``url`` to ``revision``; doing nothing when it is already there.

    ``cipher``: the encryption keyring, needed when a migration encrypts values already stored.
    """
    config = alembic_config(url, cipher=cipher)
    _check_reachable(config.attributes["url"])
    _outside_event_loop(lambda: command.upgrade(config, revision))


def current_revision(url: str) -> str | None:
    """The migration the database is at, or None for a database never migrated."""
    parsed = alembic_config(url).attributes["url"]
    _check_reachable(parsed)
    return _outside_event_loop(lambda: asyncio.run(_current_revision(parsed)))


def head_revision() -> str | None:
    """The newest migration shipped with this code."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return ScriptDirectory.from_config(config).get_current_head()


async def _current_revision(url: URL) -> str | None:
    engine = make_engine(url, for_migrations=True)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(
                lambda sync: MigrationContext.configure(sync).get_current_revision()
            )
    finally:
        await engine.dispose()


def _check_reachable(url: URL) -> None:
    async def check() -> None:
        engine = make_engine(url, for_migrations=True)
        try:
            await ping(engine)
        finally:
            await engine.dispose()

    _outside_event_loop(lambda: asyncio.run(check()))


def _outside_event_loop(work: Callable[[], T]) -> T:
    """Run ``work`` here, or in a helper thread when this thread already runs an event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return work()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="hjulet-migrate") as pool:
        return pool.submit(work).result()


def _ensure_sqlite_folder(url: URL) -> None:
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    folder = Path(database).expanduser().parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(
            f"Cannot create the folder {folder} for the database at {mask_url(url)}: "
            f"{(exc.strerror or str(exc)).lower()}"
        ) from exc


def _pragma_setter(pragmas: tuple[str, ...]) -> Callable[[Any, Any], None]:
    def set_pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            for pragma in pragmas:
                cursor.execute(f"PRAGMA {pragma}")
        finally:
            cursor.close()

    return set_pragmas


def _reason(exc: BaseException, url: URL) -> str:
    """A short, lower-case reason from the innermost cause of ``exc``, without the password."""
    root = exc
    while root.__cause__ is not None:
        root = root.__cause__
    message = str(root).strip()
    if isinstance(root, ConnectionRefusedError) or "Connect call failed" in message:
        reason = "connection refused"
    elif isinstance(root, socket.gaierror):
        reason = f"unknown host {url.host}"
    elif isinstance(root, TimeoutError):
        reason = "no answer (timed out)"
    elif isinstance(root, OSError) and root.errno in (errno.EACCES, errno.EPERM):
        reason = "permission denied"
    else:
        reason = message.splitlines()[0] if message else type(root).__name__
    if url.password:
        reason = reason.replace(str(url.password), "***")
    return reason
