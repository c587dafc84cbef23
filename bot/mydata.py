"""'My data': every stored answer, consent and concern, in plain words, in the family's language."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from babel.dates import format_date

from bot.i18n import babel_locale
from flows.events import Msg
from flows.i18n import N_, NP_
from flows.schema import Flow
from flows.wellbeing import INDICATORS, SCALE_LABELS, Indicator, Scale
from storage import ErasedCounts, UserData

NOTHING = N_("We have not saved anything about you.")
CHILD_NAME = N_("Your child's name: {name}.")
CHILD_AGE = N_("Age: {age}.")
CHILD_UNIT = N_("Preschool or BVC: {unit}.")
ANSWER = N_("{question} Your answer: {answer}.")
OWN_WORDS = N_("Your own words: {text}")
CONSENT_STORE = N_("On {date} you said yes to saving your answers.")
CONSENT_SHARE_YES = N_("On {date} you said yes to sharing your answers with the named person.")
CONSENT_SHARE_NO = N_("On {date} you said no to sharing your answers.")
CONSENT_WITHDRAWN = N_("On {date} you took back a yes.")
CONCERN_SENT = N_("On {date} we sent your answers to the named person.")
CONTACT_ASKED = N_("On {date} you asked to talk to someone.")
ERASED = N_("We have deleted everything we saved about you.")
ERASED_ANSWERS = NP_("We deleted {n} answer.", "We deleted {n} answers.")
ERASED_CONSENTS = NP_("We deleted {n} yes or no choice.", "We deleted {n} yes or no choices.")
ERASED_CONCERNS = NP_(
    "We deleted {n} message to the named person.", "We deleted {n} messages to the named person."
)
ERASED_EXCEPT = N_("We have deleted what we saved about you. We keep only what the law says we must keep.")
KEPT_REPORTS = NP_(
    "We keep {n} report that a child may not be safe.", "We keep {n} reports that a child may not be safe."
)
KEPT_WHY = N_(
    "The law says such reports must be kept. The named person and social services need them to protect "
    "the child."
)
KEPT_ANSWERS = NP_(
    "We also keep {n} answer that the named person saw at that time.",
    "We also keep {n} answers that the named person saw at that time.",
)
KEPT_CONSENTS = N_("We also keep your yes and no choices. They are marked as taken back.")
# A duration of its own (not the age's "{n} year": some languages word an age and a time apart).
KEPT_YEARS = NP_(
    "All this is deleted {n} year after the case is closed.",
    "All this is deleted {n} years after the case is closed.",
)
KEPT_MONTHS = NP_(
    "All this is deleted {n} month after the case is closed.",
    "All this is deleted {n} months after the case is closed.",
)
KEPT_ASK = N_("You can ask the named person what we keep.")
YEARS = NP_("{n} year", "{n} years")
MONTHS = NP_("{n} month", "{n} months")
ERASED_AGAIN = N_("If you want to start again, write anything.")

Render = Callable[[Msg], str]


def _date(value: datetime, lang: str) -> str:
    return format_date(value, format="long", locale=babel_locale(lang))


def _age(years: int | None, months: int | None, render: Render) -> str:
    parts = []
    if years is not None:
        parts.append(render(Msg.count(YEARS, years)))
    if months:
        parts.append(render(Msg.count(MONTHS, months)))
    return " ".join(parts)


def question_texts(flows: dict[str, Flow]) -> dict[str, str]:
    return {step.id: step.text for flow in flows.values() for step in flow.steps if step.text}


def describe(data: UserData, questions: dict[str, str], render: Render, lang: str) -> list[str]:
    """Plain lines: the child, every answer by indicator, the consents and what was sent."""
    lines: list[str] = []
    for child in data.children:
        if child.name:
            lines.append(render(Msg(CHILD_NAME, {"name": child.name})))
        if child.age_years is not None:
            lines.append(render(Msg(CHILD_AGE, {"age": _age(child.age_years, child.age_months, render)})))
        if child.unit_text:
            lines.append(render(Msg(CHILD_UNIT, {"unit": child.unit_text})))
    order = {code: i for i, code in enumerate(Indicator)}
    answers = sorted(data.answers, key=lambda a: order.get(Indicator(a.indicator), 99) if a.indicator else 99)
    current: str | None = None
    for answer in answers:
        if answer.indicator and answer.indicator != current:
            current = answer.indicator
            lines.append(f"— {render(Msg(INDICATORS[Indicator(current)].name))} —")
        question = questions.get(answer.question_id, answer.question_id)
        label = SCALE_LABELS.get(Scale(answer.code)) if answer.code in Scale._value2member_map_ else None
        lines.append(render(Msg(ANSWER, {"question": Msg(question), "answer": Msg(label or answer.code)})))
        if answer.free_text:
            lines.append(render(Msg(OWN_WORDS, {"text": f"“{answer.free_text}”"})))
    for consent in data.consents:
        date = _date(consent.given_at, lang)
        if consent.scope == "store" and consent.given:
            lines.append(render(Msg(CONSENT_STORE, {"date": date})))
        elif consent.scope == "share":
            lines.append(
                render(Msg(CONSENT_SHARE_YES if consent.given else CONSENT_SHARE_NO, {"date": date}))
            )
        if consent.withdrawn_at is not None:
            lines.append(render(Msg(CONSENT_WITHDRAWN, {"date": _date(consent.withdrawn_at, lang)})))
    for concern in data.concerns:
        message = CONTACT_ASKED if concern.kind == "contact_request" else CONCERN_SENT
        lines.append(render(Msg(message, {"date": _date(concern.created_at, lang)})))
    return lines or [render(Msg(NOTHING))]


def erased(counts: ErasedCounts, render: Render, kept_months: int = 60) -> list[str]:
    """What /delete deleted; and, when the law keeps a report, what stays, why and how long
    (``kept_months`` after the case is closed)."""
    if not counts.kept_concerns:
        return [
            render(Msg(ERASED)),
            render(Msg.count(ERASED_ANSWERS, counts.answers)),
            render(Msg.count(ERASED_CONSENTS, counts.consents)),
            render(Msg.count(ERASED_CONCERNS, counts.concerns)),
            render(Msg(ERASED_AGAIN)),
        ]
    lines = [render(Msg(ERASED_EXCEPT))]
    if counts.answers:
        lines.append(render(Msg.count(ERASED_ANSWERS, counts.answers)))
    if counts.concerns:
        lines.append(render(Msg.count(ERASED_CONCERNS, counts.concerns)))
    lines += [render(Msg.count(KEPT_REPORTS, counts.kept_concerns)), render(Msg(KEPT_WHY))]
    if counts.kept_answers:
        lines.append(render(Msg.count(KEPT_ANSWERS, counts.kept_answers)))
    if counts.kept_consents:
        lines.append(render(Msg(KEPT_CONSENTS)))
    years, months = divmod(kept_months, 12)
    how_long = Msg.count(KEPT_MONTHS, kept_months) if months else Msg.count(KEPT_YEARS, years)
    lines += [render(how_long), render(Msg(KEPT_ASK)), render(Msg(ERASED_AGAIN))]
    return lines
