"""What a staff member reads on a concern, in their own language: answers rendered from codes, the
family's own words as written (with their language), the timeline. Reading is audited.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from backend import policy, wheel
from backend.casework import Casework, NotFound
from backend.plans import AssessmentContent, AssessmentWork, matrix_svg
from bot.i18n import Catalogs, babel_locale, language_name
from flows.events import Msg
from flows.i18n import S_
from flows.wellbeing import INDICATORS, STAFF_PRIORITY_LABELS, STAFF_SCALE_LABELS, Indicator, Priority, Scale
from storage import Store, plans
from storage.concerns import Audit, Concerns
from storage.desk import Staff, Unit
from storage.models import Child

STATUS: Final = {
    "new": S_("New"),
    "acknowledged": S_("Acknowledged"),
    "in_progress": S_("In progress"),
    "closed": S_("Closed"),
}
KINDS: Final = {
    "concern": S_("Concern"),
    "contact_request": S_("Contact request"),
    "urgent": S_("Urgent signal"),
}
OUTCOME_LABELS: Final = {
    "advice_given": S_("Advice given"),
    "universal_support": S_("Support at universal level"),
    "childs_plan_started": S_("Child's plan started"),
    "reported_to_social_services": S_("Reported to social services"),
    "family_declined": S_("The family declined"),
}
WHY: Final = {
    "own_unit": S_("the child's own unit"),
    "partner": S_("the unit that works with the child's preschool"),
    "only_unit_of_kind": S_("the only unit of that kind in the municipality"),
    "coordinator": S_("nobody matched: the coordinator queue"),
    "nowhere": S_("no unit in the directory"),
}
EVENTS: Final = {
    "created": S_("Created: {reason}"),
    "signal": S_("Danger signal ({categories}) in the family's words, in {language}"),
    "report": S_("Reported by {name}, {role} at {unit}. Wellbeing parts it concerns: {indicators}"),
    "routed": S_("Routed to {unit} ({why})"),
    "reason_added": S_("New reason: {reason}"),
    "acknowledged": S_("Acknowledged by {name}"),
    "assigned": S_("Given to {name} at {unit}"),
    "assigned_queue": S_("Moved to the queue of {unit}"),
    "status": S_("{name} started work"),
    "note": S_("Private note by {name}"),
    "message_to_family": S_("Message to the family from {name}"),
    "message_from_family": S_("The family answered (in {language})"),
    "overdue": S_("Not acknowledged in time"),
    "escalated": S_("Told the unit lead"),
    "closed": S_("Closed by {name}: {outcome}"),
    "plan_saved": S_("{name} saved the child's plan"),
    "plan_shared": S_("{name} shared the child's plan with the family (version {version})"),
    "plan_consent_yes": S_("The family agreed that the people in the plan may talk with each other"),
    "plan_consent_no": S_("The family did not agree that the people in the plan talk with each other"),
    "assessment": S_("{name} saved an assessment"),
}
ROLES_AT_WORK: Final = {
    "preschool": S_("preschool"),
    "school": S_("school"),
    "health": S_("health care for children or mothers"),
    "social": S_("social services"),
    "police": S_("police"),
    "leisure": S_("leisure or sport"),
    "other": S_("other work with children"),
}
WHEEL_TITLE: Final = S_("The family's wheel")
NOT_RATED: Final = S_("Not answered")
SIGNALS: Final = {
    "violence": S_("violence"),
    "sexual_abuse": S_("sexual abuse"),
    "neglect": S_("neglect"),
    "self_harm": S_("self-harm"),
    "acute_medical": S_("acute medical"),
    "caregiver_crisis": S_("a parent in crisis"),
    "threat": S_("threat"),
}
NOT_DELIVERED: Final = S_("Not delivered: the family cannot be reached now. It waits for them.")
AGE: Final = S_("{years} years {months} months")


@dataclass
class AnswerLine:
    question: str
    answer: str
    code: str
    own_words: str | None = None
    own_words_language: str | None = None


@dataclass
class TimelineLine:
    at: datetime
    kind: str
    text: str
    body: str | None = None


@dataclass
class ConcernPage:
    concern: Any
    kind: str
    status: str
    priority: str
    reasons: list[str]
    unit_name: str | None
    assigned_name: str | None
    child_age: str | None
    child_name: str | None
    child_unit: str | None
    answers: dict[str, list[AnswerLine]] = field(default_factory=dict)
    timeline: list[TimelineLine] = field(default_factory=list)
    named_persons: list[tuple[int, str]] = field(default_factory=list)
    units: list[tuple[int, str]] = field(default_factory=list)
    can_work: bool = False
    outcome: str | None = None
    wheel: str | None = None  # the family's wheel as SVG markup (built here, from codes only)
    plan_version: int | None = None  # None: no plan; 0: a draft; n: shared n times
    assessment: AssessmentContent | None = None
    assessed_at: datetime | None = None
    assessed_by: str | None = None
    matrix: str | None = None  # the resilience matrix placement as SVG markup


@dataclass
class Views:
    casework: Casework
    staff_catalogs: Catalogs
    family_catalogs: Catalogs
    reason_labels: dict[str, str]  # reason code -> staff message id
    assessments: AssessmentWork

    def t(self, message: str, lang: str, **params: Any) -> str:
        return self.staff_catalogs.render(Msg(message, params), lang)

    async def concern_page(self, staff: Staff, concern_id: int) -> ConcernPage:
        async with self.casework.service.sessions() as session, session.begin():
            concern = await Concerns(session).get(concern_id)
            if concern is None or not policy.can_see(staff, concern):
                await self.casework.denied(staff, concern_id)
                raise NotFound("no such concern")
            page = await self._page(session, staff, concern)
            await Audit(session).record(staff.id, "read", "concern", concern.id)
        return page

    async def _page(self, session: AsyncSession, staff: Staff, concern: Any) -> ConcernPage:
        lang = staff.language
        names = {s.id: s.name for s in await session.scalars(sa.select(Staff))}
        units = {u.id: u for u in await session.scalars(sa.select(Unit))}
        child = await session.get(Child, concern.child_id) if concern.child_id else None
        shared = concern.answers_shared or concern.kind == "urgent"
        page = ConcernPage(
            concern=concern,
            kind=self.t(KINDS.get(concern.kind, concern.kind), lang),
            status=self.t(STATUS[concern.status], lang),
            priority=self.t(STAFF_PRIORITY_LABELS[Priority(concern.priority)], lang),
            reasons=[self.t(self.reason_labels.get(r, r), lang) for r in concern.reasons],
            unit_name=units[concern.unit_id].name if concern.unit_id in units else None,
            assigned_name=names.get(concern.assigned_to_id) if concern.assigned_to_id else None,
            child_age=self._age(child, lang),
            child_name=child.name if child is not None and shared else None,
            child_unit=self._child_unit(child, units),
            can_work=policy.can_work(staff, concern),
            outcome=self.t(OUTCOME_LABELS[concern.outcome], lang) if concern.outcome else None,
        )
        if shared and concern.conversation_id is not None:
            page.answers = await self._answers(session, concern.conversation_id, lang)
            page.wheel = await self._wheel(session, concern.conversation_id, lang) if page.answers else None
        plan = await plans.plan_of_concern(session, concern.id)
        page.plan_version = plan.version if plan is not None else None
        page.assessment, saved = await self.assessments.latest(session, concern.id)
        if saved is not None:
            page.assessed_at, page.assessed_by = saved.at, names.get(saved.staff_id or 0)
            page.matrix = matrix_svg(page.assessment, lambda text: self.t(text, lang))
        for event in await Concerns(session).events(concern.id):
            page.timeline.append(self._line(event, lang, names, units))
        if concern.unit_id is not None:
            page.named_persons = [
                (s.id, s.name)
                for s in await session.scalars(
                    sa.select(Staff).where(Staff.active, Staff.role == "named_person")
                )
                if s.unit_id == concern.unit_id
            ]
        page.units = sorted(((u.id, u.name) for u in units.values() if u.active), key=lambda pair: pair[1])
        return page

    def _age(self, child: Child | None, lang: str) -> str | None:
        if child is None or child.age_years is None:
            return None
        return self.t(AGE, lang, years=child.age_years, months=child.age_months or 0)

    def _child_unit(self, child: Child | None, units: dict[int, Unit]) -> str | None:
        if child is None:
            return None
        invited = next((u.name for u in units.values() if u.code == child.unit_code), None)
        return invited or child.unit_text

    async def _wheel(self, session: AsyncSession, conversation_id: int, lang: str) -> str:
        answers = await Store(session).answers_for_conversation(conversation_id)
        names = {
            "good": self.t(STAFF_SCALE_LABELS[Scale.GOOD], lang),
            "some_worries": self.t(STAFF_SCALE_LABELS[Scale.SOME_WORRIES], lang),
            "worried": self.t(STAFF_SCALE_LABELS[Scale.WORRIED], lang),
            "unknown": self.t(NOT_RATED, lang),
        }
        labels = {part: self.t(INDICATORS[part].name, lang) for part in Indicator}
        worst = wheel.states((a.indicator, a.code) for a in answers)
        return wheel.wheel_svg(worst, labels, names, self.t(WHEEL_TITLE, lang))

    async def _answers(
        self, session: AsyncSession, conversation_id: int, lang: str
    ) -> dict[str, list[AnswerLine]]:
        grouped: dict[str, list[AnswerLine]] = {}
        for answer in await Store(session).answers_for_conversation(conversation_id):
            if answer.indicator is None:
                continue
            indicator = Indicator(answer.indicator)
            question = self.casework.service.questions.get(answer.question_id, answer.question_id)
            code = Scale(answer.code) if answer.code in Scale._value2member_map_ else None
            line = AnswerLine(
                question=self.family_catalogs.gettext(question, lang),
                answer=self.t(STAFF_SCALE_LABELS[code], lang) if code else answer.code,
                code=answer.code,
                own_words=answer.free_text,
                own_words_language=_language(answer.free_text_language, lang) if answer.free_text else None,
            )
            grouped.setdefault(self.t(INDICATORS[indicator].staff_name, lang), []).append(line)
        return grouped

    def _line(self, event: Any, lang: str, names: dict[int, str], units: dict[int, Unit]) -> TimelineLine:
        data, who = event.data or {}, names.get(event.staff_id, "?")
        kind = event.kind
        if kind in ("created", "reason_added"):
            text = self.t(
                EVENTS[kind], lang, reason=self.t(self.reason_labels.get(data.get("reason", ""), ""), lang)
            )
        elif kind == "routed":
            unit = units.get(data.get("unit_id"))
            why = self.t(WHY.get(data.get("why", ""), ""), lang)
            text = self.t(EVENTS[kind], lang, unit=unit.name if unit else "—", why=why)
        elif kind == "assigned":
            to = data.get("to", {})
            unit = units.get(to.get("unit_id"))
            unit_name = unit.name if unit else "—"
            if to.get("staff_id"):
                text = self.t(EVENTS[kind], lang, name=names.get(to["staff_id"], "?"), unit=unit_name)
            else:
                text = self.t(EVENTS["assigned_queue"], lang, unit=unit_name)
        elif kind == "closed":
            outcome = self.t(OUTCOME_LABELS.get(data.get("outcome", ""), ""), lang)
            text = self.t(EVENTS[kind], lang, name=who, outcome=outcome)
        elif kind == "signal":
            names = [self.t(SIGNALS.get(c, c), lang) for c in data.get("categories", [])]
            text = self.t(
                EVENTS[kind], lang, categories=", ".join(names), language=_language(event.body_language, lang)
            )
        elif kind == "report":  # a professional's worry: who, from where, which parts of the wheel
            parts = [self.t(INDICATORS[Indicator(i)].staff_name, lang) for i in data.get("indicators", [])]
            text = self.t(
                EVENTS[kind],
                lang,
                name=data.get("by", who),
                role=self.t(ROLES_AT_WORK.get(data.get("role", ""), ROLES_AT_WORK["other"]), lang),
                unit=data.get("by_unit") or "—",
                indicators=", ".join(parts) or "—",
            )
        elif kind == "plan_shared":
            text = self.t(EVENTS[kind], lang, name=who, version=data.get("version", 1))
        elif kind == "plan_consent":
            key = "plan_consent_yes" if data.get("given") else "plan_consent_no"
            text = self.t(EVENTS[key], lang)
        elif kind == "message_from_family":
            text = self.t(EVENTS[kind], lang, language=_language(event.body_language, lang))
        else:
            text = self.t(EVENTS.get(kind, kind), lang, name=who)
        if kind in ("message_to_family", "plan_shared") and data.get("delivered") is False:
            text = f"{text}. {self.t(NOT_DELIVERED, lang)}"
        return TimelineLine(event.at, kind, text, event.body)


def _language(code: str | None, lang: str) -> str:
    if not code:
        return "?"
    try:
        return babel_locale(code).get_display_name(lang) or code
    except (ValueError, TypeError):
        return language_name(code)
