"""The desk as a named person uses it: a family's worry arrives, she signs in, reads it in her own
language, acknowledges, writes a note, messages the family, reads their answer, and closes it."""

from __future__ import annotations

import base64
import re
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from backend.app import create_app
from backend.passwords import hash_password, new_token
from bot.service import IncomingMessage
from bot.settings import load_settings
from storage.desk import AuditEntry, Staff
from storage.directory import Directory
from storage.models import Concern

PASSWORD = "correct horse battery staple"


@dataclass
class Desk:
    app: FastAPI
    client: httpx.AsyncClient

    @property
    def service(self):  # type: ignore[no-untyped-def]
        return self.app.state.desk.service

    async def family(self, user: str, *words: str, choices: tuple[str, ...] = ()) -> list[str]:
        replies = []
        for choice in choices:
            replies = await self.service.handle(
                IncomingMessage("console", user, choice=choice, language_hint="en")
            )
        for text in words:
            replies = await self.service.handle(
                IncomingMessage("console", user, text=text, language_hint="en")
            )
        return [r.text for r in replies if r.kind != "answered"]

    async def sign_in(self, email: str, password: str = PASSWORD) -> httpx.Response:
        page = await self.client.get("/login")
        token = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert token is not None
        return await self.client.post(
            "/login", data={"email": email, "password": password, "csrf": token.group(1), "next": "/"}
        )

    async def csrf(self, path: str) -> str:
        page = await self.client.get(path)
        found = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert found is not None, page.text[:500]
        return found.group(1)


@pytest.fixture
async def desk(database_url: str, directory: dict[str, int], tmp_path: Path) -> AsyncIterator[Desk]:
    keys = f"t1 {base64.b64encode(secrets.token_bytes(32)).decode()}"
    settings = load_settings(
        data_dir=tmp_path / "var", database_url=database_url, encryption_keys=keys, default_language="en"
    )
    app = create_app(settings, migrate=False)
    async with app.router.lifespan_context(app):
        async with app.state.desk.service.sessions() as session, session.begin():
            for person in await Directory(session).staff_list():
                person.password_hash = hash_password(PASSWORD)
                person.language = "en"
        transport = httpx.ASGITransport(app=app)
        headers = {"Accept-Language": "en"}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://desk.test", headers=headers
        ) as client:
            yield Desk(app, client)


async def worried_family(desk: Desk, user: str) -> int:
    await desk.service.handle(IncomingMessage("console", user, start=True, language_hint="en"))
    await desk.family(user, choices=("en", "yes", "yes", "skip"))
    await desk.family(user, "3")
    await desk.family(user, choices=("skip", "worried"))
    await desk.family(user, "She is scared of the dark and wakes every night")
    async with desk.service.sessions() as session:
        return (await session.scalars(sa.select(Concern.id))).one()


async def test_the_named_person_works_a_concern_from_arrival_to_closing(desk: Desk, directory) -> None:
    concern_id = await worried_family(desk, "parent-1")
    assert (await desk.client.get("/queue/mine")).status_code == 303  # not signed in: to the login

    bad = await desk.sign_in("a@bvc.se", "wrong password!!")
    assert bad.status_code == 401 and "Wrong e-mail or password" in bad.text
    ok = await desk.sign_in("a@bvc.se")
    assert ok.status_code == 303
    cookie = ok.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie

    queue = await desk.client.get("/queue/mine")
    assert f"/concerns/{concern_id}" in queue.text
    page = await desk.client.get(f"/concerns/{concern_id}")
    assert "Does your child feel safe and calm at home?" in page.text and "Worried" in page.text
    assert "She is scared of the dark" in page.text and "in English" in page.text
    wheel = page.text.split('<figure class="wheel">')[1].split("</figure>")[0]  # the family's wheel
    assert 'class="slice worried" data-indicator="safe"' in wheel and "Safe: Worried" in wheel

    csrf = await desk.csrf(f"/concerns/{concern_id}")
    assert (await desk.client.post(f"/concerns/{concern_id}/acknowledge", data={})).status_code == 400
    for action, data in (
        ("acknowledge", {}),
        ("note", {"text": "Called the preschool; they see it too."}),
        ("message", {"text": "Hi, I am Anna, your BVC nurse. May I call you tomorrow?"}),
    ):
        response = await desk.client.post(f"/concerns/{concern_id}/{action}", data={"csrf": csrf, **data})
        assert response.status_code == 303 and "error" not in response.headers["location"], action

    waiting = await desk.service.waiting("console", "parent-1")
    assert "Anna" in waiting[0].text and "May I call you tomorrow?" in waiting[0].text
    assert waiting[-1].text == "You can answer Anna here. Write your answer, or choose Skip."
    thanks = await desk.family("parent-1", "Yes, after four please")
    assert thanks[0] == "Thank you. Anna can read your answer now."

    page = await desk.client.get(f"/concerns/{concern_id}")
    assert "Yes, after four please" in page.text and "Called the preschool" in page.text
    closing = await desk.client.post(
        f"/concerns/{concern_id}/close", data={"csrf": csrf, "outcome": "advice_given"}
    )
    assert closing.status_code == 303

    async with desk.service.sessions() as session:
        concern = await session.get(Concern, concern_id)
        actions = list(
            await session.scalars(sa.select(AuditEntry.action).where(AuditEntry.object_id == concern_id))
        )
    assert concern is not None and (concern.status, concern.outcome) == ("closed", "advice_given")
    assert {"read", "acknowledge", "note", "message_family", "close"} <= set(actions)


async def test_the_api_shows_the_same_concerns_with_a_token(desk: Desk, directory) -> None:
    concern_id = await worried_family(desk, "parent-2")
    token = new_token()
    async with desk.service.sessions() as session, session.begin():
        assigned = (await session.get(Concern, concern_id)).assigned_to_id
        other = next(name for name in ("nurse_a", "nurse_b") if directory[name] != assigned)
        await Directory(session).add_token(assigned, token)
        stranger_token = new_token()
        await Directory(session).add_token(directory[other], stranger_token)
    auth = {"Authorization": f"Bearer {token}"}

    listed = await desk.client.get("/api/concerns", headers=auth)
    assert [c["id"] for c in listed.json()] == [concern_id]
    detail = (await desk.client.get(f"/api/concerns/{concern_id}", headers=auth)).json()
    assert detail["answers"][0]["code"] == "worried"
    assert (
        await desk.client.post(f"/api/concerns/{concern_id}/acknowledge", headers=auth)
    ).status_code == 204
    stranger = {"Authorization": f"Bearer {stranger_token}"}
    assert (await desk.client.get(f"/api/concerns/{concern_id}", headers=stranger)).status_code == 404
    assert (await desk.client.get("/api/concerns")).status_code == 401
    assert (await desk.client.get("/openapi.json")).json()["info"]["title"] == "Hjulet desk API"


async def test_an_admin_sees_the_directory_but_no_concern(desk: Desk, directory) -> None:
    concern_id = await worried_family(desk, "parent-3")
    await desk.sign_in("admin@kommun.se")
    assert "BVC Centrum" in (await desk.client.get("/admin")).text
    assert (await desk.client.get(f"/concerns/{concern_id}")).status_code == 404
    assert (await desk.client.get("/admin/audit")).status_code == 200
    async with desk.service.sessions() as session:
        staff = await session.get(Staff, directory["admin"])
    assert staff is not None


async def test_staff_read_the_same_definitions_as_families(desk: Desk, directory) -> None:
    import html

    from flows.glossary import TERMS

    await desk.sign_in("a@bvc.se")
    page = await desk.client.get("/glossary")

    assert page.status_code == 200 and 'aria-current="page"' in page.text
    text = html.unescape(page.text)
    assert all(term.name in text and term.definition in text for term in TERMS.values())


async def test_a_professionals_report_reaches_the_named_persons_queue_and_page(desk: Desk, directory) -> None:
    from storage import chat_links
    from storage.desk import Staff as StaffRow

    async with desk.service.sessions() as session, session.begin():
        teacher = StaffRow(
            email="t@solrosen.se", name="Tove", role="unit_lead", unit_id=directory["preschool"]
        )
        session.add(teacher)
        await session.flush()
        code = await chat_links.new_code(session, teacher.id)
    pro = ("console", "tove-chat")
    for fields in (
        {"command": "professional"}, {"choice": "worried"}, {"choice": "preschool"}, {"choice": "small"},
        {"text": "Solrosens förskola"}, {"text": code}, {"choice": "yes"},
        {"text": "Hon kommer hungrig varje morgon och har inga vinterkläder"}, {"text": "Två veckor"},
    ):  # fmt: skip
        await desk.service.handle(IncomingMessage(*pro, language_hint="sv", **fields))  # type: ignore[arg-type]
    async with desk.service.sessions() as session:
        concern_id = (await session.scalars(sa.select(Concern.id))).one()

    await desk.sign_in("a@bvc.se")
    queue = await desk.client.get("/queue/mine")
    page = await desk.client.get(f"/concerns/{concern_id}")

    assert f"/concerns/{concern_id}" in queue.text
    assert "A professional reports a worry" in page.text
    assert "Reported by Tove, preschool at Solrosens förskola." in page.text
    assert "Cared for (nurtured)" in page.text.split("Reported by Tove")[1].split("</")[0]
    assert "Hon kommer hungrig varje morgon" in page.text  # decrypted for the named person
