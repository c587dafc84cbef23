"""/delete keeps what the law keeps and says so; /export gives a family everything stored about them,
and nothing of anyone else. Through the conversation service and the console, on real databases."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot import export
from bot.console import Console
from bot.i18n import Catalogs
from bot.service import ConversationService, IncomingMessage
from bot.settings import load_settings
from bot.wiring import build_engine
from nlu import load_lexicon
from storage.desk import ConcernEvent
from storage.models import Answer, Concern, Consent, User

DANGER = "he hits her when he is drunk"
KEPT_BEFORE = "You told us something that may mean a child is not safe."


@pytest.fixture
def service(session_factory, tmp_path: Path, understanding) -> ConversationService:
    settings = load_settings(data_dir=tmp_path, default_language="en")
    return ConversationService(
        settings,
        session_factory,
        build_engine(settings),
        Catalogs(settings.locales_dir),
        load_lexicon(),
        b"k" * 32,
        understanding=understanding,
    )


def msg(user: str, channel: str = "web", **fields) -> IncomingMessage:
    return IncomingMessage(channel=channel, user_id=user, language_hint="en", **fields)


async def say(service: ConversationService, user: str, **fields) -> list[str]:
    """What the family reads (not the echo of the question a pressed button answered)."""
    return [reply.text for reply in await service.handle(msg(user, **fields)) if reply.kind != "answered"]


async def worried_about_sleep(
    service: ConversationService, user: str, words: str, channel: str = "web"
) -> None:
    """English, both consents, a name, 4 years, no unit; worried at the first question, in `words`."""
    steps = [{"start": True}, {"choice": "en"}, {"choice": "yes"}, {"choice": "yes"}, {"text": "Hodan"}]
    steps += [{"text": "4"}, {"choice": "skip"}, {"choice": "worried"}, {"text": words}]  # no unit yet
    for fields in steps:
        await say(service, user, channel=channel, **fields)


async def rows(service: ConversationService, query: str) -> list[tuple[object, ...]]:
    async with service.sessions() as session:
        return [tuple(row) for row in await session.execute(sa.text(query))]


async def test_delete_keeps_a_report_of_danger_and_tells_the_family_what_stays_and_why(service) -> None:
    await worried_about_sleep(service, "f1", "she is scared at night")
    danger = await say(service, "f1", text=DANGER)
    assert "If a child is in danger right now, call 112." in danger

    asked = await say(service, "f1", command="delete")
    assert asked[0].startswith(KEPT_BEFORE)  # told before choosing
    assert asked[-1].startswith("Do you want to delete all your answers")
    told = await say(service, "f1", choice="yes")

    assert told == [
        "We have deleted what we saved about you. We keep only what the law says we must keep.",
        "We deleted 1 message to the named person.",  # the shared worry about sleep
        "We keep 1 report that a child may not be safe.",
        "The law says such reports must be kept. The named person and social services need them to "
        "protect the child.",
        "We also keep 1 answer that the named person saw at that time.",
        "We also keep your yes and no choices. They are marked as taken back.",
        "All this is deleted 5 years after the case is closed.",
        "You can ask the named person what we keep.",
        "If you want to start again, write anything.",
    ]
    async with service.sessions() as session:
        (concern,) = await session.scalars(sa.select(Concern))
        signal = await session.scalar(sa.select(ConcernEvent).where(ConcernEvent.kind == "signal"))
        (answer,) = await session.scalars(sa.select(Answer))
        consents = list(await session.scalars(sa.select(Consent)))
        (user,) = await session.scalars(sa.select(User))
    assert (concern.kind, concern.priority) == ("urgent", "urgent")
    assert signal is not None and signal.body == DANGER  # the family's words, for whoever acts on them
    assert (answer.question_id, answer.free_text) == ("safe_home", "she is scared at night")
    assert len(consents) == 2 and all(c.withdrawn_at is not None for c in consents)
    assert user.channel == "erased"

    again = await say(service, "f1", text="hello")  # a fresh start, not the old conversation
    assert any(t.startswith("Hi! This is Hjulet") for t in again) and not any(
        "Welcome back" in t for t in again
    )
    assert await rows(service, "select count(*) from concerns") == [(1,)]


async def test_delete_with_nothing_the_law_keeps_says_nothing_about_keeping(service) -> None:
    await worried_about_sleep(service, "f2", "she is scared at night")

    asked = await say(service, "f2", command="delete")
    told = await say(service, "f2", choice="yes")

    assert not any(KEPT_BEFORE in text for text in asked)
    assert told[0] == "We have deleted everything we saved about you."
    assert not any("keep" in text for text in told)
    for table in ("users", "answers", "consents", "concerns", "conversations", "children"):
        assert await rows(service, f"select count(*) from {table}") == [(0,)], table


@pytest.mark.parametrize(
    "typed", ["y", "j", "1", "yes", "ok", "Yes, delete everythin", "Yes, save my answers"]
)
async def test_only_the_button_s_own_words_confirm_deleting(service, typed: str) -> None:
    """Deleting cannot be undone: a letter, a number, a plain "yes", a typo or another question's
    button asks again; the button's words, as typed by hand, delete."""
    await worried_about_sleep(service, "f3", "she is scared at night")
    await say(service, "f3", command="delete")

    again = await say(service, "f3", text=typed)

    assert not any("deleted" in text for text in again)
    assert any("Do you want to delete all your answers" in text for text in again), again
    assert await rows(service, "select count(*) from answers") != [(0,)]
    told = await say(service, "f3", text="  yes, DELETE everything ")
    assert told[0] == "We have deleted everything we saved about you."
    assert await rows(service, "select count(*) from answers") == [(0,)]


async def test_other_choices_still_take_a_plain_yes(service) -> None:
    """Only the careful step is strict: a consent question still takes "y" (nothing is lost by it)."""
    await say(service, "f4", start=True)
    await say(service, "f4", choice="en")
    asked_next = await say(service, "f4", text="y")
    assert any("share" in text.lower() for text in asked_next), asked_next


async def test_export_holds_the_family_s_own_words_and_nothing_of_another_family(service) -> None:
    await worried_about_sleep(service, "f3", "she wakes at three every night")
    await worried_about_sleep(service, "f4", "OTHER FAMILY'S WORDS")
    async with service.sessions() as session, session.begin():
        for concern in await session.scalars(sa.select(Concern)):
            session.add(ConcernEvent(concern_id=concern.id, kind="note", body="STAFF NOTE", data={}))

    document = await export.family_export(service, "web", "f3")

    assert document is not None
    body = export.dumps(document)
    assert b"OTHER FAMILY" not in body
    assert json.loads(body) == document
    assert (document["schema"], document["schema_version"]) == ("hjulet-family-export", 1)
    assert document["children"] == [
        {
            "name": "Hodan",
            "age_years": 4,
            "age_months": None,
            "preschool_or_bvc": None,
            "invited_by_unit": None,
        }
    ]
    (answer,) = document["answers"]
    assert answer["question_id"] == "safe_home" and answer["answer"] == "worried"
    assert answer["answer_name"] == "Worried" and answer["part_of_the_wheel"] == "safe"
    assert answer["question"] == "Does your child feel safe and calm at home?"
    assert answer["own_words"] == "she wakes at three every night"
    assert [(c["scope"], c["given"], c["withdrawn_at"]) for c in document["consents"]] == [
        ("store", True, None),
        ("share", True, None),
    ]
    assert all(
        re.fullmatch(r"mapping\.v\d+:en:[0-9a-f]{12}", c["text_version"]) for c in document["consents"]
    )
    assert [(c["kind"], c["status"]) for c in document["concerns"]] == [("concern", "new")]
    assert b"STAFF NOTE" not in body  # nothing staff wrote
    assert await export.family_export(service, "web", "nobody") is None
    assert await export.family_export(service, "telegram", "f3") is None  # another channel, another id


async def test_export_in_the_console_prints_the_json(service) -> None:
    await worried_about_sleep(service, "f5", "hon sover dåligt", channel="console")
    out = io.StringIO()
    console = Console(service, "f5", "en", stdin=io.StringIO("/export\n"), stdout=out)

    await console.run()

    printed = out.getvalue()
    start, end = printed.index("{"), printed.rindex("}") + 1
    document = json.loads(printed[start:end])
    assert document["answers"][0]["own_words"] == "hon sover dåligt"  # as written, not escaped
    assert "hon sover dåligt" in printed


async def test_export_of_someone_never_seen_says_nothing_is_saved(service) -> None:
    out = io.StringIO()
    console = Console(service, "stranger", "en", stdin=io.StringIO(""), stdout=out)

    await console.export()

    assert out.getvalue() == "We have not saved anything about you.\n"
