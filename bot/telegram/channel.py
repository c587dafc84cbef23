"""The Telegram channel of one process: bot, dispatcher and sender, wired from settings.

channel = TelegramChannel(settings, service)   # no module-level Bot or Dispatcher
await channel.process(update)                  # from polling or from the webhook

While the database is away, `process` raises (the update is fetched or delivered again later) and
the family is told once, straight through the Bot API, that their message is kept and will be
answered: they should not send it again, or the second copy would answer the next question.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from aiogram import Bot, Dispatcher, methods
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.session.base import Response
from aiogram.client.telegram import PRODUCTION, TelegramAPIServer
from aiogram.exceptions import TelegramAPIError
from aiogram.types import BotCommand, BotCommandScopeAllPrivateChats, Update

from backend.wheel_png import WheelPainter
from bot.i18n import Catalogs
from bot.service import ConversationService
from bot.settings import Settings
from bot.telegram.delivery import CHANNEL, TelegramSender
from bot.telegram.handlers import ChatLocks, build_router, chat_of, language_hint
from bot.telegram.render import CallbackCodec
from flows.events import Msg
from flows.i18n import N_
from storage.database import unavailable

log = logging.getLogger(__name__)
NOTICE_TIMEOUT = 5  # seconds for the "we have your message" notice: the update waits for it
# Telegram names a menu's language by a two-letter ISO 639-1 code: Kurmanji is "ku", Bosnian's
# readers may have Croatian or Serbian apps; Dari and Sorani have no such code (they get the default).
TELEGRAM_CODES: dict[str, tuple[str, ...]] = {"kmr": ("ku",), "bs": ("bs", "hr", "sr"), "prs": (), "ckb": ()}

# aiogram reads each Bot API answer as `Response[method.__returning__]`, a pydantic generic class.
# pydantic keeps such classes only weakly, so the garbage collector takes them and every call built
# its class anew: 2-3 ms of the event loop per call, measured under `make bench`. Held here, each
# class is built once per process.
RESPONSE_TYPES = tuple(
    Response[method.__returning__]  # type: ignore[name-defined]
    for method in (
        methods.AnswerCallbackQuery,
        methods.DeleteWebhook,
        methods.EditMessageReplyMarkup,
        methods.EditMessageText,
        methods.GetMe,
        methods.GetUpdates,
        methods.SendDocument,
        methods.SendMessage,
        methods.SendPhoto,
        methods.SetMyCommands,
        methods.SetWebhook,
    )
)

COMMANDS = (
    ("start", N_("Start, or go on where you left off")),
    ("help", N_("Help")),
    ("language", N_("Change language")),
    ("pause", N_("Pause and go on later")),
    ("mydata", N_("See everything we saved")),
    ("export", N_("Download everything we saved")),
    ("delete", N_("Delete my answers")),
    ("professional", N_("I work with children")),
)


def build_bot(settings: Settings) -> Bot:
    if not settings.telegram_token:
        raise ValueError("HJULET_TELEGRAM_TOKEN is not set (the token BotFather gave you)")
    server = (
        TelegramAPIServer.from_base(settings.telegram_api_base) if settings.telegram_api_base else PRODUCTION
    )
    return Bot(settings.telegram_token, session=AiohttpSession(api=server))


class TelegramChannel:
    def __init__(self, settings: Settings, service: ConversationService, bot: Bot | None = None) -> None:
        self.settings, self.service = settings, service
        self.bot = bot or build_bot(settings)
        self.codec = CallbackCodec(service.engine.flows)
        lease = timedelta(seconds=settings.outbox_lease_seconds)
        painter = WheelPainter(service.catalogs)  # the wheel as a photo, in each family's language
        self.sender = TelegramSender(
            self.bot, service.sessions, self.codec, painter, rate=settings.telegram_send_rate, lease=lease
        )
        self.dispatcher = Dispatcher()
        self.dispatcher.update.outer_middleware(ChatLocks())
        self.dispatcher.include_router(build_router(service, self.sender, self.codec, settings.language_list))
        self._told: set[int] = set()  # chats told that the database is away, until their next update works

    async def process(self, update: Update) -> None:
        """Handle one update; raises if it could not be stored (so it is fetched or delivered again)."""
        chat = chat_of(update)
        try:
            await self.dispatcher.feed_update(self.bot, update)
        except Exception as exc:
            if chat is not None and unavailable(exc):
                await self._tell_kept(chat, update)
            raise
        if chat is not None:
            self._told.discard(chat)

    async def _tell_kept(self, chat: int, update: Update) -> None:
        """Tell the family once (per outage) that their message is kept and will be answered."""
        if chat in self._told:
            return
        self._told.add(chat)
        event = update.message or update.callback_query
        user = event.from_user if event is not None else None
        hint = language_hint(user, self.settings.language_list)
        notice = self.service.will_answer(CHANNEL, str(user.id if user else chat), hint)
        try:
            await self.bot.send_message(chat_id=chat, text=notice.text, request_timeout=NOTICE_TIMEOUT)
        except Exception as exc:  # Telegram away too: the update still comes again
            log.warning("could not tell a family their message is kept: %s", type(exc).__name__)

    async def register_commands(self, catalogs: Catalogs) -> None:
        """The command menu, in each language (Telegram picks it by the user's app language)."""
        scope = BotCommandScopeAllPrivateChats()
        menus: list[tuple[str | None, str]] = [(None, self.settings.default_language)]
        for lang in self.settings.language_list:
            menus.extend((code, lang) for code in TELEGRAM_CODES.get(lang, (lang,)))
        for code, shown in menus:
            commands = [
                BotCommand(command=c, description=catalogs.render(Msg(d), shown)) for c, d in COMMANDS
            ]
            try:
                await self.bot.set_my_commands(commands, scope=scope, language_code=code)
            except TelegramAPIError as exc:
                log.warning(
                    "could not register the commands for %s: %s", code or "default", type(exc).__name__
                )

    async def close(self) -> None:
        self.sender.rasteriser.close()
        await self.bot.session.close()
