"""Suggested wellbeing indicators for a professional's description (the named person confirms them)."""

from __future__ import annotations

import pytest

from nlu.indicators import INDICATORS, IndicatorSuggester

# Written apart from nlu/data/indicators/examples.yml: (description, the part or parts it concerns).
CASES = {
    "Hon kommer ofta hungrig och utan ytterkläder på vintern": "nurtured",
    "He told me his father beats him when he is drunk": "safe",
    "Pojken leker aldrig med de andra barnen och sitter ensam": "active|included",
    "She does not speak at all, only points": "achieving",
    "Barnet blir retat och utestängt av de andra barnen": "included",
    "Han har inte varit hos tandläkaren på två år och har hål i tänderna": "healthy",
    "The mother says she cannot cope and cries every day when she picks him up": "nurtured",
    "Hon slår de andra barnen och river sönder deras saker": "responsible",
    "Ingen vuxen frågar henne vad hon vill, hon får aldrig bestämma något": "respected",
    "He is far behind with words and numbers for his age": "achieving",
    "Barnet har berättat att mamma låser in henne i ett rum": "safe",
    "The family has just arrived and knows nobody in town": "included",
}


@pytest.fixture(scope="module")
def suggester(understanding) -> IndicatorSuggester:
    return IndicatorSuggester(understanding.encoder)


def test_the_intended_part_is_among_the_first_two_suggestions(suggester) -> None:
    hits = [
        text for text, wanted in CASES.items() if set(wanted.split("|")) & set(suggester.suggest(text)[:2])
    ]

    assert len(hits) >= 9, sorted(set(CASES) - set(hits))  # measured: 10 of 12


def test_suggestions_are_indicator_codes_and_nothing_for_nothing(suggester, understanding) -> None:
    text = "Han säger att pappa slår honom"
    found = suggester.suggest(text, understanding.parse(text, "sv").risk)

    assert found and set(found) <= set(INDICATORS) and "safe" in found
    assert suggester.suggest("   ") == ()
