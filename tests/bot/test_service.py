"""The conversation service: one message, one transaction, exactly once."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.i18n import Catalogs
from bot.service import ConversationService, IncomingMessage
from bot.settings import load_settings
from bot.wiring import build_engine
from nlu import load_lexicon
from storage import Store


@pytest.fixture
def service(session_factory, tmp_path: Path) -> ConversationService:
    settings = load_settings(data_dir=tmp_path, default_language="en")
    return ConversationService(
        settings,
        session_factory,
        build_engine(settings),
        Catalogs(settings.locales_dir),
        load_lexicon(),
        b"k" * 32,
    )


def msg(**fields) -> IncomingMessage:
    return IncomingMessage(channel="web", user_id=fields.pop("user", "u1"), language_hint="en", **fields)


async def begin(service: ConversationService, user: str = "u1", share: str = "yes") -> None:
    for message in (
        msg(user=user, start=True),
        msg(user=user, choice="en"),
        msg(user=user, choice="yes"),
        msg(user=user, choice=share),
        msg(user=user, choice="skip"),
        msg(user=user, text="4"),
        msg(user=user, choice="skip"),
    ):
        await service.handle(message)


async def count(session_factory, table: str) -> int:
    from sqlalchemy import text

    async with session_factory() as session:
        return (await session.execute(text(f"select count(*) from {table}"))).scalar_one()


async def test_a_repeated_delivery_gets_one_reply_and_one_answer(service, session_factory) -> None:
    await begin(service)
    first = await service.handle(msg(choice="good", event_id="42"))
    again = await service.handle(msg(choice="good", event_id="42"))

    assert first and "When your child is sad or scared" in first[-1].text
    assert again == []
    assert await count(session_factory, "answers") == 1
    assert await count(session_factory, "processed_events") == 1


async def test_the_same_event_delivered_concurrently_is_handled_once(service, session_factory) -> None:
    await begin(service)
    results = await asyncio.gather(*(service.handle(msg(choice="worried", event_id="7")) for _ in range(4)))

    assert sum(1 for replies in results if replies) == 1
    assert await count(session_factory, "answers") == 1
    assert await count(session_factory, "concerns") == 1


async def test_two_families_never_mix(service, session_factory) -> None:
    await asyncio.gather(begin(service, "a"), begin(service, "b", share="no"))
    await asyncio.gather(
        service.handle(msg(user="a", choice="worried")), service.handle(msg(user="b", choice="good"))
    )

    async with session_factory() as session:
        from sqlalchemy import text

        rows = (await session.execute(text("select code from answers order by code"))).all()
        concerns = (await session.execute(text("select count(*) from concerns"))).scalar_one()
    assert [r[0] for r in rows] == ["good", "worried"]
    assert concerns == 1  # only the family that agreed to share


async def test_nothing_is_stored_before_consent(service, session_factory) -> None:
    await service.handle(msg(start=True))
    await service.handle(msg(choice="en"))
    # words and presses before the consent question do not reach the answers table
    await service.handle(msg(choice="worried"))
    await service.handle(msg(text="my child is sad"))

    assert await count(session_factory, "answers") == 0
    assert await count(session_factory, "children") == 0
    assert await count(session_factory, "consents") == 0


async def test_raw_channel_ids_are_never_stored(service, session_factory) -> None:
    await begin(service, user="telegram-123456789")
    async with session_factory() as session, session.begin():
        user = await Store(session).get_user("web", "telegram-123456789")
    assert user is None  # looked up by its raw id, nothing is found
    assert await count(session_factory, "users") == 1


async def test_my_data_lists_every_answer_in_plain_words(service) -> None:
    await begin(service)
    await service.handle(msg(choice="good"))
    await service.handle(msg(choice="worried"))
    await service.handle(msg(text="she cries at night"))
    replies = await service.handle(msg(command="mydata"))

    text = replies[0].text
    assert "Age: 4 years." in text
    assert "Does your child feel safe and calm at home? Your answer: It goes well." in text
    assert "Your answer: Worried." in text
    assert "“she cries at night”" in text
    assert "you said yes to saving your answers" in text
    assert "we sent your answers to the named person" in text
    assert replies[-1].step == "healthy_sleep"  # and then the question again
