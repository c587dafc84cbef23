"""Bugs the property tests found, kept as plain stories. Each failed before its fix."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import text

from bot.i18n import Catalogs
from bot.service import KEPT_BEFORE, ConversationService, IncomingMessage
from bot.settings import load_settings
from bot.wiring import build_engine
from flows import events as ev
from flows.engine import FINISHED, LANG_PREFIX
from nlu import MAX_TEXT, clean, load_lexicon
from storage import Answer


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
    return IncomingMessage(channel="web", user_id="u1", language_hint="en", **fields)


async def rows(session_factory, sql: str) -> list[tuple]:
    async with session_factory() as session:
        return [tuple(r) for r in (await session.execute(text(sql))).all()]


async def answers(session_factory) -> list[tuple]:
    """Through the models, so the family's own words are read decrypted."""
    query = sa.select(Answer.question_id, Answer.code, Answer.free_text).order_by(Answer.id)
    async with session_factory() as session:
        return [tuple(r) for r in (await session.execute(query)).all()]


async def answer_two_questions(service: ConversationService) -> None:
    for fields in (
        {"start": True},
        {"choice": "en"},
        {"choice": "yes"},  # save my answers
        {"choice": "no"},  # do not share
        {"choice": "skip"},  # no name
        {"text": "4"},
        {"choice": "skip"},  # no unit
        {"choice": "good"},
        {"choice": "some_worries"},
        {"text": "she is shy"},
    ):
        await service.handle(msg(**fields))


async def test_saying_no_to_saving_a_new_round_keeps_the_answers_of_the_first(
    service, session_factory
) -> None:
    """Found by the state machine: after /restart ("The answers you gave stay saved"), "No, thank you"
    to saving the new round erased every earlier answer, and said "We have not saved anything"."""
    await answer_two_questions(service)
    await service.handle(msg(text="/restart"))
    await service.handle(msg(choice="yes", question=("restart", "confirm")))
    await service.handle(msg(choice="en", question=("language", "pick")))
    replies = await service.handle(msg(choice="no", question=("mapping", "consent_store")))

    assert await answers(session_factory) == [
        ("safe_home", "good", None),
        ("safe_comfort", "some_worries", "she is shy"),
    ]
    assert replies[-1].text == KEPT_BEFORE  # the family is told what stays, and how to delete it
    assert await rows(session_factory, "select count(*) from consents where scope = 'store'") == [(1,)]
    # and the conversation goes on: the next words begin the new round again
    again = await service.handle(msg(text="hello"))
    assert again[-1].step == "pick"


async def test_saying_no_before_anything_was_saved_still_leaves_no_trace(service, session_factory) -> None:
    await service.handle(msg(start=True))
    await service.handle(msg(choice="en"))
    replies = await service.handle(msg(choice="no", question=("mapping", "consent_store")))

    assert all(r.text != KEPT_BEFORE for r in replies)
    for table in ("users", "conversations", "answers", "consents"):
        assert await rows(session_factory, f"select count(*) from {table}") == [(0,)], table


async def test_an_old_button_after_deleting_everything_stores_nothing(service, session_factory) -> None:
    """Found by the state machine: a press on a keyboard from before /delete made a new user and
    conversation (and said "You have already answered that question")."""
    await answer_two_questions(service)
    await service.handle(msg(text="/delete"))
    await service.handle(msg(choice="yes", question=("delete", "confirm")))
    assert await rows(session_factory, "select count(*) from users") == [(0,)]

    replies = await service.handle(msg(choice="good", question=("mapping", "healthy_sleep")))

    assert [r.kind for r in replies] == ["notice"]
    for table in ("users", "conversations", "answers"):
        assert await rows(session_factory, f"select count(*) from {table}") == [(0,)], table


def test_a_language_button_after_the_end_gets_an_answer(tmp_path: Path) -> None:
    """Found by the state machine: a "use Polish?" button pressed when the conversation had ended
    (the professional part, say) switched the language and said nothing at all."""
    engine = build_engine(load_settings(data_dir=tmp_path))
    state = engine.new_state("sv")
    state.started, state.finished, state.stack = True, True, []

    outcome = engine.handle(state, ev.Choice(f"{LANG_PREFIX}pl"))

    assert outcome.state.lang == "pl" and ev.SetLanguage("pl") in outcome.effects
    assert [r.text.id for r in outcome.replies] == [FINISHED]
    assert outcome.state.stack == [] and outcome.state.finished


def test_a_language_button_after_a_declined_round_begins_it_again(tmp_path: Path) -> None:
    engine = build_engine(load_settings(data_dir=tmp_path))
    state = engine.new_state("sv")
    state.stack = []  # what "No, thank you" leaves when earlier answers are kept

    outcome = engine.handle(state, ev.Choice(f"{LANG_PREFIX}ar"))

    assert outcome.state.started and outcome.state.frame is not None
    assert outcome.replies[-1].step == engine.expecting(outcome.state).step


def test_clean_text_is_clean() -> None:
    """Found by the NLU fuzzer: a message cut at MAX_TEXT just after a space kept that space, so
    clean() of a cleaned text was not the same text."""
    cut_at_a_space = "a" * (MAX_TEXT - 1) + " bc"
    assert clean(cut_at_a_space) == "a" * (MAX_TEXT - 1)
    assert clean(clean(cut_at_a_space)) == clean(cut_at_a_space)
