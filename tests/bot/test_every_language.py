"""The whole mapping conversation in each of the fourteen languages: same buttons, same stored codes.

A parent presses the buttons (codes never change with the language) and writes one comment in
their own words. Every message they read is translated (no English left where a translation
belongs), has no unfilled placeholder, and in right-to-left languages is marked right-to-left.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from sqlalchemy import text

from bot.i18n import RTL_LANGUAGES, Catalogs
from bot.service import ConversationService, IncomingMessage
from bot.settings import SUPPORTED_LANGUAGES, load_settings
from bot.wiring import build_engine
from flows.events import Msg
from flows.wellbeing import INDICATORS, Indicator
from nlu import load_lexicon

pytestmark = pytest.mark.slow
PLAN = ["good", "some_worries", "worried", "dont_know", "good", "skip"]  # answers in turn
COMMENT = {"en": "she wakes up every night", "sv": "hon vaknar varje natt", "ar": "تستيقظ كل ليلة"}


@pytest.fixture
def service(session_factory, tmp_path: Path) -> ConversationService:
    settings = load_settings(data_dir=tmp_path, default_language="sv")
    return ConversationService(
        settings,
        session_factory,
        build_engine(settings),
        Catalogs(settings.locales_dir),
        load_lexicon(),
        b"k" * 32,
    )


def english_texts() -> set[str]:
    """Every English family text of some length (a translated reply must not be one of them)."""
    with open(Path(__file__).resolve().parents[2] / "locales/en/LC_MESSAGES/family.po", "rb") as handle:
        catalog = read_po(handle)
    return {m.id for m in catalog if isinstance(m.id, str) and len(m.id) > 12 and "{" not in m.id}


async def converse(service: ConversationService, lang: str) -> list:
    """Go through the mapping conversation; return every reply the parent read."""
    user, seen, turn = f"parent-{lang}", [], 0

    async def send(**fields) -> list:
        replies = await service.handle(
            IncomingMessage(channel="web", user_id=user, language_hint="en", **fields)
        )
        seen.extend(r for r in replies if r.kind == "message")
        return [r for r in replies if r.kind == "message"]

    replies = await send(start=True)
    replies = await send(choice=lang)  # the language buttons' codes
    seen[:] = replies  # before the choice, the parent read the language of the hint (English)
    for code in ("yes", "yes", "skip"):  # store, share, no name
        replies = await send(choice=code)
    replies = await send(text="3")  # the child's age, in digits
    replies = await send(choice="skip")  # no unit named
    explained = False
    for _ in range(80):
        codes = [code for code, _ in replies[-1].buttons] if replies and replies[-1].buttons else []
        if "good" in codes:  # a wellbeing question
            if not explained:  # "What does it mean?" once: the indicator's definition
                explained = True
                replies = await send(choice="explain")
                continue
            replies = await send(choice=PLAN[turn % len(PLAN)])
            turn += 1
        elif codes == ["skip"]:  # "tell us more?" after a worry
            replies = await send(text=COMMENT.get(lang, "the child sleeps badly"))
        elif "no" in codes:  # "do you want to talk to someone?"
            replies = await send(choice="no")
        else:
            break
    return seen


@pytest.mark.parametrize("lang", SUPPORTED_LANGUAGES)
async def test_the_whole_mapping_conversation_in_every_language(service, session_factory, lang: str) -> None:
    seen = await converse(service, lang)

    async with session_factory() as session:
        stored = (
            await session.execute(text("select question_id, code from answers order by question_id"))
        ).all()
    codes = dict(stored)
    assert len(codes) == 18  # every wellbeing question answered or skipped
    assert list(codes.values()).count("worried") == 3
    assert set(codes.values()) == {"good", "some_worries", "worried", "dont_know", "skipped"}
    definition = Catalogs(service.settings.locales_dir).render(Msg(INDICATORS[Indicator.SAFE].meaning), lang)
    assert definition in [reply.text for reply in seen]  # "What does it mean?" answered in the language
    english = english_texts() if lang != "en" else set()
    for reply in seen:
        assert reply.text.strip() and not re.search(r"\{\w*\}", reply.text), reply.text
        assert reply.text not in english, f"untranslated in {lang}: {reply.text!r}"
        assert reply.rtl == (lang in RTL_LANGUAGES)
        assert all(label.strip() and label not in english for _, label in reply.buttons)


async def test_more_languages_then_a_typed_language_name(service) -> None:
    async def say(**fields) -> list:
        return await service.handle(IncomingMessage(channel="web", user_id="p", language_hint="en", **fields))

    first = await say(start=True)
    shown = [code for code, _ in first[-1].buttons]
    assert shown[0] == "en" and shown[-1] == "more_languages" and len(shown) < len(SUPPORTED_LANGUAGES)

    everything = await say(text="more languages")  # typed, as the button reads
    assert [code for code, _ in everything[-1].buttons] == [
        "en",
        *[c for c in SUPPORTED_LANGUAGES if c != "en"],
    ]

    turkish = await say(text="Türkçe")  # each language under its own name
    assert "Cevaplarınızı kaydedebilir miyiz?" in turkish[-1].text
