"""Alembic environment for Hjulet (async, following Alembic's asyncio cookbook).

``storage.database.upgrade`` builds the ``Config`` in code and puts the database URL in
``config.attributes["url"]`` (and, escaped, in the main option ``sqlalchemy.url``); no alembic.ini.
A caller holding a synchronous connection (e.g. inside ``AsyncConnection.run_sync``) may pass it as
``config.attributes["connection"]`` to migrate on that connection. ``config.attributes["cipher"]``
(the encryption keyring, optional) goes on the migration's engine, for migrations that encrypt.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import URL, Connection

from storage.database import make_engine
from storage.models import Base

config = context.config
target_metadata = Base.metadata


def _url() -> str | URL:
    url = config.attributes.get("url") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database URL: use storage.database.upgrade(url)")
    return url


def run_migrations_offline() -> None:
    """Write the SQL instead of running it (``alembic upgrade --sql``)."""
    url = _url()
    context.configure(
        url=url,
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        render_as_batch=str(url).startswith("sqlite"),
    )
    with context.begin_transaction():
        context.run_migrations()


def do_run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_async_migrations() -> None:
    engine = make_engine(_url(), for_migrations=True, cipher=config.attributes.get("cipher"))
    try:
        async with engine.connect() as connection:
            await connection.run_sync(do_run_migrations)
    finally:
        await engine.dispose()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        do_run_migrations(connection)
    else:
        asyncio.run(run_async_migrations())


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
