"""The console channel: `hjulet chat`. A thin translator between lines of text and the service.

Each choice is printed as a numbered line `1) text`; the prompt is `> ` (printed
and flushed even when stdin is a pipe). With piped input, one line is one message
and the chat ends cleanly at the end of input.
"""

from __future__ import annotations

import asyncio
import getpass
import logging
import sys
from typing import TextIO

from bot import export
from bot.mydata import NOTHING
from bot.service import ConversationService, IncomingMessage, OutgoingReply
from flows.events import Msg

log = logging.getLogger(__name__)
PROMPT = "> "
CHANNEL = "console"
EXPORT = "/export"  # everything stored, as JSON: a command of the channel, not of the conversation
MAX_LINE = 64 * 1024  # longer input is cut here; the service keeps a shorter part still


def default_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name in this environment
        return "console"


def render(reply: OutgoingReply) -> str:
    lines = [reply.text]
    lines.extend(f"  {number}) {label}" for number, (_code, label) in enumerate(reply.buttons, start=1))
    return "\n".join(lines)


class Console:
    def __init__(
        self,
        service: ConversationService,
        user: str,
        lang: str | None,
        stdin: TextIO = sys.stdin,
        stdout: TextIO = sys.stdout,
    ) -> None:
        self.service, self.user, self.lang = service, user, lang
        self.stdin, self.stdout = stdin, stdout
        self.buttons: tuple[tuple[str, str], ...] = ()

    def show(self, replies: list[OutgoingReply]) -> None:
        for reply in replies:
            if reply.kind in ("answered", "wheel"):
                continue  # the answer is already on the screen; a terminal shows no picture
            self.stdout.write(render(reply) + "\n")
            if reply.buttons:
                self.buttons = reply.buttons if not reply.accepts_text else ()
        self.stdout.flush()

    async def send(self, **fields: object) -> None:
        message = IncomingMessage(channel=CHANNEL, user_id=self.user, language_hint=self.lang, **fields)  # type: ignore[arg-type]
        try:
            replies = await self.service.handle(message)
        except Exception as exc:  # never a traceback in a family's face; the log says what, not who
            log.error("could not handle a console message: %s", type(exc).__name__)
            replies = [self.service.trouble(self.lang)]
        self.show(replies)

    async def show_waiting(self) -> None:
        """Messages that came while the family was away (from their named person, say)."""
        try:
            waiting = await self.service.waiting(CHANNEL, self.user)
        except Exception as exc:  # the chat goes on; the messages wait for the next prompt
            log.warning("could not read waiting messages: %s", type(exc).__name__)
            return
        self.show(waiting)

    async def export(self) -> None:
        """/export: everything stored about this user, printed as JSON (bot/export.py)."""
        try:
            document = await export.family_export(self.service, CHANNEL, self.user, self.lang)
        except Exception as exc:
            log.error("could not export a console user's data: %s", type(exc).__name__)
            self.show([self.service.trouble(self.lang)])
            return
        if document is None:
            lang = self.lang or self.service.settings.default_language
            self.stdout.write(self.service.catalogs.render(Msg(NOTHING), lang) + "\n")
        else:
            self.stdout.write(export.dumps(document).decode("utf-8") + "\n")
        self.stdout.flush()

    def choice_for(self, line: str) -> str | None:
        """A number typed for one of the choices just shown."""
        key = line.strip().rstrip(".)")
        if key.isdigit() and self.buttons and 1 <= int(key) <= len(self.buttons):
            return self.buttons[int(key) - 1][0]
        return None

    async def run(self) -> None:
        await self.send(start=True)
        while True:
            await self.show_waiting()
            self.stdout.write(PROMPT)
            self.stdout.flush()
            line = await asyncio.to_thread(self.stdin.readline, MAX_LINE)
            if line == "":
                self.stdout.write("\n")
                break
            line = line.rstrip("\r\n")
            if line.strip().lower() == EXPORT:
                await self.export()
                continue
            code = self.choice_for(line)
            if code is not None:
                await self.send(choice=code)
            else:
                await self.send(text=line)
        self.stdout.flush()
