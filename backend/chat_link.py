"""Link your chat: a member of staff makes a one-time code here and gives it in the chat
(/professional), so that the bot knows them as a professional. Any signed-in member of staff; every
code made and every link removed is audited.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import Response

from backend.web import Poster, SignedIn, Staffer, desk, go
from storage.chat_links import CODE_MINUTES, linked_since, new_code, unlink
from storage.concerns import Audit

router = APIRouter(include_in_schema=False)


def _page(
    request: Request, who: SignedIn, since: datetime | None, code: str = "", done: str = ""
) -> Response:
    return desk(request).page(
        request, "chat_link.html", who.staff.language, staff=who.staff, csrf=who.live.csrf_token,
        since=since, code=code, done=done, minutes=CODE_MINUTES,
    )  # fmt: skip


@router.get("/chat-link")
async def chat_link_page(request: Request, who: Staffer, done: str = "") -> Response:
    """What linking does, and whether this member of staff's chat is linked."""
    async with desk(request).service.sessions() as session:
        since = await linked_since(session, who.staff.id)
    return _page(request, who, since, done=done)


@router.post("/chat-link")
async def make_code(request: Request, who: Poster) -> Response:
    """A fresh code, shown once (not kept by the browser)."""
    async with desk(request).service.sessions() as session, session.begin():
        code = await new_code(session, who.staff.id)
        since = await linked_since(session, who.staff.id)
        await Audit(session).record(who.staff.id, "make_code", "chat_link")
    response = _page(request, who, since, code=code)
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post("/chat-link/remove")
async def remove_link(request: Request, who: Poster) -> Response:
    async with desk(request).service.sessions() as session, session.begin():
        await unlink(session, who.staff.id)
        await Audit(session).record(who.staff.id, "unlink", "chat_link")
    return go("/chat-link?done=removed")
