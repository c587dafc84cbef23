"""What the `hjulet` commands share: settings with logging, one-line errors, a migrated database.

Here, not in bot/cli.py, because bot/cli.py imports the modules whose commands use these.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any, TypeVar

import click
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.directory_file import DirectoryFileError
from bot.settings import ConfigError, Settings, load_settings
from flows.loader import FlowError
from storage import StorageError
from storage.crypto import Cipher

T = TypeVar("T")
Factory = async_sessionmaker[AsyncSession]
Command = Callable[..., Any]


def failing_clearly(storage: str = "database") -> Callable[[Command], Command]:
    """A decorator turning the errors a person can mend into one line (no traceback); `storage`
    names what a StorageError is about ("keys" for the keyring commands)."""

    def decorate(func: Command) -> Command:
        @wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return func(*args, **kwargs)
            except ConfigError as exc:
                raise click.ClickException(f"configuration: {exc}") from exc
            except FlowError as exc:
                raise click.ClickException(f"flow file: {exc}") from exc
            except DirectoryFileError as exc:
                raise click.ClickException(str(exc)) from exc
            except StorageError as exc:
                raise click.ClickException(f"{storage}: {exc}") from exc
            except SQLAlchemyError as exc:
                reason = str(getattr(exc, "orig", None) or exc).strip().splitlines() or [type(exc).__name__]
                raise click.ClickException(f"database: {reason[0]}") from exc

        return wrapper

    return decorate


friendly = failing_clearly()


def command_settings() -> Settings:
    """The settings, with logging set up as they say (JSON or text, secrets hidden)."""
    from bot.wiring import configure_logging

    settings = load_settings()
    configure_logging(settings)
    return settings


def on_database(
    settings: Settings, work: Callable[[Factory], Awaitable[T]], cipher: Cipher | None = None
) -> T:
    """Migrate (with the keyring: `cipher`, else the settings' one), then run `work` with sessions
    on an engine made for it and disposed after."""
    from bot.wiring import load_cipher
    from storage import make_engine, make_session_factory, upgrade

    cipher = cipher or load_cipher(settings)
    upgrade(settings.db_url, cipher=cipher)

    async def run() -> T:
        engine = make_engine(settings.db_url, cipher=cipher)
        try:
            return await work(make_session_factory(engine))
        finally:
            await engine.dispose()

    return asyncio.run(run())
