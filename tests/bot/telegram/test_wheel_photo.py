"""The wheel in Telegram: after the summary, one photo of the family's wheel, captioned in their language."""

from __future__ import annotations

import pytest

from backend import wheel
from backend.wheel_png import STATE_NAMES
from flows.engine import SUMMARY_TITLE, WHEEL_TITLE
from flows.wellbeing import INDICATORS, Indicator
from tests.backend.wheel_pixels import SIZE, check_slices, png_size
from tests.bot.telegram.conftest import RunningBot
from tests.bot.telegram.test_telegram_story import press, say, through_consent

pytestmark = pytest.mark.slow

# The 18 wheel questions' answers, in flow order: safe 2, healthy 3, achieving 2, nurtured 3, then 2 each.
ANSWERS = (
    ["It goes well"] * 2 + ["It goes well", "Some worries", "It goes well"] + ["Worried", "It goes well"]
)
ANSWERS += ["Don't know"] * 3 + ["It goes well"] * 8
WITH_COMMENT = {"Some worries", "Worried"}  # the flow asks for a comment after these


async def test_the_family_gets_one_photo_of_their_wheel_after_the_summary(telegram_bot: RunningBot) -> None:
    bot = telegram_bot
    phone = bot.phone(2001, "sv")
    await through_consent(bot, phone, "sv")
    for answer in ANSWERS:
        await press(bot, phone, answer, "sv")
        if answer in WITH_COMMENT:
            await press(bot, phone, "Skip", "sv")
    await press(bot, phone, "No, not now", "sv")

    photos = [m for m in phone.inbox if m.photo]
    assert len(photos) == 1
    photo = photos[0]
    summary = phone.texts.index(bot.label(SUMMARY_TITLE, "sv"))
    assert phone.inbox.index(photo) > summary  # after the summary, in order
    assert photo.image is not None and png_size(photo.image) == SIZE

    caption = photo.text or ""
    assert caption.startswith(bot.label(WHEEL_TITLE, "sv") + "\n\n")
    for part in Indicator:  # every part, named in Swedish, with its state in words
        assert bot.label(INDICATORS[part].name, "sv") in caption
    assert f"{bot.label(INDICATORS[Indicator.ACHIEVING].name, 'sv')}: {bot.label('Worried', 'sv')}" in caption
    assert bot.label(STATE_NAMES["unknown"], "sv") in caption

    stored = wheel.states(await bot.rows("select indicator, code from answers"))
    assert [stored[part] for part in Indicator][:4] == ["good", "some_worries", "worried", "unknown"]
    check_slices(photo.image, stored)  # the picture shows what is stored
    assert await bot.rows("select kind, status from outbox where kind = 'wheel'") == [("wheel", "sent")]

    await bot.api.redeliver(bot.api.update(phone.last_update))  # the summary's update, delivered again
    await bot.settle()
    assert len([m for m in phone.inbox if m.photo]) == 1


async def test_an_arabic_family_sees_their_wheel_with_my_data(telegram_bot: RunningBot) -> None:
    bot = telegram_bot
    phone = bot.phone(2002, "ar")
    await through_consent(bot, phone, "ar")
    await press(bot, phone, "Worried", "ar")
    await say(bot, phone, "هي تخاف من الظلام")  # her own words: never in the picture or its caption

    await say(bot, phone, "/mydata")

    photo = next(m for m in phone.inbox if m.photo)
    assert photo.image is not None and png_size(photo.image) == SIZE
    caption = photo.text or ""
    assert caption.startswith(bot.label(WHEEL_TITLE, "ar"))
    assert f"{bot.label(INDICATORS[Indicator.SAFE].name, 'ar')}: {bot.label('Worried', 'ar')}" in caption
    assert "الظلام" not in caption
    check_slices(photo.image, {**dict.fromkeys(Indicator, "unknown"), Indicator.SAFE: "worried"})
