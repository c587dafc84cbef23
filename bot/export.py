"""A family's data as JSON, to take with them (GDPR art. 15 and 20): the one place it is built.

    document = await family_export(service, "telegram", raw_user_id)   # None: nothing stored
    body = dumps(document)                                               # UTF-8 JSON bytes

Everything ``Store.user_data`` holds: the children, every answer with the family's own words, the
consents with the version of the text they said yes or no to, the concerns with their status. Codes
are kept as stored (``safe_home``, ``worried``), each with its words in the family's language beside
it, so a person and a program can both read it. Nothing staff wrote (notes, assessments) is in it:
a family asks the named person for that. ``schema`` and ``schema_version`` name the shape; a change
that could break a reader raises the version.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from flows.events import Msg
from flows.i18n import N_
from flows.wellbeing import INDICATORS, SCALE_LABELS, Indicator, Scale
from storage import Store, UserData, pseudonym
from storage.models import utcnow

if TYPE_CHECKING:
    from bot.mydata import Render
    from bot.service import ConversationService

SCHEMA: Final = "hjulet-family-export"
SCHEMA_VERSION: Final = 1
FILENAME: Final = "hjulet-my-data.json"
CAPTION: Final = N_("Here is everything we saved about you, as a file. Keep it safe.")


def _time(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def build(
    data: UserData, questions: dict[str, str], render: Render, lang: str, now: datetime | None = None
) -> dict[str, Any]:
    """The export document of ``data``; texts in ``lang`` through ``render``."""

    def words(text: str | None) -> str | None:
        return render(Msg(text)) if text else None

    answers = []
    for answer in data.answers:
        scale = SCALE_LABELS.get(Scale(answer.code)) if answer.code in Scale._value2member_map_ else None
        indicator = answer.indicator or ""
        part = INDICATORS[Indicator(indicator)].name if indicator in Indicator._value2member_map_ else None
        answers.append(
            {
                "question_id": answer.question_id,
                "question": words(questions.get(answer.question_id)),
                "part_of_the_wheel": answer.indicator,
                "part_of_the_wheel_name": words(part),
                "answer": answer.code,
                "answer_name": words(scale),
                "own_words": answer.free_text,
                "own_words_language": answer.free_text_language,
                "language": answer.language,
                "answered_at": _time(answer.answered_at),
            }
        )
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "exported_at": _time(now or utcnow()),
        "language": lang,
        "you": {"channel": data.channel, "language": data.language, "first_seen_at": _time(data.created_at)},
        "children": [
            {
                "name": child.name,
                "age_years": child.age_years,
                "age_months": child.age_months,
                "preschool_or_bvc": child.unit_text,
                "invited_by_unit": child.unit_code,
            }
            for child in data.children
        ],
        "answers": answers,
        "consents": [
            {
                "scope": consent.scope,
                "given": consent.given,
                "text_version": consent.text_version,
                "language": consent.language,
                "given_at": _time(consent.given_at),
                "withdrawn_at": _time(consent.withdrawn_at),
            }
            for consent in data.consents
        ],
        "concerns": [
            {
                "kind": concern.kind,
                "priority": concern.priority,
                "status": concern.status,
                "reasons": list(concern.reasons),
                "created_at": _time(concern.created_at),
            }
            for concern in data.concerns
        ],
    }


def dumps(document: dict[str, Any]) -> bytes:
    """The document as UTF-8 JSON, indented for people, every script as written (no \\u escapes)."""
    return json.dumps(document, ensure_ascii=False, indent=2).encode("utf-8")


async def family_export(
    service: ConversationService, channel: str, user_id: str, lang: str | None = None
) -> dict[str, Any] | None:
    """The export of the family a channel knows as ``user_id`` (its raw id; only the pseudonym is
    looked up), in their language (else ``lang``, else the default); None when nothing is stored."""
    async with service.sessions() as session:
        store = Store(session)
        user = await store.get_user(channel, pseudonym(service.secret, channel, user_id))
        if user is None:
            return None
        data = await store.user_data(user.id)
    shown = data.language or lang or service.settings.default_language
    return build(data, service.questions, lambda m: service.catalogs.render(m, shown), shown)
