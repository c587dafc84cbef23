"""Store on real databases: users, conversations, answers, concerns and redelivered events."""

from __future__ import annotations

import asyncio
from datetime import UTC

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage import ConcurrentUpdate, NotFound, Store, pseudonym
from storage.models import Answer, Concern, Conversation, User

Factory = async_sessionmaker[AsyncSession]
SECRET = b"k" * 32


async def new_user(factory: Factory, raw_id: str = "1001", channel: str = "telegram") -> int:
    async with factory() as session, session.begin():
        user = await Store(session).get_or_create_user(channel, pseudonym(SECRET, channel, raw_id), "sv")
        return user.id


async def new_conversation(factory: Factory, user_id: int) -> int:
    async with factory() as session, session.begin():
        conversation = await Store(session).create_conversation(user_id, "mapping", "sv", {"n": 0})
        return conversation.id


async def test_a_user_is_found_again_by_channel_and_pseudonym(session_factory: Factory) -> None:
    first = await new_user(session_factory, "1001")
    again = await new_user(session_factory, "1001")
    on_web = await new_user(session_factory, "1001", channel="web")
    assert first == again
    assert on_web != first
    async with session_factory() as session:
        user = await Store(session).get_user("telegram", pseudonym(SECRET, "telegram", "1001"))
        assert user is not None and user.language == "sv"
        assert user.created_at.tzinfo is not None and user.created_at.utcoffset() == UTC.utcoffset(None)
        assert await session.scalar(select(func.count()).select_from(User)) == 2


async def test_the_database_refuses_a_second_row_for_the_same_pseudonym(session_factory: Factory) -> None:
    await new_user(session_factory, "1001")
    with pytest.raises(IntegrityError):
        async with session_factory() as session, session.begin():
            session.add(User(channel="telegram", pseudonym=pseudonym(SECRET, "telegram", "1001")))


async def test_a_raw_id_is_refused_as_pseudonym(session_factory: Factory) -> None:
    async with session_factory() as session:
        with pytest.raises(ValueError, match="pseudonym"):
            await Store(session).get_or_create_user("telegram", "123456789")
        with pytest.raises(ValueError, match="channel"):
            await Store(session).get_or_create_user("sms", pseudonym(SECRET, "sms", "1"))


async def test_active_conversation_is_the_newest_not_done(session_factory: Factory) -> None:
    user_id = await new_user(session_factory)
    first = await new_conversation(session_factory, user_id)
    async with session_factory() as session, session.begin():
        store = Store(session)
        assert (await store.active_conversation(user_id)).id == first  # type: ignore[union-attr]
        conversation = await store.latest_conversation(user_id)
        assert conversation is not None
        await store.save_conversation(conversation, step="end", status="done", language="sv", state={})
        assert await store.active_conversation(user_id) is None
        assert (await store.latest_conversation(user_id)).id == first  # type: ignore[union-attr]


async def test_saving_a_conversation_stores_state_and_bumps_version(session_factory: Factory) -> None:
    user_id = await new_user(session_factory)
    conversation_id = await new_conversation(session_factory, user_id)
    async with session_factory() as session, session.begin():
        store = Store(session)
        child = await store.create_child(user_id)
        conversation = await session.get(Conversation, conversation_id)
        assert conversation is not None and conversation.version == 1
        state = {"answers": {"safe": "good"}, "n": 1}
        await store.save_conversation(
            conversation, step="safe_1", status="active", language="ar", state=state, child_id=child.id
        )
        state["n"] = 2  # the same dict, changed in place, must still be written
        await store.save_conversation(
            conversation, step="safe_2", status="paused", language="ar", state=state
        )
    async with session_factory() as session:
        stored = await session.get(Conversation, conversation_id)
        assert stored is not None
        assert (stored.step, stored.status, stored.language, stored.child_id) == (
            "safe_2",
            "paused",
            "ar",
            child.id,
        )
        assert stored.state == {"answers": {"safe": "good"}, "n": 2}
        assert stored.version == 3
        assert stored.updated_at >= stored.created_at


async def test_the_second_of_two_concurrent_saves_is_refused(session_factory: Factory) -> None:
    user_id = await new_user(session_factory)
    conversation_id = await new_conversation(session_factory, user_id)
    async with session_factory() as first, session_factory() as second:
        mine = await first.get(Conversation, conversation_id)
        theirs = await second.get(Conversation, conversation_id)
        assert mine is not None and theirs is not None
        await Store(first).save_conversation(mine, step="a", status="active", language="sv", state={"n": 1})
        await first.commit()
        with pytest.raises(ConcurrentUpdate, match=f"conversation {conversation_id}"):
            await Store(second).save_conversation(
                theirs, step="b", status="active", language="sv", state={"n": 9}
            )
        await second.rollback()
    async with session_factory() as session:
        stored = await session.get(Conversation, conversation_id)
        assert stored is not None and (stored.step, stored.state, stored.version) == ("a", {"n": 1}, 2)


async def test_children_are_created_empty_and_filled_in(session_factory: Factory) -> None:
    user_id = await new_user(session_factory)
    async with session_factory() as session, session.begin():
        store = Store(session)
        child = await store.create_child(user_id)
        updated = await store.update_child(child.id, name="Amal", age_years=3, unit_text="Förskolan Solen")
        assert (updated.name, updated.age_years, updated.age_months, updated.unit_text) == (
            "Amal",
            3,
            None,
            "Förskolan Solen",
        )
        with pytest.raises(TypeError, match="shoe_size"):
            await store.update_child(child.id, shoe_size=28)
        with pytest.raises(NotFound):
            await store.update_child(child.id + 100, name="x")


async def test_answering_again_changes_the_code_and_keeps_the_free_text(session_factory: Factory) -> None:
    user_id = await new_user(session_factory)
    conversation_id = await new_conversation(session_factory, user_id)

    async def answer(store: Store, code: str, language: str) -> Answer:
        return await store.upsert_answer(
            conversation_id=conversation_id,
            child_id=None,
            indicator="safe",
            question_id="safe_1",
            code=code,
            language=language,
        )

    words = "Hon sover dåligt sedan flytten. نومها سيء"
    async with session_factory() as session, session.begin():
        store = Store(session)
        first = await answer(store, "worried", "sv")
        await store.set_answer_text(
            conversation_id=conversation_id, question_id="safe_1", text=words, text_language="sv"
        )
    async with session_factory() as session, session.begin():
        second = await answer(Store(session), "some_worries", "ar")
        assert second.id == first.id
        assert (second.code, second.language, second.free_text) == ("some_worries", "ar", words)
        assert second.answered_at == first.answered_at
        assert second.updated_at >= first.updated_at
    async with session_factory() as session:
        assert await session.scalar(select(func.count()).select_from(Answer)) == 1
        records = await Store(session).answers_for_conversation(conversation_id)
        assert [(r.indicator, r.code, r.free_text, r.free_text_language) for r in records] == [
            ("safe", "some_worries", words, "sv")
        ]


async def test_answer_text_needs_an_answer_and_indicators_are_checked(session_factory: Factory) -> None:
    user_id = await new_user(session_factory)
    conversation_id = await new_conversation(session_factory, user_id)
    async with session_factory() as session:
        store = Store(session)
        with pytest.raises(NotFound):
            await store.set_answer_text(
                conversation_id=conversation_id, question_id="nope", text="x", text_language=None
            )
        with pytest.raises(ValueError, match="indicator"):
            await store.upsert_answer(
                conversation_id=conversation_id,
                child_id=None,
                indicator="happy",
                question_id="q",
                code="good",
                language="sv",
            )


async def test_concerns_of_a_conversation_merge_and_priority_never_drops(session_factory: Factory) -> None:
    user_id = await new_user(session_factory)
    conversation_id = await new_conversation(session_factory, user_id)
    async with session_factory() as session, session.begin():
        store = Store(session)

        async def concern(kind: str, reason: str, priority: str) -> Concern:
            return await store.raise_concern(
                user_id=user_id,
                child_id=None,
                conversation_id=conversation_id,
                kind=kind,
                reason=reason,
                priority=priority,
                answers_shared=False,
            )

        first = await concern("concern", "safe=worried", "normal")
        merged = await concern("concern", "healthy=worried", "high")
        again = await concern("concern", "safe=worried", "low")
        other = await concern("urgent", "risk:violence", "urgent")
        assert first.id == merged.id == again.id != other.id
        assert (again.reasons, again.priority, again.status) == (
            ["safe=worried", "healthy=worried"],
            "high",
            "new",
        )
        assert again.updated_at >= again.created_at
        again.status = "closed"
        await session.flush()
        reopened = await concern("concern", "safe=worried", "low")
        assert reopened.id not in (first.id, other.id)
        assert (reopened.reasons, reopened.priority) == (["safe=worried"], "low")
        with pytest.raises(ValueError, match="priority"):
            await concern("concern", "x", "critical")
        with pytest.raises(ValueError, match="concern kind"):
            await concern("gossip", "x", "low")
    async with session_factory() as session:
        stored = await session.get(Concern, first.id)
        assert stored is not None
        assert (stored.reasons, stored.priority) == (["safe=worried", "healthy=worried"], "high")


async def claim(factory: Factory, event_id: str) -> bool:
    async with factory() as session, session.begin():
        return await Store(session).claim_event(event_id)


async def test_an_event_is_claimed_once(session_factory: Factory) -> None:
    assert await claim(session_factory, "telegram:1") is True
    assert await claim(session_factory, "telegram:1") is False
    assert await claim(session_factory, "telegram:2") is True


async def test_two_simultaneous_claims_give_exactly_one_winner(session_factory: Factory) -> None:
    results = await asyncio.gather(*(claim(session_factory, "telegram:7") for _ in range(4)))
    assert sorted(results) == [False, False, False, True]


async def test_a_claim_waits_for_the_open_one_and_follows_its_outcome(session_factory: Factory) -> None:
    for outcome, expected in (("commit", False), ("rollback", True)):
        event_id = f"telegram:{outcome}"
        async with session_factory() as first, session_factory() as second:
            assert await Store(first).claim_event(event_id) is True
            waiting = asyncio.create_task(Store(second).claim_event(event_id))
            await asyncio.sleep(0.3)
            assert not waiting.done(), "the second claim must wait for the first transaction"
            await (first.commit() if outcome == "commit" else first.rollback())
            assert await asyncio.wait_for(waiting, timeout=5) is expected
            await second.commit()
