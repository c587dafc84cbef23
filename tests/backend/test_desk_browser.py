"""The desk in a real browser: headless Chromium (Debian's /usr/bin/chromium, driven by Playwright).

The desk runs under uvicorn on 127.0.0.1 and the Telegram bot polls a fake Bot API server, both on
the same database, as `hjulet serve` and `hjulet telegram` run in production. A family answers on
Telegram, in Swedish, until they are worried; the named person signs in, reads it in English,
acknowledges, writes a note and a message that arrives in the family's chat, reads their answer and
closes the concern. axe-core checks the pages. Screenshots go to tests/backend/screenshots/.

Without /usr/bin/chromium these tests are skipped, unless HJULET_REQUIRE_BROWSER=1 (CI): then they fail.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Final

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from backend.app import create_app
from bot.telegram.channel import TelegramChannel
from bot.telegram.polling import run_polling
from bot.wiring import open_service
from flows.events import Msg
from storage.models import Answer, Concern
from tests.backend.desk_fixtures import (
    EMAILS,
    PASSWORD,
    console_worry,
    desk_settings,
    issue_tokens,
    prepare_staff,
    served,
)
from tests.bot.telegram.conftest import TOKEN, RunningBot
from tests.bot.telegram.fakeapi import FakeBotAPI, Phone

pytestmark = pytest.mark.slow

CHROMIUM: Final = Path("/usr/bin/chromium")
CHROMIUM_ARGS: Final = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS: Final = Path(__file__).resolve().parent / "screenshots"
FAMILY_WORDS: Final = "Hon är rädd för mörkret och vaknar varje natt"
NOTE: Final = "Ringde förskolan: de ser samma sak. Pratar med familjen i morgon."
MESSAGE: Final = "Hej! Jag har läst era svar. Får jag ringa er i morgon förmiddag?"
FAMILY_ANSWER: Final = "Ja, gärna efter klockan tio"


def _require_browser() -> None:
    missing = f"{CHROMIUM} is missing (apt-get install chromium)" if not CHROMIUM.exists() else ""
    if not missing:
        try:
            import playwright.async_api  # noqa: F401
        except ImportError:
            missing = "the playwright package is missing"
    if missing and os.environ.get("HJULET_REQUIRE_BROWSER") == "1":
        pytest.fail(f"HJULET_REQUIRE_BROWSER=1, but {missing}")
    if missing:
        pytest.skip(f"no browser: {missing}; set HJULET_REQUIRE_BROWSER=1 to fail instead")


@pytest.fixture
async def chromium() -> AsyncIterator[Any]:
    """Headless Chromium, launched by Playwright from Debian's package (no downloaded browser)."""
    _require_browser()
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


async def until(check: Callable[[], bool], what: str, nudge: Callable[[], None] = lambda: None) -> None:
    deadline = time.monotonic() + 20
    while not check():
        assert time.monotonic() < deadline, f"waited 20 s for {what}"
        nudge()
        await asyncio.sleep(0.05)


@dataclass
class Stage:
    url: str
    app: FastAPI
    ids: dict[str, int]
    bot: RunningBot

    def family(self, text: str, lang: str = "sv", **params: Any) -> str:
        """What the family reads for a message id."""
        return self.bot.service.catalogs.render(Msg(text, params), lang)


@pytest.fixture
async def stage(database_url: str, directory: dict[str, int], tmp_path: Path) -> AsyncIterator[Stage]:
    """The desk under uvicorn and the Telegram bot (polling the fake Bot API), on one database."""
    api = FakeBotAPI(TOKEN)
    await api.start()
    try:
        settings = desk_settings(
            database_url, tmp_path / "var", telegram_token=TOKEN, telegram_api_base=api.base,
            telegram_bot_username="hjulet_test_bot",
        )  # fmt: skip
        app = create_app(settings, migrate=False)  # no webhook secret: the desk leaves Telegram to the bot
        async with served(app) as url:
            ids = await prepare_staff(app.state.desk.service.sessions, directory)
            async with open_service(settings, migrate=False) as service:
                channel = TelegramChannel(settings, service)
                stop = asyncio.Event()
                polling = asyncio.create_task(
                    run_polling(channel, service.catalogs, stop, poll_timeout=1, handle_signals=False)
                )
                try:
                    yield Stage(url, app, ids, RunningBot(api, settings, service, channel))
                finally:
                    stop.set()
                    await asyncio.wait_for(polling, 20)
                    await channel.close()
    finally:
        await api.stop()


async def sign_in(page: Any, url: str, email: str, home: str = "/queue/mine") -> None:
    await page.goto(f"{url}/login")
    await page.get_by_label("E-mail").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(f"{url}{home}")


async def shoot(page: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path


async def say(stage: Stage, phone: Phone, text: str) -> None:
    await phone.say(text)
    await stage.bot.settle()


async def worried_on_telegram(stage: Stage, phone: Phone) -> tuple[int, int]:
    """The family, on Telegram, in Swedish: consents, Mira, 3 years, no preschool; it goes well at
    home, but they are worried whether they can comfort her, in their own words. Returns the concern
    and the named person it went to."""
    await say(stage, phone, "/start")
    await phone.press("Svenska")
    await stage.bot.settle()
    for message_id in ("Yes, save my answers", "Yes, share my answers"):
        await phone.press(stage.family(message_id))
        await stage.bot.settle()
    await say(stage, phone, "Mira")
    await say(stage, phone, "3")
    for message_id in ("Skip", "It goes well", "Worried"):
        await phone.press(stage.family(message_id))
        await stage.bot.settle()
    await say(stage, phone, FAMILY_WORDS)
    [(concern_id, staff_id)] = await stage.bot.rows("select id, assigned_to_id from concerns")
    return concern_id, staff_id


async def test_a_telegram_worry_is_worked_in_the_browser_and_the_answer_comes_back(
    chromium: Any, stage: Stage
) -> None:
    from playwright.async_api import expect

    bot = stage.bot
    phone = bot.phone(3001, "sv")
    concern_id, staff_id = await worried_on_telegram(stage, phone)
    assert await bot.rows(
        "select question_id, code, free_text_language from answers where code = 'worried'"
    ) == [("safe_comfort", "worried", "sv")]
    email = next(EMAILS[name] for name in ("nurse_a", "nurse_b") if stage.ids[name] == staff_id)
    name = {"a@bvc.se": "Anna", "b@bvc.se": "Berit"}[email]

    # The named person, in Chromium, in English.
    context = await chromium.new_context(locale="en-GB", viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    await sign_in(page, stage.url, email)
    link = page.get_by_role("link", name=f"#{concern_id} · Concern")
    await expect(link).to_be_visible()
    await expect(page.locator("tbody tr")).to_have_count(1)
    await expect(page.locator("tbody tr")).to_contain_text("3 years 0 months")
    await shoot(page, "1-queue-mine")

    await link.click()
    await page.wait_for_url(f"{stage.url}/concerns/{concern_id}")
    answers = page.locator("section[aria-labelledby=answers]")
    worried = answers.locator("li.answer-worried")
    await expect(worried).to_contain_text("When your child is sad or scared, can you comfort your child?")
    await expect(worried.locator("strong")).to_have_text("Worried")
    await expect(worried.locator("blockquote p")).to_have_text(FAMILY_WORDS)
    await expect(worried.locator("blockquote footer")).to_have_text("The family's own words, in Swedish")
    good = answers.locator("li.answer-good")
    await expect(good).to_contain_text("Does your child feel safe and calm at home?")
    await expect(good.locator("strong")).to_have_text("Goes well")  # the staff's word for the family's
    await expect(page.locator("dl.facts")).to_contain_text("Mira · 3 years 0 months")
    await shoot(page, "2-concern-new")

    notice = page.get_by_role("status")
    await page.get_by_role("button", name="Acknowledge").click()
    await expect(notice).to_have_text("Acknowledged.")
    await page.get_by_label("Private note").fill(NOTE)
    await page.get_by_role("button", name="Save note").click()
    await expect(notice).to_have_text("The note is saved.")
    await page.get_by_label("Message to the family").fill(MESSAGE)
    await page.get_by_role("button", name="Send to the family").click()
    await expect(notice).to_have_text("The message is on its way to the family.")

    # The message arrives in the family's Telegram chat, with the prompt to answer.
    prompt = stage.family(
        "You can answer {staff_name} here. Write your answer, or choose Skip.", staff_name=name
    )
    await until(lambda: prompt in phone.texts, "the message in the family's chat", bot.channel.sender.wake)
    message = next(text for text in phone.texts if MESSAGE in text)
    assert name in message and "BVC Centrum" in message
    assert phone.texts[-1] == prompt and stage.family("Skip") in phone.buttons
    before = len(phone.texts)
    await say(stage, phone, FAMILY_ANSWER)
    thanks = stage.family("Thank you. {staff_name} can read your answer now.", staff_name=name)
    assert phone.texts[before:] == [
        thanks,
        stage.family("How does your child sleep?"),
    ]  # and on with the wheel

    await page.reload()
    timeline = page.locator("ol.timeline")
    await expect(timeline.locator("li.event-note")).to_contain_text(NOTE)
    await expect(timeline.locator("li.event-message_to_family")).to_contain_text(MESSAGE)
    answer = timeline.locator("li.event-message_from_family")
    await expect(answer).to_contain_text("The family answered (in Swedish)")
    await expect(answer.locator("p.body")).to_have_text(FAMILY_ANSWER)
    await shoot(page, "3-concern-answered")

    await page.get_by_label("Close with the outcome").select_option("advice_given")
    await page.locator("form[action$='/close']").get_by_role("button").click()
    await expect(notice).to_have_text("Closed.")
    await expect(page.locator("dl.facts")).to_contain_text("Closed · Advice given")
    await expect(page.get_by_role("heading", name="What to do")).to_have_count(0)
    await expect(timeline.locator("li.event-closed")).to_contain_text(f"Closed by {name}: Advice given")
    await shoot(page, "4-concern-closed")
    await context.close()

    assert await bot.rows("select status, outcome from concerns") == [("closed", "advice_given")]
    kinds = [kind for (kind,) in await bot.rows("select kind from concern_events order by id")]
    assert kinds == [
        "created", "routed", "acknowledged", "note", "message_to_family", "message_from_family", "closed",
    ]  # fmt: skip


async def test_the_family_reads_who_writes_to_them_in_their_own_language(stage: Stage) -> None:
    phone = stage.bot.phone(3002, "sv")
    concern_id, staff_id = await worried_on_telegram(stage, phone)
    [token] = (await issue_tokens(stage.app.state.desk.service.sessions, {"named": staff_id})).values()
    async with httpx.AsyncClient(base_url=stage.url) as api:  # the API, over HTTP, as an app would use it
        sent = await api.post(
            f"/api/concerns/{concern_id}/messages",
            json={"text": MESSAGE},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert sent.status_code == 201 and sent.json() == {"delivered": True}
    await until(lambda: any(MESSAGE in t for t in phone.texts), "the message", stage.bot.channel.sender.wake)
    header = next(text for text in phone.texts if MESSAGE in text).split("\n")[0]
    assert header.startswith("Ett meddelande från ")
    assert "named person" not in header and "unit lead" not in header, header


# ---- accessibility ---------------------------------------------------------------------------


@pytest.fixture
async def desk_url(
    database_url: str, directory: dict[str, int], tmp_path: Path
) -> AsyncIterator[tuple[str, str, int]]:
    """The desk under uvicorn with one concern (from the console): (url, the named person, its id)."""
    app = create_app(desk_settings(database_url, tmp_path / "var"), migrate=False)
    async with served(app) as url:
        service = app.state.desk.service
        ids = await prepare_staff(service.sessions, directory)
        concern_id = await console_worry(service, "parent-1", "She is scared of the dark")
        async with service.sessions() as session:
            staff_id = await session.scalar(sa.select(Concern.assigned_to_id).where(Concern.id == concern_id))
            assert await session.scalar(sa.select(sa.func.count()).select_from(Answer)) == 1
        email = next(EMAILS[name] for name in ("nurse_a", "nurse_b") if ids[name] == staff_id)
        yield url, email, concern_id


def _violations(response: dict[str, Any]) -> list[str]:
    """axe-core's violations as `rule (impact): selector, selector`."""
    return [
        f"{v['id']} ({v['impact']}): {', '.join(' '.join(node['target']) for node in v['nodes'])}"
        for v in response["violations"]
    ]


async def test_the_desk_pages_have_no_accessibility_violations(
    chromium: Any, desk_url: tuple[str, str, int]
) -> None:
    """axe-core (WCAG 2.x A/AA and best practices) on the login page, the queue, a concern as it
    arrives and after work on it (notice, timeline with a note, an assessment), the child's plan
    being written and shared, a concern one may not see, the
    common language (glossary), the directory and the audit log."""
    from axe_playwright_python.async_playwright import Axe

    url, email, concern_id = desk_url
    found: dict[str, list[str]] = {}

    async def check(page: Any, where: str) -> None:
        found[where] = _violations((await Axe().run(page)).response)

    page = await chromium.new_page(locale="en-GB")
    await page.goto(f"{url}/login")
    await check(page, "login")
    await sign_in(page, url, email)
    await check(page, "queue")
    await page.goto(f"{url}/concerns/{concern_id}")
    await check(page, "concern")
    await page.get_by_role("button", name="Acknowledge").click()
    await page.get_by_label("Private note").fill(NOTE)
    await page.get_by_role("button", name="Save note").click()
    await page.wait_for_url(f"{url}/concerns/{concern_id}?done=note")
    await check(page, "concern, worked")
    await page.get_by_label("Strengths").first.fill("Talks a lot, loves the swings")
    await page.get_by_label("Inside the child: resilience or vulnerability").select_option("resilience_some")
    await page.get_by_label("Around the child: a protective environment or adversity").select_option(
        "adversity_some"
    )
    await page.get_by_label("What can I do now to help this child?").fill("Call the preschool")
    await page.get_by_role("button", name="Save the assessment").click()
    await page.wait_for_url(f"{url}/concerns/{concern_id}?done=assess")
    await check(page, "concern, assessed")
    await shoot(page, "concern-assessed")
    await page.get_by_role("link", name="Write the plan").click()
    await page.wait_for_url(f"{url}/concerns/{concern_id}/plan")
    await check(page, "plan editor")
    await page.get_by_label("Healthy").fill("Sleep through the night")
    await page.locator("#org_does_0").fill("Meets the family every other week")
    await page.locator("#org_contact_0").fill("Anna Berg")
    await page.get_by_label("The improvement we hope for").fill("Better sleep by Christmas")
    await page.get_by_label("Follow-up date").fill(f"{date.today().year + 1}-01-15")
    await page.get_by_role("button", name="Save and share with the family").click()
    await page.wait_for_url(f"{url}/concerns/{concern_id}/plan?done=shared")
    await check(page, "plan shared")
    await shoot(page, "plan-editor")
    await page.goto(f"{url}/concerns/987654")
    await check(page, "not found")
    await page.goto(f"{url}/glossary")
    await check(page, "common language")
    admin = await chromium.new_page(locale="en-GB")
    await sign_in(admin, url, EMAILS["admin"], home="/admin")
    await check(admin, "directory")
    await admin.goto(f"{url}/admin/audit")
    await check(admin, "audit log")
    assert found == {where: [] for where in found}
