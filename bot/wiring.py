"""Wiring: build the conversation service from settings. One function per process, no globals."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from backend.intake import Desk
from backend.notices import Notifier
from bot.i18n import Catalogs
from bot.service import ConversationService
from bot.settings import ConfigError, Settings
from flows.engine import Engine
from flows.loader import load_flows
from nlu import Understanding, load_lexicon
from storage import load_or_create_secret, make_engine, make_session_factory, upgrade
from storage.crypto import Cipher, load_or_create_keyring

# Loggers that would write SQL parameters or message bodies (personal data) at DEBUG level.
DATA_LOGGERS = ("aiosqlite", "asyncpg", "sqlalchemy.engine", "sqlalchemy.pool", "aiohttp.client")


def configure_logging(settings: Settings) -> None:
    """JSON lines (or text at a terminal) on stderr, secrets hidden: bot/logs.py."""
    from bot.logs import install
    from bot.secret_files import SECRET_SETTINGS

    try:
        install(settings.log_level, settings.log_format, [getattr(settings, n) for n in SECRET_SETTINGS])
    except ValueError as exc:
        raise ConfigError(f"HJULET_LOG_LEVEL: {exc}") from None
    protect_logs()


def protect_logs() -> None:
    """Keep the database drivers' loggers at WARNING whatever the log level: no data in the logs."""
    for name in DATA_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def settle_heap() -> None:
    """Once a process is built: move what it loaded (flows, catalogs, NLU, web app) out of the
    garbage collector's view. Each full collection then looks only at what requests made, not at
    the whole process: measured here, a full collection of a serving process took 130 ms, during
    which no family was answered."""
    gc.collect()
    gc.freeze()


def build_engine(settings: Settings) -> Engine:
    """Load and validate the flows (a broken file raises FlowError naming file:line)."""
    return Engine(load_flows(settings.flows_dir), settings.language_list)


def load_cipher(settings: Settings) -> Cipher:
    """The encryption keyring: from HJULET_ENCRYPTION_KEYS, else the key file (made on first use)."""
    return load_or_create_keyring(settings.keyring_file, settings.encryption_keys or None)


def load_understanding(settings: Settings) -> Understanding:
    """The NLU, on `nlu_threads` threads (0: every core)."""
    return Understanding.load(threads=settings.nlu_threads)


def build_desk(settings: Settings) -> Desk:
    notifier = Notifier(
        enabled=bool(settings.smtp_host),
        public_url=settings.public_url,
        catalogs=Catalogs(settings.locales_dir, "staff"),
    )
    return Desk(notifier=notifier, municipality=settings.municipality_code or None)


@asynccontextmanager
async def open_service(settings: Settings, *, migrate: bool = True) -> AsyncIterator[ConversationService]:
    protect_logs()
    engine = build_engine(settings)
    secret = load_or_create_secret(settings.key_file)
    cipher = load_cipher(settings)
    if migrate:
        await asyncio.to_thread(upgrade, settings.db_url, cipher=cipher)  # Alembic runs its own loop
    understanding = await asyncio.to_thread(load_understanding, settings)
    db = make_engine(settings.db_url, cipher=cipher)
    try:
        yield ConversationService(
            settings,
            make_session_factory(db),
            engine,
            Catalogs(settings.locales_dir, "family"),
            load_lexicon(),
            secret,
            build_desk(settings),
            understanding,
        )
    finally:
        await db.dispose()
