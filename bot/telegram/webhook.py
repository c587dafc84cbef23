"""The Telegram webhook, as a FastAPI router the desk's HTTP app mounts.

A request is accepted only with the right X-Telegram-Bot-Api-Secret-Token (compared in constant
time); otherwise 401 and nothing is processed. The reply is 200 only after the update is stored;
if it cannot be (the database is away), 503, and Telegram delivers the update again later (the family
is told once that their message is kept: see `TelegramChannel.process`). A second delivery of an
update already stored, to this worker or another, is recognised by its id and changes nothing.
"""

from __future__ import annotations

import hmac
import logging
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import ValidationError

from bot.telegram.channel import TelegramChannel

log = logging.getLogger(__name__)
PATH = "/telegram/webhook"


async def receive(request: Request, channel: TelegramChannel, secret: str) -> dict[str, Any]:
    """Take one webhook request: 401 without the secret, 400 if it is no update, 503 if unstored."""
    given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "").encode()
    if not secret or not hmac.compare_digest(given, secret.encode()):
        raise HTTPException(status_code=401, detail="wrong or missing secret token")
    try:
        from aiogram.types import Update

        update = Update.model_validate(await request.json(), context={"bot": channel.bot})
    except (ValidationError, ValueError) as exc:
        raise HTTPException(status_code=400, detail="not a Telegram update") from exc
    try:
        await channel.process(update)
    except Exception as exc:
        log.warning("webhook update %d not stored (%s)", update.update_id, type(exc).__name__)
        raise HTTPException(status_code=503, detail="try again later") from exc
    return {}


def webhook_router(channel: TelegramChannel, secret: str, path: str = PATH) -> APIRouter:
    if not secret:
        raise ValueError("HJULET_TELEGRAM_WEBHOOK_SECRET is not set: without it, anyone could post updates")
    router = APIRouter()

    @router.post(path, include_in_schema=False)
    async def telegram_webhook(request: Request) -> dict[str, Any]:
        return await receive(request, channel, secret)

    return router
