"""The desk's JSON API: `Authorization: Bearer <token>` (`hjulet staff token EMAIL`).

The same casework service and policy as the web UI: a caller sees and works only the concerns the
UI would show them; another concern is 404. OpenAPI at /openapi.json.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response
from pydantic import BaseModel, Field

from backend.casework import DeskError
from backend.desk_app import DeskApp
from storage.concerns import QueueItem
from storage.desk import Staff


class Problem(BaseModel):
    detail: str


router = APIRouter(
    prefix="/api",
    tags=["concerns"],
    responses={
        401: {"model": Problem, "description": "No valid bearer token"},
        404: {"model": Problem, "description": "No such concern, or not one the caller may see"},
        409: {"model": Problem, "description": "The concern is closed, or the change is already made"},
    },
)
StatusFilter = Literal["open", "new", "acknowledged", "in_progress", "closed"]
Outcome = Literal[
    "advice_given",
    "universal_support",
    "childs_plan_started",
    "reported_to_social_services",
    "family_declined",
]


def desk(request: Request) -> DeskApp:
    return request.app.state.desk  # type: ignore[no-any-return]


async def caller(request: Request) -> Staff:
    staff = await desk(request).auth.bearer(request.headers.get("authorization"))
    if staff is None:
        raise HTTPException(401, "a valid bearer token is needed", headers={"WWW-Authenticate": "Bearer"})
    return staff


Caller = Annotated[Staff, Depends(caller)]
ConcernId = Annotated[int, Path(ge=1, le=2**31 - 1)]


class ConcernSummary(BaseModel):
    id: int
    kind: str
    priority: str
    status: str
    reasons: list[str]
    created_at: datetime
    due_at: datetime | None
    overdue: bool
    unit_id: int | None
    unit_name: str | None
    assigned_to_id: int | None
    assigned_to_name: str | None
    child_age_years: int | None
    child_age_months: int | None

    @classmethod
    def of(cls, item: QueueItem) -> ConcernSummary:
        return cls(**{name: getattr(item, name) for name in cls.model_fields})


class Answer(BaseModel):
    indicator: str
    question: str
    code: str
    answer: str
    own_words: str | None
    own_words_language: str | None


class Event(BaseModel):
    at: datetime
    kind: str
    text: str
    body: str | None


class ConcernDetail(BaseModel):
    id: int
    kind: str
    priority: str
    status: str
    outcome: str | None
    reasons: list[str]
    unit_name: str | None
    assigned_to_name: str | None
    child_age: str | None
    answers: list[Answer]
    timeline: list[Event]


class Text(BaseModel):
    text: str = Field(min_length=1, max_length=4000)


class Close(BaseModel):
    outcome: Outcome


class Delivered(BaseModel):
    delivered: bool


def _fail(error: DeskError) -> HTTPException:
    if error.status == 422:  # shaped like FastAPI's own validation errors, as the document says
        return HTTPException(422, [{"loc": ["body", "text"], "msg": str(error), "type": "value_error"}])
    return HTTPException(error.status, str(error))


@router.get("/concerns", response_model=list[ConcernSummary])
async def list_concerns(
    request: Request,
    response: Response,
    staff: Caller,
    status: StatusFilter = "open",
    page: Annotated[int, Query(ge=0, le=10_000)] = 0,
) -> list[ConcernSummary]:
    """The concerns the caller may see, by priority and then waiting time, 100 a page; the
    X-Total-Count header says how many there are in all."""
    statuses = ("new", "acknowledged", "in_progress") if status == "open" else (status,)
    items, total = await desk(request).casework.queue_page(staff, "visible", statuses, page)
    response.headers["X-Total-Count"] = str(total)
    return [ConcernSummary.of(item) for item in items]


@router.get("/concerns/{concern_id}", response_model=ConcernDetail)
async def get_concern(request: Request, concern_id: ConcernId, staff: Caller) -> ConcernDetail:
    try:
        page = await desk(request).views.concern_page(staff, concern_id)
    except DeskError as error:
        raise _fail(error) from error
    c = page.concern
    return ConcernDetail(
        id=c.id,
        kind=c.kind,
        priority=c.priority,
        status=c.status,
        outcome=c.outcome,
        reasons=list(c.reasons),
        unit_name=page.unit_name,
        assigned_to_name=page.assigned_name,
        child_age=page.child_age,
        answers=[
            Answer(
                indicator=indicator,
                question=line.question,
                code=line.code,
                answer=line.answer,
                own_words=line.own_words,
                own_words_language=line.own_words_language,
            )
            for indicator, lines in page.answers.items()
            for line in lines
        ],
        timeline=[Event(at=e.at, kind=e.kind, text=e.text, body=e.body) for e in page.timeline],
    )


async def _act(request: Request, staff: Staff, concern_id: int, action: str, **args: str) -> None:
    work = desk(request).casework
    try:
        if action == "acknowledge":
            await work.acknowledge(staff, concern_id)
        elif action == "note":
            await work.note(staff, concern_id, args["text"])
        elif action == "close":
            await work.close(staff, concern_id, args["outcome"])
    except DeskError as error:
        raise _fail(error) from error


@router.post("/concerns/{concern_id}/acknowledge", status_code=204)
async def acknowledge(request: Request, concern_id: ConcernId, staff: Caller) -> None:
    await _act(request, staff, concern_id, "acknowledge")


@router.post("/concerns/{concern_id}/notes", status_code=201)
async def add_note(request: Request, concern_id: ConcernId, body: Text, staff: Caller) -> None:
    await _act(request, staff, concern_id, "note", text=body.text)


@router.post("/concerns/{concern_id}/messages", response_model=Delivered, status_code=201)
async def message_family(request: Request, concern_id: ConcernId, body: Text, staff: Caller) -> Delivered:
    try:
        return Delivered(delivered=await desk(request).casework.message_family(staff, concern_id, body.text))
    except DeskError as error:
        raise _fail(error) from error


@router.post("/concerns/{concern_id}/close", status_code=204)
async def close(request: Request, concern_id: ConcernId, body: Close, staff: Caller) -> None:
    await _act(request, staff, concern_id, "close", outcome=body.outcome)
