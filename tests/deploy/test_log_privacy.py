"""Logs: one JSON object a line, and never a family's words, names, ids, a password or a key.

Canaries (made-up words that appear nowhere else) go in through every door: a family on the console,
in the web chat and on Telegram by webhook, a named person's note and message, a wrong login, an
invitation and a plan key in query strings. Everything logged at DEBUG is searched for them: the
records (caplog) and the lines our JSON handler writes, in this process and from `hjulet serve` itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import os
import re
import signal
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from bot.logs import AccessFilter, JsonFormatter, TextFormatter, install, secret_values
from storage.concerns import Concerns
from storage.models import Concern
from storage.outbox import Outbox
from tests.backend.desk_fixtures import client, console_worry, desk_settings, open_session, running_desk
from tests.bot.telegram.conftest import TOKEN
from tests.bot.telegram.fakeapi import FakeBotAPI, Phone
from tests.deploy.conftest import WEBHOOK_SECRET

HJULET = Path(sys.executable).parent / "hjulet"
LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
KEYRING = "k1 Y2FuYXJ5LWtleS1ieXRlcy0zMi1ieXRlcy1sb25nISE="
# Made-up words and numbers, one per door, that nothing else contains.
CANARY = {
    "console_user": "konsolkanariebrukare",
    "console_words": "konsolkanarieord sover dåligt",
    "web_name": "Webbkanarienamn",
    "web_words": "webbkanarieord rädd för mörkret",
    "telegram_id": "7718264533",
    "telegram_first": "Tgkanariefornamn",
    "telegram_last": "Tgkanarieefternamn",
    "telegram_username": "tgkanarieanvandare",
    "telegram_name": "Tgkanariebarn",
    "telegram_words": "tgkanarieord vaknar varje natt",
    "telegram_payload": "tgkanariepayload",
    "note": "anteckningskanarie ringde förskolan",
    "staff_message": "personalkanariemeddelande",
    "login_email": "kanarie.inloggning@example.se",
    "login_password": "kanarielosenord-99",
    "known_email_password": "kanariefel-losenord-77",
    "invite": "inbjudningskanarie",
    "plan_key": "plankanarienyckel",
    "next": "nastakanarie",
}
# The test harness, not Hjulet: the fake Telegram server (aiohttp) and the test client (httpx).
FAKE_SERVER_LOGGERS = ("aiohttp.access", "aiohttp.server", "aiohttp.web", "httpx")


def record(message: str, *args: Any, exc: BaseException | None = None, **extra: Any) -> logging.LogRecord:
    made = logging.LogRecord("bot.test", logging.WARNING, __file__, 1, message, args, None)
    if exc is not None:
        made.exc_info = (type(exc), exc, exc.__traceback__)
    made.__dict__.update(extra)
    return made


# ---- the formatter ----------------------------------------------------------------------------


def test_a_json_line_holds_time_level_logger_message_and_only_the_safe_fields() -> None:
    line = JsonFormatter().format(
        record("update %d not stored", 81, update_id=81, duration_ms=12.5, text="a family's words", user_id=9)
    )

    entry = json.loads(line)
    assert "\n" not in line and LINE.match(entry.pop("time"))
    assert entry == {
        "level": "WARNING",
        "logger": "bot.test",
        "message": "update 81 not stored",
        "update_id": 81,
        "duration_ms": 12.5,
    }


def test_an_exception_is_logged_by_its_type_and_place_never_its_message() -> None:
    try:
        raise ValueError("INSERT INTO children (name) VALUES ('Kanariebarn')")
    except ValueError as exc:
        caught = exc

    for formatter in (JsonFormatter(), TextFormatter()):
        line = formatter.format(record("could not store", exc=caught))
        assert "Kanariebarn" not in line and "Traceback" not in line
        assert "builtins.ValueError" in line and "test_log_privacy.py:" in line
    entry = json.loads(JsonFormatter().format(record("could not store", exc=caught)))
    assert entry["error"] == "builtins.ValueError"
    function = test_an_exception_is_logged_by_its_type_and_place_never_its_message.__name__
    assert entry["where"] == [f"test_log_privacy.py:{caught.__traceback__.tb_lineno} {function}"]  # type: ignore[union-attr]


def test_secret_settings_are_hidden_wherever_they_turn_up() -> None:
    secrets = secret_values(
        [TOKEN, "postgresql+asyncpg://hjulet:db-pass-canary@db/hjulet", KEYRING, "", "short"]
    )
    message = (
        f"POST https://api.telegram.org/bot{TOKEN}/sendMessage failed; "
        "password authentication failed: db-pass-canary; key Y2FuYXJ5LWtleS1ieXRlcy0zMi1ieXRlcy1sb25nISE="
    )

    line = JsonFormatter(secrets).format(record("%s", message))

    assert TOKEN not in line and "db-pass-canary" not in line and "Y2FuYXJ5" not in line
    assert json.loads(line)["message"].count("***") == 3
    assert "short" not in secrets  # too short to hunt for: it would blank ordinary words


def test_a_request_line_keeps_method_path_and_status_but_no_query_and_no_address() -> None:
    access = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("203.0.113.7:51234", "GET", "/chat/plan?key=plankanarienyckel#x", "1.1", 200), None,
    )  # fmt: skip

    assert AccessFilter().filter(access)

    entry = json.loads(JsonFormatter().format(access))
    assert entry["message"] == "GET /chat/plan 200"
    assert (entry["method"], entry["path"], entry["status"], entry["event"]) == (
        "GET",
        "/chat/plan",
        200,
        "request",
    )
    assert "203.0.113.7" not in json.dumps(entry)
    odd = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, "%s", ("/x?key=1",), None)
    assert not AccessFilter().filter(odd)  # a shape we do not know is dropped, not logged


@contextlib.contextmanager
def bare_root() -> Iterator[logging.Logger]:
    """The root logger without the test runner's handlers (as in a fresh `hjulet` process)."""
    root = logging.getLogger()
    saved, level = root.handlers[:], root.level
    root.handlers = []
    try:
        yield root
    finally:
        root.handlers, root.level = saved, level
        logging.captureWarnings(False)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_install_writes_json_lines_unless_a_person_reads_them() -> None:
    piped, terminal = io.StringIO(), Terminal()
    with bare_root() as root:
        install("INFO", "auto", stream=piped)
        logging.getLogger("bot.test").info("to a pipe", extra={"concern_id": 4})
        install("INFO", "auto", stream=terminal)  # replaces its own handler, not adds one
        logging.getLogger("bot.test").info("to a terminal", extra={"concern_id": 4})
        logging.getLogger("bot.test").debug("below the level")
        handlers = root.handlers[:]

    assert len(handlers) == 1
    assert [json.loads(line)["message"] for line in piped.getvalue().splitlines()] == ["to a pipe"]
    assert re.search(r"Z INFO bot.test: to a terminal concern_id=4$", terminal.getvalue())
    assert "below the level" not in terminal.getvalue()


def test_install_leaves_a_logging_set_up_by_someone_else_alone() -> None:
    root = logging.getLogger()
    before = root.handlers[:]
    assert before  # pytest's own handlers

    assert install("DEBUG", "json") is None
    assert root.handlers == before


# ---- canaries through every door, in this process ---------------------------------------------


def webhook(api: FakeBotAPI) -> dict[str, str]:
    return {
        "telegram_token": TOKEN,
        "telegram_api_base": api.base,
        "telegram_webhook_secret": WEBHOOK_SECRET,
        "public_url": "http://desk.test",  # the test client speaks http: cookies not Secure
        "encryption_keys": KEYRING,
    }


class WebhookFamily(Phone):
    """A family on Telegram, with canaries for names, whose updates Telegram posts to the webhook."""

    def __init__(self, api: FakeBotAPI, app: FastAPI, browser: httpx.AsyncClient) -> None:
        super().__init__(api, int(CANARY["telegram_id"]), "en")
        self.app, self.browser = app, browser

    def _user(self) -> dict[str, Any]:
        names = {
            "first_name": CANARY["telegram_first"],
            "last_name": CANARY["telegram_last"],
            "username": CANARY["telegram_username"],
        }
        return {**super()._user(), **names}

    def message_update(self, text: str) -> dict[str, Any]:
        update = super().message_update(text)
        update["message"]["chat"].update(
            first_name=CANARY["telegram_first"], username=CANARY["telegram_username"]
        )
        return update

    async def post(self, update: dict[str, Any]) -> None:
        headers = {"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET}
        response = await self.browser.post(
            "/telegram/webhook", json={"update_id": next(self.api._ids), **update}, headers=headers
        )
        assert response.status_code == 200, response.text
        await settle(self.app)

    async def say(self, text: str) -> int:  # type: ignore[override]
        await self.post(self.message_update(text))
        return 0

    async def press(self, label: str, message: Any = None) -> int:  # type: ignore[override]
        message = message or self.keyboard_message
        data = next(d for text, d in message.buttons if text == label)
        await self.post(self.press_update(data, message))
        return 0


async def settle(app: FastAPI, timeout: float = 15) -> None:
    """Until every reply to Telegram has been sent."""
    desk = app.state.desk
    deadline = time.monotonic() + timeout
    while True:
        async with desk.service.sessions() as session:
            counts = await Outbox(session).counts("telegram")
        if not counts.get("pending") and not counts.get("sending"):
            return
        assert time.monotonic() < deadline, f"the outbox did not empty: {counts}"
        desk.channel.sender.wake()
        await asyncio.sleep(0.02)


async def web_family(browser: httpx.AsyncClient) -> None:
    for body in (
        {"start": True, "invite": CANARY["invite"]},
        {"choice": "en"},
        {"choice": "yes"},
        {"choice": "yes"},
        {"text": CANARY["web_name"]},
        {"text": "3"},
        {"choice": "skip"},
        {"choice": "worried"},
        {"text": CANARY["web_words"]},
    ):
        response = await browser.post("/chat/api/messages", json=body)
        assert response.status_code == 200, response.text
    assert (await browser.get(f"/chat?invite={CANARY['invite']}")).status_code == 200
    await browser.get(f"/chat/plan?key={CANARY['plan_key']}")


async def telegram_family(family: WebhookFamily) -> None:
    await family.say(f"/start {CANARY['telegram_payload']}")
    await family.press("English")
    await family.press("Yes, save my answers")
    await family.press("Yes, share my answers")
    await family.say(CANARY["telegram_name"])
    await family.say("3")
    await family.press("Skip")
    await family.press("Worried")
    await family.say(CANARY["telegram_words"])
    assert len(family.inbox) > 8  # the bot answered every step


async def wrong_logins(browser: httpx.AsyncClient) -> None:
    await browser.get(f"/login?next=/queue/mine%3F{CANARY['next']}")
    csrf = browser.cookies["hjulet_login"]
    for email, password in (
        (CANARY["login_email"], CANARY["login_password"]),
        ("a@bvc.se", CANARY["known_email_password"]),
    ):
        response = await browser.post("/login", data={"email": email, "password": password, "csrf": csrf})
        assert response.status_code == 401


async def named_person_works(app: FastAPI, ids: dict[str, int], concern_id: int) -> None:
    sessions = app.state.desk.service.sessions
    async with sessions() as session, session.begin():
        concern = await session.get(Concern, concern_id)
        assert concern is not None
        concern.assigned_to_id = ids["nurse_a"]
        await Concerns(session).add_event(concern_id, "assigned", staff_id=ids["nurse_a"])
    async with client(app) as browser:
        csrf = await open_session(sessions, browser, ids["nurse_a"])
        for action, text in (("note", CANARY["note"]), ("message", CANARY["staff_message"])):
            done = await browser.post(f"/concerns/{concern_id}/{action}", data={"text": text, "csrf": csrf})
            assert done.status_code == 303, done.text
        assert CANARY["console_words"] in (await browser.get(f"/concerns/{concern_id}")).text


@pytest.fixture
async def json_lines() -> AsyncIterator[io.StringIO]:
    """What our JSON handler writes for every record that reaches the root logger."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(JsonFormatter(secret_values([TOKEN, WEBHOOK_SECRET, KEYRING])))
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield buffer
    finally:
        root.removeHandler(handler)


async def test_no_canary_reaches_the_logs_at_debug_level(
    database_url: str,
    directory: dict[str, int],
    bot_api: FakeBotAPI,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    json_lines: io.StringIO,
) -> None:
    caplog.set_level(logging.DEBUG)
    async with running_desk(desk_settings(database_url, tmp_path / "var", **webhook(bot_api))) as app:
        service = app.state.desk.service
        concern_id = await console_worry(service, CANARY["console_user"], CANARY["console_words"])
        await named_person_works(app, directory, concern_id)
        async with client(app) as browser:
            await wrong_logins(browser)
        async with client(app) as browser:
            await web_family(browser)
        async with client(app) as browser:
            await telegram_family(WebhookFamily(bot_api, app, browser))

    ours = [r for r in caplog.records if not r.name.startswith(FAKE_SERVER_LOGGERS)]
    logged = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in ours)
    lines = json_lines.getvalue().splitlines()
    entries = [json.loads(line) for line in lines]  # every line is one JSON object
    ours_json = "\n".join(
        line
        for line, e in zip(lines, entries, strict=True)
        if not e["logger"].startswith(FAKE_SERVER_LOGGERS)
    )
    handled = {m.split()[1] for m in (r.getMessage() for r in ours) if m.startswith("handled ")}
    assert handled == {"console", "web", "telegram"}  # every door was logged at DEBUG, and captured
    assert len(entries) >= len(ours) > 30
    assert {name: word for name, word in CANARY.items() if word in logged or word in ours_json} == {}
    assert TOKEN not in logged + ours_json and WEBHOOK_SECRET not in logged + ours_json


# ---- and from `hjulet serve` itself -------------------------------------------------------------


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
async def test_hjulet_serve_writes_only_json_lines_without_canaries_or_secrets(
    bot_api: FakeBotAPI, tmp_path: Path
) -> None:
    """The real process in webhook mode, secrets from files, DEBUG, request lines on."""
    port, secrets = free_port(), tmp_path / "secrets"
    secrets.mkdir()
    files = {"TELEGRAM_TOKEN": TOKEN, "TELEGRAM_WEBHOOK_SECRET": WEBHOOK_SECRET, "ENCRYPTION_KEYS": KEYRING}
    env = {key: value for key, value in os.environ.items() if not key.startswith("HJULET_")}
    for name, value in files.items():
        (secrets / name.lower()).write_text(value + "\n")
        env[f"HJULET_{name}_FILE"] = str(secrets / name.lower())
    env |= {
        "HJULET_DATA_DIR": str(tmp_path / "var"),
        "HJULET_TELEGRAM_API_BASE": bot_api.base,
        "HJULET_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "HJULET_DEFAULT_LANGUAGE": "en",
        "HJULET_LOG_LEVEL": "DEBUG",
        "HJULET_LOG_FORMAT": "json",
        "HJULET_ACCESS_LOG": "true",
    }
    server = await asyncio.create_subprocess_exec(
        str(HJULET), "serve", "--port", str(port), env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as browser:
            await until_ready(browser, server)
            assert (await browser.get("/healthz")).status_code == 200
            await wrong_logins(browser)
            await web_family(browser)
            update = WebhookFamily(bot_api, FastAPI(), browser).message_update(CANARY["telegram_words"])
            headers = {"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET}
            for number in (1, 2):
                sent = await browser.post(
                    "/telegram/webhook", json={"update_id": number, **update}, headers=headers
                )
                assert sent.status_code == 200
            refused = await browser.post("/telegram/webhook", json={"update_id": 3, **update})
            assert refused.status_code == 401
    finally:
        server.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(server.communicate(), 30)

    lines = err.decode().splitlines()
    # uvicorn finishes its shutdown, then lets SIGTERM end the process as it would have (exit -15)
    assert server.returncode in (0, -signal.SIGTERM), err.decode()[-3000:]
    assert "Application shutdown complete." in lines[-2] + lines[-1]
    entries = [json.loads(line) for line in lines]  # each line is JSON, or this fails
    assert all({"time", "level", "logger", "message"} <= set(e) for e in entries)
    paths = {e["path"] for e in entries if e.get("event") == "request"}
    assert {
        "/healthz",
        "/readyz",
        "/login",
        "/chat",
        "/chat/plan",
        "/chat/api/messages",
        "/telegram/webhook",
    } <= paths
    assert any(e.get("event") == "listening" for e in entries)  # the start line is JSON too
    text = err.decode() + out.decode()
    assert {name: word for name, word in CANARY.items() if word in text} == {}
    assert [s for s in (TOKEN, WEBHOOK_SECRET, KEYRING.split()[1]) if s in text] == []
    assert "?" not in " ".join(e["message"] for e in entries if e.get("event") == "request")


async def until_ready(browser: httpx.AsyncClient, server: asyncio.subprocess.Process) -> None:
    deadline = time.monotonic() + 60
    while True:
        assert server.returncode is None, "hjulet serve stopped"
        try:
            if (await browser.get("/readyz")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "hjulet serve was not ready in 60 s"
        await asyncio.sleep(0.2)
