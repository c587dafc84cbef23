"""Migrations on real databases: they apply, repeat safely, go down, and match the models."""

from __future__ import annotations

import asyncio

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from storage import alembic_config, current_revision, head_revision, make_engine, upgrade
from storage.models import Base

TABLES = set(Base.metadata.tables)  # every model has its table; the next test checks the columns


async def table_names(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        async with engine.connect() as connection:
            names = await connection.run_sync(lambda sync: set(inspect(sync).get_table_names()))
    finally:
        await engine.dispose()
    return names - {"alembic_version"}


def differences(connection: Connection) -> list[object]:
    return list(compare_metadata(MigrationContext.configure(connection), Base.metadata))


async def test_upgrade_creates_the_tables_and_can_run_again(blank_database_url: str) -> None:
    assert current_revision(blank_database_url) is None
    upgrade(blank_database_url)  # from inside the running event loop: works through a helper thread
    head = head_revision()
    assert head is not None and current_revision(blank_database_url) == head
    assert await table_names(blank_database_url) == TABLES >= {"users", "answers", "consents", "outbox"}
    await asyncio.to_thread(upgrade, blank_database_url)  # already at head: nothing to do
    assert current_revision(blank_database_url) == head


async def test_the_migrated_schema_matches_the_models(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        async with engine.connect() as connection:
            assert await connection.run_sync(differences) == []
    finally:
        await engine.dispose()


async def test_downgrade_removes_everything_and_upgrade_restores_it(database_url: str) -> None:
    await asyncio.to_thread(command.downgrade, alembic_config(database_url), "base")
    assert current_revision(database_url) is None
    assert await table_names(database_url) == set()
    await asyncio.to_thread(upgrade, database_url)
    assert await table_names(database_url) == TABLES
