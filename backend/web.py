"""The staff web UI: sign in, the queues, a concern and what to do with it. Short handlers: parse,
call the casework service, render. Every page needs a signed-in member of staff; every form its
CSRF token.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from backend.auth import COOKIE, LoginRefused, csrf_ok
from backend.casework import PAGE, DeskError, NotFound
from backend.desk_app import STAFF_LANGUAGES, DeskApp, staff_language
from backend.plans import (
    FIVE_QUESTIONS,
    MATRIX,
    MATRIX_AXES,
    ORGANISATIONS,
    TRIANGLE,
    TRIANGLE_SIDES,
    Organisation,
    PlanContent,
    PlanState,
)
from bot.i18n import language_name
from flows.events import Msg
from flows.glossary import TERMS
from flows.wellbeing import INDICATORS, Indicator
from storage.desk import OUTCOMES, Staff, StaffSession

router = APIRouter(include_in_schema=False)
LOGIN_COOKIE = "hjulet_login"
PLAN_ROWS = 4  # organisations on the plan form


class SignInNeeded(Exception):
    def __init__(self, next_path: str, expired: bool = False) -> None:
        self.next_path, self.expired = next_path, expired


class BadForm(Exception):
    """A form without the right CSRF token."""


def desk(request: Request) -> DeskApp:
    return request.app.state.desk  # type: ignore[no-any-return]


@dataclass
class SignedIn:
    staff: Staff
    live: StaffSession
    cookie: str


async def signed_in(request: Request) -> SignedIn:
    cookie = request.cookies.get(COOKIE)
    found = await desk(request).auth.resolve(cookie)
    if found is None or cookie is None:
        raise SignInNeeded(request.url.path, expired=cookie is not None)
    return SignedIn(found[1], found[0], cookie)


async def posted(request: Request, who: Annotated[SignedIn, Depends(signed_in)]) -> SignedIn:
    form = await request.form()
    if not csrf_ok(who.live.csrf_token, str(form.get("csrf", ""))):
        raise BadForm
    return who


Staffer = Annotated[SignedIn, Depends(signed_in)]
Poster = Annotated[SignedIn, Depends(posted)]


def go(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


# ---- signing in ---------------------------------------------------------


@router.get("/login")
async def login_page(
    request: Request, next: str = "/", expired: bool = False, failed: bool = False
) -> Response:
    token = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(24)
    lang = staff_language(request)
    response = desk(request).page(
        request, "login.html", lang, next=_safe(next), expired=expired, failed=failed, login_csrf=token
    )
    response.set_cookie(
        LOGIN_COOKIE, token, httponly=True, samesite="strict", secure=desk(request).secure_cookies
    )
    return response


@router.post("/login")
async def login(
    request: Request,
    email: Annotated[str, Form(max_length=200)],
    password: Annotated[str, Form(max_length=500)],
    csrf: Annotated[str, Form(max_length=100)] = "",
    next: Annotated[str, Form(max_length=500)] = "/",
) -> Response:
    app = desk(request)
    if not csrf_ok(request.cookies.get(LOGIN_COOKIE, ""), csrf):
        return go("/login")
    ip = request.client.host if request.client else "?"
    try:
        session_id, _staff = await app.auth.login(email, password, ip)
    except LoginRefused as refused:
        lang = staff_language(request)
        status = 429 if refused.throttled else 401
        return app.page(request, "login.html", lang, status, next=_safe(next), failed=True, login_csrf=csrf)
    response = go(_safe(next))
    response.set_cookie(
        COOKIE,
        session_id,
        httponly=True,
        samesite="strict",
        secure=app.secure_cookies,
        max_age=app.settings.session_idle_minutes * 60 * 16,  # the server ends it after idle time
    )
    response.delete_cookie(LOGIN_COOKIE)
    return response


@router.post("/logout")
async def logout(request: Request, who: Poster) -> Response:
    await desk(request).auth.logout(who.cookie, who.staff)
    response = go("/login")
    response.delete_cookie(COOKIE)
    return response


@router.post("/language")
async def choose_language(
    request: Request, who: Poster, lang: Annotated[str, Form()], back: Annotated[str, Form()] = "/"
) -> Response:
    if lang in STAFF_LANGUAGES:
        await desk(request).casework.set_language(who.staff, lang)
    return go(_safe(back))


def _safe(path: str) -> str:
    """Only paths on this site (no open redirect)."""
    return path if path.startswith("/") and not path.startswith("//") and "\\" not in path else "/"


# ---- queues and concerns ------------------------------------------------


@router.get("/")
async def home(who: Staffer) -> Response:
    if who.staff.role == "admin":
        return go("/admin")
    return go("/queue/mine" if who.staff.role == "named_person" else "/queue/unit")


@router.get("/glossary")
async def glossary(request: Request, who: Staffer) -> Response:
    """The common language: the definitions families read, in the staff member's language."""
    return desk(request).page(
        request, "glossary.html", who.staff.language, staff=who.staff, csrf=who.live.csrf_token,
        terms=list(TERMS.values()),
    )  # fmt: skip


@router.get("/queue/{which}")
async def queue(request: Request, which: str, who: Staffer, closed: bool = False, page: int = 0) -> Response:
    if which not in ("mine", "unit"):
        return go("/queue/mine")
    statuses = ("closed",) if closed else ("new", "acknowledged", "in_progress")
    page = max(0, min(page, 10_000))
    items, total = await desk(request).casework.queue_page(who.staff, which, statuses, page)
    return desk(request).page(
        request, "queue.html", who.staff.language, staff=who.staff, csrf=who.live.csrf_token,
        which=which, items=items, closed=closed, total=total, page_number=page, per_page=PAGE,
    )  # fmt: skip


MAX_ID = 2**31 - 1  # the largest id both databases hold


def an_id(number: int) -> int:
    """An id from a URL or a form: out of range is simply not found (never a database error)."""
    if not 1 <= number <= MAX_ID:
        raise NotFound("no such thing")
    return number


@router.get("/concerns/{concern_id}")
async def concern_page(
    request: Request, concern_id: int, who: Staffer, done: str = "", error: str = ""
) -> Response:
    page = await desk(request).views.concern_page(who.staff, an_id(concern_id))
    return desk(request).page(
        request, "concern.html", who.staff.language, staff=who.staff, csrf=who.live.csrf_token,
        page=page, outcomes=OUTCOMES, done=done, error=error, triangle=TRIANGLE, matrix=MATRIX,
        five_questions=FIVE_QUESTIONS,
    )  # fmt: skip


# ---- the child's plan and the assessment --------------------------------


def _plan_form(form: Any) -> dict[str, Any]:
    """The plan editor's fields as PlanContent data (blank organisation rows dropped)."""

    def field(name: str) -> str:
        return str(form.get(name, ""))

    organisations = []
    for row in range(PLAN_ROWS):
        filled = {key: field(f"org_{key}_{row}") for key in ("name", "does", "contact", "phone")}
        if any(value.strip() for value in filled.values()):
            organisations.append({"kind": field(f"org_kind_{row}") or "other", **filled})
    follow_up = field("follow_up").strip()
    return {
        "needs": {part.value: field(f"need_{part.value}") for part in Indicator},
        "organisations": organisations,
        "expected": field("expected"),
        "follow_up": follow_up or None,
        "child_words": field("child_words"),
        "parents_words": field("parents_words"),
        "language": field("language") or "sv",
    }


def _assessment_form(form: Any) -> dict[str, Any]:
    triangle = {
        side: {half: str(form.get(f"triangle_{side}_{half}", "")) for half in ("strengths", "challenges")}
        for side in TRIANGLE_SIDES
    }
    matrix = {axis: str(form.get(f"matrix_{axis}", "")) for axis in MATRIX_AXES}
    return {
        "triangle": triangle,
        "matrix": {axis: value for axis, value in matrix.items() if value},
        "five": [str(form.get(f"five_{number}", "")) for number in range(len(FIVE_QUESTIONS))],
    }


def _plan_page(request: Request, who: SignedIn, state: PlanState, **more: Any) -> Response:
    app = desk(request)
    family = app.service.catalogs
    lang = who.staff.language
    return app.page(
        request, "plan_edit.html", lang, more.pop("status_code", 200), staff=who.staff,
        csrf=who.live.csrf_token, plan=state, parts=[(part.value, INDICATORS[part]) for part in Indicator],
        organisations=ORGANISATIONS, rows=PLAN_ROWS,
        family_text=lambda text: family.render(Msg(text), lang),
        written_in=[(code, language_name(code)) for code in app.settings.language_list], **more,
    )  # fmt: skip


@router.get("/concerns/{concern_id}/plan")
async def plan_page(
    request: Request, concern_id: int, who: Staffer, done: str = "", error: str = ""
) -> Response:
    state = await desk(request).plans.editor(who.staff, an_id(concern_id))
    return _plan_page(request, who, state, done=done, error=error)


@router.post("/concerns/{concern_id}/plan")
async def plan_save(request: Request, concern_id: int, who: Poster) -> Response:
    concern_id = an_id(concern_id)
    form = await request.form()
    work = desk(request).plans
    data = _plan_form(form)
    try:
        await work.save(who.staff, concern_id, data)
    except DeskError as error:
        if error.status == 404:
            raise
        state = await work.editor(who.staff, concern_id)
        typed = PlanContent.model_construct(**{**data, "organisations": [
            Organisation.model_construct(**row) for row in data["organisations"]]})  # fmt: skip
        state.content = typed  # the typed words come back with the error: nothing is lost
        return _plan_page(request, who, state, error=str(error), status_code=422)
    if form.get("do") != "share":
        return go(f"/concerns/{concern_id}/plan?done=saved")
    try:
        delivered = await work.share(who.staff, concern_id)
    except DeskError as error:
        if error.status == 404:
            raise
        return go(f"/concerns/{concern_id}/plan?done=saved&error={quote(str(error))}")
    return go(f"/concerns/{concern_id}/plan?done={'shared' if delivered else 'shared_waiting'}")


@router.post("/concerns/{concern_id}/{action}")
async def concern_action(request: Request, concern_id: int, action: str, who: Poster) -> Response:
    concern_id = an_id(concern_id)
    form = await request.form()
    work = desk(request).casework
    staff = who.staff
    try:
        if action == "acknowledge":
            await work.acknowledge(staff, concern_id)
        elif action == "start":
            await work.start_work(staff, concern_id)
        elif action == "assign":
            target = str(form.get("target", ""))
            kind, _, number = target.partition(":")
            staff_id = an_id(int(number)) if kind == "staff" and number.isdecimal() else None
            unit_id = an_id(int(number)) if kind == "unit" and number.isdecimal() else None
            await work.assign(staff, concern_id, staff_id, unit_id)
        elif action == "note":
            await work.note(staff, concern_id, str(form.get("text", "")))
        elif action == "message":
            delivered = await work.message_family(staff, concern_id, str(form.get("text", "")))
            action = "message" if delivered else "message_waiting"
        elif action == "close":
            await work.close(staff, concern_id, str(form.get("outcome", "")))
        elif action == "assess":
            await desk(request).assessments.save(staff, concern_id, _assessment_form(form))
        else:
            return go(f"/concerns/{concern_id}")
    except DeskError as error:
        if error.status == 404:
            raise
        return go(f"/concerns/{concern_id}?error={quote(str(error))}")
    return go(f"/concerns/{concern_id}?done={action}")
