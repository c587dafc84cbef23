"""Load on the Telegram channel: N families at once through the whole mapping conversation.

    .venv/bin/python -m tests.bench.telegram_bench --families 50

Runs `hjulet telegram` as its own process against the fake Bot API server (in this process), on a
fresh SQLite database (or HJULET_BENCH_DATABASE_URL). Prints updates and messages per second,
per-update handling time p50/p99 (from the bot's own log), the bot's peak resident memory, and
lost or doubled replies.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

from tests.bot.telegram.conftest import TOKEN
from tests.bot.telegram.fakeapi import FakeBotAPI, Phone

HJULET = Path(sys.executable).parent / "hjulet"
WHEEL = 18
DURATION = re.compile(r"Update id=\d+ is handled\. Duration (\d+) ms")


async def until(check, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError("a family got no answer in time")
        await asyncio.sleep(0.01)


async def family(phone: Phone) -> int:
    """One family through the conversation; returns how many updates it sent."""
    sent = 0

    async def act(kind: str, value: str, done) -> None:  # type: ignore[no-untyped-def]
        nonlocal sent
        before = len(phone.inbox)
        await (phone.press(value) if kind == "press" else phone.say(value))
        sent += 1
        await until(lambda: len(phone.inbox) > before and done(phone))

    def asks(prefix: str):  # type: ignore[no-untyped-def]
        return lambda p: (p.inbox[-1].text or "").startswith(prefix)

    def has(label: str):  # type: ignore[no-untyped-def]
        return lambda p: label in p.buttons

    await act("say", "/start", has("Svenska"))
    await act("press", "Svenska", has("Ja, spara mina svar"))
    await act("press", "Ja, spara mina svar", has("Ja, dela mina svar"))
    await act("press", "Ja, dela mina svar", asks("Vad heter"))
    await act("say", "Ali", asks("Hur gammal"))
    await act("say", "3 år", asks("Vilken förskola"))
    await act("press", "Hoppa över", has("Det går bra"))
    for number in range(WHEEL):
        last = number == WHEEL - 1
        await act("press", "Det går bra", has("Nej, inte nu") if last else has("Det går bra"))
    await act("press", "Nej, inte nu", has("Se sammanfattningen igen"))
    return sent


async def bench(families: int, database_url: str | None) -> dict[str, float]:
    api = FakeBotAPI(TOKEN)
    await api.start()
    data = Path(tempfile.mkdtemp(prefix="hjulet-bench-"))
    env = {
        **os.environ,
        "HJULET_DATA_DIR": str(data),
        "HJULET_TELEGRAM_TOKEN": TOKEN,
        "HJULET_TELEGRAM_API_BASE": api.base,
        "HJULET_LOG_LEVEL": "INFO",
    }
    if database_url:
        env["HJULET_DATABASE_URL"] = database_url
    bot = await asyncio.create_subprocess_exec(
        HJULET, "telegram", env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    log: list[str] = []

    async def read_log() -> None:
        assert bot.stderr is not None
        async for line in bot.stderr:
            log.append(line.decode(errors="replace"))

    reader = asyncio.create_task(read_log())
    phones = [Phone(api, 500_000 + n, "sv") for n in range(families)]
    started = time.monotonic()
    updates = sum(await asyncio.gather(*(family(phone) for phone in phones)))
    elapsed = time.monotonic() - started
    peak_kb = _peak_rss_kb(bot.pid)
    bot.terminate()
    await bot.wait()
    await reader
    await api.stop()

    durations = sorted(int(m.group(1)) for line in log if (m := DURATION.search(line)))
    messages = sum(
        1 for c in api.calls if c.method in ("sendMessage", "editMessageText", "editMessageReplyMarkup")
    )
    texts = [phone.texts for phone in phones]
    doubled = sum(len(t) - len(set(t)) - _expected_repeats(t) for t in texts)
    return {
        "families": families,
        "updates": updates,
        "seconds": elapsed,
        "updates_per_s": updates / elapsed,
        "messages_per_s": messages / elapsed,
        "p50_ms": statistics.median(durations) if durations else float("nan"),
        "p99_ms": durations[int(0.99 * (len(durations) - 1))] if durations else float("nan"),
        "peak_rss_mb": peak_kb / 1024,
        "doubled": doubled,
    }


def _expected_repeats(texts: list[str]) -> int:
    """Texts that are rightly sent more than once (none in this script)."""
    return 0


def _peak_rss_kb(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"VmHWM:\s+(\d+) kB", status)
    return int(match.group(1)) if match else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--families", type=int, default=50)
    parser.add_argument("--database-url", default=os.environ.get("HJULET_BENCH_DATABASE_URL"))
    args = parser.parse_args()
    result = asyncio.run(bench(args.families, args.database_url))
    for key, value in result.items():
        print(f"{key:>14}: {value:.1f}" if isinstance(value, float) else f"{key:>14}: {value}")


if __name__ == "__main__":
    main()
