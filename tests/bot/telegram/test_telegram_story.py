"""Stories in Telegram: a parent goes through the mapping conversation by pressing buttons and typing.

The real aiogram client and our polling loop and sender talk over HTTP to a fake Bot API server.
"""

from __future__ import annotations

import copy

import pytest

from bot.i18n import FSI, PDI
from flows.loader import load_flows
from tests.bot.telegram.conftest import RunningBot
from tests.bot.telegram.fakeapi import Phone

pytestmark = pytest.mark.slow

WHEEL = 18  # scale questions in the mapping flow
LANGUAGE_NAMES = {"sv": "Svenska", "en": "English", "ar": "العربية"}


async def press(bot: RunningBot, phone: Phone, message_id: str, lang: str) -> None:
    await phone.press(bot.label(message_id, lang))
    await bot.settle()


async def say(bot: RunningBot, phone: Phone, text: str) -> None:
    await phone.say(text)
    await bot.settle()


async def through_consent(bot: RunningBot, phone: Phone, lang: str, name: str | None = None) -> None:
    """/start, the language, both consents, the child; ends on the first wheel question."""
    await say(bot, phone, "/start")
    await phone.press(LANGUAGE_NAMES[lang])
    await bot.settle()
    await press(bot, phone, "Yes, save my answers", lang)
    await press(bot, phone, "Yes, share my answers", lang)
    if name:
        await say(bot, phone, name)
    else:
        await press(bot, phone, "Skip", lang)
    await say(bot, phone, "3")
    await press(bot, phone, "Skip", lang)  # preschool or BVC


@pytest.mark.parametrize("lang", ["sv", "ar"])
async def test_a_parent_completes_the_mapping_by_pressing_buttons(
    telegram_bot: RunningBot, lang: str
) -> None:
    bot = telegram_bot
    phone = bot.phone(1001, lang)

    await through_consent(bot, phone, lang, name="Ali")
    for number in range(WHEEL):
        await press(bot, phone, "Worried" if number == 2 else "It goes well", lang)
        if number == 2:
            await press(bot, phone, "Skip", lang)  # no comment
    await press(bot, phone, "No, not now", lang)

    answers = await bot.rows("select question_id, code, language from answers order by id")
    assert len(answers) == WHEEL
    assert answers[2] == ("healthy_sleep", "worried", lang)
    assert {code for _, code, _ in answers} == {"good", "worried"}  # codes, never translated text
    assert await bot.rows("select kind, priority from concerns") == [("concern", "normal")]
    assert await bot.rows("select scope, given, language from consents order by id") == [
        ("store", True, lang),
        ("share", True, lang),
    ]
    sent_text = bot.label(
        "We have sent your answers to the named person. They will contact you within 3 working days.", lang
    )
    assert sent_text in phone.texts  # what happens next
    pressed = [m for m in phone.inbox if m.edits]
    assert len(pressed) >= WHEEL and all(m.keyboard is None for m in pressed)  # answered: buttons gone
    sleep_question = bot.label("How does your child sleep?", lang)
    closed = next(m.text for m in pressed if m.text and m.text.startswith(sleep_question))
    assert closed.endswith("✓ " + bot.label("Worried", lang))
    if lang == "ar":  # numbers inside Arabic text are isolated, so they read in the right order
        assert any(f"{FSI}1177{PDI}" in text for text in phone.texts)


async def test_typed_answers_work_wherever_the_flow_takes_words(telegram_bot: RunningBot) -> None:
    bot = telegram_bot
    phone = bot.phone(1002, "sv")
    await say(bot, phone, "/start")
    for text in ("svenska", "ja", "ja", "Mira", "3 år 4 mån", "Solrosens förskola"):
        await say(bot, phone, text)
    await say(bot, phone, "det går bra")
    await say(bot, phone, "orolig")
    await say(bot, phone, "hon är rädd för mörkret")  # the comment, in her own words

    assert await bot.rows("select name, age_years, age_months, unit_text from children") == [
        ("Mira", 3, 4, "Solrosens förskola")
    ]
    assert await bot.rows("select question_id, code, free_text, free_text_language from answers") == [
        ("safe_home", "good", None, None),
        ("safe_comfort", "worried", "hon är rädd för mörkret", "sv"),
    ]
    assert phone.keyboard_message is not None and phone.keyboard_message.text == "Hur sover ditt barn?"


async def test_language_switch_midway_keeps_the_answers(telegram_bot: RunningBot) -> None:
    bot = telegram_bot
    phone = bot.phone(1003, "sv")
    await through_consent(bot, phone, "sv")
    for _ in range(3):
        await press(bot, phone, "It goes well", "sv")

    await say(bot, phone, "/language")
    await phone.press("English")
    await bot.settle()

    assert phone.texts[-1] == "How does your child eat?"
    await press(bot, phone, "Some worries", "en")
    await press(bot, phone, "Skip", "en")
    assert await bot.rows("select code, language from answers order by id") == [
        ("good", "sv"),
        ("good", "sv"),
        ("good", "sv"),
        ("some_worries", "en"),
    ]


async def test_my_data_lists_the_answers_and_delete_erases_them(telegram_bot: RunningBot) -> None:
    bot = telegram_bot
    phone = bot.phone(1004, "en")
    await through_consent(bot, phone, "en", name="Noor")
    await press(bot, phone, "Worried", "en")
    await say(bot, phone, "She is afraid of the dark")

    await say(bot, phone, "/mydata")
    mydata = next(t for t in phone.texts if t.startswith("Here is everything we have saved"))
    assert "Noor" in mydata and "She is afraid of the dark" in mydata and "Worried" in mydata

    await say(bot, phone, "/delete")
    await press(bot, phone, "Yes, delete everything", "en")

    assert "We have deleted everything we saved about you." in phone.texts
    for table in ("users", "children", "answers", "consents", "concerns", "conversations"):
        assert await bot.rows(f"select count(*) from {table}") == [(0,)], table


async def test_a_press_on_an_old_keyboard_changes_nothing(telegram_bot: RunningBot) -> None:
    bot = telegram_bot
    phone = bot.phone(1005, "sv")
    await through_consent(bot, phone, "sv")
    first_question = copy.deepcopy(phone.keyboard_message)  # as the phone shows it, before the edit
    assert first_question is not None
    await press(bot, phone, "It goes well", "sv")
    messages_before = len(phone.inbox)

    await phone.press(bot.label("Worried", "sv"), message=first_question)  # a second, quick press
    await bot.settle()

    assert phone.api.answers[-1]["text"] == "Du har redan svarat på den frågan."
    assert len(phone.inbox) == messages_before
    assert await bot.rows("select question_id, code from answers") == [("safe_home", "good")]


async def test_long_texts_are_split_under_telegram_s_limit(telegram_bot: RunningBot) -> None:
    bot = telegram_bot
    phone = bot.phone(1006, "en")
    await through_consent(bot, phone, "en")
    for number in range(12):
        await press(bot, phone, "Worried", "en")
        await say(bot, phone, f"note {number}: " + "we worry about this a lot " * 30)

    before = len(phone.inbox)
    await say(bot, phone, "/mydata")

    parts = phone.inbox[before:]
    assert len(parts) >= 2
    assert all(len(m.text or "") <= 4096 for m in phone.inbox)
    everything = "\n".join(m.text or "" for m in parts)
    assert all(f"note {number}:" in everything for number in range(12))


async def test_commands_are_registered_in_every_language(telegram_bot: RunningBot) -> None:
    bot = telegram_bot
    await say(bot, bot.phone(1007), "/start")

    expected = ["start", "help", "language", "pause", "mydata", "export", "delete", "professional"]
    codes = ["sv", "en", "ar", "so", "fa", "ti", "uk", "pl", "bs", "hr", "sr", "ku", "fi", "tr"]
    assert bot.api.commands == {None: expected, **{code: expected for code in codes}}  # two letters each
    described = [
        c for c in bot.api.calls if c.method == "setMyCommands" and c.params.get("language_code") == "ar"
    ]
    assert described[0].params["commands"][1]["description"] == bot.label("Help", "ar")


def test_every_button_fits_telegram_and_carries_no_translated_text() -> None:
    from bot.telegram.render import CallbackCodec

    flows = load_flows()
    codec = CallbackCodec(flows)
    for flow in flows.values():
        for step in flow.steps:
            codes = [c.code for c in step.choices] + ["good", "some_worries", "worried", "dont_know"]
            codes += ["explain", "skip", "sv", "ckb"]
            for code in codes:
                data = codec.encode(flow.id, step.id, code)
                assert len(data.encode()) <= 64
                assert codec.decode(data) == (flow.id, step.id, code)
                assert data.isascii()
    assert codec.decode("a:b") is None and codec.decode("#nohash:x") is None and codec.decode(None) is None
    long_step = "s" * 60
    assert codec.encode("mapping", long_step, "yes").startswith("#")
