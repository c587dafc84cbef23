"""The keyword and pattern layer of the safety net: folding, typos, stems, phrases, regexes."""

from __future__ import annotations

import pytest

from nlu.examples import LANGUAGES, Item, risk_patterns
from nlu.patterns import Patterns, fold, fold_pattern, within_one_edit


def patterns(*items: tuple[str, str, tuple[str, ...]]) -> Patterns:
    return Patterns(Item(kind, name, "xx", examples) for kind, name, examples in items)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "text, key",
    [
        ("Han SLÅR mig!", "han slar mig"),
        ("he can't breathe", "he cant breathe"),  # apostrophes go, so "cant" and "can't" are one
        ("б'є його", "бє иого"),  # й loses its breve like any diacritic
        ("می‌خواهم بمیرم", "مي خواهم بميرم"),  # ZWNJ splits, Persian yeh folds to Arabic yeh
        ("ناتوانێت", "ناتوانيت"),  # Sorani letters fold to their Arabic look-alikes
        ("dayanamıyorum", "dayanamiyorum"),  # Turkish dotless i
        ("połknął", "polknal"),
        ("đak", "dak"),
    ],
)
def test_fold_gives_one_key_for_the_ways_people_type(text: str, key: str) -> None:
    assert fold(text) == key


def test_fold_pattern_folds_letters_but_keeps_regex_escapes() -> None:
    assert fold_pattern(r"Sl[aå]r (\w+ )?MIG\b") == r"sl[aa]r (\w+ )?mig\b"
    assert fold_pattern(r"\W\S\D") == r"\W\S\D"


@pytest.mark.parametrize(
    "a, b, near",
    [
        ("breathe", "breathe", True),
        ("breathe", "breath", True),  # one dropped
        ("breathe", "brreathe", True),  # one added
        ("breathe", "braathe", True),  # one changed
        ("breathe", "braethe", True),  # two swapped
        ("breathe", "bretahe", True),
        ("breathe", "brxxthe", False),
        ("breathe", "breathed!", False),
        ("abc", "cab", False),
    ],
)
def test_within_one_edit(a: str, b: str, near: bool) -> None:
    assert within_one_edit(a, b) is near
    assert within_one_edit(b, a) is near


def test_a_keyword_matches_as_a_whole_word_and_with_one_typo() -> None:
    layer = patterns(("lookup", "acute_medical", ("unconscious",)))

    assert [s.found for s in layer.find("she is UNCONSCIOUS!")] == ["unconscious"]
    typo = layer.find("she is unconsious")
    assert [(s.category, s.typo) for s in typo] == [("acute_medical", True)]
    assert layer.find("she is conscious") == []  # the first letter must be right
    assert layer.find("unconsciousness") == []  # whole words only (use a * for endings)


def test_short_keywords_need_the_exact_word() -> None:
    layer = patterns(("lookup", "violence", ("slår mig",)))

    assert layer.find("pappa slår mig") != []
    assert layer.find("pappa slar mig") != []  # missing diacritics are not a typo
    assert layer.find("pappa slåt mig") == []  # four letters: too short to forgive a typo


def test_a_star_matches_any_ending_and_a_typo_in_the_stem() -> None:
    layer = patterns(("lookup", "violence", ("misshandl*",)))

    assert layer.find("han misshandlade henne")[0].typo is False
    assert layer.find("han mishandlar henne")[0].typo is True
    assert layer.find("han handlar mat") == []


def test_a_phrase_needs_its_words_in_order() -> None:
    layer = patterns(("lookup", "neglect", ("no food",)))

    assert layer.find("there is no food at home") != []
    assert layer.find("food, no") == []
    assert layer.find("no") == []


def test_a_regex_matches_whole_words_of_the_folded_text() -> None:
    layer = patterns(("regex", "violence", (r"(hits|kicks) (me|him|her)",)))

    assert [s.found for s in layer.find("Dad HITS him.")] == ["hits him"]
    assert layer.find("he kicks the ball") == []
    assert layer.find("dad hits himself") == []  # no match inside a longer word


def test_a_now_pattern_is_urgent_and_keeps_its_category() -> None:
    layer = patterns(("regex", "neglect_now", ("home alone",)), ("lookup", "neglect", ("no food",)))

    found = {(s.category, s.urgent) for s in layer.find("home alone and no food")}

    assert found == {("neglect", True), ("neglect", False)}


def test_an_unknown_pattern_name_is_refused() -> None:
    with pytest.raises(ValueError, match=r"risk/xx\.yml: unknown risk pattern name 'danger'"):
        patterns(("lookup", "danger", ("knife",)))


def test_a_broken_regex_is_refused_with_its_file() -> None:
    with pytest.raises(ValueError, match=r"risk/xx\.yml: bad regex '\(hits'"):
        patterns(("regex", "violence", ("(hits",)))


def test_every_language_has_patterns_and_they_all_compile() -> None:
    items = risk_patterns()

    assert {item.language for item in items} == set(LANGUAGES)
    Patterns(items)  # raises on a bad regex or name


@pytest.mark.parametrize(
    "text, category",
    [
        ("pappa slår mig", "violence"),
        ("my husband beats me", "violence"),
        ("زوجي يضربني", "violence"),
        ("she cuts herself", "self_harm"),
        ("jag vill dö", "self_harm"),
        ("he cant breathe", "acute_medical"),
        ("han kan inte andas", "acute_medical"),
        ("ما يقدر يتنفس", "acute_medical"),
        ("ingen mat hemma", "neglect"),
        ("he said he will kill us", "threat"),
        ("jag orkar inte mer", "caregiver_crisis"),
        ("my uncle raped her", "sexual_abuse"),
        ("kocam beni dövüyor", "violence"),
        ("ez dixwazim bimirim", "self_harm"),
    ],
)
def test_the_real_patterns_find_plain_statements(text: str, category: str) -> None:
    assert category in {s.category for s in Patterns(risk_patterns()).find(text)}


@pytest.mark.parametrize(
    "text",
    [
        "he hits the ball hard",
        "we have no car but we take the bus",  # Polish "bił" folds to "bil", Swedish for car
        "jag är ensam hemma med barnen på tisdagar",  # a parent at home with the children
        "i am home alone with the kids today",
        "he likes monster trucks that crash",
        "hon ramlade av cykeln och skrapade knät",
    ],
)
def test_the_real_patterns_leave_everyday_sentences_alone(text: str) -> None:
    assert [s for s in Patterns(risk_patterns()).find(text) if not s.typo] == []
