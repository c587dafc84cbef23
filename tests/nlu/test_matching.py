"""Reading a family's words as a command or as one of the buttons on screen, in sv, en and ar."""

from __future__ import annotations

from pathlib import Path

import pytest

from nlu import Lexicon, load_lexicon
from nlu.matching import CODE_INTENTS, COMMAND_INTENTS, DATA_DIR, Option

# What the family sees on a scale question (English labels; the codes are what counts).
SCALE = [
    Option("good", ("It goes well",)),
    Option("some_worries", ("Some worries",)),
    Option("worried", ("Worried",)),
    Option("dont_know", ("Don't know",)),
    Option("explain", ("Explain more",)),
    Option("skip", ("Skip",)),
]
YES_NO = [Option("yes", ("Yes, save my answers",)), Option("no", ("No, thank you",))]


# ---- commands -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, command",
    [
        ("/help", "help"),
        ("/help@SomeBot", "help"),
        ("/HELP", "help"),
        ("  /start  ", "start"),
        ("/start payload-from-a-link", "start"),
        ("/language", "language"),
        ("/pause", "pause"),
        ("/mydata", "mydata"),
        ("/delete", "delete"),
        ("/restart@hjulet_bot", "restart"),
    ],
)
def test_slash_commands(lexicon: Lexicon, text: str, command: str) -> None:
    assert lexicon.command(text) == command


@pytest.mark.parametrize("text", ["/", "/unknown", "/@SomeBot", "/helpme"])
def test_unknown_slash_commands_are_not_commands(lexicon: Lexicon, text: str) -> None:
    assert lexicon.command(text) is None


@pytest.mark.parametrize(
    "text, command",
    [
        ("hjälp", "help"),
        ("Hjälp!", "help"),
        ("byt språk", "language"),
        ("paus", "pause"),
        ("radera mina svar", "delete"),
        ("mina svar", "mydata"),
        ("börja om", "restart"),
        ("  HELP  ", "help"),
        ("change language", "language"),
        ("later", "pause"),
        ("delete my answers", "delete"),
        ("show my answers", "mydata"),
        ("start over", "restart"),
        ("مساعدة", "help"),
        ("تغيير اللغة", "language"),
        ("توقف", "pause"),
        ("احذف إجاباتي", "delete"),
        ("احذف اجاباتي", "delete"),  # written without the hamza
        ("اعرض إجاباتي", "mydata"),
        ("ابدأ من جديد", "restart"),
    ],
)
def test_a_whole_message_that_is_a_command_word_is_a_command(
    lexicon: Lexicon, text: str, command: str
) -> None:
    assert lexicon.command(text) == command


@pytest.mark.parametrize(
    "text",
    [
        "I need help with my child",
        "jag behöver hjälp med sömnen",
        "أحتاج مساعدة مع طفلي",
        "please don't delete my answers",
        "she says stop all the time",
        "yes",
        "",
    ],
)
def test_a_command_word_inside_a_sentence_is_not_a_command(lexicon: Lexicon, text: str) -> None:
    assert lexicon.command(text) is None


# ---- choices ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, code",
    [("1", "good"), ("2", "some_worries"), ("6", "skip"), (" 3. ", "worried"), ("٢", "some_worries")],
)
def test_a_number_picks_the_button_in_that_place(lexicon: Lexicon, text: str, code: str) -> None:
    assert lexicon.choose(text, SCALE) == code


@pytest.mark.parametrize("text", ["0", "7", "99"])
def test_a_number_without_a_button_picks_nothing(lexicon: Lexicon, text: str) -> None:
    assert lexicon.choose(text, SCALE) is None


@pytest.mark.parametrize(
    "text, code",
    [
        ("It goes well", "good"),
        ("it goes well!", "good"),
        ("WORRIED", "worried"),
        ("don't know", "dont_know"),
        ("some worries", "some_worries"),  # also the code, read as words
    ],
)
def test_the_label_itself_picks_its_button(lexicon: Lexicon, text: str, code: str) -> None:
    assert lexicon.choose(text, SCALE) == code


@pytest.mark.parametrize(
    "text, code",
    [
        ("det går bra", "good"),
        ("lite orolig", "some_worries"),
        ("jag är orolig", "worried"),
        ("vet inte", "dont_know"),
        ("förklara", "explain"),
        ("hoppa över", "skip"),
        ("not sure", "dont_know"),
        ("a bit worried", "some_worries"),
        ("no idea", "dont_know"),
        ("لا بأس", "good"),
        ("قلق جدا", "worried"),
        ("لا أعرف", "dont_know"),
        ("تخطي", "skip"),
    ],
)
def test_examples_from_the_data_pick_their_button(lexicon: Lexicon, text: str, code: str) -> None:
    assert lexicon.choose(text, SCALE) == code


@pytest.mark.parametrize(
    "text, code",
    [("ja", "yes"), ("okej", "yes"), ("yes please", "yes"), ("nej tack", "no"), ("نعم", "yes"), ("لا", "no")],
)
def test_yes_and_no_in_every_language(lexicon: Lexicon, text: str, code: str) -> None:
    assert lexicon.choose(text, YES_NO) == code


def test_the_same_words_mean_different_buttons_on_different_questions(lexicon: Lexicon) -> None:
    assert lexicon.choose("det går bra", YES_NO) == "yes"
    assert lexicon.choose("det går bra", SCALE) == "good"
    assert lexicon.choose("ja", SCALE) is None


@pytest.mark.parametrize("text, code", [("worrried", "worried"), ("Woried", "worried"), ("orolg", "worried")])
def test_a_small_typo_still_picks_the_button(lexicon: Lexicon, text: str, code: str) -> None:
    assert lexicon.choose(text, SCALE) == code


@pytest.mark.parametrize("text", ["banana", "my child likes trains", "حليب", "ja", "wor"])
def test_unrelated_words_pick_nothing(lexicon: Lexicon, text: str) -> None:
    assert lexicon.choose(text, SCALE) is None


@pytest.mark.parametrize("text", ["", "   ", "?!", "\x00"])
def test_nothing_picks_nothing(lexicon: Lexicon, text: str) -> None:
    assert lexicon.choose(text, SCALE) is None


def test_a_short_word_is_never_guessed(lexicon: Lexicon) -> None:
    # 'sur' (Swedish: grumpy) is one letter from 'sure'; a consent is not guessed from three letters
    assert lexicon.choose("sur", YES_NO) is None
    assert lexicon.choose("sure", YES_NO) == "yes"


def test_a_typo_close_to_two_buttons_picks_neither() -> None:
    options = [Option("pie", ("apple pie",)), Option("pin", ("apple pin",))]
    empty = Lexicon()

    assert empty.choose("apple pix", options) is None  # as close to both: ask again
    assert empty.choose("aple pie", options) == "pie"  # clearly one of them


@pytest.mark.parametrize("text", ["²", "①"])
def test_a_digit_like_character_never_crashes(lexicon: Lexicon, text: str) -> None:
    assert lexicon.choose(text, SCALE) in (None, "some_worries")


@pytest.mark.parametrize("text, wrong", [("not very worried", "worried"), ("inte orolig", "some_worries")])
def test_a_negated_worry_is_not_read_as_a_worry(lexicon: Lexicon, text: str, wrong: str) -> None:
    assert lexicon.choose(text, SCALE) != wrong


# ---- the data files -----------------------------------------------------------------------------


def test_every_language_has_examples_for_every_button_and_command(tmp_path: Path) -> None:
    paths = sorted(DATA_DIR.glob("*.yml"))
    assert {"ar", "en", "sv"} <= {path.stem for path in paths}  # and every other language there is
    for path in paths:
        alone = tmp_path / path.stem
        alone.mkdir()
        (alone / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
        one = load_lexicon(alone)
        for intent in {*CODE_INTENTS.values(), *COMMAND_INTENTS}:
            assert one.examples.get(intent), f"{path.name} has no examples for {intent}"


def test_load_lexicon_reads_intents_and_lookups(tmp_path: Path) -> None:
    (tmp_path / "xx.yml").write_text(
        'version: "3.1"\n'
        "nlu:\n"
        "- intent: affirm\n"
        "  examples: |\n"
        "    - Jo!\n"
        "    - jo då\n"
        "- lookup: skip\n"
        "  examples: |\n"
        "    - hoppa\n",
        encoding="utf-8",
    )
    (tmp_path / "notes.txt").write_text("not read", encoding="utf-8")

    lexicon = load_lexicon(tmp_path)

    assert lexicon.examples == {"affirm": {"jo", "jo da"}, "skip": {"hoppa"}}


@pytest.mark.parametrize(
    "document",
    [
        "nlu:\n- examples: |\n    - ja\n",  # no intent name
        "nlu:\n- intent: affirm\n  examples:\n    - ja\n",  # a list, not a block of text
    ],
    ids=["no name", "examples not a text block"],
)
def test_load_lexicon_rejects_a_malformed_file(tmp_path: Path, document: str) -> None:
    (tmp_path / "bad.yml").write_text(document, encoding="utf-8")

    with pytest.raises(ValueError, match=r"bad\.yml: every item needs a name and an examples block"):
        load_lexicon(tmp_path)


def test_load_lexicon_rejects_an_item_that_is_not_a_mapping(tmp_path: Path) -> None:
    (tmp_path / "bad.yml").write_text("nlu:\n- ja\n- nej\n", encoding="utf-8")

    with pytest.raises(ValueError, match=r"bad\.yml"):
        load_lexicon(tmp_path)
