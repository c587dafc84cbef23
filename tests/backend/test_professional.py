"""Professionals ask "whom do I contact?" in the chat, and a verified one hands a worry over.

user says X -> bot answers with the named person from the directory -> the desk holds the concern.
On SQLite and PostgreSQL, with the real NLU.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from bot.service import ConversationService, IncomingMessage
from storage import chat_links
from storage.desk import ConcernEvent, Staff, Unit
from storage.models import Concern, User

ROLES = ["preschool", "school", "health", "social", "police", "leisure", "other"]
SEEN = "Hon kommer hungrig varje morgon och har inga vinterkläder"


def msg(user: str, **fields) -> IncomingMessage:
    return IncomingMessage(channel="web", user_id=user, language_hint="en", **fields)


async def say(service: ConversationService, user: str, **fields) -> list[str]:
    replies = await service.handle(msg(user, **fields))
    return [r.text for r in replies if r.kind == "message"]


async def ask_about(
    service: ConversationService, user: str, *, role: str = "preschool", age: str = "small", unit: str
) -> list[str]:
    """/professional, not in danger, role, age band, the unit's name as typed: what the bot answers."""
    await say(service, user, command="professional")
    await say(service, user, choice="worried")
    await say(service, user, choice=role)
    await say(service, user, choice=age)
    return await say(service, user, text=unit)


@pytest.mark.parametrize("role", ROLES)
async def test_each_profession_learns_the_named_person_the_five_questions_and_the_duty(
    desk_service, directory, role: str
) -> None:
    answer = "\n".join(await ask_about(desk_service, f"pro-{role}", role=role, unit="solrosen forskola"))

    assert "The child's named person is Anna at BVC Centrum." in answer  # the preschool's BVC
    assert "What is getting in the way of this child's wellbeing?" in answer
    assert "report it to social services at once. This is your own duty. Nobody else can" in answer
    assert "social services in Växjö: 0470-410 00. Evenings and weekends: 0470-410 10" in answer


async def test_a_child_in_danger_hears_112_first(desk_service, directory) -> None:
    await say(desk_service, "pro", command="professional")

    first = await say(desk_service, "pro", choice="danger")

    assert first[0] == "If a child is in danger right now, call 112."


async def test_a_unit_typed_with_typos_and_no_diacritics_is_found(desk_service, directory) -> None:
    answer = await ask_about(desk_service, "pro", unit="solrosns forskolan")

    assert any("BVC Centrum" in line for line in answer)


async def test_no_unit_fits_then_several_fit_then_one_is_pressed(
    desk_service, directory, session_factory
) -> None:
    async with session_factory() as session, session.begin():
        session.add(
            Unit(municipality_id=directory["municipality"], code="solglantan", name="Solgläntans förskola",
                 kind="preschool", partner_id=directory["bvc"])
        )  # fmt: skip

    missing = await ask_about(desk_service, "pro", unit="Månstrålens dagis")
    assert missing[0].startswith("I could not find that unit.")

    several = await desk_service.handle(msg("pro", text="sol förskola"))
    assert several[-2].text == "Several units fit. Which one do you mean?"
    pressed = [code for code, _ in several[-1].buttons]
    assert pressed[:2] == ["unit:solglantan", "unit:solrosen"] and pressed[-1] == "skip"

    answer = await say(desk_service, "pro", choice="unit:solglantan")
    assert "The child's named person is Anna at BVC Centrum." in answer


async def test_a_unit_without_a_named_person_sends_to_the_coordinator(desk_service, directory) -> None:
    answer = await ask_about(desk_service, "pro", role="police", age="school", unit="skolan")

    assert "Samordning takes care of this. They have no named person in our list yet." in answer


async def test_an_unverified_professional_gets_the_advice_but_cannot_file(
    desk_service, directory, session_factory
) -> None:
    answer = await ask_about(desk_service, "pro", unit="solrosen")
    assert answer[-1].startswith("You can hand the worry to the named person here.")

    wrong = await say(desk_service, "pro", text="ABCD-EFGH")
    assert wrong[0].startswith("That code does not work.")
    ended = await say(desk_service, "pro", choice="skip")

    assert ended[0].startswith("Without a linked chat you cannot hand over a worry here.")
    async with session_factory() as session:
        assert await session.scalar(sa.select(sa.func.count()).select_from(Concern)) == 0


async def test_a_verified_professional_files_into_the_named_persons_queue(
    desk_service, directory, session_factory
) -> None:
    async with session_factory() as session, session.begin():
        teacher = Staff(email="t@solrosen.se", name="Tove", role="unit_lead", unit_id=directory["preschool"])
        session.add(teacher)
        await session.flush()
        code = await chat_links.new_code(session, teacher.id)
    await ask_about(desk_service, "pro", unit="solrosen")
    linked = await say(desk_service, "pro", text=code.lower().replace("-", " "))  # as people type it
    assert linked[-1] == "Do you want to hand this worry to the named person now?"

    await say(desk_service, "pro", choice="yes")
    await say(desk_service, "pro", text=SEEN)
    done = await say(desk_service, "pro", text="Sedan två veckor, varje dag")

    assert done[0].startswith("Thank you. The named person has the worry in their queue now.")
    assert all(SEEN not in line for line in done)  # nothing about the concern comes back to the chat
    async with session_factory() as session:
        concern = await session.scalar(sa.select(Concern))
        assert concern is not None
        assert (concern.source, concern.unit_id) == ("professional", directory["bvc"])
        assert concern.assigned_to_id == directory["nurse_a"] and concern.priority == "high"
        report = await session.scalar(sa.select(ConcernEvent).where(ConcernEvent.kind == "report"))
        assert report is not None and report.staff_id == teacher.id
        assert report.data["by"] == "Tove" and report.data["by_unit"] == "Solrosens förskola"
        assert report.data["role"] == "preschool" and "nurtured" in report.data["indicators"]
        assert report.body is not None and SEEN in report.body
        raw = await session.scalar(sa.text("select body from concern_events where kind = 'report'"))
        assert SEEN not in str(raw)  # encrypted at rest


async def test_i_work_with_children_at_the_start_leads_to_the_professional_part(
    desk_service, directory
) -> None:
    await say(desk_service, "parent-or-not", start=True)
    await say(desk_service, "parent-or-not", choice="en")

    answer = await say(desk_service, "parent-or-not", text="I work with children")

    assert answer[-1] == "First: is a child in danger right now?"


async def test_an_already_linked_chat_is_not_asked_for_a_code(
    desk_service, directory, session_factory
) -> None:
    await say(desk_service, "pro", command="professional")
    async with session_factory() as session, session.begin():
        user_id = await session.scalar(sa.select(User.id))
        code = await chat_links.new_code(session, directory["nurse_b"])
        assert user_id is not None and await chat_links.redeem(session, code, user_id) is not None
    await say(desk_service, "pro", choice="advice")
    await say(desk_service, "pro", choice="health")
    await say(desk_service, "pro", choice="baby")

    answer = await say(desk_service, "pro", text="BVC Centrum")

    assert answer[-1] == "Do you want to hand this worry to the named person now?"


async def test_the_childs_identity_is_asked_only_where_the_municipality_wants_it(
    desk_service, directory, session_factory
) -> None:
    async with session_factory() as session, session.begin():
        code = await chat_links.new_code(session, directory["nurse_b"])
    await ask_about(desk_service, "pro", unit="solrosen")
    await say(desk_service, "pro", text=code)
    await say(desk_service, "pro", choice="yes")
    await say(desk_service, "pro", text="Han har blåmärken på armarna")
    filed = await say(desk_service, "pro", text="I morse")
    assert filed[0].startswith("Thank you.")  # no question about who the child is

    desk_service.settings = desk_service.settings.model_copy(update={"professional_child_identity": True})
    await ask_about(desk_service, "pro", unit="solrosen")
    await say(desk_service, "pro", choice="yes")  # this chat is linked now: no code asked
    await say(desk_service, "pro", text="Hon säger att hon inte får äta hemma")
    asked = await say(desk_service, "pro", text="I går")
    assert asked[-1].startswith("Your municipality asks for the child's full name and date of birth.")
    await say(desk_service, "pro", text="Sara Ek 2021-03-04")
    async with session_factory() as session:
        reports = list(await session.scalars(sa.select(ConcernEvent).where(ConcernEvent.kind == "report")))
    assert [r.data["child_identity"] for r in reports] == [False, True]
    assert "Sara Ek 2021-03-04" in (reports[1].body or "")
