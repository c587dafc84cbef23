"""Consent, a family's own data, and erasure, on real databases."""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage import ChildRecord, ErasedCounts, NotFound, Store, pseudonym
from storage.desk import ConcernEvent
from storage.models import Answer, Base, Child, Concern, Consent, Conversation, ProcessedEvent, User, utcnow
from storage.retention import apply_retention, months_before

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


async def test_erasing_keeps_a_report_the_law_keeps_and_erases_the_rest(session_factory: Factory) -> None:
    """A danger signal in the first round's words (an urgent concern, its answers seen by the named
    person); a second round about another child. Only the report and what came with it stay."""
    user_id, child_id, conversation_id = await family(session_factory, "505")
    old_key = pseudonym(SECRET, "telegram", "505")
    async with session_factory() as session, session.begin():
        store = Store(session)
        (await store.get_user("telegram", old_key)).address = "505"  # type: ignore[union-attr]
        urgent = await store.raise_concern(
            user_id=user_id,
            child_id=child_id,
            conversation_id=conversation_id,
            kind="urgent",
            reason="danger_signal",
            priority="urgent",
            answers_shared=False,
        )
        session.add(ConcernEvent(concern_id=urgent.id, kind="signal", body="aabbe ayaa garaaca", data={}))
        second_child = await store.create_child(user_id)
        await store.update_child(second_child.id, name="Ayaan")
        second = await store.create_conversation(user_id, "mapping", "so", {}, child_id=second_child.id)
        await store.upsert_answer(
            conversation_id=second.id,
            child_id=second_child.id,
            indicator="safe",
            question_id="safe_1",
            code="good",
            language="so",
        )
        await store.record_consent(
            user_id=user_id,
            child_id=second_child.id,
            scope="store",
            given=True,
            text_version="v2",
            language="so",
        )
        urgent_id = urgent.id

    async with session_factory() as session, session.begin():
        counts = await Store(session).erase_user(user_id)

    # gone: the second child, its round and answer, the ordinary concern. Kept: the report, the two
    # answers the named person saw with it, the three consents (withdrawn)
    assert counts == ErasedCounts(
        children=1,
        answers=1,
        consents=0,
        concerns=1,
        conversations=1,
        kept_concerns=1,
        kept_answers=2,
        kept_consents=3,
    )
    async with session_factory() as session:
        assert await Store(session).get_user("telegram", old_key) is None  # never found by the chat again
        user = await session.get(User, user_id)
        assert user is not None and (user.channel, user.address, user.language) == ("erased", None, None)
        assert [c.id for c in await session.scalars(select(Concern))] == [urgent_id]
        events = list(await session.scalars(select(ConcernEvent).where(ConcernEvent.concern_id == urgent_id)))
        assert [e.body for e in events] == ["aabbe ayaa garaaca"]
        assert [(c.name, c.age_years) for c in await session.scalars(select(Child))] == [("Hodan", 2)]
        conversation = await session.get(Conversation, conversation_id)
        assert conversation is not None and (conversation.state, conversation.status) == ({}, "done")
        answers = list(await session.scalars(select(Answer).order_by(Answer.id)))
        assert [(a.question_id, a.free_text) for a in answers] == [
            ("safe_1", None),
            ("healthy_1", "Wuu qufacayaa"),
        ]
        consents = list(await session.scalars(select(Consent)))
        assert len(consents) == 3 and all(c.withdrawn_at is not None for c in consents)
        assert sorted(c.child_id or 0 for c in consents) == [
            0,
            child_id,
            child_id,
        ]  # detached from the gone child

    # five years after the case is closed, retention takes the rest
    async with session_factory() as session, session.begin():
        await session.execute(update(Concern).values(status="closed", closed_at=months_before(utcnow(), 61)))
    deleted = await apply_retention(session_factory, now=months_before(utcnow(), -13))
    assert (deleted["concerns_kept_by_law"], deleted["answers"], deleted["families"]) == (1, 2, 1)
    async with session_factory() as session:
        for entity in (User, Child, Conversation, Answer, Consent, Concern, ConcernEvent):
            assert await count(session, entity) == 0, entity.__name__


async def test_a_report_kept_without_its_answers_keeps_no_name(session_factory: Factory) -> None:
    """An urgent worry the family chose not to share: the named person saw neither the answers nor
    the child's name, so neither stays."""
    user_id, child_id, _conversation_id = await family(session_factory, "506")
    async with session_factory() as session, session.begin():
        await session.execute(update(Concern).values(priority="urgent", answers_shared=False))

    async with session_factory() as session, session.begin():
        counts = await Store(session).erase_user(user_id)

    assert counts == ErasedCounts(
        children=0, answers=2, consents=0, concerns=0, conversations=1, kept_concerns=1, kept_consents=2
    )
    async with session_factory() as session:
        assert [(c.name, c.age_years, c.unit_text) for c in await session.scalars(select(Child))] == [
            (None, 2, "BVC Teleborg")
        ]
        (concern,) = await session.scalars(select(Concern))
        assert (concern.child_id, concern.conversation_id) == (child_id, None)
        assert await count(session, Conversation) == 0
