"""What the fault tests share: a fake Telegram that also delivers by webhook, Hjulet as real processes,
and families that go through the mapping conversation the way a parent does.

`Telegram` is the fake Bot API (tests/bot/telegram/fakeapi.py) plus what faults need:
- getUpdates hands out updates until an offset confirms them, so a killed bot gets them again;
- after setWebhook, updates are POSTed to the webhook, each chat's in order, and an update that gets
  no 2xx (or no answer at all) is delivered again, as Telegram does;
- a sendMessage can be held, before or after Telegram has the message, so a test can kill the sender
  at exactly that moment;
- every stored message is recorded, so doubles are counted per chat;
- `until` waits for a condition on what Telegram saw, woken by every call (no sleeping).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import os
import signal
import socket
import sys
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from tests.bot.telegram.conftest import TOKEN
from tests.bot.telegram.fakeapi import FakeBotAPI, Phone, Sent

HJULET = Path(sys.executable).parent / "hjulet"
_CALLER: contextvars.ContextVar[str] = contextvars.ContextVar("caller", default="")
SECRET = "fault-test-webhook-secret-0123456789"
WAIT = 60.0  # the longest any one wait may take (a restart under load included)


@dataclass
class Hold:
    """One sendMessage to `chat_id`, held before (or after) Telegram stores the message."""

    chat_id: int
    after_store: bool
    reached: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    abandoned: bool = False
    used: bool = False


@dataclass(frozen=True)
class Stored:
    """A message Telegram took (sendMessage or sendPhoto): what a family's phone shows."""

    chat_id: int
    message_id: int
    text: str
    at: float
    sender: str = ""  # which worker sent it (its API address's prefix, see `Telegram.start`)


@dataclass(frozen=True)
class Delivery:
    """One webhook POST: which update, to which worker, and its answer (0: no answer at all)."""

    update_id: int
    url: str
    status: int
    at: float


def chat_of(update: dict[str, Any]) -> int:
    if "message" in update:
        return int(update["message"]["chat"]["id"])
    return int(update["callback_query"]["from"]["id"])


class Telegram(FakeBotAPI):
    def __init__(self, token: str = TOKEN, *, retry_delay: float = 0.25, fan_out: bool = False) -> None:
        super().__init__(token)
        self.changed = asyncio.Condition()
        self.stored: list[Stored] = []
        self.batches: list[list[int]] = []  # the update ids of each non-empty getUpdates answer
        self.holds: list[Hold] = []
        self.webhooks: dict[str, str] = {}  # url -> secret token
        self.deliveries: list[Delivery] = []
        self.retry_delay = retry_delay  # Telegram waits longer; the tests measure the app, not Telegram
        self.fan_out = fan_out  # every update to every webhook (two workers behind one address)
        self._queues: dict[int, deque[dict[str, Any]]] = defaultdict(deque)
        self._workers: dict[int, asyncio.Task[None]] = {}
        self._client: aiohttp.ClientSession | None = None

    # ---- waiting --------------------------------------------------------

    async def notify(self) -> None:
        async with self.changed:
            self.changed.notify_all()

    async def until(self, check: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
        """Wait until `check()` holds; it is asked again whenever Telegram sees anything."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        async with self.changed:
            while not check():
                remaining = deadline - loop.time()
                if remaining <= 0:
                    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.changed.wait(), min(remaining, 0.5))

    def _routes(self, app: web.Application) -> None:
        """As the fake's, plus `/<worker>/bot<token>/<method>`: each worker can have its own API address
        (HJULET_TELEGRAM_API_BASE=<base>/<worker>), and the messages show which one sent them."""
        super()._routes(app)
        app.router.add_post("/{worker}/bot{token}/{method}", self._endpoint)

    async def _endpoint(self, request: web.Request) -> web.Response:
        _CALLER.set(request.match_info.get("worker", ""))
        try:
            return await super()._endpoint(request)
        finally:
            await self.notify()

    # ---- getUpdates, sendMessage ----------------------------------------

    async def _getUpdates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        if self.webhooks:  # as Telegram: no polling while a webhook is set
            return web.json_response(  # type: ignore[return-value]
                {"ok": False, "error_code": 409, "description": "Conflict: webhook is active"}, status=409
            )
        updates = await super()._getUpdates(params)
        if updates:
            self.batches.append([u["update_id"] for u in updates])
        return updates

    def hold_next_send(self, chat_id: int, *, after_store: bool) -> Hold:
        hold = Hold(chat_id, after_store)
        self.holds.append(hold)
        return hold

    async def _sendMessage(self, params: dict[str, Any]) -> Any:
        chat_id = int(params["chat_id"])
        hold = next((h for h in self.holds if h.chat_id == chat_id and not h.used), None)
        if hold is not None:
            hold.used = True
        if hold is not None and not hold.after_store:
            hold.reached.set()
            await self.notify()
            await hold.release.wait()
            if hold.abandoned:  # the sender is gone: Telegram never got this message
                return self._error(500, None)
        result = await super()._sendMessage(params)
        if hold is not None and hold.after_store:
            hold.reached.set()
            await self.notify()
            await hold.release.wait()  # Telegram has the message; its answer is held
        return result

    def _store(self, params: dict[str, Any], text: str | None, image: bytes | None = None) -> dict[str, Any]:
        result = super()._store(params, text, image)
        if isinstance(result, dict):
            self.stored.append(
                Stored(
                    int(params["chat_id"]), result["message_id"], text or "", time.monotonic(), _CALLER.get()
                )
            )
        return result

    def sends_to(self, chat_id: int) -> list[str]:
        return [s.text for s in self.stored if s.chat_id == chat_id]

    # ---- webhook --------------------------------------------------------

    async def _setWebhook(self, params: dict[str, Any]) -> bool:
        if not self.fan_out:
            self.webhooks.clear()
        self.webhooks[str(params["url"])] = str(params.get("secret_token") or "")
        return True

    async def _deleteWebhook(self, params: dict[str, Any]) -> bool:
        self.webhooks.clear()
        return True

    async def push(self, update: dict[str, Any]) -> int:
        if not self.webhooks:
            update_id = await super().push(update)
            await self.notify()
            return update_id
        update_id = next(self._ids)
        full = {"update_id": update_id, **update}
        self.delivered[update_id] = full
        chat = chat_of(full)
        self._queues[chat].append(full)
        if chat not in self._workers or self._workers[chat].done():
            self._workers[chat] = asyncio.create_task(self._deliver_chat(chat))
        await self.notify()
        return update_id

    async def _deliver_chat(self, chat: int) -> None:
        """One chat's updates in order; each to every webhook until each has answered 2xx."""
        queue = self._queues[chat]
        while queue:
            update = queue[0]
            await asyncio.gather(*(self._deliver(update, url) for url in list(self.webhooks)))
            queue.popleft()

    async def _deliver(self, update: dict[str, Any], url: str) -> None:
        if self._client is None:
            self._client = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        headers = {"X-Telegram-Bot-Api-Secret-Token": self.webhooks.get(url, "")}
        while not self._closing:
            try:
                async with self._client.post(url, json=update, headers=headers) as response:
                    status = response.status
                    await response.read()
            except (aiohttp.ClientError, TimeoutError, OSError):
                status = 0  # refused, reset or no answer: the worker is down
            self.deliveries.append(Delivery(update["update_id"], url, status, time.monotonic()))
            await self.notify()
            if 200 <= status < 300:
                return
            await asyncio.sleep(self.retry_delay)  # Telegram's redelivery, sooner

    def webhook_idle(self) -> bool:
        return not any(self._queues.values())

    async def stop(self) -> None:
        self._closing = True
        for hold in self.holds:  # a held request of a killed sender: Telegram never answers it
            hold.abandoned = True
            hold.release.set()
        for worker in self._workers.values():
            worker.cancel()
        for worker in self._workers.values():
            with contextlib.suppress(asyncio.CancelledError):
                await worker
        if self._client is not None:
            await self._client.close()
        await super().stop()


# ---- Hjulet as a process ----------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def hjulet_env(api: Telegram, database_url: str, data_dir: Path, **more: str) -> dict[str, str]:
    return {
        **os.environ,
        "HJULET_DATA_DIR": str(data_dir),
        "HJULET_DATABASE_URL": database_url,
        "HJULET_TELEGRAM_TOKEN": TOKEN,
        "HJULET_TELEGRAM_API_BASE": api.base,
        "HJULET_TELEGRAM_BOT_USERNAME": "hjulet_test_bot",
        "HJULET_LOG_LEVEL": "INFO",
        "HJULET_OUTBOX_LEASE_SECONDS": "3",  # what a killed sender held is free again soon
        **more,
    }


class Hjulet:
    """`hjulet telegram` (long polling) or `hjulet serve` (webhook) as its own process.

    Its log goes to a file (a pipe nobody reads would fill and stop the process)."""

    def __init__(self, api: Telegram, env: dict[str, str], log: Path, *, webhook_port: int | None = None):
        self.api, self.env, self.log_path = api, env, log
        self.port = webhook_port
        self.process: asyncio.subprocess.Process | None = None
        self.starts = 0

    @classmethod
    def polling(cls, api: Telegram, database_url: str, data_dir: Path, log: Path, **more: str) -> Hjulet:
        return cls(api, hjulet_env(api, database_url, data_dir, **more), log)

    @classmethod
    def webhook(cls, api: Telegram, database_url: str, data_dir: Path, log: Path, **more: str) -> Hjulet:
        port = free_port()
        env = hjulet_env(
            api,
            database_url,
            data_dir,
            HJULET_TELEGRAM_WEBHOOK_SECRET=SECRET,
            HJULET_PUBLIC_URL=f"http://127.0.0.1:{port}",
            **more,
        )
        return cls(api, env, log, webhook_port=port)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        """Start, and return when it takes updates (polls, or answers HTTP)."""
        polls = sum(c.method == "getUpdates" for c in self.api.calls)
        command = ["telegram"] if self.port is None else ["serve", "--port", str(self.port)]
        with self.log_path.open("ab") as log:
            log.write(f"---- start {self.starts + 1}\n".encode())
            log.flush()
            self.process = await asyncio.create_subprocess_exec(
                HJULET, *command, env=self.env, stdout=asyncio.subprocess.DEVNULL, stderr=log
            )
        self.starts += 1
        if self.port is None:
            await self._until_up(lambda: sum(c.method == "getUpdates" for c in self.api.calls) > polls)
        else:
            await self._until_up(self._answers_http)

    def _answers_http(self) -> bool:
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", self.port or 0)) == 0

    async def _until_up(self, check: Callable[[], bool]) -> None:
        deadline = time.monotonic() + WAIT
        while not check():
            if self.process is not None and self.process.returncode is not None:
                raise AssertionError(f"hjulet stopped at start:\n{self.log()[-3000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"hjulet did not start:\n{self.log()[-3000:]}")
            await asyncio.sleep(0.05)  # a process start has no event to await

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def kill(self) -> None:
        """kill -9: no clean-up of any kind."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        await self.process.wait()

    async def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM; the exit code (killed, and an AssertionError, if it does not stop in time)."""
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.process.wait(), timeout)
        except TimeoutError:
            await self.kill()
            raise AssertionError(f"hjulet did not stop:\n{self.log()[-3000:]}") from None
        assert self.process.returncode is not None
        return self.process.returncode

    async def stopped_cleanly(self) -> bool:
        """SIGTERM; True if it finished its work and ended without a traceback. Uvicorn (`serve`)
        ends a clean shutdown by raising the signal again, so its exit status is -SIGTERM."""
        code = await self.stop()
        log = self.log()
        if "Traceback" in log:
            return False
        if self.port is None:
            return code == 0
        return code in (0, -signal.SIGTERM) and "Application shutdown complete" in log

    async def close(self) -> None:
        if self.running:
            await self.kill()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


# ---- families -------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """Do `action` ("say" or "press") with `value`; then wait for a new message from the bot that
    starts with `asks` (if given) and has a button `button` (if given)."""

    action: str
    value: str
    asks: str | None = None
    button: str | None = None


COMMENT = "Hon vaknar varje natt och gråter"  # the words written about the worry (third question)


def wheel_answers() -> list[Step]:
    """The 18 wheel questions, answered by pressing and by typing; one worry with a comment."""
    steps: list[Step] = []
    for number in range(18):
        last = number == 17
        then = Step("", "", button="Nej, inte nu" if last else "Det går bra")
        if number == 2:
            steps.append(Step("press", "Orolig", asks="Vill du berätta mer"))
            steps.append(Step("say", COMMENT, then.asks, then.button))
        elif number in (5, 11):
            steps.append(Step("say", "bra", then.asks, then.button))  # words, through the NLU
        elif number == 8:
            steps.append(Step("press", "Lite oro", asks="Vill du berätta mer"))
            steps.append(Step("press", "Hoppa över", then.asks, then.button))
        else:
            steps.append(Step("press", "Det går bra", then.asks, then.button))
    return steps


SCRIPT: tuple[Step, ...] = (
    Step("say", "/start", button="Svenska"),
    Step("press", "Svenska", button="Ja, spara mina svar"),
    Step("press", "Ja, spara mina svar", button="Ja, dela mina svar"),
    Step("press", "Ja, dela mina svar", asks="Vad heter"),
    Step("say", "Ali", asks="Hur gammal"),
    Step("say", "3 år", asks="Vilken förskola", button="Hoppa över"),
    Step("press", "Hoppa över", button="Det går bra"),
    *wheel_answers(),
    Step("press", "Nej, inte nu", button="Se sammanfattningen igen"),
)
# The codes the script answers, in the order the wheel asks (the questions are told apart by id).
EXPECTED_CODES = tuple("worried" if n == 2 else "some_worries" if n == 8 else "good" for n in range(18))


class Family:
    """A parent with a phone who follows SCRIPT, waiting for each question before answering."""

    def __init__(
        self, api: Telegram, user_id: int, script: tuple[Step, ...] = SCRIPT, phone_language: str = "sv"
    ) -> None:
        self.api, self.phone, self.script = api, Phone(api, user_id, phone_language), script
        self.user_id = user_id
        self.done = 0  # steps finished
        self.updates: list[int] = []
        self.current: Sent | None = None  # the question being answered (pressed on)

    async def run(self, timeout: float = WAIT) -> None:
        await self.run_steps(self.script, timeout)

    async def run_steps(self, steps: tuple[Step, ...], timeout: float = WAIT) -> None:
        for step in steps:
            await self.act(step, timeout)

    async def act(self, step: Step, timeout: float = WAIT) -> None:
        mark = max((m.message_id for m in self.phone.inbox), default=0)
        answering = self.current.text if self.current is not None else None
        if step.action == "press":
            assert self.current is not None, "nothing to press on"
            self.updates.append(await self.phone.press(step.value, self.current))
        else:
            self.updates.append(await self.phone.say(step.value))
        found: list[Sent] = []

        def answered() -> bool:
            for message in self.phone.inbox:
                text = message.text or ""
                if message.message_id <= mark or text == answering:
                    continue  # older, or a second copy of the question answered (see test_fault_sigkill)
                if step.asks is not None and not text.startswith(step.asks):
                    continue
                if step.button is not None and step.button not in [label for label, _ in message.buttons]:
                    continue
                found.append(message)
                return True
            return False

        what = f"family {self.user_id}, step {self.done + 1} ({step.action} {step.value!r})"
        try:
            await self.api.until(answered, f"the reply to {what}", timeout)
        except AssertionError as exc:
            shown = [
                (m.message_id, (m.text or "")[:50], [label for label, _ in m.buttons])
                for m in self.phone.inbox
            ]
            raise AssertionError(f"{exc}; the phone shows {shown[-6:]}") from None
        self.current = found[0]
        self.done += 1
