"""The whole mapping conversation in each of the fourteen languages, through the console channel:
the same numbers typed, the same codes stored.

A parent types the numbers of the choices (the same in every language) and writes comments in
their own words. Every message they read is translated (no English left where a translation
belongs), has no unfilled placeholder, and in right-to-left languages is marked right-to-left.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from sqlalchemy import text

from bot.console import Console
from bot.i18n import RTL_LANGUAGES, Catalogs
from bot.service import ConversationService, IncomingMessage, OutgoingReply
from bot.settings import SUPPORTED_LANGUAGES, load_settings
from bot.wiring import build_engine
from flows.events import Msg
from flows.loader import load_flows
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


class Family(Console):
    """The console channel, typed into line by line as a parent would; keeps what it showed."""

    def __init__(self, service: ConversationService, lang: str) -> None:
        super().__init__(service, f"parent-{lang}", "en", stdin=io.StringIO(), stdout=io.StringIO())
        self.seen: list[OutgoingReply] = []

    def show(self, replies: list[OutgoingReply]) -> None:
        self.seen.extend(r for r in replies if r.kind == "message")
        super().show(replies)

    async def type(self, line: str) -> None:
        """One line at the prompt, as `Console.run` reads it: a number picks a shown choice."""
        code = self.choice_for(line)
        await (self.send(choice=code) if code is not None else self.send(text=line))

    async def press(self, code: str) -> None:
        """Type the number of the button with this code (the numbers are the same in every language)."""
        shown = self.buttons or self.seen[-1].buttons  # where words are welcome the service reads numbers
        await self.type(str([c for c, _ in shown].index(code) + 1))

    @property
    def codes(self) -> list[str]:
        return [code for code, _ in self.buttons]


async def converse(service: ConversationService, lang: str) -> list[OutgoingReply]:
    """Go through the mapping conversation in the console; return every reply the parent read."""
    family = Family(service, lang)
    await family.send(start=True)
    if lang not in family.codes:
        await family.press("more_languages")
    await family.press(lang)
    family.seen.clear()  # before the choice, the parent read the language of the hint (English)
    await family.press("yes")  # may we save your answers?
    await family.press("yes")  # may we share them with the named person?
    await family.type("Ali")  # the child's name
    await family.type("3")  # the child's age, in digits
    await family.press("skip")  # no unit named
    explained, turn = False, 0
    for _ in range(80):
        if "good" in family.codes:  # a wellbeing question
            if not explained:  # "What does it mean?" once: the indicator's definition
                explained = True
                await family.press("explain")
                continue
            await family.press(PLAN[turn % len(PLAN)])
            turn += 1
        elif family.seen[-1].accepts_text and [c for c, _ in family.seen[-1].buttons] == [
            "skip"
        ]:  # tell us more?
            await family.type(COMMENT.get(lang, "the child sleeps badly"))
        elif "no" in family.codes:  # "do you want to talk to someone?"
            await family.press("no")
        else:
            break
    return family.seen


@pytest.mark.parametrize("lang", SUPPORTED_LANGUAGES)
async def test_the_whole_mapping_conversation_in_every_language(service, session_factory, lang: str) -> None:
    seen = await converse(service, lang)

    async with session_factory() as session:
        stored = (
            await session.execute(text("select question_id, code from answers order by question_id"))
        ).all()
    questions = [step.id for step in load_flows()["mapping"].steps if step.kind == "scale"]
    expected = {q: PLAN[i % len(PLAN)].replace("skip", "skipped") for i, q in enumerate(questions)}
    assert dict(stored) == expected  # the same codes, whatever the language
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
