"""The desk's one ASGI app: staff web UI, JSON API, and (in webhook mode) the Telegram webhook.

    app = create_app(settings)     # uvicorn backend.app:... via `hjulet serve`

The lifespan opens the conversation service and starts the background work: the Telegram sender
(webhook mode), the e-mail sender (when SMTP is set), the overdue check, the end of idle sessions,
and retention (bot/retention_cli.py); on shutdown they finish what they hold and stop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from datetime import timedelta
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from backend import admin, api, chat_link, health, web, webchat
from backend.casework import DeskError
from backend.desk_app import STATIC, build_desk_app, staff_language
from bot.settings import Settings
from bot.wiring import build_desk, open_service, settle_heap
from flows.i18n import S_
from storage.directory import Directory
from storage.models import utcnow

log = logging.getLogger(__name__)
EXPIRED_FORM = (S_("This form has expired"), S_("Go back, reload the page and try again."))
NOT_FOUND = (S_("Not found"), S_("There is nothing here, or you may not see it."))
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


def create_app(settings: Settings, *, migrate: bool = True, own_process: bool = False) -> FastAPI:
    """The app. `own_process`: it is all this process serves (`hjulet serve`), so once started its
    heap is settled (bot/wiring.py settle_heap); tests build many apps in one process and do not."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_service(settings, migrate=migrate) as service:
            notifier = build_desk(settings).notifier
            desk = build_desk_app(settings, service, notifier)
            app.state.desk = desk
            stop = asyncio.Event()
            workers = [asyncio.create_task(_sweep_sessions(desk.service.sessions, settings, stop))]
            workers += await _start_workers(settings, desk, notifier, stop)
            if own_process:
                settle_heap()
            try:
                yield
            finally:
                stop.set()
                for worker in workers:
                    with suppress(asyncio.CancelledError):
                        await asyncio.wait_for(worker, 15)
                if desk.channel is not None:
                    await desk.channel.close()

    app = FastAPI(
        title="Hjulet desk API",
        version="1",
        description="Concerns routed to the child's named person. Bearer token: `hjulet staff token EMAIL`.",
        lifespan=lifespan,
        docs_url=None,  # Swagger UI would load scripts from elsewhere; the spec is at /openapi.json
        redoc_url=None,
    )

    @app.middleware("http")
    async def security_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        if request.url.path.startswith(("/concerns", "/queue", "/admin", "/api")):
            response.headers["Cache-Control"] = "no-store"
        return response

    @app.exception_handler(web.SignInNeeded)
    async def sign_in(request: Request, exc: web.SignInNeeded) -> Response:
        expired = "&expired=1" if exc.expired else ""
        return RedirectResponse(f"/login?next={exc.next_path}{expired}", status_code=303)

    @app.exception_handler(web.BadForm)
    async def bad_form(request: Request, exc: web.BadForm) -> Response:
        return _error_page(request, 400, *EXPIRED_FORM)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        if request.url.path.startswith(("/api/", "/chat/api/")):
            return await request_validation_exception_handler(request, exc)
        return _error_page(request, 404, *NOT_FOUND)  # a malformed address on a page: nothing there

    @app.exception_handler(DeskError)
    async def desk_error(request: Request, exc: DeskError) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": str(exc)}, status_code=exc.status)
        return _error_page(request, exc.status, *NOT_FOUND)

    app.include_router(health.router)  # /healthz, /readyz: public, no data (backend/health.py)
    app.include_router(web.router)
    app.include_router(chat_link.router)
    app.include_router(webchat.router)
    app.include_router(admin.router)
    app.include_router(api.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    if settings.telegram_webhook_secret:
        _mount_webhook(app, settings.telegram_webhook_secret)
    return app


def _error_page(request: Request, status: int, title: str, message: str) -> Response:
    desk = request.app.state.desk
    lang = staff_language(request)
    t = desk.catalogs.gettext
    return desk.page(
        request, "error.html", lang, status, title=t(title, lang), message=t(message, lang), staff=None
    )


def _mount_webhook(app: FastAPI, secret: str) -> None:
    from bot.telegram.webhook import PATH, receive

    @app.post(PATH, include_in_schema=False)
    async def telegram_webhook(request: Request) -> Any:
        channel = request.app.state.desk.channel
        if channel is None:
            return JSONResponse({"detail": "Telegram is not set up"}, status_code=503)
        return await receive(request, channel, secret)


async def _start_workers(
    settings: Settings, desk: Any, notifier: Any, stop: asyncio.Event
) -> list[asyncio.Task[None]]:
    workers: list[asyncio.Task[None]] = []
    if settings.telegram_token and settings.telegram_webhook_secret:
        from bot.telegram.channel import TelegramChannel

        desk.channel = TelegramChannel(settings, desk.service)
        await desk.channel.register_commands(desk.service.catalogs)
        url = settings.public_url.rstrip("/") + "/telegram/webhook"
        try:
            await desk.channel.bot.set_webhook(
                url,
                secret_token=settings.telegram_webhook_secret,
                allowed_updates=["message", "callback_query"],
            )
        except Exception as exc:
            log.warning("could not set the Telegram webhook: %s", type(exc).__name__)
        workers.append(asyncio.create_task(desk.channel.sender.run(stop)))
    wake = None
    if settings.smtp_host:
        from backend.mail import EmailSender

        mailer = EmailSender(desk.service.sessions, settings)
        wake = mailer.wake

        async def mail() -> None:
            await mailer.run(stop)
            await mailer.drain(5)  # what the last moments queued

        workers.append(asyncio.create_task(mail()))
    from backend.overdue import run_overdue

    workers.append(asyncio.create_task(run_overdue(desk.service.sessions, notifier, stop, wake=wake)))
    from bot.retention_cli import retention_job  # at start-up, then every retention interval

    workers.append(asyncio.create_task(retention_job(desk.service.sessions, settings, stop)))
    return workers


async def _sweep_sessions(sessions: Any, settings: Settings, stop: asyncio.Event) -> None:
    idle = timedelta(minutes=settings.session_idle_minutes)
    while not stop.is_set():
        try:
            async with sessions() as session, session.begin():
                await Directory(session).end_idle_sessions(utcnow() - idle)
        except Exception as exc:
            log.warning("could not end idle sessions: %s", type(exc).__name__)
        with suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 300)
