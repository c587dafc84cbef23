"""Intake: a family's worry becomes a concern routed to the right named person, with a deadline,
a timeline, and an e-mail notice that says nothing about the child."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from bot.invitations import sign
from storage.concerns import Concerns
from storage.models import Concern
from storage.outbox import Outbox
from tests.backend.conftest import mapping_until_the_wheel, msg


async def concerns_of(session_factory) -> list[Concern]:
    async with session_factory() as session:
        return list(await session.scalars(sa.select(Concern).order_by(Concern.id)))


async def test_a_worry_is_routed_to_the_least_busy_bvc_nurse_with_a_deadline(
    desk_service, session_factory, directory
) -> None:
    for family in ("f1", "f2"):
        await mapping_until_the_wheel(desk_service, family, invite=sign(b"k" * 32, "solrosen"))
        await desk_service.handle(msg(family, choice="worried"))  # safe_home: worried

    first, second = await concerns_of(session_factory)
    assert first.unit_id == second.unit_id == directory["bvc"]  # the preschool's BVC (age 3)
    assert {first.assigned_to_id, second.assigned_to_id} == {directory["nurse_a"], directory["nurse_b"]}
    assert first.status == "new" and first.priority == "normal"
    assert first.due_at is not None and first.due_at - first.created_at >= timedelta(days=3)
    async with session_factory() as session:
        events = await Concerns(session).events(first.id)
        mails = await Outbox(session).claim_due("email")
    assert [e.kind for e in events] == ["created", "routed"]
    assert events[1].data["why"] == "partner"
    assert sorted(m.address for m in mails) == ["a@bvc.se", "b@bvc.se"]
    for mail in mails:  # in the staff member's language (Swedish unless they chose English): a link only
        assert mail.payload["text"].startswith(
            "Du har ett nytt ärende i Hjulet. Öppna det här: https://desk.example/"
        )
        assert "worried" not in str(mail.payload).lower() and "safe" not in str(mail.payload).lower()


async def test_more_reasons_join_the_open_concern_and_priority_only_rises(
    desk_service, session_factory, directory
) -> None:
    await mapping_until_the_wheel(desk_service, "f3")
    for code in ("some_worries", "skip", "some_worries", "skip", "some_worries", "skip", "worried"):
        await desk_service.handle(msg("f3", choice=code))

    (concern,) = await concerns_of(session_factory)
    assert sorted(concern.reasons) == ["several_some_worries", "worried_answer"]
    assert concern.priority == "normal"  # low first (three some-worries), then normal
    async with session_factory() as session:
        kinds = [e.kind for e in await Concerns(session).events(concern.id)]
    assert kinds == ["created", "routed", "reason_added"]


async def test_with_no_unit_of_the_responsible_kind_the_coordinator_queue_takes_it(
    desk_service, session_factory, directory
) -> None:
    await mapping_until_the_wheel(desk_service, "f4", age="9")  # a school child in this test directory
    await desk_service.handle(msg("f4", choice="worried"))

    (concern,) = await concerns_of(session_factory)
    assert concern.unit_id == directory["school"] and concern.assigned_to_id is None  # nobody named there yet
    async with session_factory() as session:
        assert await Outbox(session).claim_due("email") == []  # no lead at the school to tell


async def test_nothing_is_routed_without_share_consent(desk_service, session_factory, directory) -> None:
    await desk_service.handle(msg("f5", start=True))
    for fields in ({"choice": "en"}, {"choice": "yes"}, {"choice": "no"}, {"choice": "skip"}, {"text": "3"}):
        await desk_service.handle(msg("f5", **fields))
    await desk_service.handle(msg("f5", choice="skip"))
    await desk_service.handle(msg("f5", choice="worried"))

    assert await concerns_of(session_factory) == []


async def test_the_bot_shows_the_municipalitys_numbers_from_the_directory(desk_service, directory) -> None:
    await mapping_until_the_wheel(desk_service, "f6")
    replies = []
    for _ in range(18):
        replies = await desk_service.handle(msg("f6", choice="good"))
    replies = await desk_service.handle(msg("f6", choice="no"))  # talk to someone? no

    social = [r.text for r in replies if "Social services in" in r.text]
    assert social == ["Social services in Växjö: 0470-410 00. Evenings and weekends: 0470-410 10."]


async def test_a_preschool_typed_by_the_family_routes_like_an_invitation(
    desk_service, session_factory, directory
) -> None:
    await desk_service.handle(msg("f7", start=True))
    for fields in ({"choice": "en"}, {"choice": "yes"}, {"choice": "yes"}, {"choice": "skip"}, {"text": "3"}):
        await desk_service.handle(msg("f7", **fields))
    await desk_service.handle(msg("f7", text="solrosens forskola"))  # no å/ö, as people type
    await desk_service.handle(msg("f7", choice="worried"))

    (concern,) = await concerns_of(session_factory)
    assert concern.unit_id == directory["bvc"]
    async with session_factory() as session:
        (_, routed) = await Concerns(session).events(concern.id)
    assert routed.data["why"] == "partner"
