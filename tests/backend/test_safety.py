"""The safety net: danger in a family's words, in any language and at any step, gets calm help and
the numbers at once, and an urgent concern for the named person whatever was shared; then the
conversation goes on where it was. And typed words are understood by their intent."""

from __future__ import annotations

import sqlalchemy as sa

from bot.service import IncomingMessage
from storage.concerns import Concerns
from storage.desk import ConcernEvent
from storage.models import Answer, Concern
from tests.backend.conftest import mapping_until_the_wheel, msg

HELP_112 = "If a child is in danger right now, call 112."
SAFE_HOME = "Does your child feel safe and calm at home?"


async def concerns_of(session_factory) -> list[Concern]:
    async with session_factory() as session:
        return list(await session.scalars(sa.select(Concern).order_by(Concern.id)))


async def test_danger_at_a_question_gives_help_at_once_and_asks_the_question_again(
    desk_service, session_factory, directory
) -> None:
    await mapping_until_the_wheel(desk_service, "s1")

    replies = [r.text for r in await desk_service.handle(msg("s1", text="he hits her when he is drunk"))]

    assert replies[0] == "Thank you for telling us. What you write is important."
    assert HELP_112 in replies
    assert (
        "You can also call social services in Växjö: 0470-410 00. Evenings and weekends: 0470-410 10."
        in replies
    )
    assert replies[-1] == SAFE_HOME  # and on we go, from the same question
    (concern,) = await concerns_of(session_factory)
    assert (concern.kind, concern.priority, concern.reasons) == ("urgent", "urgent", ["danger_signal"])
    assert concern.due_at is not None and (concern.due_at - concern.created_at).total_seconds() == 3600
    async with session_factory() as session:
        events = await Concerns(session).events(concern.id)
    signal = next(e for e in events if e.kind == "signal")
    assert signal.body == "he hits her when he is drunk" and "violence" in signal.data["categories"]


async def test_danger_needs_no_share_consent_and_no_consent_at_all(
    desk_service, session_factory, directory
) -> None:
    await desk_service.handle(msg("s2", start=True))  # before any consent: the welcome
    replies = [r.text for r in await desk_service.handle(msg("s2", text="min pappa slår mig varje dag"))]

    assert "If a child is in danger right now, call 112." in replies
    (concern,) = await concerns_of(session_factory)
    assert concern.kind == "urgent" and concern.child_id is None and not concern.answers_shared
    async with session_factory() as session:
        assert (await session.scalars(sa.select(sa.func.count()).select_from(Answer))).one() == 0


async def test_danger_in_a_comment_keeps_the_comment_and_goes_on(
    desk_service, session_factory, directory
) -> None:
    await mapping_until_the_wheel(desk_service, "s3")
    await desk_service.handle(msg("s3", choice="worried"))  # safe_home: worried -> the comment

    replies = await desk_service.handle(msg("s3", text="لا يوجد طعام في البيت منذ الجمعة"))
    texts = [r.text for r in replies if r.kind != "answered"]

    assert HELP_112 in texts and texts[-2].startswith("When your child is sad or scared")
    assert (
        texts[-1] == "It looks like you write in العربية. Do you want to use it here?"
    )  # offered, not switched
    async with session_factory() as session:
        answer = (await session.scalars(sa.select(Answer).where(Answer.question_id == "safe_home"))).one()
        kinds = sorted({c.kind for c in await session.scalars(sa.select(Concern))})
        signals = list(await session.scalars(sa.select(ConcernEvent).where(ConcernEvent.kind == "signal")))
    assert answer.free_text == "لا يوجد طعام في البيت منذ الجمعة"  # the comment is kept, as written
    assert kinds == ["concern", "urgent"]  # the worry (shared) and the danger signal
    assert signals and "neglect" in signals[0].data["categories"]


async def test_harmless_words_raise_nothing(desk_service, session_factory, directory) -> None:
    await mapping_until_the_wheel(desk_service, "s4")
    await desk_service.handle(msg("s4", choice="some_worries"))
    replies = [
        r.text for r in await desk_service.handle(msg("s4", text="she was scared of the dog in the park"))
    ]

    assert HELP_112 not in replies
    assert [c.kind for c in await concerns_of(session_factory)] == []


async def test_typed_answers_are_read_by_their_intent(desk_service, session_factory, directory) -> None:
    await mapping_until_the_wheel(desk_service, "s5")
    for words in ("yeah it's going fine honestly", "i'm really quite worried about it"):
        await desk_service.handle(msg("s5", text=words))
        last = await desk_service.handle(msg("s5", choice="skip")) if "worried" in words else None
    assert last is not None
    async with session_factory() as session:
        codes = [a.code for a in await session.scalars(sa.select(Answer).order_by(Answer.id))]
    assert codes == ["good", "worried"]


async def test_asking_to_talk_anywhere_makes_a_contact_request_and_goes_on(
    desk_service, session_factory, directory
) -> None:
    await mapping_until_the_wheel(desk_service, "s6")

    replies = [
        r.text for r in await desk_service.handle(msg("s6", text="can I speak to a real person please"))
    ]

    assert replies == ["Thank you. The named person will contact you within 3 working days.", SAFE_HOME]
    assert [c.kind for c in await concerns_of(session_factory)] == ["contact_request"]


async def test_unsure_words_are_asked_again_not_guessed(desk_service, session_factory, directory) -> None:
    await mapping_until_the_wheel(desk_service, "s7")
    replies = [r.text for r in await desk_service.handle(msg("s7", text="purple elephants"))]

    assert replies == ["Sorry, I did not understand that.", SAFE_HOME]
    async with session_factory() as session:
        assert list(await session.scalars(sa.select(Answer))) == []


async def test_words_in_another_language_are_offered_never_switched(
    desk_service, session_factory, directory
) -> None:
    await mapping_until_the_wheel(desk_service, "s8")  # in English
    await desk_service.handle(msg("s8", choice="worried"))
    replies = await desk_service.handle(msg("s8", text="hon vaknar varje natt och gråter länge"))

    offer = replies[-1]
    assert offer.text == "It looks like you write in Svenska. Do you want to use it here?"
    assert [code for code, _ in offer.buttons] == ["lang:sv", "lang:en"]
    still = await desk_service.handle(msg("s8", choice="good"))  # passed by: the questions go on in English
    assert still[-1].text.startswith("How does your child sleep?") or still[-1].text.startswith("Healthy")

    switched = await desk_service.handle(msg("s8", choice="lang:sv", question=("mapping", "healthy_sleep")))
    assert switched[-1].text == "Hur sover ditt barn?"
    repeat = await desk_service.handle(msg("s8", text="hon sover ganska dåligt ibland"))
    assert all("It looks like you write" not in r.text for r in repeat)  # offered once


async def test_the_family_s_phone_language_comes_first_in_the_language_question(
    desk_service, directory
) -> None:
    replies = await desk_service.handle(IncomingMessage("web", "s9", start=True, language_hint="ar"))
    assert [code for code, _ in replies[-1].buttons][:3] == ["ar", "sv", "en"]
