"""The family web chat at /chat: the same conversation, hosted by the municipality.

Through its JSON API (the page's only way in) and in headless Chromium, in Swedish and Arabic, with
axe-core on the page. On SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from backend.wheel import states
from bot.invitations import sign
from storage import load_or_create_secret
from storage.desk import ConcernEvent
from storage.models import Answer, Child, Concern, User
from tests.backend.desk_fixtures import client, desk_settings, running_desk, served
from tests.backend.test_desk_browser import SCREENSHOTS, _violations, chromium  # noqa: F401 (a fixture)

PLAN = ["good", "some_worries", "worried", "dont_know", "good", "skip"]


@pytest.fixture
async def app(database_url: str, directory: dict[str, int], tmp_path: Path) -> AsyncIterator[FastAPI]:
    async with running_desk(desk_settings(database_url, tmp_path / "var")) as app:
        yield app


async def post(browser: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    response = await browser.post("/chat/api/messages", json=body)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def codes(data: dict[str, Any]) -> list[str]:
    shown = [r for r in data["replies"] if r["buttons"]]
    return [code for code, _ in shown[-1]["buttons"]] if shown else []


summary_replies: list[dict[str, Any]] = []


async def whole_conversation(browser: httpx.AsyncClient, lang: str) -> dict[str, Any]:
    data = await post(browser, start=True)
    if lang not in codes(data):
        data = await post(browser, choice="more_languages")
    data = await post(browser, choice=lang)
    for step in ({"choice": "yes"}, {"choice": "yes"}, {"text": "Ali"}, {"text": "3"}, {"choice": "skip"}):
        data = await post(browser, **step)
    turn = 0
    for _ in range(60):
        shown = codes(data)
        if "good" in shown:
            data = await post(browser, choice=PLAN[turn % len(PLAN)])
            turn += 1
        elif shown == ["skip"]:
            data = await post(browser, text="ينام قليلا" if lang == "ar" else "hon sover dåligt")
        elif "no" in shown:
            data = await post(browser, choice="no")
            summary_replies[:] = data["replies"]
        else:
            return data
    return data


@pytest.mark.parametrize("lang", ["sv", "ar"])
async def test_a_family_goes_through_the_conversation_in_the_web_chat(app: FastAPI, lang: str) -> None:
    async with client(app) as browser:
        last = await whole_conversation(browser, lang)
        picture = await browser.get("/chat/api/wheel")
        cookie = next(c for c in browser.cookies.jar if c.name == "hjulet_chat")
    assert last["lang"] == lang and last["dir"] == ("rtl" if lang == "ar" else "ltr")
    assert all(reply["rtl"] == (lang == "ar") for reply in last["replies"])
    assert cookie.has_nonstandard_attr("HttpOnly") and cookie.path == "/chat"
    async with app.state.desk.service.sessions() as session:
        rows = (await session.execute(sa.select(Answer.indicator, Answer.code))).all()
    stored = [code for _, code in rows]
    assert len(stored) == 18 and stored.count("worried") == 3
    # the picture shows what was answered, in the family's language
    assert picture.headers["content-type"].startswith("image/svg+xml")
    assert any(reply["kind"] == "wheel" for reply in summary_replies)
    for indicator, state in states((i, c) for i, c in rows).items():
        assert f'class="slice {state}" data-indicator="{indicator.value}"' in picture.text
    assert ("عجلة طفلك" if lang == "ar" else "Ditt barns hjul") in picture.text


async def test_the_same_device_goes_on_where_it_left_off(app: FastAPI) -> None:
    async with client(app) as browser:
        await post(browser, start=True)
        await post(browser, choice="en")
        await post(browser, choice="yes")
        cookies = dict(browser.cookies)

    async with client(app, Cookie=f"hjulet_chat={cookies['hjulet_chat']}") as again:
        data = await post(again, start=True)

    texts = [reply["text"] for reply in data["replies"]]
    assert texts[0] == "Welcome back! We go on where you left off."
    assert texts[-1].startswith("May we share your answers with your child's named person?")
    async with app.state.desk.service.sessions() as session:
        assert await session.scalar(sa.select(sa.func.count()).select_from(User)) == 1


async def test_an_invitation_link_names_the_childs_unit(app: FastAPI) -> None:
    payload = sign(load_or_create_secret(app.state.desk.settings.key_file), "solrosen")
    async with client(app) as browser:
        await post(browser, start=True, invite=payload)
        for step in ({"choice": "en"}, {"choice": "yes"}, {"choice": "yes"}, {"text": "Ali"}, {"text": "3"}):
            await post(browser, **step)

    async with app.state.desk.service.sessions() as session:
        child = await session.scalar(sa.select(Child))
    assert child is not None and child.unit_code == "solrosen"


async def test_a_second_tap_on_an_answered_question_changes_nothing(app: FastAPI) -> None:
    async with client(app) as browser:
        asked = await post(browser, start=True)
        language = next(r for r in asked["replies"] if r["buttons"])
        await post(browser, choice="en", question=[language["flow"], language["step"]])

        again = await post(browser, choice="en", question=[language["flow"], language["step"]])

    assert [r["kind"] for r in again["replies"]] == ["notice"], [r["text"][:60] for r in again["replies"]]
    assert again["replies"][0]["text"].startswith("You have already answered")


async def test_the_api_takes_only_json_and_never_trusts_a_made_up_id(app: FastAPI) -> None:
    async with client(app) as browser:
        form = await browser.post("/chat/api/messages", data={"text": "hej"})
        huge = await browser.post("/chat/api/messages", json={"text": "a" * 5000})
    async with client(app, Cookie="hjulet_chat=x") as forger:
        made_up = await forger.post("/chat/api/messages", json={"start": True})

    assert form.status_code in (415, 422)
    assert made_up.status_code == 200 and made_up.cookies.get("hjulet_chat") not in (None, "x")
    assert huge.status_code == 422


async def test_the_page_speaks_the_browsers_language_right_to_left_where_needed(app: FastAPI) -> None:
    async with client(app, **{"Accept-Language": "ar-SE,ar;q=0.9,en;q=0.5"}) as browser:
        page = await browser.get("/chat")

    assert page.status_code == 200
    assert '<html lang="ar" dir="rtl">' in page.text and "اكتب هنا" in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert len(page.content) < 2_000


@pytest.mark.parametrize("lang", ["sv", "ar"])
async def test_the_web_chat_in_chromium_with_axe(app: FastAPI, chromium: Any, lang: str) -> None:  # noqa: F811
    from axe_playwright_python.async_playwright import Axe

    async with served(app) as url:
        page = await chromium.new_page(
            locale="sv-SE" if lang == "sv" else "ar", viewport={"width": 390, "height": 844}
        )
        await page.goto(f"{url}/chat")
        await page.get_by_role("button", name="Svenska" if lang == "sv" else "العربية").click()
        first = "Ja, spara mina svar" if lang == "sv" else None
        buttons = page.locator(".choices button:not([disabled])")
        await buttons.first.wait_for()
        if first:
            await page.get_by_role("button", name=first).click()
        else:
            await buttons.first.click()
        await page.locator(".choices button:not([disabled])").first.wait_for()
        await page.locator(".choices button:not([disabled])").first.click()  # share: yes
        await page.get_by_label("Skriv här" if lang == "sv" else "اكتب هنا").fill("Ali")
        await page.keyboard.press("Enter")
        await page.get_by_label("Skriv här" if lang == "sv" else "اكتب هنا").fill("3")
        await page.keyboard.press("Enter")
        await page.locator(".you").nth(4).wait_for()
        await page.wait_for_load_state("networkidle")
        SCREENSHOTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(SCREENSHOTS / f"webchat-{lang}.png"), full_page=True)
        direction = await page.evaluate("document.documentElement.dir")
        found = _violations((await Axe().run(page)).response)

        def button(code: str) -> Any:
            return page.locator(f'.choices button[data-code="{code}"]:not([disabled])').last

        await button("skip").click()  # no unit named
        for _ in range(18):  # every wheel question: "it goes well"
            await button("good").click()
        await button("no").click()  # talk to someone? not now
        await page.locator("figure.wheel svg").wait_for()
        slices = await page.locator("figure.wheel path.slice.good").count()
        await page.locator("figure.wheel").scroll_into_view_if_needed()
        await page.screenshot(path=str(SCREENSHOTS / f"webchat-wheel-{lang}.png"))
        found += _violations((await Axe().run(page)).response)

    assert direction == ("rtl" if lang == "ar" else "ltr")
    assert slices == 8  # all eight parts went well
    assert found == []


async def test_the_named_persons_message_reaches_the_web_chat_and_the_answer_comes_back(
    app: FastAPI, directory: dict[str, int]
) -> None:
    service = app.state.desk.service
    async with client(app) as browser:
        await post(browser, start=True)
        for step in (
            {"choice": "en"},
            {"choice": "yes"},
            {"choice": "yes"},
            {"choice": "skip"},
            {"text": "3"},
        ):
            await post(browser, **step)
        await post(browser, choice="skip")
        await post(browser, choice="worried")  # a worry: a concern for the named person
        async with service.sessions() as session, session.begin():
            concern = await session.scalar(sa.select(Concern))
            assert concern is not None
            reached = await service.message_from_staff(
                session, user_id=concern.user_id, concern_id=concern.id, staff_name="Anna",
                role="named_person", unit="BVC Centrum", text="May I call you tomorrow?",
            )  # fmt: skip
        waiting = (await browser.get("/chat/api/waiting")).json()
        answer = await post(browser, text="Yes, after ten")
        nothing_more = (await browser.get("/chat/api/waiting")).json()

    assert reached is True
    assert any("May I call you tomorrow?" in reply["text"] for reply in waiting["replies"])
    assert answer["replies"] and nothing_more["replies"] == []
    async with service.sessions() as session:
        kinds = list(await session.scalars(sa.select(ConcernEvent.kind).order_by(ConcernEvent.id)))
    assert "message_from_family" in kinds


def test_hjulet_invite_makes_a_web_chat_link(tmp_path: Path) -> None:
    import subprocess
    import sys

    env = {
        "HJULET_DATA_DIR": str(tmp_path / "var"),
        "HJULET_PUBLIC_URL": "https://hjulet.example.se/",
        "PATH": "/usr/bin:/bin",
    }
    hjulet = Path(sys.executable).parent / "hjulet"
    done = subprocess.run(
        [hjulet, "invite", "--unit", "solrosen", "--web", "--out", str(tmp_path / "qr.png")],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    payload = sign(load_or_create_secret(tmp_path / "var" / "secret.key"), "solrosen")
    assert done.stdout.strip() == f"https://hjulet.example.se/chat?invite={payload}"
    assert (tmp_path / "qr.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


async def test_my_data_shows_the_wheel_too(app: FastAPI) -> None:
    async with client(app) as browser:
        await post(browser, start=True)
        for step in (
            {"choice": "en"},
            {"choice": "yes"},
            {"choice": "yes"},
            {"choice": "skip"},
            {"text": "3"},
        ):
            await post(browser, **step)
        await post(browser, choice="skip")
        await post(browser, choice="worried")
        mine = await post(browser, text="/mydata")
        picture = await browser.get("/chat/api/wheel")

    assert [r["kind"] for r in mine["replies"]][:2] == ["message", "wheel"]
    assert "Here is everything we have saved" in mine["replies"][0]["text"]
    assert 'class="slice worried" data-indicator="safe"' in picture.text
