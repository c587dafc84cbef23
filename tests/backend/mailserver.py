"""A real SMTP server (aiosmtpd) on loopback for the e-mail tests, and a server that never answers.

The server keeps what it receives (envelope, raw bytes, the parsed message, the client's address and
port, so a test can tell connections apart) and can refuse chosen recipients with a given reply.
"""

from __future__ import annotations

import asyncio
import socket
import time
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from bot.settings import Settings, load_settings


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    peer: tuple[str, int]

    @property
    def message(self) -> EmailMessage:
        parsed = message_from_bytes(self.raw, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed

    @property
    def body(self) -> str:
        return self.message.get_content()


@dataclass
class Recorder:
    """The aiosmtpd handler: keeps every message, refuses the recipients in `refuse`."""

    received: list[Received] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)  # address -> reply, e.g. "550 5.1.1 No such user"

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        peer = (str(session.peer[0]), int(session.peer[1]))
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.content, peer))
        return "250 Message accepted"


class MailServer:
    """aiosmtpd's threaded Controller on 127.0.0.1; `options` go to the Controller (TLS, auth)."""

    def __init__(self, port: int | None = None, **options: Any) -> None:
        self.port = port or free_port()
        self.recorder = Recorder()
        self.options = options
        self.controller: Controller | None = None

    @property
    def received(self) -> list[Received]:
        return list(self.recorder.received)

    @property
    def refuse(self) -> dict[str, str]:
        return self.recorder.refuse

    def to(self, address: str) -> list[Received]:
        return [mail for mail in self.received if address in mail.rcpt_tos]

    def start(self) -> MailServer:
        self.controller = Controller(self.recorder, hostname="127.0.0.1", port=self.port, **self.options)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def settings(self, tmp_path: Any, **more: Any) -> Settings:
        values: dict[str, Any] = {
            "data_dir": tmp_path,
            "smtp_host": "127.0.0.1",
            "smtp_port": self.port,
            "smtp_security": "none",
            "smtp_from": "Hjulet <hjulet@kommun.example>",
        }
        return load_settings(**(values | more))


class SilentServer:
    """Accepts connections on `port` and never says a word: a hung mail server."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.server: asyncio.Server | None = None
        self.writers: list[asyncio.StreamWriter] = []

    async def start(self) -> SilentServer:
        async def accept(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.writers.append(writer)

        self.server = await asyncio.start_server(accept, "127.0.0.1", self.port)
        return self

    async def stop(self) -> None:
        for writer in self.writers:
            writer.close()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


async def eventually(check: Any, timeout: float = 8.0, every: float = 0.05) -> None:
    """Wait until the async or plain `check()` is true; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"not true after {timeout} s: {getattr(check, '__name__', check)}")
        await asyncio.sleep(every)
