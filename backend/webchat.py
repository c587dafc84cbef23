"""The family web chat at /chat: the same conversation as Telegram and the console, hosted by the
municipality. A thin translator, like the other channels: one small page (no build step), and one
JSON endpoint that hands each message to the conversation service.

The family is known by a random id in an HttpOnly, SameSite=Strict cookie (only its HMAC pseudonym is
stored), so the conversation resumes on the same device. The API takes only JSON (a form on another
site cannot post here) and only with that cookie. `/chat?invite=...` starts from an invitation link
or QR code, as `/start <payload>` does in Telegram.
"""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Cookie, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field

from backend import wheel
from bot.i18n import is_rtl, offered_language
from bot.service import IncomingMessage, OutgoingReply
from flows.engine import WHEEL_TITLE
from flows.events import Msg
from flows.i18n import N_
from flows.wellbeing import INDICATORS, SCALE_LABELS, Indicator, Scale

router = APIRouter(include_in_schema=False)
COOKIE = "hjulet_chat"
COOKIE_DAYS = 90
CHANNEL = "web"
WRITE_HERE = N_("Write here")
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
        for key, text in (("write", WRITE_HERE), ("send", SEND), ("log", CONVERSATION))
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
    lang = await desk.service.language_of(CHANNEL, hjulet_chat) if hjulet_chat else None
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
    for message in messages:
        replies += await desk.service.handle(message)
    replies += await desk.service.waiting(CHANNEL, family)  # a message from the named person
    lang = await desk.service.language_of(CHANNEL, family) or hint or desk.settings.default_language
    response = JSONResponse(
        {
            "lang": lang,
            "dir": "rtl" if is_rtl(lang) else "ltr",
            "labels": _labels(request, lang),
            "replies": [_reply(r) for r in replies],
        },
        headers={"Cache-Control": "no-store"},
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
    replies = await _desk(request).service.waiting(CHANNEL, hjulet_chat)
    return JSONResponse({"replies": [_reply(r) for r in replies]}, headers={"Cache-Control": "no-store"})


def _valid(cookie: str | None) -> bool:
    return (
        cookie is not None and 20 <= len(cookie) <= 100 and cookie.replace("-", "").replace("_", "").isalnum()
    )
