"""The baseline for `make bench`: a minimal aiogram 3 echo bot in webhook mode.

One handler answers each message with its text. The update is handled inside the webhook request (as
Hjulet does, which answers once the update is stored), so both are timed the same way.

    python -m tests.bench.echo_bot --port 8081   # HJULET_TELEGRAM_TOKEN, _API_BASE, _WEBHOOK_SECRET
"""

from __future__ import annotations

import argparse
import os

from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import Message
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    base = os.environ["HJULET_TELEGRAM_API_BASE"]
    session = AiohttpSession(api=TelegramAPIServer.from_base(base))
    bot = Bot(os.environ["HJULET_TELEGRAM_TOKEN"], session=session)
    dispatcher = Dispatcher()

    @dispatcher.message()
    async def echo(message: Message) -> None:
        await message.answer(message.text or "?")

    app = web.Application()
    SimpleRequestHandler(
        dispatcher, bot, secret_token=os.environ["HJULET_TELEGRAM_WEBHOOK_SECRET"], handle_in_background=False
    ).register(app, path="/telegram/webhook")
    web.run_app(app, host="127.0.0.1", port=args.port, print=None)


if __name__ == "__main__":
    main()
