"""The family web chat at /chat: the same conversation as Telegram and the console, hosted by the
municipality. A thin translator, like the other channels: one small page (no build step), and one
JSON endpoint that hands each message to the conversation service.

The family is known by a random id in an HttpOnly, SameSite=Strict cookie (only its HMAC pseudonym is
stored), so the conversation resumes on the same device. The API takes only JSON (a form on another
site cannot post here) and only with that cookie. `/chat?invite=...` starts from an invitation link
or QR code, as `/start <payload>` does in Telegram.
"""

from __future__ import annotations

import logging
import secrets
from typing import Annotated, Any

from babel.dates import format_date
from fastapi import APIRouter, Cookie, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from backend import wheel
from backend.casework import NotFound
from backend.plans import ORGANISATIONS
from backend.workdays import STOCKHOLM
from bot import export
from bot.i18n import babel_locale, is_rtl, offered_language
from bot.service import IncomingMessage, OutgoingReply
from flows.engine import WHEEL_TITLE
from flows.events import Msg
from flows.i18n import N_
from flows.wellbeing import INDICATORS, SCALE_LABELS, Indicator, Scale
from storage import Store, User, plans, pseudonym
from storage.database import unavailable

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)
COOKIE = "hjulet_chat"
COOKIE_DAYS = 90
PLAN_COOKIE = "hjulet_plan"
CHANNEL = "web"
WRITE_HERE = N_("Write here")
DOWNLOAD = N_("Download everything we saved")
SEND = N_("Send")
CONVERSATION = N_("Conversation")
NOT_ANSWERED = N_("Not answered")


class Sent(BaseModel):
    """One thing the family did: opened the chat, wrote words, or pressed a button."""

    start: bool = False
    text: str | None = Field(default=None, max_length=4000)
    choice: str | None = Field(default=None, max_length=64)
    invite: str | None = Field(default=None, max_length=64)
    question: tuple[str, str] | None = None  # (flow, step) of the pressed button's question


def _desk(request: Request) -> Any:
    return request.app.state.desk


def _hint(request: Request) -> str | None:
    """The browser's first language that Hjulet offers (Accept-Language), if any."""
    offered = _desk(request).settings.language_list
    for part in request.headers.get("accept-language", "").split(","):
        code = offered_language(part.split(";")[0], offered)
        if code is not None:
            return code
    return None


def _labels(request: Request, lang: str) -> dict[str, str]:
    catalogs = _desk(request).service.catalogs
    return {
        key: catalogs.render(Msg(text), lang)
        for key, text in (("write", WRITE_HERE), ("send", SEND), ("log", CONVERSATION), ("export", DOWNLOAD))
    }


def _reply(reply: OutgoingReply) -> dict[str, Any]:
    return {
        "kind": reply.kind,
        "text": reply.text,
        "buttons": [list(button) for button in reply.buttons],
        "accepts_text": reply.accepts_text,
        "rtl": reply.rtl,
        "step": reply.step,
        "flow": reply.flow,
    }


@router.get("/chat")
async def chat_page(request: Request, hjulet_chat: Annotated[str | None, Cookie()] = None) -> HTMLResponse:
    desk = _desk(request)
    try:
        lang = await desk.service.language_of(CHANNEL, hjulet_chat) if hjulet_chat else None
    except Exception as exc:  # the database is away: the page opens all the same, its first message
        if not unavailable(exc):  # hears "try again in a moment"
            raise
        log.warning("web chat: page opened without the database (%s)", type(exc).__name__)
        lang = desk.service.known_language(CHANNEL, hjulet_chat) if hjulet_chat else None
    lang = lang or _hint(request) or desk.settings.default_language
    html = desk.templates.get_template("chat.html").render(
        lang=lang, dir="rtl" if is_rtl(lang) else "ltr", labels=_labels(request, lang)
    )
    return HTMLResponse(html, headers={"Cache-Control": "no-store"})


@router.post("/chat/api/messages")
async def chat_message(
    request: Request, sent: Sent, hjulet_chat: Annotated[str | None, Cookie()] = None
) -> JSONResponse:
    if not request.headers.get("content-type", "").startswith("application/json"):
        raise HTTPException(415, "JSON only")
    desk = _desk(request)
    family, new = (hjulet_chat, False) if _valid(hjulet_chat) else (secrets.token_urlsafe(32), True)
    hint = _hint(request)
    messages = []
    if sent.start or new:  # a first visit opens the conversation before the words are read
        opened = IncomingMessage(CHANNEL, family, start=True, language_hint=hint, invite=sent.invite)
        messages.append(opened)
    if sent.text is not None or sent.choice is not None:
        question = sent.question if sent.choice is not None else None  # a tap on an old question
        said = IncomingMessage(
            CHANNEL, family, text=sent.text, choice=sent.choice, language_hint=hint, question=question
        )
        messages.append(said)
    if not messages:
        raise HTTPException(422, "nothing sent")
    replies: list[OutgoingReply] = []
    status, headers = 200, {"Cache-Control": "no-store"}
    try:
        for message in messages:
            replies += await desk.service.handle(message)
    except Exception as exc:  # this message was not stored (one transaction): "try again in a moment"
        status = 503 if unavailable(exc) else 500  # 503: the database is away; never a traceback
        level = logging.WARNING if status == 503 else logging.ERROR
        log.log(level, "web chat: a message not stored (%s)", type(exc).__name__)
        lang = desk.service.known_language(CHANNEL, family) or hint or desk.settings.default_language
        replies.append(desk.service.trouble(lang))
        headers["Retry-After"] = "5"
    else:
        try:
            replies += await desk.service.waiting(CHANNEL, family)  # a message from the named person
            lang = await desk.service.language_of(CHANNEL, family) or hint or desk.settings.default_language
        except Exception as exc:  # stored all the same; what waits is shown next time
            log.warning("web chat: waiting messages not read (%s)", type(exc).__name__)
            lang = desk.service.known_language(CHANNEL, family) or hint or desk.settings.default_language
    response = JSONResponse(
        {
            "lang": lang,
            "dir": "rtl" if is_rtl(lang) else "ltr",
            "labels": _labels(request, lang),
            "replies": [_reply(r) for r in replies],
            **({"retry": True} if status != 200 else {}),
        },
        status_code=status,
        headers=headers,
    )
    if new:
        response.set_cookie(
            COOKIE, family, max_age=COOKIE_DAYS * 86400, httponly=True, samesite="strict",
            secure=desk.secure_cookies, path="/chat",
        )  # fmt: skip
    return response


@router.get("/chat/api/wheel")
async def chat_wheel(request: Request, hjulet_chat: Annotated[str | None, Cookie()] = None) -> Response:
    """This family's wheel as SVG, labelled in their language (from the codes they answered)."""
    if not _valid(hjulet_chat):
        raise HTTPException(404, "no conversation")
    assert hjulet_chat is not None
    service = _desk(request).service
    lang, answers = await service.latest_answers(CHANNEL, hjulet_chat)

    def say(text: str) -> str:
        return service.catalogs.render(Msg(text), lang)

    names = {
        "good": say(SCALE_LABELS[Scale.GOOD]),
        "some_worries": say(SCALE_LABELS[Scale.SOME_WORRIES]),
        "worried": say(SCALE_LABELS[Scale.WORRIED]),
        "unknown": say(NOT_ANSWERED),
    }
    labels = {part: say(INDICATORS[part].name) for part in Indicator}
    svg = wheel.wheel_svg(wheel.states(answers), labels, names, say(WHEEL_TITLE))
    return Response(svg, media_type="image/svg+xml", headers={"Cache-Control": "no-store"})


@router.get("/chat/api/waiting")
async def chat_waiting(request: Request, hjulet_chat: Annotated[str | None, Cookie()] = None) -> JSONResponse:
    """Messages from the named person that came while the page was open (the page asks now and then)."""
    if not _valid(hjulet_chat):
        return JSONResponse({"replies": []}, headers={"Cache-Control": "no-store"})
    assert hjulet_chat is not None
    try:
        replies = await _desk(request).service.waiting(CHANNEL, hjulet_chat)
    except Exception as exc:
        if not unavailable(exc):
            raise
        log.warning("web chat: waiting messages not read (%s)", type(exc).__name__)
        headers = {"Cache-Control": "no-store", "Retry-After": "5"}
        return JSONResponse({"replies": [], "retry": True}, status_code=503, headers=headers)
    return JSONResponse({"replies": [_reply(r) for r in replies]}, headers={"Cache-Control": "no-store"})


def _valid(cookie: str | None) -> bool:
    return (
        cookie is not None and 20 <= len(cookie) <= 100 and cookie.replace("-", "").replace("_", "").isalnum()
    )


# ---- the child's plan, as the family reads it -----------------------------


async def _plan_reader(request: Request, chat: str | None, key: str | None) -> tuple[int | None, str]:
    """The family reading (their user id) and their language: by the web chat's cookie, else by the
    private link's key (from the link's cookie)."""
    service = _desk(request).service
    async with service.sessions() as session:
        user = None
        if _valid(chat):
            assert chat is not None
            user = await Store(session).get_user(CHANNEL, pseudonym(service.secret, CHANNEL, chat))
        if user is None and key:
            user_id = await plans.user_of_link(session, key)
            user = await session.get(User, user_id) if user_id is not None else None
    lang = (user.language if user else None) or _hint(request) or _desk(request).settings.default_language
    return (user.id if user else None), lang


def _plan_html(request: Request, lang: str, found: list[Any], *, missing: bool, done: str) -> HTMLResponse:
    catalogs = _desk(request).service.catalogs
    locale = babel_locale(lang)

    def say(text: str, **params: Any) -> str:
        return catalogs.render(Msg(text, params), lang)

    def day(moment: Any) -> str:
        return format_date(moment, format="long", locale=locale)

    html = _desk(request).templates.get_template("plan.html").render(
        lang=lang, dir="rtl" if is_rtl(lang) else "ltr", plans=found, missing=missing, done=done, N_=say,
        day=day, when=lambda moment: day(moment.astimezone(STOCKHOLM).date()),
        part_name=lambda code: say(INDICATORS[Indicator(code)].name),
        kind_name=lambda code: say(ORGANISATIONS.get(code, ORGANISATIONS["other"])),
        language_of=lambda code: _language_in(code, locale),
    )  # fmt: skip
    return HTMLResponse(html, status_code=404 if missing else 200, headers={"Cache-Control": "no-store"})


def _language_in(code: str, locale: Any) -> str:
    try:
        return babel_locale(code).get_display_name(locale) or code
    except (ValueError, TypeError):
        return code


@router.get("/chat/plan")
async def plan_page(
    request: Request,
    key: str | None = None,
    done: str = "",
    hjulet_chat: Annotated[str | None, Cookie()] = None,
    hjulet_plan: Annotated[str | None, Cookie()] = None,
) -> Response:
    """The family's shared plan. A private link (`?key=`) is turned into a cookie at once, so the key
    leaves the address bar and the browser history."""
    if key is not None:
        user_id, _ = await _plan_reader(request, None, key[:100])
        if user_id is None:
            user_id, lang = await _plan_reader(request, hjulet_chat, None)
            return _plan_html(request, lang, [], missing=True, done="")
        response = RedirectResponse("/chat/plan", status_code=303)
        response.set_cookie(
            PLAN_COOKIE, key, max_age=plans.LINK_DAYS * 86400, httponly=True, samesite="lax",
            secure=_desk(request).secure_cookies, path="/chat/plan",
        )  # fmt: skip
        return response
    user_id, lang = await _plan_reader(request, hjulet_chat, hjulet_plan)
    found = await _desk(request).plans.for_family(user_id) if user_id is not None else []
    return _plan_html(request, lang, found, missing=user_id is None and bool(hjulet_plan), done=done)


@router.post("/chat/plan/consent")
async def plan_consent(
    request: Request,
    hjulet_chat: Annotated[str | None, Cookie()] = None,
    hjulet_plan: Annotated[str | None, Cookie()] = None,
) -> Response:
    """The family's yes or no. A post from another site carries no cookie (SameSite), so it finds
    no family."""
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        raise HTTPException(403, "from this site only")
    form = await request.form()
    given = str(form.get("given", ""))
    user_id, lang = await _plan_reader(request, hjulet_chat, hjulet_plan)
    if user_id is None or given not in ("yes", "no"):
        raise HTTPException(404 if user_id is None else 422, "no plan" if user_id is None else "yes or no")
    try:
        await _desk(request).plans.family_consents(user_id, given == "yes", lang)
    except NotFound as error:
        raise HTTPException(404, "no plan") from error
    return RedirectResponse(f"/chat/plan?done={given}", status_code=303)


# ---- the family's data, to take with them -----------------------------------


@router.get("/chat/api/export")
async def chat_export(request: Request, hjulet_chat: Annotated[str | None, Cookie()] = None) -> Response:
    """Everything stored about this family, as a JSON file (bot/export.py): by the chat's cookie
    only; no cookie, or nothing stored, is "not found"."""
    if not _valid(hjulet_chat):
        raise HTTPException(404, "no conversation")
    assert hjulet_chat is not None
    document = await export.family_export(_desk(request).service, CHANNEL, hjulet_chat, _hint(request))
    if document is None:
        raise HTTPException(404, "no conversation")
    headers = {
        "Content-Disposition": f'attachment; filename="{export.FILENAME}"',
        "Cache-Control": "no-store",
    }
    return Response(export.dumps(document), media_type="application/json", headers=headers)
