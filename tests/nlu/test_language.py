"""Which supported language a text is in, and when to suggest a switch (never for a few letters)."""

from __future__ import annotations

import pytest

from nlu import LANGUAGES, LanguageDetector


@pytest.fixture(scope="module")
def detector() -> LanguageDetector:
    return LanguageDetector()


@pytest.mark.parametrize(
    "text, code",
    [
        ("Min son är rädd för att gå hem på kvällarna", "sv"),
        ("My son is afraid to go home in the evenings", "en"),
        ("ابني خائف من العودة إلى البيت في المساء", "ar"),
        ("Wiilkaygu wuu ka baqayaa inuu guriga aado", "so"),
        ("پسرم می‌ترسد عصرها به خانه برود", "fa"),
        ("ወደይ ናብ ገዛ ክኸይድ ይፈርህ", "ti"),
        ("Мій син боїться йти додому ввечері", "uk"),
        ("Mój syn boi się wracać wieczorem do domu", "pl"),
        ("Moj sin se boji ići kući navečer", "bs"),
        ("Мој син се плаши да иде кући", "bs"),  # Serbian in Cyrillic counts as bs
        ("کوڕەکەم دەترسێت بچێتەوە ماڵەوە", "ckb"),
        ("Kurê min ditirse ku êvarê biçe malê", "kmr"),
        ("Poikani pelkää mennä kotiin illalla", "fi"),
        ("Oğlum akşamları eve gitmekten korkuyor", "tr"),
    ],
)
def test_each_supported_language_is_recognised(detector: LanguageDetector, text: str, code: str) -> None:
    guess = detector.detect(text)

    assert guess.code == code
    assert guess.confidence > 0.9
    assert guess.code in LANGUAGES


def test_dari_comes_back_as_persian(detector: LanguageDetector) -> None:
    assert detector.detect("بچیم از رفتن به خانه می‌ترسد و شب‌ها گریه می‌کند").code == "fa"


@pytest.mark.parametrize("text", ["", "   ", "123", "😊👍", "?!"])
def test_no_letters_no_language(detector: LanguageDetector, text: str) -> None:
    assert detector.detect(text).code is None
    assert detector.suggest(text, "sv") is None


@pytest.mark.parametrize("text", ["ok", "hej", "tack", "yes", "نعم", "ja tack", "hej hej"])
def test_very_short_texts_never_suggest_a_switch(detector: LanguageDetector, text: str) -> None:
    assert detector.suggest(text, "ar") is None


def test_a_long_enough_text_in_another_language_suggests_it(detector: LanguageDetector) -> None:
    assert detector.suggest("I would rather write in English, please", "sv") == "en"
    assert detector.suggest("أريد أن أكتب باللغة العربية من فضلك", "sv") == "ar"


def test_the_families_own_language_is_not_suggested(detector: LanguageDetector) -> None:
    assert detector.suggest("I would rather write in English, please", "en") is None
    assert detector.suggest("I would rather write in English, please", None) == "en"


def test_a_dari_family_is_not_asked_to_switch_to_persian(detector: LanguageDetector) -> None:
    text = "پسرم می‌ترسد عصرها به خانه برود"

    assert detector.suggest(text, "prs") is None
    assert detector.suggest(text, "fa") is None
    assert detector.suggest(text, "sv") == "fa"


@pytest.mark.parametrize(
    "text", ["hej hello salam tack", "mama papa baby hotel taxi", "Ahmed Mohamed Ali Hassan"]
)
def test_an_unsure_guess_suggests_nothing(detector: LanguageDetector, text: str) -> None:
    # long enough, but no language stands out: names, loanwords, greetings in several languages
    assert detector.detect(text).confidence < 0.9
    assert detector.suggest(text, "ar") is None
