"""`nlu.parse(text, lang_hint)`: one call gives language, intent and risk."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest

import nlu
from nlu import INTENTS, Parse, Understanding


@pytest.mark.parametrize(
    "text, intent",
    [
        ("hej hej", "greet"),
        ("good morning!", "greet"),
        ("مرحبا", "greet"),
        ("hur funkar det här", "help"),
        ("can we stop for today", "stop"),
        ("kan jag skriva på arabiska", "change_language"),
        ("I want to talk to a real person", "talk_to_person"),
        ("احذف كل بياناتي", "delete_data"),
        ("what do you mean by included", "explain"),
        ("ja absolut", "affirm"),
        ("no thanks", "deny"),
        ("vet inte riktigt", "dont_know"),
        ("it's going great", "rate_good"),
        ("lite orolig ibland", "rate_some_worries"),
        ("أنا قلقة جدا", "rate_worried"),
        ("she likes drawing horses", "other"),
    ],
)
def test_intents_in_sv_en_ar(understanding: Understanding, text: str, intent: str) -> None:
    result = understanding.parse(text)

    assert result.intent == intent
    assert 0.0 < result.intent_confidence <= 1.0


def test_the_result_has_every_field(understanding: Understanding) -> None:
    result = understanding.parse("  Han är rädd för att gå hem  ", lang_hint="sv")

    assert isinstance(result, Parse)
    assert result.text == "Han är rädd för att gå hem"
    assert (result.language, result.suggested_language) == ("sv", None)
    assert result.language_confidence > 0.9
    assert result.intent in INTENTS
    assert result.risk_level == "urgent"  # a pattern for violence: "rädd för att gå hem"
    assert result.risk_categories == ("violence",)


def test_to_json_has_exactly_the_command_line_keys(understanding: Understanding) -> None:
    payload = understanding.parse("jag vill dö").to_json()

    assert list(payload) == ["text", "language", "intent", "confidence", "risk_level", "risk_categories"]
    assert payload["risk_level"] == "urgent"
    assert payload["risk_categories"] == ["self_harm"]
    json.dumps(payload)


@pytest.mark.parametrize("text", ["", "   ", "\x00\x07"])
def test_an_empty_message_is_other_without_risk(understanding: Understanding, text: str) -> None:
    result = understanding.parse(text, lang_hint="ar")

    assert (result.intent, result.intent_confidence) == ("other", 0.0)
    assert (result.risk_level, result.language) == ("none", "ar")


def test_a_short_text_keeps_the_familys_language(understanding: Understanding) -> None:
    assert understanding.parse("ok", lang_hint="sv").language == "sv"
    assert understanding.parse("ok", lang_hint="ar").language == "ar"
    assert understanding.parse("ok", lang_hint="sv").suggested_language is None


def test_a_long_text_in_another_language_is_detected_and_suggested(understanding: Understanding) -> None:
    result = understanding.parse("I would like to answer in English please", lang_hint="sv")

    assert (result.language, result.suggested_language) == ("en", "en")


def test_a_dari_family_stays_dari(understanding: Understanding) -> None:
    result = understanding.parse("پسرم شب‌ها خوب می‌خوابد و غذا خوب می‌خورد", lang_hint="prs")

    assert (result.language, result.suggested_language) == ("prs", None)
    assert result.language_confidence > 0.9


def test_a_language_without_intent_examples_still_gets_intents(understanding: Understanding) -> None:
    # the embedding is multilingual: German has no examples at all
    result = understanding.parse("Guten Morgen, ich möchte mit einem Menschen sprechen")

    assert result.intent == "talk_to_person"


def test_the_module_level_parse_uses_the_shared_instance(understanding: Understanding) -> None:
    assert nlu.load() is understanding
    assert nlu.parse("he is unconscious").risk_level == "urgent"


def test_a_very_long_message_is_parsed(understanding: Understanding) -> None:
    result = understanding.parse("hon sover bra. " * 1000)

    assert result.risk_level == "none"
    assert len(result.text) <= nlu.MAX_TEXT


def test_parse_can_be_shared_between_threads(understanding: Understanding) -> None:
    texts = ["jag vill dö", "hej hej", "he is scared to go home", "مرحبا", "ingen mat hemma", "ok"] * 4
    alone = [understanding.parse(t) for t in texts]

    with ThreadPoolExecutor(max_workers=4) as pool:
        together = list(pool.map(understanding.parse, texts))

    assert [(r.intent, r.risk_level, r.language) for r in together] == [
        (r.intent, r.risk_level, r.language) for r in alone
    ]
