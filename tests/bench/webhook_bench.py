"""Load in webhook mode: N families at once, each through the whole mapping conversation.

    .venv/bin/python -m tests.bench.webhook_bench --families 200            # SQLite and PostgreSQL
    make bench

The harness plays Telegram: a fake Bot API server (tests/bot/telegram/fakeapi.py) receives what the
bot sends, and each family posts its updates to the webhook of `hjulet serve`, run as its own process,
as Telegram would (with the secret header; a 5xx answer is delivered again after a pause, as Telegram
does). Families act like people: a pause between messages (`--think`, 0.5 to 1.5 times that mean,
6 s by default: the time to read a question of a line or two and press a button), and they arrive
over `--ramp` seconds; then all N are in their conversation at the same time. A stress run follows
(`--stress`, 1 s pauses: every family answering at once, all the time), to show where Hjulet stops
keeping up; its row has no floors.

The same harness drives a minimal aiogram echo bot (tests/bench/echo_bot.py: one handler that answers
each message with its text), with the same number of families, messages and pauses, as the baseline.

Printed per run: updates per second, handling time (the webhook request, from post to answer: Hjulet
answers once the update and its replies are stored), reply time (from post until the family has the
reply), the server's peak resident memory, lost replies (a family waited 30 s in vain) and doubled ones
(the same message twice in a chat). Floors (exit status 1 when missed), at the families' pace: 0 lost,
0 doubled, handling p99 under 250 ms with 200 families.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import random
import re
import secrets
import socket
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from tests.bot.telegram.conftest import TOKEN
from tests.bot.telegram.fakeapi import FakeBotAPI, Phone

HJULET = Path(sys.executable).parent / "hjulet"
ECHO = [sys.executable, "-m", "tests.bench.echo_bot"]
WHEEL = 18
WAIT = 30.0  # seconds a family waits for a reply before it counts as lost
FLOOR_P99_MS = 250.0
SECRET = "bench-" + secrets.token_hex(16)


@dataclass
class Record:
    handling_ms: list[float] = field(default_factory=list)
    reply_ms: list[float] = field(default_factory=list)
    updates: int = 0
    redelivered: int = 0
    lost: int = 0


class WebhookPhone(Phone):
    """A family's phone whose updates reach the bot through its webhook."""

    ids = itertools.count(1)

    def __init__(self, api: FakeBotAPI, user_id: int, http: aiohttp.ClientSession, url: str, record: Record):
        super().__init__(api, user_id, "sv")
        self.http, self.url, self.record = http, url, record

    async def send(self, update: dict[str, Any], done: Callable[[], bool]) -> bool:
        """Post one update (again after a 5xx, as Telegram does) and wait until `done`. False: lost."""
        update = {"update_id": next(self.ids), **update}
        started = time.monotonic()
        headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
        while True:
            posted = time.monotonic()
            try:
                async with self.http.post(self.url, json=update, headers=headers) as response:
                    await response.read()
                status = response.status
            except aiohttp.ClientError:  # refused or reset: Telegram, too, delivers it again
                status = 599
            self.record.handling_ms.append((time.monotonic() - posted) * 1000)
            if status < 500:
                break
            self.record.redelivered += 1
            if time.monotonic() - started > WAIT:
                self.record.lost += 1
                return False
            await asyncio.sleep(0.5)
        self.record.updates += 1
        deadline = started + WAIT
        changed = self.api.watch(self.user_id)  # woken by the fake Bot API: no polling, no harness load
        while not done():
            left = deadline - time.monotonic()
            if left <= 0:
                self.record.lost += 1
                return False
            changed.clear()
            if done():
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), left)
        self.record.reply_ms.append((time.monotonic() - started) * 1000)
        return True

    async def write(self, text: str, done: Callable[[], bool]) -> bool:
        return await self.send(self.message_update(text), done)

    async def tap(self, label: str, done: Callable[[], bool]) -> bool:
        message = self.keyboard_message
        if message is None or label not in [text for text, _ in message.buttons]:
            self.record.lost += 1
            return False
        data = next(d for text, d in message.buttons if text == label)
        return await self.send(self.press_update(data, message), done)


Pause = Callable[[], Awaitable[None]]


async def hjulet_family(phone: WebhookPhone, pause: Pause) -> None:
    """The whole mapping conversation in Swedish, pressing buttons and typing as a family would."""

    def asks(prefix: str) -> Callable[[], bool]:
        return lambda: bool(phone.inbox) and (phone.inbox[-1].text or "").startswith(prefix)

    def has(label: str) -> Callable[[], bool]:
        return lambda: label in phone.buttons

    steps: list[tuple[str, str, Callable[[], bool]]] = [
        ("write", "/start", has("Svenska")),
        ("tap", "Svenska", has("Ja, spara mina svar")),
        ("tap", "Ja, spara mina svar", has("Ja, dela mina svar")),
        ("tap", "Ja, dela mina svar", asks("Vad heter")),
        ("write", "Ali", asks("Hur gammal")),
        ("write", "3 år", asks("Vilken förskola")),
        ("tap", "Hoppa över", has("Det går bra")),
    ]
    for number in range(WHEEL):
        last = number == WHEEL - 1
        steps.append(("tap", "Det går bra", has("Nej, inte nu") if last else has("Det går bra")))
    steps.append(("tap", "Nej, inte nu", has("Se sammanfattningen igen")))
    for how, value, done in steps:
        await pause()
        before = len(phone.inbox)

        def arrived(done: Callable[[], bool] = done, before: int = before) -> bool:
            return len(phone.inbox) > before and done()

        sent = await (phone.write(value, arrived) if how == "write" else phone.tap(value, arrived))
        if not sent:
            return


ECHO_MESSAGES = 1 + 2 + 1 + WHEEL + 3  # as many updates as a family sends Hjulet


async def echo_family(phone: WebhookPhone, pause: Pause) -> None:
    for number in range(ECHO_MESSAGES):
        await pause()
        text = f"message {number} from {phone.user_id}"
        if not await phone.write(text, lambda text=text: bool(phone.inbox) and phone.inbox[-1].text == text):
            return


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def start_server(kind: str, api: FakeBotAPI, database_url: str | None) -> tuple[Any, str]:
    port = free_port()
    data = Path(tempfile.mkdtemp(prefix="hjulet-bench-"))
    env = {
        **os.environ,
        "HJULET_DATA_DIR": str(data),
        "HJULET_TELEGRAM_TOKEN": TOKEN,
        "HJULET_TELEGRAM_API_BASE": api.base,
        "HJULET_TELEGRAM_WEBHOOK_SECRET": SECRET,
        "HJULET_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "HJULET_LOG_LEVEL": "WARNING",
        # Telegram allows a bot about 30 messages a second, and Hjulet keeps under it (25) in production;
        # here the fake Bot API has no limit, so the bench measures what Hjulet itself can do.
        "HJULET_TELEGRAM_SEND_RATE": os.environ.get("HJULET_BENCH_SEND_RATE", "5000"),
    }
    if database_url:
        env["HJULET_DATABASE_URL"] = database_url
    if kind == "hjulet":
        command = [str(HJULET), "serve", "--host", "127.0.0.1", "--port", str(port)]
    else:
        command = [*ECHO, "--port", str(port)]
    server = await asyncio.create_subprocess_exec(
        *command, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    async with aiohttp.ClientSession() as http:
        while True:
            if server.returncode is not None:
                assert server.stderr is not None
                raise RuntimeError(f"{kind} did not start: {(await server.stderr.read()).decode()[-2000:]}")
            try:
                async with http.post(f"{base}/telegram/webhook", json={}) as response:
                    if response.status in (400, 401, 422):  # up: it refuses an update without a secret
                        break
            except aiohttp.ClientError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{kind} did not answer in 120 s")
            await asyncio.sleep(0.2)
    return server, f"{base}/telegram/webhook"


async def run(
    kind: str, families: int, database_url: str | None, think: float, ramp: float
) -> dict[str, Any]:
    api = FakeBotAPI(TOKEN)
    await api.start()
    server, url = await start_server(kind, api, database_url)
    stderr: list[bytes] = []

    async def drain() -> None:
        assert server.stderr is not None
        async for line in server.stderr:
            stderr.append(line)

    reader = asyncio.create_task(drain())
    record = Record()
    rng = random.Random(7)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:
        phones = [WebhookPhone(api, 700_000 + n, http, url, record) for n in range(families)]

        async def one(index: int, phone: WebhookPhone) -> None:
            await asyncio.sleep(ramp * index / max(1, families))

            async def pause() -> None:
                await asyncio.sleep(think * rng.uniform(0.5, 1.5))

            await (hjulet_family if kind == "hjulet" else echo_family)(phone, pause)

        started = time.monotonic()
        await asyncio.gather(*(one(n, phone) for n, phone in enumerate(phones)))
        elapsed = time.monotonic() - started
    peak_kb = _peak_rss_kb(server.pid)
    server.terminate()
    await server.wait()
    await reader
    await api.stop()
    doubled = sum(_doubled(phone) for phone in phones)
    return {
        "bot": kind,
        "families": families,
        "updates": record.updates,
        "updates_per_s": record.updates / elapsed,
        "handling_p50": _percentile(record.handling_ms, 50),
        "handling_p99": _percentile(record.handling_ms, 99),
        "reply_p50": _percentile(record.reply_ms, 50),
        "reply_p99": _percentile(record.reply_ms, 99),
        "rss_mb": peak_kb / 1024,
        "lost": record.lost,
        "doubled": doubled,
        "redelivered": record.redelivered,
        "errors": [line.decode(errors="replace") for line in stderr if b"Traceback" in line][:3],
    }


def _doubled(phone: Phone) -> int:
    texts = [m.text for m in phone.inbox if m.text]
    return len(texts) - len(set(texts))


def _percentile(values: list[float], pct: int) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def _peak_rss_kb(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    match = re.search(r"VmHWM:\s+(\d+) kB", status)
    return int(match.group(1)) if match else 0


async def fresh_postgres(url: str) -> tuple[str, Callable[[], Awaitable[None]]]:
    """A database of its own on the PostgreSQL server of `url`, and how to drop it."""
    import asyncpg  # type: ignore[import-untyped]
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    name = f"hjulet_bench_{secrets.token_hex(4)}"
    admin = dict(host=parsed.host, port=parsed.port or 5432, user=parsed.username, database="postgres")
    connection = await asyncpg.connect(**admin)
    await connection.execute(f'CREATE DATABASE "{name}"')
    await connection.close()

    async def drop() -> None:
        connection = await asyncpg.connect(**admin)
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.close()

    return parsed.set(database=name).render_as_string(hide_password=False), drop


async def run_on(
    postgres_url: str | None, kind: str, families: int, think: float, ramp: float
) -> dict[str, Any]:
    """`run` on SQLite (no URL) or on a PostgreSQL database of its own, dropped after."""
    if postgres_url is None:
        return await run(kind, families, None, think, ramp)
    url, drop = await fresh_postgres(postgres_url)
    try:
        return await run(kind, families, url, think, ramp)
    finally:
        await drop()


COLUMNS = (
    ("database", "{:<10}"),
    ("bot", "{:<7}"),
    ("families", "{:>8}"),
    ("updates", "{:>7}"),
    ("updates_per_s", "{:>9.1f}"),
    ("handling_p50", "{:>8.1f}"),
    ("handling_p99", "{:>8.1f}"),
    ("reply_p50", "{:>8.1f}"),
    ("reply_p99", "{:>8.1f}"),
    ("rss_mb", "{:>6.0f}"),
    ("lost", "{:>4}"),
    ("doubled", "{:>7}"),
    ("redelivered", "{:>11}"),
)
HEADINGS = (
    "database   bot     families updates  upd/s  hnd p50  hnd p99  rep p50  rep p99  RSS MB lost doubled"
)


def line(row: dict[str, Any]) -> str:
    return " ".join(fmt.format(row[key]) for key, fmt in COLUMNS)


async def main_async(args: argparse.Namespace) -> int:
    rows: list[dict[str, Any]] = []
    databases: list[tuple[str, str | None]] = []
    if "sqlite" in args.databases:
        databases.append(("sqlite", None))
    if "postgresql" in args.databases:
        databases.append(("postgresql", args.postgres_url))
    print(f"{args.families} families, think {args.think} s, ramp {args.ramp} s; times in ms", flush=True)
    print(HEADINGS, flush=True)
    for database, url in databases:
        for kind in args.bots.split(","):
            row = {"database": database, **await run_on(url, kind, args.families, args.think, args.ramp)}
            rows.append(row)
            print(line(row), flush=True)
            for error in row["errors"]:
                print(f"  {kind} error: {error.strip()}", flush=True)
        if args.stress and "hjulet" in args.bots:
            stress = await run_on(url, "hjulet", args.families, args.stress, args.ramp)
            stress["database"], stress["bot"] = database, "stress"
            print(line(stress), f"  (pause {args.stress:g} s; no floors)", flush=True)
    failures = []
    for database, _ in databases:
        ours = next(r for r in rows if r["database"] == database and r["bot"] == "hjulet")
        echo = next((r for r in rows if r["database"] == database and r["bot"] == "echo"), None)
        if echo is None:
            echo = next((r for r in rows if r["bot"] == "echo"), ours)
        print(
            f"{database}: Hjulet / echo bot: "
            f"handling p50 x{ours['handling_p50'] / echo['handling_p50']:.1f}, "
            f"p99 x{ours['handling_p99'] / echo['handling_p99']:.1f}, "
            f"reply p99 x{ours['reply_p99'] / echo['reply_p99']:.1f}, "
            f"memory x{ours['rss_mb'] / max(echo['rss_mb'], 1):.1f}",
            flush=True,
        )
        if ours["lost"] or ours["doubled"]:
            failures.append(f"{database}: {ours['lost']} lost, {ours['doubled']} doubled")
        if args.families >= 200 and not ours["handling_p99"] < FLOOR_P99_MS:
            failures.append(
                f"{database}: handling p99 {ours['handling_p99']:.0f} ms (floor {FLOOR_P99_MS:.0f})"
            )
    for failure in failures:
        print(f"FLOOR MISSED: {failure}", flush=True)
    return 1 if failures else 0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--families", type=int, default=200)
    parser.add_argument("--think", type=float, default=6.0, help="mean pause between a family's messages, s")
    parser.add_argument(
        "--stress",
        type=float,
        default=1.0,
        help="then Hjulet at this pause, s (0: none)",
    )
    parser.add_argument("--ramp", type=float, default=5.0, help="seconds over which the families arrive")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--bots", default="echo,hjulet", help="echo,hjulet or one of them")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(
            "HJULET_BENCH_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
        ),
    )
    sys.exit(asyncio.run(main_async(parser.parse_args())))


if __name__ == "__main__":
    main()
