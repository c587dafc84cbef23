"""Telegram updates in, `IncomingMessage` out: the adapter only translates.

Private chats only. Replies are queued in the outbox by the conversation service in the same
transaction as the answer; the sender delivers them. Only a press's short notice ("already
answered") is shown at once, as the answer to the callback query.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.types import BufferedInputFile, CallbackQuery, Message, TelegramObject, Update, User

from bot import export
from bot.i18n import offered_language
from bot.mydata import NOTHING
from bot.service import ConversationService, IncomingMessage, OutgoingReply
from bot.telegram.delivery import CHANNEL, TelegramSender
from bot.telegram.render import CallbackCodec, split_text
from flows.events import Msg

log = logging.getLogger(__name__)
MAX_TEXT = 4096


def language_hint(user: User | None, supported: tuple[str, ...]) -> str | None:
    """Telegram's language_code ('sv', 'en-US', 'uk') if it is one of ours."""
    return offered_language(user.language_code if user else None, supported)


class ChatLocks:
    """One chat's updates are handled one at a time, in arrival order; other chats run meanwhile."""

    def __init__(self) -> None:
        self._locks: dict[int, asyncio.Lock] = {}
        self._users: dict[int, int] = {}

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        key = chat_of(event) if isinstance(event, Update) else None
        if key is None:
            return await handler(event, data)
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._users[key] = self._users.get(key, 0) + 1
        try:
            async with lock:
                return await handler(event, data)
        finally:
            self._users[key] -= 1
            if not self._users[key]:
                del self._users[key], self._locks[key]


def chat_of(update: Update) -> int | None:
    if update.message is not None:
        return update.message.chat.id
    if update.callback_query is not None:
        return update.callback_query.from_user.id
    return None


def build_router(
    service: ConversationService, sender: TelegramSender, codec: CallbackCodec, bot_languages: tuple[str, ...]
) -> Router:
    router = Router(name="family")
    private = F.chat.type == "private"

    async def handle(message: IncomingMessage, bot: Bot) -> list[OutgoingReply]:
        replies = await service.handle(message)
        sender.wake()
        for reply in replies:  # not queued: the service could not store the answer (say so at once)
            if not reply.queued and reply.kind == "message" and message.address is not None:
                for part in split_text(reply.text):
                    try:
                        await bot.send_message(chat_id=int(message.address), text=part)
                    except TelegramAPIError as exc:
                        log.warning("could not send a direct reply: %s", type(exc).__name__)
        return replies

    def incoming(source: Message | CallbackQuery, update: Update, **fields: Any) -> IncomingMessage:
        user = source.from_user
        assert user is not None
        if isinstance(source, Message):
            chat_id = source.chat.id
        else:
            chat_id = source.message.chat.id if source.message is not None else user.id
        return IncomingMessage(
            channel=CHANNEL,
            user_id=str(user.id),
            event_id=str(update.update_id),
            language_hint=language_hint(user, bot_languages),
            address=str(chat_id),
            **fields,
        )

    @router.message(CommandStart(), private)
    async def on_start(message: Message, command: CommandObject, event_update: Update, bot: Bot) -> None:
        await handle(incoming(message, event_update, start=True, invite=command.args), bot)

    @router.message(Command("export"), private, F.from_user)
    async def on_export(message: Message, bot: Bot) -> None:
        """The family's data as a JSON file (bot/export.py), sent at once: asking again is harmless."""
        assert message.from_user is not None
        hint = language_hint(message.from_user, bot_languages)
        document = await export.family_export(service, CHANNEL, str(message.from_user.id), hint)
        if document is None:
            lang = hint or service.settings.default_language
            await bot.send_message(chat_id=message.chat.id, text=service.catalogs.render(Msg(NOTHING), lang))
            return
        upload = BufferedInputFile(export.dumps(document), filename=export.FILENAME)
        caption = service.catalogs.render(Msg(export.CAPTION), document["language"])
        await bot.send_document(chat_id=message.chat.id, document=upload, caption=caption)

    @router.message(private, F.from_user)
    async def on_message(message: Message, event_update: Update, bot: Bot) -> None:
        text = message.text or message.caption or ""  # a photo, voice or sticker: "" asks again kindly
        await handle(incoming(message, event_update, text=text[: MAX_TEXT * 4]), bot)

    @router.callback_query(F.from_user)
    async def on_press(query: CallbackQuery, event_update: Update, bot: Bot) -> None:
        decoded = codec.decode(query.data)
        notice = None
        if decoded is not None and query.message is not None:
            flow, step, code = decoded
            ref = str(query.message.message_id)
            message = incoming(query, event_update, choice=code, question=(flow, step), ref=ref)
            replies = await handle(message, bot)
            notice = next((r.text for r in replies if r.kind == "notice"), None)
        try:
            await query.answer(text=notice)
        except TelegramAPIError as exc:  # too late to answer (Telegram waits ~15 s): harmless
            log.info("could not answer a button press: %s", type(exc).__name__)

    return router
