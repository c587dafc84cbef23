"""Link your chat: a professional makes a one-time code on the desk and gives it in the chat.

The storage side on real databases (a code works once, for 15 minutes, only for active staff, and
only its hash is kept), then the page as a nurse uses it: sign in, make a code, the chat gives it,
the page says linked, she removes the link. Forms need the CSRF token; codes and removals are audited.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Final

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.app import create_app
from storage import Store, pseudonym
from storage.chat_links import (
    CODE_MINUTES,
    ChatLink,
    linked_since,
    new_code,
    normalise,
    redeem,
    staff_of,
    unlink,
)
from storage.desk import AuditEntry, Staff
from storage.models import utcnow
from tests.backend.desk_fixtures import (
    EMAILS,
    PASSWORD,
    client,
    desk_settings,
    prepare_staff,
    running_desk,
    served,
)

Factory = async_sessionmaker[AsyncSession]
SECRET: Final = b"k" * 32
CODE: Final = re.compile(r"\b[A-HJKMNP-Z2-9]{4}-[A-HJKMNP-Z2-9]{4}\b")


async def chat_user(factory: Factory, raw_id: str = "4711", channel: str = "telegram") -> int:
    """A chat identity: the users row of a Telegram (or console) user, by pseudonym."""
    async with factory() as session, session.begin():
        user = await Store(session).get_or_create_user(channel, pseudonym(SECRET, channel, raw_id), "sv")
        return user.id


async def code_for(factory: Factory, staff_id: int, **when: Any) -> str:
    async with factory() as session, session.begin():
        return await new_code(session, staff_id, **when)


async def give(factory: Factory, code: str, user_id: int, **when: Any) -> int | None:
    """The chat gives `code`: the id of the member of staff it links to, or None."""
    async with factory() as session, session.begin():
        staff = await redeem(session, code, user_id, **when)
        return staff.id if staff else None


async def linked_to(factory: Factory, user_id: int) -> int | None:
    async with factory() as session:
        staff = await staff_of(session, user_id)
        return staff.id if staff else None


async def rows(factory: Factory) -> list[tuple[Any, ...]]:
    async with factory() as session:
        return [tuple(row) for row in await session.execute(sa.text("SELECT * FROM chat_links ORDER BY id"))]


# ---- storage ----------------------------------------------------------------------------------


def test_a_code_is_read_the_same_however_it_is_typed() -> None:
    assert normalise("abcd 2345") == normalise("ABCD-2345") == normalise(" Abcd–2345\n") == "ABCD2345"


async def test_a_code_links_the_chat_once(session_factory: Factory, directory: dict[str, int]) -> None:
    anna, user = directory["nurse_a"], await chat_user(session_factory)
    code = await code_for(session_factory, anna)
    assert CODE.fullmatch(code), code
    assert await linked_to(session_factory, user) is None

    assert await give(session_factory, code.lower().replace("-", " "), user) == anna
    assert await linked_to(session_factory, user) == anna
    async with session_factory() as session:
        assert await linked_since(session, anna) is not None

    other = await chat_user(session_factory, "4712")
    assert await give(session_factory, code, other) is None, "a used code works again"
    assert await give(session_factory, code, user) is None
    assert await linked_to(session_factory, other) is None


async def test_a_code_expires_after_15_minutes(session_factory: Factory, directory: dict[str, int]) -> None:
    anna, user = directory["nurse_a"], await chat_user(session_factory)
    made = utcnow()
    code = await code_for(session_factory, anna, now=made)
    before = await rows(session_factory)
    assert await give(session_factory, code, user, now=made + timedelta(minutes=CODE_MINUTES)) is None
    assert await rows(session_factory) == before
    assert await give(session_factory, code, user, now=made + timedelta(minutes=CODE_MINUTES - 0.1)) == anna


async def test_a_wrong_code_changes_nothing(session_factory: Factory, directory: dict[str, int]) -> None:
    user = await chat_user(session_factory)
    code = await code_for(session_factory, directory["nurse_a"])
    before = await rows(session_factory)
    wrong = "ABCD-2345" if code != "ABCD-2345" else "ABCD-2346"
    for typed in (wrong, "", code[:-1], code + "2", "' OR 1=1 --"):
        assert await give(session_factory, typed, user) is None, typed
    assert await rows(session_factory) == before


async def test_a_second_code_voids_the_first(session_factory: Factory, directory: dict[str, int]) -> None:
    anna, user = directory["nurse_a"], await chat_user(session_factory)
    first = await code_for(session_factory, anna)
    second = await code_for(session_factory, anna)
    berits = await code_for(session_factory, directory["nurse_b"])  # another's code stays
    assert await give(session_factory, first, user) is None
    assert await give(session_factory, second, user) == anna
    assert (
        await give(session_factory, berits, await chat_user(session_factory, "4712")) == directory["nurse_b"]
    )


async def test_inactive_staff_cannot_link_nor_stay_linked(
    session_factory: Factory, directory: dict[str, int]
) -> None:
    anna, berit = directory["nurse_a"], directory["nurse_b"]
    user, other = await chat_user(session_factory), await chat_user(session_factory, "4712")
    annas = await code_for(session_factory, anna)
    await give(session_factory, await code_for(session_factory, berit), other)
    async with session_factory() as session, session.begin():
        for staff_id in (anna, berit):
            person = await session.get(Staff, staff_id)
            assert person is not None
            person.active = False
    assert await give(session_factory, annas, user) is None
    assert await linked_to(session_factory, user) is None
    assert await linked_to(session_factory, other) is None, "a member of staff who left is still trusted"


async def test_linking_a_chat_again_moves_it(session_factory: Factory, directory: dict[str, int]) -> None:
    anna, berit = directory["nurse_a"], directory["nurse_b"]
    user = await chat_user(session_factory)
    assert await give(session_factory, await code_for(session_factory, anna), user) == anna
    assert await give(session_factory, await code_for(session_factory, berit), user) == berit
    assert await linked_to(session_factory, user) == berit
    async with session_factory() as session:
        assert await linked_since(session, anna) is None
        assert await linked_since(session, berit) is not None


async def test_unlink_clears_every_link_of_that_member_of_staff(
    session_factory: Factory, directory: dict[str, int]
) -> None:
    anna, berit = directory["nurse_a"], directory["nurse_b"]
    telegram, console = await chat_user(session_factory), await chat_user(session_factory, "anna", "console")
    berits_chat = await chat_user(session_factory, "4712")
    for user in (telegram, console):
        assert await give(session_factory, await code_for(session_factory, anna), user) == anna
    await give(session_factory, await code_for(session_factory, berit), berits_chat)
    pending = await code_for(session_factory, anna)
    async with session_factory() as session, session.begin():
        await unlink(session, anna)
    assert await linked_to(session_factory, telegram) is None
    assert await linked_to(session_factory, console) is None
    assert await give(session_factory, pending, telegram) is None, "a code made before the removal works"
    assert await linked_to(session_factory, berits_chat) == berit
    async with session_factory() as session:
        assert await linked_since(session, anna) is None


async def test_the_code_is_not_stored_in_clear(session_factory: Factory, directory: dict[str, int]) -> None:
    code = await code_for(session_factory, directory["nurse_a"])
    stored = await rows(session_factory)
    assert len(stored) == 1
    text = repr(stored).upper()
    assert code not in text and normalise(code) not in text
    async with session_factory() as session:
        hashes = list(await session.scalars(sa.select(ChatLink.code_hash)))
    assert hashes == [hashlib.sha256(normalise(code).encode()).hexdigest()]


# ---- the page ---------------------------------------------------------------------------------


@dataclass
class Desk:
    app: FastAPI
    client: httpx.AsyncClient
    ids: dict[str, int]

    @property
    def sessions(self) -> Factory:
        return self.app.state.desk.service.sessions  # type: ignore[no-any-return]

    async def sign_in(self, email: str) -> None:
        page = await self.client.get("/login")
        token = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert token is not None
        signed = await self.client.post(
            "/login", data={"email": email, "password": PASSWORD, "csrf": token.group(1), "next": "/"}
        )
        assert signed.status_code == 303

    async def csrf(self) -> str:
        found = re.search(r'name="csrf" value="([^"]+)"', (await self.client.get("/chat-link")).text)
        assert found is not None
        return found.group(1)


@pytest.fixture
async def desk(database_url: str, directory: dict[str, int], tmp_path: Path) -> AsyncIterator[Desk]:
    async with running_desk(desk_settings(database_url, tmp_path / "var")) as app:
        ids = await prepare_staff(app.state.desk.service.sessions, directory)
        async with client(app) as browser:
            yield Desk(app, browser, ids)


async def test_a_nurse_links_her_chat_and_removes_the_link(desk: Desk) -> None:
    assert (await desk.client.get("/chat-link")).headers["location"] == "/login?next=/chat-link"
    await desk.sign_in(EMAILS["nurse_a"])
    page = await desk.client.get("/chat-link")
    assert page.status_code == 200
    assert '<a href="/chat-link" aria-current="page">Link your chat</a>' in page.text
    assert "No chat is linked to your account." in page.text and "Remove the link" not in page.text

    refused = await desk.client.post("/chat-link", data={})
    assert refused.status_code == 400 and await rows(desk.sessions) == []
    made = await desk.client.post("/chat-link", data={"csrf": await desk.csrf()})
    assert made.status_code == 200 and made.headers["cache-control"] == "no-store"
    code = CODE.search(made.text)
    assert code is not None
    assert "Valid for 15 minutes" in made.text and "write /professional" in made.text
    assert CODE.search((await desk.client.get("/chat-link")).text) is None, "the code is shown again"

    user = await chat_user(desk.sessions)
    assert await give(desk.sessions, code.group(0), user) == desk.ids["nurse_a"]
    page = await desk.client.get("/chat-link")
    assert "Your chat is linked to your account" in page.text and "Remove the link" in page.text

    assert (await desk.client.post("/chat-link/remove", data={"csrf": "wrong"})).status_code == 400
    assert await linked_to(desk.sessions, user) == desk.ids["nurse_a"]
    removed = await desk.client.post("/chat-link/remove", data={"csrf": await desk.csrf()})
    assert (removed.status_code, removed.headers["location"]) == (303, "/chat-link?done=removed")
    page = await desk.client.get(removed.headers["location"])
    assert "The link is removed." in page.text and "No chat is linked to your account." in page.text
    assert await linked_to(desk.sessions, user) is None

    async with desk.sessions() as session:
        query = sa.select(AuditEntry.staff_id, AuditEntry.action).where(AuditEntry.object_type == "chat_link")
        audited = [tuple(row) for row in await session.execute(query.order_by(AuditEntry.id))]
    assert audited == [(desk.ids["nurse_a"], "make_code"), (desk.ids["nurse_a"], "unlink")]


@pytest.mark.slow
async def test_the_page_has_no_accessibility_violations(
    database_url: str, directory: dict[str, int], tmp_path: Path
) -> None:
    """axe-core on the page as it first is, with a code shown, and linked (headless Chromium)."""
    from tests.backend.test_desk_browser import CHROMIUM, CHROMIUM_ARGS, _require_browser, _violations

    _require_browser()
    from axe_playwright_python.async_playwright import Axe
    from playwright.async_api import async_playwright

    app = create_app(desk_settings(database_url, tmp_path / "var"), migrate=False)
    found: dict[str, list[str]] = {}
    async with served(app) as url, async_playwright() as playwright:
        sessions = app.state.desk.service.sessions
        ids = await prepare_staff(sessions, directory)
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(locale="en-GB")
            await page.goto(f"{url}/login")
            await page.get_by_label("E-mail").fill(EMAILS["nurse_a"])
            await page.get_by_label("Password").fill(PASSWORD)
            await page.get_by_role("button", name="Sign in").click()
            await page.wait_for_url(f"{url}/queue/mine")
            await page.get_by_role("link", name="Link your chat").click()
            await page.wait_for_url(f"{url}/chat-link")
            found["not linked"] = _violations((await Axe().run(page)).response)
            await page.get_by_role("button", name="Make a code").click()
            await page.get_by_text("Valid for 15 minutes").wait_for()
            code = CODE.search(await page.content())
            assert code is not None
            found["code shown"] = _violations((await Axe().run(page)).response)
            assert await give(sessions, code.group(0), await chat_user(sessions)) == ids["nurse_a"]
            await page.goto(f"{url}/chat-link")
            found["linked"] = _violations((await Axe().run(page)).response)
        finally:
            await browser.close()
    assert found == {where: [] for where in found}
