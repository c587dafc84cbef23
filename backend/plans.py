"""The child's plan and the assessment tools: what the named person writes, what the family reads.

The plan is the child's document (DOMAIN.md, "Child's plan"): needs per part of the wheel, what each
organisation does and one contact in each, the improvement hoped for, the follow-up date, and the
child's and the parents' own words. The named person writes a draft on the desk and shares it; the
family reads the shared copy in the web chat, in their language: the structured parts (headings, parts
of the wheel, kinds of organisation, the date) are translated, the free text is shown as written, with
its language. A family in Telegram gets only a notice with a private link, never the plan itself.
The family then says whether the people in the plan may talk with each other about the child: that
answer is a consent, recorded with its text version and language.

The assessment (My World Triangle, the resilience matrix, the five questions) is for staff only. Every
action is one transaction with its policy check, its timeline line and its audit entry, as in
``backend.casework``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any, Final
from xml.sax.saxutils import escape

import sqlalchemy as sa
from pydantic import BaseModel, Field, ValidationError, field_validator
from sqlalchemy.ext.asyncio import AsyncSession

from backend import policy
from backend.casework import Casework, Conflict, Invalid, NotFound
from flows.events import Msg
from flows.i18n import N_, S_
from flows.wellbeing import Indicator
from storage import plans
from storage.concerns import Audit, Concerns
from storage.desk import Staff, Unit
from storage.models import Concern, Consent, User, utcnow
from storage.repositories import Store

MAX_FIELD: Final = 2000
PLAN_CONSENT_VERSION: Final = "plan-consent-1"
ORGANISATIONS: Final = {
    "preschool": N_("Preschool"),
    "school": N_("School"),
    "bvc": N_("Child health centre (BVC)"),
    "health": N_("Health care"),
    "social_services": N_("Social services"),
    "family": N_("The family"),
    "other": N_("Other"),
}
PLAN_READY: Final = N_("Your child's plan is ready. Read it here: {link}")
PLAN_CHANGED: Final = N_("Your child's plan has changed. Read it here: {link}")
# The assessment tools (DOMAIN.md), for staff: the desk shows them in the staff language.
TRIANGLE: Final = {
    "growing": (
        S_("How I grow and develop"),
        S_("Health, learning, confidence, independence, communication, family and friends, responsibility"),
    ),
    "care": (
        S_("What I need from the people who look after me"),
        S_(
            "Everyday care, keeping me safe, being there for me, play and encouragement, guidance, "
            "knowing what happens when, family background and beliefs"
        ),
    ),
    "world": (
        S_("My wider world"),
        S_(
            "Support from family and friends, preschool or school, enough money, work for the family, "
            "local resources, safe housing, belonging"
        ),
    ),
}
TRIANGLE_SIDES: Final = tuple(TRIANGLE)
MATRIX: Final = {
    "inside": (
        S_("Inside the child: resilience or vulnerability"),
        {
            "resilience_high": S_("Clear resilience"),
            "resilience_some": S_("Some resilience"),
            "vulnerability_some": S_("Some vulnerability"),
            "vulnerability_high": S_("Clear vulnerability"),
        },
    ),
    "around": (
        S_("Around the child: a protective environment or adversity"),
        {
            "adversity_high": S_("Clear adversity"),
            "adversity_some": S_("Some adversity"),
            "protective_some": S_("A somewhat protective environment"),
            "protective_high": S_("A clearly protective environment"),
        },
    ),
}
MATRIX_AXES: Final = {axis: tuple(choices) for axis, (_title, choices) in MATRIX.items()}
NOT_PLACED: Final = S_("Not placed")
MATRIX_TITLE: Final = S_("Resilience matrix")
FIVE_QUESTIONS: Final = (
    S_("What is getting in the way of this child's wellbeing?"),
    S_("Do I have all the information I need to help this child?"),
    S_("What can I do now to help this child?"),
    S_("What can my agency do now to help this child?"),
    S_("What additional help, if any, may be needed from others?"),
)
FIVE: Final = len(FIVE_QUESTIONS)


def _clean(text: str) -> str:
    return "".join(c for c in text if c.isprintable() or c in "\n\t").strip()


class Organisation(BaseModel):
    kind: str
    name: str = Field(default="", max_length=200)
    does: str = Field(default="", max_length=MAX_FIELD)
    contact: str = Field(default="", max_length=200)
    phone: str = Field(default="", max_length=40)

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, kind: str) -> str:
        if kind not in ORGANISATIONS:
            raise ValueError("unknown kind of organisation")
        return kind

    @field_validator("name", "does", "contact", "phone")
    @classmethod
    def _cleaned(cls, text: str) -> str:
        return _clean(text)


class PlanContent(BaseModel):
    """The plan as the named person wrote it. Codes for what is translated, text for what is not."""

    needs: dict[str, str] = Field(default_factory=dict)  # part of the wheel -> what the child needs
    organisations: list[Organisation] = Field(default_factory=list, max_length=8)
    expected: str = Field(default="", max_length=MAX_FIELD)
    follow_up: date | None = None
    child_words: str = Field(default="", max_length=MAX_FIELD)
    parents_words: str = Field(default="", max_length=MAX_FIELD)
    language: str = Field(default="sv", max_length=8)  # the language of the free text

    @field_validator("needs")
    @classmethod
    def _parts(cls, needs: dict[str, str]) -> dict[str, str]:
        cleaned = {}
        for part, text in needs.items():
            if part not in Indicator._value2member_map_:
                raise ValueError(f"unknown part of the wheel: {part}")
            if len(text) > MAX_FIELD:
                raise ValueError(f"a need is longer than {MAX_FIELD} characters")
            if _clean(text):
                cleaned[part] = _clean(text)
        return {part.value: cleaned[part.value] for part in Indicator if part.value in cleaned}

    @field_validator("expected", "child_words", "parents_words")
    @classmethod
    def _cleaned(cls, text: str) -> str:
        return _clean(text)

    def missing(self, today: date) -> list[str]:
        """What a plan needs before it is shared (empty: ready)."""
        gaps = []
        if not self.needs:
            gaps.append("what the child needs, for at least one part of the wheel")
        if not any(o.does and o.contact for o in self.organisations):
            gaps.append("at least one organisation, with what it does and a contact")
        if not self.expected:
            gaps.append("the improvement you hope for")
        if self.follow_up is None or self.follow_up <= today:
            gaps.append("a follow-up date after today")
        return gaps


class AssessmentContent(BaseModel):
    """My World Triangle (strengths and challenges per side), the resilience matrix, the five questions."""

    triangle: dict[str, dict[str, str]] = Field(default_factory=dict)
    matrix: dict[str, str] = Field(default_factory=dict)
    five: list[str] = Field(default_factory=list, max_length=FIVE)

    @field_validator("triangle")
    @classmethod
    def _sides(cls, triangle: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        cleaned: dict[str, dict[str, str]] = {}
        for side, halves in triangle.items():
            if side not in TRIANGLE_SIDES or set(halves) - {"strengths", "challenges"}:
                raise ValueError(f"unknown side of the triangle: {side}")
            if any(len(text) > MAX_FIELD for text in halves.values()):
                raise ValueError(f"a text is longer than {MAX_FIELD} characters")
            kept = {half: _clean(text) for half, text in halves.items() if _clean(text)}
            if kept:
                cleaned[side] = kept
        return cleaned

    @field_validator("matrix")
    @classmethod
    def _placement(cls, matrix: dict[str, str]) -> dict[str, str]:
        for axis, value in matrix.items():
            if axis not in MATRIX_AXES or value not in MATRIX_AXES[axis]:
                raise ValueError("unknown place in the resilience matrix")
        return dict(matrix)

    @field_validator("five")
    @classmethod
    def _answers(cls, five: list[str]) -> list[str]:
        if any(len(text) > MAX_FIELD for text in five):
            raise ValueError(f"an answer is longer than {MAX_FIELD} characters")
        return [_clean(text) for text in five] + [""] * (FIVE - len(five))

    def empty(self) -> bool:
        return not self.triangle and not self.matrix and not any(self.five)


def parse(model: type[BaseModel], data: dict[str, Any]) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        raise Invalid(str(first.get("ctx", {}).get("error", first["msg"]))) from error


def matrix_svg(content: AssessmentContent | None, t: Callable[[str], str]) -> str | None:
    """The resilience matrix as a small picture: resilience up, vulnerability down, adversity left,
    a protective environment right; a dot where the child was placed (both axes chosen), with the
    placement in words for screen readers."""
    if content is None or not content.matrix:
        return None
    inside, around = content.matrix.get("inside"), content.matrix.get("around")
    words = [
        t(MATRIX[axis][1][value]) if value else f"{t(MATRIX[axis][0])}: {t(NOT_PLACED)}"
        for axis, value in (("inside", inside), ("around", around))
    ]
    size, cell, edge = 260, 50, 30  # a 4 x 4 grid with room for the axis labels round it
    middle, far = edge + 2 * cell, edge + 4 * cell
    choices = {axis: {code: escape(t(text)) for code, text in MATRIX[axis][1].items()} for axis in MATRIX}
    labels = [  # (x, y, rotation, text)
        (middle, 18, 0, "▲ " + choices["inside"]["resilience_high"]),
        (middle, size - 8, 0, "▼ " + choices["inside"]["vulnerability_high"]),
        (18, middle, -90, choices["around"]["adversity_high"]),
        (size - 12, middle, 90, choices["around"]["protective_high"]),
    ]
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size} {size}" width="{size}" '
        f'height="{size}" role="img" aria-labelledby="matrix-title matrix-desc" direction="ltr">',
        f'<title id="matrix-title">{escape(t(MATRIX_TITLE))}</title>',
        f'<desc id="matrix-desc">{escape(". ".join(words))}</desc>',
        f'<rect x="{edge}" y="{edge}" width="{4 * cell}" height="{4 * cell}" fill="#fff" stroke="#555"/>',
        f'<path d="M{middle} {edge}V{far}M{edge} {middle}H{far}" stroke="#555"/>',
        *(
            f'<text x="{x}" y="{y}" text-anchor="middle" font-size="11" '
            f'transform="rotate({turn} {x} {y})">{text}</text>'
            for x, y, turn, text in labels
        ),
    ]
    left = top = edge
    if inside and around:
        row, column = MATRIX_AXES["inside"].index(inside), MATRIX_AXES["around"].index(around)
        cx, cy = left + column * cell + cell / 2, top + row * cell + cell / 2
        parts.append(f'<circle class="placed" cx="{cx}" cy="{cy}" r="12" fill="#0b3d91"/>')
    parts.append("</svg>")
    return "".join(parts)


@dataclass
class PlanState:
    """What the desk shows about a concern's plan."""

    concern: Concern
    content: PlanContent
    version: int
    shared_at: Any
    changed_since_shared: bool
    can_write: bool
    can_share: bool  # only a family's own concern: a professional's report has no family chat
    consent: Consent | None


@dataclass
class FamilyPlan:
    """A shared plan as the family reads it."""

    id: int
    content: PlanContent
    version: int
    shared_at: Any
    written_by: str
    unit: str
    consent: Consent | None


@dataclass
class PlanWork:
    casework: Casework

    # ---- the desk --------------------------------------------------------

    async def editor(self, staff: Staff, concern_id: int) -> PlanState:
        async with self.casework.service.sessions() as session, session.begin():
            concern = await self.casework._visible(session, staff, concern_id)
            state = await self._state(session, staff, concern)
            await Audit(session).record(staff.id, "read_plan", "concern", concern.id)
        return state

    async def save(self, staff: Staff, concern_id: int, data: dict[str, Any]) -> PlanState:
        content: PlanContent = parse(PlanContent, data)
        async with self.casework.service.sessions() as session, session.begin():
            concern = await self.casework._workable(session, staff, concern_id)
            plan = await plans.plan_of_concern(session, concern.id, lock=True)
            dumped = content.model_dump(mode="json")
            if plan is None:
                plan = plans.ChildPlan(
                    concern_id=concern.id,
                    user_id=concern.user_id,
                    child_id=concern.child_id,
                    content=dumped,
                    written_by_id=staff.id,
                )
                session.add(plan)
            elif plan.content != dumped:
                plan.content, plan.written_by_id, plan.updated_at = dumped, staff.id, utcnow()
            await session.flush()
            await Concerns(session).add_event(concern.id, "plan_saved", staff_id=staff.id)
            await Audit(session).record(staff.id, "save_plan", "concern", concern.id)
            return await self._state(session, staff, concern)

    async def share(self, staff: Staff, concern_id: int) -> bool:
        """Share the saved plan with the family; True when the notice could go to them now."""
        async with self.casework.service.sessions() as session, session.begin():
            concern = await self.casework._workable(session, staff, concern_id)
            if concern.source != "family":
                raise Conflict("this concern came from a professional: the family has no chat here")
            plan = await plans.plan_of_concern(session, concern.id, lock=True)
            if plan is None:
                raise Invalid("save the plan first")
            gaps = PlanContent.model_validate(plan.content).missing(utcnow().date())
            if gaps:
                raise Invalid("before sharing, write " + "; ".join(gaps))
            first = plan.version == 0
            plan.shared, plan.version = plan.content, plan.version + 1
            plan.shared_at, plan.shared_by_id = utcnow(), staff.id
            notice = PLAN_READY if first else PLAN_CHANGED
            delivered = await self._tell_family(session, concern.user_id, notice)
            data = {"version": plan.version, "delivered": delivered}
            await Concerns(session).add_event(concern.id, "plan_shared", staff_id=staff.id, data=data)
            await Audit(session).record(staff.id, "share_plan", "concern", concern.id, data)
        return delivered

    async def _tell_family(self, session: AsyncSession, user_id: int, message: str) -> bool:
        service = self.casework.service
        user = await session.get(User, user_id)
        if user is None:
            return False
        link = "/chat/plan"
        if user.channel != "web":  # the web chat's own cookie opens the plan; elsewhere a private link
            key = await plans.new_link(session, user.id)
            link = f"{service.settings.public_url.rstrip('/')}/chat/plan?key={key}"
        return bool(await service.tell_family(session, user_id=user.id, message=Msg(message, {"link": link})))

    async def _state(self, session: AsyncSession, staff: Staff, concern: Concern) -> PlanState:
        plan = await plans.plan_of_concern(session, concern.id)
        content = PlanContent.model_validate(plan.content) if plan else PlanContent(language=staff.language)
        return PlanState(
            concern=concern,
            content=content,
            version=plan.version if plan else 0,
            shared_at=plan.shared_at if plan else None,
            changed_since_shared=bool(plan and plan.version and plan.shared != plan.content),
            can_write=policy.can_work(staff, concern),
            can_share=policy.can_work(staff, concern) and concern.source == "family",
            consent=await _consent(session, concern.user_id) if plan and plan.version else None,
        )

    # ---- the family ------------------------------------------------------

    async def for_family(self, user_id: int) -> list[FamilyPlan]:
        """The plans shared with this family (never a draft, never another family's)."""
        async with self.casework.service.sessions() as session:
            found = await plans.shared_plans(session, user_id)
            staff = {s.id: s for s in await session.scalars(sa.select(Staff))}
            consent = await _consent(session, user_id)
            out = []
            for plan in found:
                writer = staff.get(plan.shared_by_id or 0)
                unit = await _unit_name(session, writer.unit_id if writer else None)
                out.append(
                    FamilyPlan(
                        id=plan.id,
                        content=PlanContent.model_validate(plan.shared),
                        version=plan.version,
                        shared_at=plan.shared_at,
                        written_by=writer.name if writer else "",
                        unit=unit,
                        consent=consent,
                    )
                )
        return out

    async def family_consents(self, user_id: int, given: bool, language: str) -> None:
        """The family's yes or no to the people in their plan talking with each other about the child."""
        async with self.casework.service.sessions() as session, session.begin():
            found = await plans.shared_plans(session, user_id)
            if not found:
                raise NotFound("no plan")
            await Store(session).record_consent(
                user_id=user_id,
                child_id=found[0].child_id,
                scope="plan",
                given=given,
                text_version=PLAN_CONSENT_VERSION,
                language=language,
            )
            for plan in found:
                await Concerns(session).add_event(
                    plan.concern_id, "plan_consent", data={"given": given, "language": language}
                )


async def _consent(session: AsyncSession, user_id: int) -> Consent | None:
    query = (
        sa.select(Consent)
        .where(Consent.user_id == user_id, Consent.scope == "plan")
        .order_by(Consent.given_at.desc(), Consent.id.desc())
        .limit(1)
    )
    return await session.scalar(query)


async def _unit_name(session: AsyncSession, unit_id: int | None) -> str:
    unit = await session.get(Unit, unit_id) if unit_id else None
    return unit.name if unit else ""


@dataclass
class AssessmentWork:
    casework: Casework

    async def latest(self, session: AsyncSession, concern_id: int) -> tuple[AssessmentContent | None, Any]:
        """The newest assessment of a concern and when it was saved (read inside the caller's audited
        read of the concern page)."""
        found = await plans.assessments(session, concern_id)
        if not found:
            return None, None
        return AssessmentContent.model_validate(found[0].content), found[0]

    async def save(self, staff: Staff, concern_id: int, data: dict[str, Any]) -> None:
        content: AssessmentContent = parse(AssessmentContent, data)
        if content.empty():
            raise Invalid("the assessment is empty")
        async with self.casework.service.sessions() as session, session.begin():
            concern = await self.casework._workable(session, staff, concern_id)
            saved = content.model_dump(mode="json")
            session.add(plans.Assessment(concern_id=concern.id, staff_id=staff.id, content=saved))
            await session.flush()
            await Concerns(session).add_event(concern.id, "assessment", staff_id=staff.id)
            await Audit(session).record(staff.id, "assess", "concern", concern.id)
