"""A child in danger must never be missed: the real patterns and the real examples, as families write."""

from __future__ import annotations

import pytest

from nlu import Understanding


@pytest.mark.parametrize(
    "text, category",
    [
        ("he is scared to go home", "violence"),  # indirect: no violent word at all
        ("no food in the house since friday", "neglect"),
        ("min pappa slår mig", "violence"),
        ("my husband slår mig when he is drunk", "violence"),  # mixed languages
        ("زوجي يضربني قدام الاولاد", "violence"),
        ("he cant brethe", "acute_medical"),  # no apostrophe, a typo
        ("hon andas inte", "acute_medical"),
        ("i want to die", "self_harm"),
        ("jag vill inte leva längre", "self_harm"),
        ("ما بدي عيش", "self_harm"),
        ("the neighbour touched her private parts", "sexual_abuse"),
        ("han sa att han ska döda oss", "threat"),
        ("i cant cope anymore with the kids", "caregiver_crisis"),
        ("wiilkaygu wuxuu liqay kiniinno", "acute_medical"),
        ("батько його б'є", "violence"),
        ("kocam beni dövüyor", "violence"),
    ],
)
def test_risks_are_found_with_their_category(understanding: Understanding, text: str, category: str) -> None:
    result = understanding.parse(text)

    assert result.risk_level != "none"
    assert category in result.risk_categories


@pytest.mark.parametrize(
    "text",
    [
        "my son was scared of the dog at the park",
        "he hits the ball hard",
        "we are dying to start preschool",
        "han slår hårt på bollen",
        "she sleeps well and eats well",
        "vi längtar ihjäl oss efter förskolan",
        "يضرب الكرة بقوة",
        "det går bra",
        "yes",
        "hej",
    ],
)
def test_everyday_words_that_look_alarming_raise_nothing(understanding: Understanding, text: str) -> None:
    result = understanding.parse(text)

    assert (result.risk_level, result.risk_categories) == ("none", ())


@pytest.mark.parametrize(
    "text",
    [
        "he is unconscious",
        "my boyfriend choked me",
        "she cuts herself",
        "he has a knife and says he will kill us",
    ],
)
def test_acute_danger_is_urgent(understanding: Understanding, text: str) -> None:
    assert understanding.parse(text).risk_level == "urgent"


@pytest.mark.parametrize("text", ["we are being evicted next week", "jag är så deprimerad"])
def test_a_worry_that_is_not_acute_is_a_concern(understanding: Understanding, text: str) -> None:
    assert understanding.parse(text).risk_level == "concern"


def test_a_child_left_alone_right_now_is_urgent(understanding: Understanding) -> None:
    assert understanding.parse("the kids are home alone right now").risk_level == "urgent"
    assert understanding.parse("barnen är ensamma hemma hela dagen").risk_level == "urgent"


def test_a_typo_that_makes_a_harmless_word_alarming_needs_the_examples_to_agree(
    understanding: Understanding,
) -> None:
    cooking = understanding.parse("not now, I'm cooking")  # one letter from "choking"

    assert cooking.risk_level == "none"
    assert understanding.parse("he is chocking on a toy").risk_level == "urgent"


def test_a_risk_at_the_end_of_a_long_message_is_found(understanding: Understanding) -> None:
    story = (
        "We moved here two years ago and my daughter started preschool last autumn. She likes "
        "drawing and playing outside with her friends, and she sleeps quite well most nights. "
        "Her grandmother visits us on Sundays and they bake together. "
    ) * 3 + "But I have to tell you that her stepfather touches her at night and she is afraid."

    result = understanding.parse(story)

    assert result.risk_level != "none"
    assert "sexual_abuse" in result.risk_categories


def test_the_assessment_says_why(understanding: Understanding) -> None:
    risk = understanding.parse("min pappa slår mig").risk

    assert any(s.category == "violence" and s.language == "sv" for s in risk.signals)
    assert risk.margins["violence"] > risk.margins["acute_medical"]
