"""Consent, a family's own data, and erasure, on real databases."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage import ChildRecord, ErasedCounts, NotFound, Store, pseudonym
from storage.models import Answer, Base, Child, Concern, Consent, Conversation, ProcessedEvent, User

Factory = async_sessionmaker[AsyncSession]
SECRET = b"s" * 32


async def family(factory: Factory, raw_id: str) -> tuple[int, int, int]:
    """A parent with one child, a conversation with two answers, consents and a concern."""
    async with factory() as session, session.begin():
        store = Store(session)
        user = await store.get_or_create_user("telegram", pseudonym(SECRET, "telegram", raw_id), "so")
        child = await store.create_child(user.id)
        await store.update_child(child.id, name="Hodan", age_years=2, age_months=5, unit_text="BVC Teleborg")
        conversation = await store.create_conversation(user.id, "mapping", "so", {}, child_id=child.id)
        for question, indicator, code in (("safe_1", "safe", "good"), ("healthy_1", "healthy", "worried")):
            await store.upsert_answer(
                conversation_id=conversation.id,
                child_id=child.id,
                indicator=indicator,
                question_id=question,
                code=code,
                language="so",
            )
        await store.set_answer_text(
            conversation_id=conversation.id, question_id="healthy_1", text="Wuu qufacayaa", text_language="so"
        )
        for scope in ("store", "share"):
            await store.record_consent(
                user_id=user.id, child_id=child.id, scope=scope, given=True, text_version="v1", language="so"
            )
        await store.raise_concern(
            user_id=user.id,
            child_id=child.id,
            conversation_id=conversation.id,
            kind="concern",
            reason="healthy=worried",
            priority="normal",
            answers_shared=True,
        )
        await store.claim_event(f"telegram:{raw_id}")
        return user.id, child.id, conversation.id


async def count(session: AsyncSession, entity: type[Base]) -> int:
    return int(await session.scalar(select(func.count()).select_from(entity)) or 0)


async def test_user_data_holds_everything_as_plain_records(session_factory: Factory) -> None:
    user_id, _child_id, _conversation_id = await family(session_factory, "501")
    async with session_factory() as session:
        data = await Store(session).user_data(user_id)
    assert (data.channel, data.language) == ("telegram", "so")
    assert data.children == [ChildRecord("Hodan", 2, 5, "BVC Teleborg")]
    assert [(a.question_id, a.code, a.free_text) for a in data.answers] == [
        ("safe_1", "good", None),
        ("healthy_1", "worried", "Wuu qufacayaa"),
    ]
    assert [(c.scope, c.given, c.withdrawn_at) for c in data.consents] == [
        ("store", True, None),
        ("share", True, None),
    ]
    assert [(c.kind, c.priority, c.status, c.reasons) for c in data.concerns] == [
        ("concern", "normal", "new", ("healthy=worried",))
    ]
    assert all(a.answered_at.tzinfo is not None for a in data.answers)


async def test_user_data_of_an_unknown_user_is_not_found(session_factory: Factory) -> None:
    async with session_factory() as session:
        try:
            await Store(session).user_data(12345)
        except NotFound as exc:
            assert "12345" in str(exc)
        else:
            raise AssertionError("expected NotFound")


async def test_withdrawing_closes_every_open_consent(session_factory: Factory) -> None:
    user_id, _child_id, _conversation_id = await family(session_factory, "502")
    async with session_factory() as session, session.begin():
        store = Store(session)
        assert await store.consent_given(user_id, "share") is True
        assert await store.withdraw_consents(user_id) == 2
        assert await store.withdraw_consents(user_id) == 0
        assert await store.consent_given(user_id, "share") is False
        await store.record_consent(
            user_id=user_id, child_id=None, scope="store", given=False, text_version="v2", language="sv"
        )
        assert await store.consent_given(user_id, "store") is False
    async with session_factory() as session:
        data = await Store(session).user_data(user_id)
        assert [c.withdrawn_at is not None for c in data.consents] == [True, True, False]


async def test_erasing_a_user_removes_their_rows_and_counts_them(session_factory: Factory) -> None:
    user_id, _child_id, _conversation_id = await family(session_factory, "503")
    other_id, *_ = await family(session_factory, "504")
    async with session_factory() as session, session.begin():
        counts = await Store(session).erase_user(user_id)
    assert counts == ErasedCounts(children=1, answers=2, consents=2, concerns=1, conversations=1)
    assert counts.total == 7
    async with session_factory() as session:
        assert await Store(session).get_user("telegram", pseudonym(SECRET, "telegram", "503")) is None
        for entity, left in (
            (User, 1),
            (Child, 1),
            (Conversation, 1),
            (Answer, 2),
            (Consent, 2),
            (Concern, 1),
            (ProcessedEvent, 2),  # event ids hold no personal data
        ):
            assert await count(session, entity) == left, entity.__name__
        assert len((await Store(session).user_data(other_id)).answers) == 2
    async with session_factory() as session, session.begin():
        assert (await Store(session).erase_user(user_id)).total == 0
