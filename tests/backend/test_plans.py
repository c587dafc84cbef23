"""The child's plan and the assessment tools: written on the desk, read by that family and no other.

A web chat family's worry becomes a concern; Anna (a named person at the BVC) writes the plan, shares
it, and the family reads it in their language through the web chat's cookie, or, from any other
channel, through a private link. On SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import sqlalchemy as sa
from babel.dates import format_date
from fastapi import FastAPI

from backend.app import create_app
from flows.events import Msg
from storage.concerns import ConcernEvent
from storage.desk import AuditEntry
from storage.models import Concern, Consent
from storage.plans import Assessment, ChildPlan, PlanLink
from tests.backend.desk_fixtures import (
    client,
    console_worry,
    desk_settings,
    open_session,
    prepare_staff,
    running_desk,
    served,
)
from tests.backend.test_desk_browser import (  # noqa: F401 (chromium and stage are fixtures)
    SCREENSHOTS,
    Stage,
    _violations,
    chromium,
    stage,
    worried_on_telegram,
)

FOLLOW_UP = date.today() + timedelta(days=40)
NEED = "Sova hela natten i sin egen säng"
DOES = "Träffar familjen varannan vecka"


@pytest.fixture
async def app(database_url: str, directory: dict[str, int], tmp_path: Path) -> AsyncIterator[FastAPI]:
    async with running_desk(desk_settings(database_url, tmp_path / "var")) as app:
        yield app


@pytest.fixture
async def staff(app: FastAPI, directory: dict[str, int]) -> dict[str, int]:
    return await prepare_staff(app.state.desk.service.sessions, directory)


async def post(browser: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    response = await browser.post("/chat/api/messages", json=body)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def web_family(browser: httpx.AsyncClient, lang: str, *, worried: bool = True) -> None:
    """A family in the web chat: both consents, no name, a 3-year-old, no unit; worried about the
    first question (a concern for the BVC) or not."""
    data = await post(browser, start=True)
    if lang not in [code for r in data["replies"] for code, _ in r["buttons"]]:
        await post(browser, choice="more_languages")
    for step in ({"choice": lang}, {"choice": "yes"}, {"choice": "yes"}, {"choice": "skip"}, {"text": "3"}):
        await post(browser, **step)
    await post(browser, choice="skip")
    await post(browser, choice="worried" if worried else "good")


async def newest_concern(app: FastAPI) -> Concern:
    async with app.state.desk.service.sessions() as session:
        concern = await session.scalar(sa.select(Concern).order_by(Concern.id.desc()).limit(1))
    assert concern is not None
    return concern


def plan_form(csrf: str, do: str = "share", **more: str) -> dict[str, str]:
    return {
        "csrf": csrf,
        "do": do,
        "need_healthy": NEED,
        "need_included": "  ",
        "org_kind_0": "bvc",
        "org_name_0": "BVC Centrum",
        "org_does_0": DOES,
        "org_contact_0": "Anna Berg",
        "org_phone_0": "0470-123 45",
        "org_kind_1": "preschool",
        "org_name_1": "",
        "expected": "Att hon sover bättre före jul",
        "follow_up": FOLLOW_UP.isoformat(),
        "child_words": "Jag vill ha lampan tänd",
        "parents_words": "Vi är trötta",
        "language": "sv",
        **more,
    }


async def test_a_shared_plan_is_read_by_that_family_in_their_language_and_by_no_other(
    app: FastAPI, staff: dict[str, int]
) -> None:
    sessions = app.state.desk.service.sessions
    async with client(app) as family, client(app) as other, client(app) as desk, client(app) as stranger:
        await web_family(family, "sv")
        concern = await newest_concern(app)
        await web_family(other, "en", worried=True)
        csrf = await open_session(sessions, desk, staff["nurse_a"])

        editor = await desk.get(f"/concerns/{concern.id}/plan")
        shared = await desk.post(f"/concerns/{concern.id}/plan", data=plan_form(csrf))
        notice = (await family.get("/chat/api/waiting")).json()["replies"]
        read = await family.get("/chat/plan")
        others_view = await other.get("/chat/plan")
        strangers_view = await stranger.get("/chat/plan")
        said_yes = await family.post("/chat/plan/consent", data={"given": "yes"})
        other_says = await other.post("/chat/plan/consent", data={"given": "yes"})
        after = await desk.get(f"/concerns/{concern.id}/plan")
        concern_page = await desk.get(f"/concerns/{concern.id}")

    assert editor.status_code == 200 and 'name="need_safe"' in editor.text
    assert shared.status_code == 303 and shared.headers["location"].endswith("done=shared")
    # the family's chat gets a notice with the link, not the plan
    assert [r["text"] for r in notice] == ["Ditt barns plan är klar. Läs den här: /chat/plan"]
    # the family reads it in Swedish: headings, the part of the wheel, the kind of unit and the date
    assert read.status_code == 200 and '<html lang="sv" dir="ltr">' in read.text
    for words in ("Ditt barns plan", "Frisk", NEED, DOES, "Anna Berg", "Barnavårdscentralen (BVC)",
                  format_date(FOLLOW_UP, format="long", locale="sv"), "Jag vill ha lampan tänd"):  # fmt: skip
        assert words in read.text, words
    assert "Delaktig" not in read.text  # a part left blank is not shown
    # another family, and a browser with no cookie, see nothing of it
    for page in (others_view, strangers_view):
        assert page.status_code == 200 and NEED not in page.text and DOES not in page.text
    assert "There is no plan for your child here yet." in others_view.text
    assert said_yes.status_code == 303 and other_says.status_code == 404
    assert "The family agreed that the people in the plan may talk with each other" in after.text
    assert "Shared with the family (version 1)." in concern_page.text
    async with sessions() as session:
        consents = list(await session.scalars(sa.select(Consent).where(Consent.scope == "plan")))
        stored = await session.scalar(sa.select(sa.text("content || shared")).select_from(ChildPlan))
        actions = set(
            await session.scalars(sa.select(AuditEntry.action).where(AuditEntry.object_id == concern.id))
        )
        kinds = list(
            await session.scalars(sa.select(ConcernEvent.kind).where(ConcernEvent.concern_id == concern.id))
        )
    assert [(c.user_id, c.given, c.text_version, c.language) for c in consents] == [
        (concern.user_id, True, "plan-consent-1", "sv")
    ]
    assert stored is not None and NEED not in stored and "BVC Centrum" not in stored  # encrypted at rest
    assert {"read_plan", "save_plan", "share_plan"} <= actions
    assert {"plan_saved", "plan_shared", "plan_consent"} <= set(kinds)


async def test_a_draft_stays_on_the_desk_until_it_is_shared_again(
    app: FastAPI, staff: dict[str, int]
) -> None:
    sessions = app.state.desk.service.sessions
    async with client(app) as family, client(app) as desk:
        await web_family(family, "sv")
        concern = await newest_concern(app)
        csrf = await open_session(sessions, desk, staff["nurse_a"])
        draft = await desk.post(f"/concerns/{concern.id}/plan", data=plan_form(csrf, do="save"))
        before_sharing = await family.get("/chat/plan")
        await desk.post(f"/concerns/{concern.id}/plan", data=plan_form(csrf))
        await desk.post(f"/concerns/{concern.id}/plan", data=plan_form(csrf, do="save", expected="Ny text"))
        editor = await desk.get(f"/concerns/{concern.id}/plan")
        read = await family.get("/chat/plan")
        await desk.post(f"/concerns/{concern.id}/plan", data=plan_form(csrf, expected="Ny text"))
        notices = (await family.get("/chat/api/waiting")).json()["replies"]
        read_again = await family.get("/chat/plan")

    assert draft.headers["location"].endswith("done=saved")
    assert NEED not in before_sharing.text and "Det finns ingen plan" in before_sharing.text
    assert "There are changes the family has not seen yet." in editor.text
    assert "Ny text" not in read.text and "Att hon sover bättre före jul" in read.text
    assert "Ny text" in read_again.text
    assert [r["text"].split(":")[0] for r in notices] == [
        "Ditt barns plan är klar. Läs den här",
        "Ditt barns plan har ändrats. Läs den här",
    ]


async def test_another_channel_gets_a_private_link_that_becomes_a_cookie(
    app: FastAPI, staff: dict[str, int]
) -> None:
    service = app.state.desk.service
    concern_id = await console_worry(service, "console-family", "she does not sleep")
    async with client(app) as desk, client(app) as phone, client(app) as guesser:
        csrf = await open_session(service.sessions, desk, staff["nurse_a"])
        await desk.post(f"/concerns/{concern_id}/plan", data=plan_form(csrf))
        notice = await service.waiting("console", "console-family")
        link = notice[0].text.rsplit(" ", 1)[-1]
        key = link.split("key=", 1)[1]
        opened = await phone.get(f"/chat/plan?key={key}")
        read = await phone.get("/chat/plan")
        guessed = await guesser.get("/chat/plan?key=" + "A" * 43)
        async with service.sessions() as session, session.begin():
            await session.execute(sa.update(PlanLink).values(expires_at=PlanLink.created_at))  # now past
        expired = await phone.get("/chat/plan")

    assert link.startswith(f"{app.state.desk.settings.public_url.rstrip('/')}/chat/plan?key=")
    assert NEED not in notice[0].text and DOES not in notice[0].text  # never the plan itself
    assert opened.status_code == 303 and opened.headers["location"] == "/chat/plan"
    cookie = opened.headers["set-cookie"]
    assert "hjulet_plan=" in cookie and "HttpOnly" in cookie and "Path=/chat/plan" in cookie
    assert read.status_code == 200 and NEED in read.text and '<html lang="en"' in read.text
    assert (
        guessed.status_code == 404
        and "This link no longer works" in guessed.text
        and NEED not in guessed.text
    )
    assert expired.status_code == 404 and NEED not in expired.text
    async with service.sessions() as session:
        stored = list(await session.scalars(sa.select(PlanLink.key_hash)))
    assert stored and key not in stored  # only the key's hash is kept


async def test_the_plan_form_keeps_what_was_typed_and_says_what_is_missing(
    app: FastAPI, staff: dict[str, int]
) -> None:
    sessions = app.state.desk.service.sessions
    async with client(app) as family, client(app) as desk, client(app) as teacher:
        await web_family(family, "sv")
        concern = await newest_concern(app)
        csrf = await open_session(sessions, desk, staff["nurse_a"])
        wrong = await desk.post(f"/concerns/{concern.id}/plan", data=plan_form(csrf, org_kind_0="bank"))
        gaps = await desk.post(
            f"/concerns/{concern.id}/plan", data=plan_form(csrf, follow_up="", expected="")
        )
        teachers_csrf = await open_session(sessions, teacher, staff["teacher"])
        denied_read = await teacher.get(f"/concerns/{concern.id}/plan")
        denied_write = await teacher.post(f"/concerns/{concern.id}/plan", data=plan_form(teachers_csrf))
        no_csrf = await desk.post(f"/concerns/{concern.id}/plan", data=plan_form("forged"))

    assert wrong.status_code == 422 and "unknown kind of organisation" in wrong.text
    assert NEED in wrong.text and DOES in wrong.text  # nothing typed is lost
    assert gaps.status_code == 303 and "done=saved" in gaps.headers["location"]
    assert "follow-up" in gaps.headers["location"] and "improvement" in gaps.headers["location"]
    assert denied_read.status_code == 404 and denied_write.status_code == 404
    assert no_csrf.status_code in (400, 403)
    async with sessions() as session:
        plan = await session.scalar(sa.select(ChildPlan))
    assert plan is not None and plan.version == 0 and plan.content["needs"] == {"healthy": NEED}


async def test_a_professionals_report_has_no_family_to_share_with(
    app: FastAPI, staff: dict[str, int]
) -> None:
    sessions = app.state.desk.service.sessions
    async with client(app) as family, client(app) as desk:
        await web_family(family, "sv")
        concern = await newest_concern(app)
        async with sessions() as session, session.begin():
            await session.execute(
                sa.update(Concern).where(Concern.id == concern.id).values(source="professional")
            )
        csrf = await open_session(sessions, desk, staff["nurse_a"])
        tried = await desk.post(f"/concerns/{concern.id}/plan", data=plan_form(csrf))
        editor = await desk.get(f"/concerns/{concern.id}/plan")
        read = await family.get("/chat/plan")

    assert "came from a professional" in tried.headers["location"].replace("%20", " ")
    assert "Save and share with the family" not in editor.text
    assert NEED not in read.text


async def test_the_assessment_is_stored_with_the_concern_and_audited(
    app: FastAPI, staff: dict[str, int]
) -> None:
    sessions = app.state.desk.service.sessions
    form = {
        "triangle_growing_strengths": "Pratar mycket",
        "triangle_care_challenges": "Trötta föräldrar",
        "triangle_world_strengths": "Mormor bor nära",
        "matrix_inside": "resilience_some",
        "matrix_around": "adversity_some",
        **{f"five_{n}": f"Svar {n}" for n in range(5)},
    }
    async with client(app) as family, client(app) as desk, client(app) as teacher:
        await web_family(family, "sv")
        concern = await newest_concern(app)
        csrf = await open_session(sessions, desk, staff["nurse_a"])
        empty = await desk.post(f"/concerns/{concern.id}/assess", data={"csrf": csrf})
        saved = await desk.post(f"/concerns/{concern.id}/assess", data={"csrf": csrf, **form})
        page = await desk.get(f"/concerns/{concern.id}")
        bad = await desk.post(
            f"/concerns/{concern.id}/assess", data={"csrf": csrf, "matrix_inside": "sky_high"}
        )
        teachers_csrf = await open_session(sessions, teacher, staff["teacher"])
        denied = await teacher.post(f"/concerns/{concern.id}/assess", data={"csrf": teachers_csrf, **form})

    assert "the%20assessment%20is%20empty" in empty.headers["location"]
    assert saved.headers["location"].endswith("done=assess")
    for words in ("Pratar mycket", "Trötta föräldrar", "Mormor bor nära", "Svar 4", "My World Triangle",
                  "What can my agency do now to help this child?"):  # fmt: skip
        assert words in page.text, words
    assert 'class="placed" cx="105.0" cy="105.0"' in page.text  # some resilience, some adversity
    assert "Some resilience. Some adversity" in page.text  # the placement in words
    assert "error=" in bad.headers["location"] and denied.status_code == 404
    async with sessions() as session:
        rows = list(await session.scalars(sa.select(Assessment)))
        raw = await session.scalar(sa.text("SELECT content FROM assessments"))
        actions = list(
            await session.scalars(sa.select(AuditEntry.action).where(AuditEntry.object_id == concern.id))
        )
    assert len(rows) == 1 and rows[0].content["matrix"] == {
        "inside": "resilience_some",
        "around": "adversity_some",
    }
    assert "Pratar mycket" not in raw
    assert actions.count("assess") == 1 and "denied" in actions


async def test_in_chromium_a_family_reads_their_plan_right_to_left_and_another_family_sees_none(
    database_url: str,
    directory: dict[str, int],
    tmp_path: Path,
    chromium: Any,  # noqa: F811
) -> None:
    from axe_playwright_python.async_playwright import Axe

    app = create_app(desk_settings(database_url, tmp_path / "var"), migrate=False)
    async with served(app) as url:
        service = app.state.desk.service
        staff = await prepare_staff(service.sessions, directory)
        async with httpx.AsyncClient(base_url=url) as family, httpx.AsyncClient(base_url=url) as other:
            await web_family(family, "ar")
            concern = await newest_concern(app)
            await web_family(other, "sv", worried=False)
            async with httpx.AsyncClient(base_url=url) as desk:
                csrf = await open_session(service.sessions, desk, staff["nurse_a"])
                shared = await desk.post(f"/concerns/{concern.id}/plan", data=plan_form(csrf))
            cookies = {"family": family.cookies["hjulet_chat"], "other": other.cookies["hjulet_chat"]}

        async def browser_of(who: str) -> Any:
            context = await chromium.new_context(locale="ar", viewport={"width": 390, "height": 844})
            cookie = {"name": "hjulet_chat", "value": cookies[who], "url": f"{url}/chat"}
            await context.add_cookies([cookie])
            return await context.new_page()

        page = await browser_of("family")
        await page.goto(f"{url}/chat")
        await page.locator('.bubble a[href="/chat/plan"]').click()  # the notice in the chat is a link
        await page.wait_for_url(f"{url}/chat/plan")
        direction = await page.evaluate("document.documentElement.dir")
        shown = await page.inner_text("main")
        found = _violations((await Axe().run(page)).response)
        SCREENSHOTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(SCREENSHOTS / "plan-ar.png"), full_page=True)
        yes = service.catalogs.render(Msg("Yes, they may"), "ar")
        await page.get_by_role("button", name=yes).click()
        await page.wait_for_url(f"{url}/chat/plan?done=yes")
        found += _violations((await Axe().run(page)).response)
        answered = await page.inner_text("main")

        stranger = await browser_of("other")
        await stranger.goto(f"{url}/chat/plan")
        not_theirs = await stranger.inner_text("main")

    assert shared.status_code == 303
    assert direction == "rtl"
    for words in (NEED, DOES, "Anna Berg", service.catalogs.render(Msg("What your child needs"), "ar")):
        assert words in shown, words
    assert found == []
    assert service.catalogs.render(Msg("Thank you. Your answer is saved."), "ar") in answered
    assert NEED not in not_theirs and DOES not in not_theirs
    assert "Det finns ingen plan för ditt barn här än." in not_theirs


async def test_on_telegram_the_family_gets_only_a_link_and_it_opens_their_plan(stage: Stage) -> None:  # noqa: F811
    bot = stage.bot
    phone = bot.phone(4001, "sv")
    concern_id, staff_id = await worried_on_telegram(stage, phone)
    before = len(phone.inbox)
    async with httpx.AsyncClient(base_url=stage.url) as desk:
        csrf = await open_session(stage.app.state.desk.service.sessions, desk, staff_id)
        shared = await desk.post(f"/concerns/{concern_id}/plan", data=plan_form(csrf))
    await bot.settle()
    arrived = phone.inbox[before:]
    link = urlsplit((arrived[-1].text or "").rsplit(" ", 1)[-1])
    async with httpx.AsyncClient(base_url=stage.url) as reader:
        read = await reader.get(f"{link.path}?{link.query}", follow_redirects=True)

    assert shared.status_code == 303 and shared.headers["location"].endswith("done=shared")
    assert [m.photo for m in arrived] == [False]  # one message: the notice
    assert (arrived[0].text or "").startswith("Ditt barns plan är klar. Läs den här: ")
    for secret in (NEED, DOES, "Anna Berg", "Vi är trötta", "Jag vill ha lampan tänd"):
        assert secret not in (arrived[0].text or "")  # Telegram never carries the plan itself
    assert link.path == "/chat/plan" and link.query.startswith("key=")
    assert read.status_code == 200 and NEED in read.text and DOES in read.text
    assert '<html lang="sv" dir="ltr">' in read.text
