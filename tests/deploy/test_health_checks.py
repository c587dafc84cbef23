"""/healthz and /readyz: what Docker's health checks and an orchestrator ask the desk.

Liveness never touches the database; readiness says 503 as soon as the database is away, silent,
not migrated, or Telegram is not set up in webhook mode, and 200 when all is well. Neither says
anything but check names and a few fixed words.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from backend.app import create_app
from storage import upgrade
from tests.backend.desk_fixtures import client, desk_settings, running_desk
from tests.bot.telegram.conftest import TOKEN
from tests.bot.telegram.fakeapi import FakeBotAPI
from tests.deploy.conftest import WEBHOOK_SECRET

WORDS = {
    "ok",
    "unavailable",
    "unreachable",
    "timeout",
    "unknown",
    "not migrated",
    "not at head",
    "not set up",
}
DB_PASSWORD = "pw-canary-5531"


def closed_port() -> int:
    """A loopback port nobody listens on (bound, then let go)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def silent_server() -> Iterator[int]:
    """A loopback port that accepts connections and never says a word (a database that hangs)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    try:
        yield int(server.getsockname()[1])
    finally:
        server.close()


async def ready(app) -> tuple[int, dict]:  # type: ignore[no-untyped-def, type-arg]
    async with client(app) as browser:
        response = await browser.get("/readyz")
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert set(body) == {"status", "checks"}
    assert set(body["checks"].values()) | {body["status"]} <= WORDS, body  # nothing but these words
    return response.status_code, body


def webhook(api: FakeBotAPI, **more: str) -> dict[str, str]:
    return {
        "telegram_token": TOKEN,
        "telegram_api_base": api.base,
        "telegram_webhook_secret": WEBHOOK_SECRET,
        "public_url": "https://desk.example",
        **more,
    }


@pytest.fixture
async def desk_on_a_dead_database(tmp_path: Path) -> AsyncIterator[object]:
    url = f"postgresql+asyncpg://hjulet:{DB_PASSWORD}@127.0.0.1:{closed_port()}/hjulet"
    async with running_desk(desk_settings(url, tmp_path / "var")) as app:
        yield app


async def test_healthz_is_up_even_before_the_app_has_started(tmp_path: Path) -> None:
    app = create_app(desk_settings("postgresql+asyncpg://x@127.0.0.1:1/x", tmp_path), migrate=False)
    async with client(app) as browser:
        live = await browser.get("/healthz")
        not_yet = await browser.get("/readyz")

    assert (live.status_code, live.json()) == (200, {"status": "ok", "checks": {"process": "ok"}})
    assert live.headers["cache-control"] == "no-store"
    assert (not_yet.status_code, not_yet.json()["status"]) == (503, "unavailable")


async def test_ready_in_webhook_mode_with_the_database_migrated_and_the_nlu_loaded(
    database_url: str, bot_api: FakeBotAPI, tmp_path: Path
) -> None:
    async with running_desk(desk_settings(database_url, tmp_path / "var", **webhook(bot_api))) as app:
        status, body = await ready(app)

    assert status == 200
    assert body == {
        "status": "ok",
        "checks": {"database": "ok", "migrations": "ok", "nlu": "ok", "telegram": "ok"},
    }


async def test_without_webhook_mode_telegram_is_not_checked_and_probes_log_nothing(
    database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_desk(desk_settings(database_url, tmp_path / "var")) as app:
        caplog.set_level(logging.INFO)
        caplog.clear()
        for _ in range(3):
            status, body = await ready(app)

    assert (status, sorted(body["checks"])) == (200, ["database", "migrations", "nlu"])
    assert [r.getMessage() for r in caplog.records if r.name.startswith(("alembic", "backend"))] == []


async def test_not_ready_when_the_database_is_away_but_still_alive(
    desk_on_a_dead_database, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    app = desk_on_a_dead_database
    status, body = await ready(app)
    async with client(app) as browser:
        live = await browser.get("/healthz")

    assert status == 503
    assert body == {
        "status": "unavailable",
        "checks": {"database": "unreachable", "migrations": "unknown", "nlu": "ok"},
    }
    assert live.status_code == 200  # the process is fine: no restart for a database outage
    assert "readiness: database is unreachable" in caplog.text
    assert DB_PASSWORD not in caplog.text


async def test_a_failing_check_is_logged_when_it_starts_and_when_it_ends_not_at_every_probe(
    blank_database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="backend.health")
    async with running_desk(desk_settings(blank_database_url, tmp_path / "var")) as app:
        first, _ = await ready(app)
        second, body = await ready(app)
        await asyncio.to_thread(upgrade, blank_database_url)  # what the compose file's `migrate` step does
        third, _ = await ready(app)

    assert (first, second, third) == (503, 503, 200)
    assert body["checks"]["migrations"] == "not migrated" and body["checks"]["database"] == "ok"
    assert [r.getMessage() for r in caplog.records if r.name == "backend.health"] == [
        "readiness: migrations is not migrated",
        "readiness: migrations is ok again",
    ]


async def test_a_database_that_does_not_answer_is_given_two_seconds(tmp_path: Path) -> None:
    with contextlib.ExitStack() as silence:
        port = silence.enter_context(silent_server())
        url = f"postgresql+asyncpg://hjulet@127.0.0.1:{port}/hjulet"
        async with running_desk(desk_settings(url, tmp_path / "var")) as app:
            started = time.monotonic()
            status, body = await ready(app)
            took = time.monotonic() - started
            silence.close()  # the background work waiting on it too gets its answer: stop quickly

    assert (status, body["checks"]["database"]) == (503, "timeout")
    assert 1.5 < took < 4  # the driver's own connect timeout is 10 s; Docker's probe waits 5


async def test_webhook_mode_without_a_working_telegram_channel_is_not_ready(
    database_url: str, tmp_path: Path
) -> None:
    settings = desk_settings(database_url, tmp_path / "var", telegram_webhook_secret=WEBHOOK_SECRET)
    async with running_desk(settings) as app:  # a secret but no token: nothing can be received
        status, body = await ready(app)

    assert (status, body["checks"]["telegram"]) == (503, "not set up")
