"""Who may do what on the desk: every route of the app × every kind of visitor, as a table.

The actors, around one concern of the BVC that Anna (a named person there) holds:

    anonymous          nobody signed in (UI: to the login page; API: 401)
    stranger           Sara, a named person at the school: another unit
    named_person       Anna, who holds the concern
    colleague          Berit, a named person of the same BVC, while the concern is Anna's
    lead               Lena, the BVC's unit lead
    coordinator_lead   Cecilia, the lead of the coordinator unit
    admin              Adam, who manages the directory and reads the audit log, but sees no concern

What may not be seen is "not found" (404), never 403 and never a word of it; a form without the
session's CSRF token is refused (400) and changes nothing. Every request is made, and the database is
compared before and after every POST. A route that the table does not know fails the first test.
Sessions are opened in the database, without the password form (test_desk_story signs in for real).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from backend.app import create_app
from bot.settings import load_settings
from storage.concerns import Concerns
from storage.desk import AuditEntry, RoutingRule
from storage.models import Concern
from tests.backend.desk_fixtures import (
    PASSWORD,
    changed,
    client,
    console_worry,
    desk_settings,
    issue_tokens,
    open_session,
    prepare_staff,
    running_desk,
    snapshot,
)

ACTORS: Final = ("anonymous", "stranger", "named_person", "colleague", "lead", "coordinator_lead", "admin")
SIGNED_IN: Final = ACTORS[1:]
STAFF_OF: Final = {
    "stranger": "teacher",
    "named_person": "nurse_a",
    "colleague": "nurse_b",
    "lead": "lead",
    "coordinator_lead": "coordinator_lead",
    "admin": "admin",
}
WHO_MAY: Final = {
    "staff": frozenset(SIGNED_IN),  # anyone signed in
    "concern": frozenset({"named_person", "lead"}),  # who may see (and work) the concern
    "admin": frozenset({"admin"}),
}
HOME: Final = {"lead": "/queue/unit", "coordinator_lead": "/queue/unit", "admin": "/admin"}
FAMILY_WORDS: Final = "She is scared of the dark and wakes every night"
NOTE_WORDS: Final = "Spoke with the preschool; they see it too"
SECRETS: Final = (FAMILY_WORDS, NOTE_WORDS)


@dataclass(frozen=True)
class Call:
    """One request. In `path`, form values and `goes_to`: {id} is the concern, {home} the actor's
    start page, {municipality}, {rule} and {colleague} rows of the directory."""

    method: str
    path: str
    form: dict[str, str] = field(default_factory=dict)  # a UI form; the CSRF token is added
    body: dict[str, str] | None = None  # an API request's JSON
    ok: int = 200  # the status an allowed actor gets
    goes_to: str = ""  # where an allowed UI request redirects (with its query: a prefix)
    changes: bool = False  # an allowed request changes the database (a concern: a fresh one each)
    lists: frozenset[str] = frozenset()  # a page or list: who finds Anna's concern on it
    guard: str = ""  # when it differs from the route's

    @property
    def api(self) -> bool:
        return self.path.startswith("/api/")


@dataclass(frozen=True)
class Route:
    guard: str  # "staff", "concern" or "admin": see WHO_MAY
    calls: tuple[Call, ...]


def _form(path: str, form: dict[str, str] | None = None, goes_to: str = "", **more: Any) -> Call:
    """A UI form that an allowed actor sends and is redirected (303) from."""
    return Call("POST", path, form or {}, ok=303, goes_to=goes_to, **more)


def _api(path: str, ok: int, body: dict[str, str] | None = None) -> Call:
    """An API request that changes the concern."""
    return Call("POST", path, body=body, ok=ok, changes=True)


def _actions() -> tuple[Call, ...]:
    done = [
        _form(f"/concerns/{{id}}/{action}", form, f"/concerns/{{id}}?done={action}", changes=True)
        for action, form in (
            ("acknowledge", {}),
            ("start", {}),
            ("assign", {"target": "staff:{colleague}"}),
            ("note", {"text": "Called the family's preschool."}),
            ("message", {"text": "May I call you tomorrow?"}),
            ("assess", {"five_0": "Sleep, at home and at preschool"}),
            ("close", {"outcome": "advice_given"}),
        )
    ]
    # An action the desk does not know leads back to the concern's page (which says what it says).
    return (*done, _form("/concerns/{id}/dance", goes_to="/concerns/{id}", guard="staff"))


def _admin(path: str, form: dict[str, str], done: str) -> Route:
    return Route("admin", (_form(path, form, f"/admin?done={done}", changes=True),))


TOWN: Final = "{municipality}"
ROUTES: Final[dict[tuple[str, str], Route]] = {
    ("GET", "/"): Route("staff", (Call("GET", "/", ok=303, goes_to="{home}"),)),
    ("GET", "/queue/{which}"): Route(
        "staff",
        (
            Call("GET", "/queue/mine", lists=frozenset({"named_person"})),
            Call("GET", "/queue/unit", lists=frozenset({"lead"})),
            Call("GET", "/queue/unit?closed=1"),
            Call("GET", "/queue/elsewhere", ok=303, goes_to="/queue/mine"),
        ),
    ),
    ("GET", "/glossary"): Route("staff", (Call("GET", "/glossary"),)),
    ("GET", "/chat-link"): Route(
        "staff", (Call("GET", "/chat-link"), Call("GET", "/chat-link?done=removed"))
    ),
    # A code is made (and shown on the page itself), then removing the link voids that unused code.
    ("POST", "/chat-link"): Route("staff", (Call("POST", "/chat-link", changes=True),)),
    ("POST", "/chat-link/remove"): Route(
        "staff", (_form("/chat-link/remove", goes_to="/chat-link?done=removed", changes=True),)
    ),
    ("GET", "/concerns/{concern_id}"): Route("concern", (Call("GET", "/concerns/{id}"),)),
    ("POST", "/concerns/{concern_id}/{action}"): Route("concern", _actions()),
    ("GET", "/concerns/{concern_id}/plan"): Route("concern", (Call("GET", "/concerns/{id}/plan"),)),
    ("POST", "/concerns/{concern_id}/plan"): Route(
        "concern",
        (
            _form(
                "/concerns/{id}/plan",
                {"do": "save", "need_safe": "Sleep"},
                "/concerns/{id}/plan?done=saved",
                changes=True,
            ),
        ),
    ),
    ("GET", "/admin"): Route("admin", (Call("GET", "/admin"),)),
    ("GET", "/admin/audit"): Route(
        "admin", (Call("GET", "/admin/audit"), Call("GET", "/admin/audit?page=1"))
    ),
    ("POST", "/admin/municipalities/{municipality_id}"): _admin(
        f"/admin/municipalities/{TOWN}",
        {"name": "Växjö kommun", "phone_social": "0470-410 01"},
        "municipality",
    ),
    ("POST", "/admin/units"): _admin(
        "/admin/units",
        {"code": "bvc_norr", "name": "BVC Norr", "kind": "bvc", "municipality_id": TOWN},
        "unit",
    ),
    ("POST", "/admin/staff"): _admin(
        "/admin/staff",
        {
            "email": "nina@bvc.se",
            "name": "Nina",
            "role": "named_person",
            "unit": "bvc_centrum",
            "password": PASSWORD,
        },
        "staff",
    ),
    ("POST", "/admin/rules"): _admin(
        "/admin/rules",
        {"municipality_id": TOWN, "min_age_months": "216", "max_age_months": "240", "kind": "school"},
        "rule",
    ),
    ("POST", "/admin/rules/{rule_id}/delete"): _admin("/admin/rules/{rule}/delete", {}, "rule"),
    ("GET", "/api/concerns"): Route(
        "staff",
        (
            Call("GET", "/api/concerns", lists=frozenset({"named_person", "lead"})),
            Call("GET", "/api/concerns?status=closed"),
        ),
    ),
    ("GET", "/api/concerns/{concern_id}"): Route("concern", (Call("GET", "/api/concerns/{id}"),)),
    ("POST", "/api/concerns/{concern_id}/acknowledge"): Route(
        "concern", (_api("/api/concerns/{id}/acknowledge", 204),)
    ),
    ("POST", "/api/concerns/{concern_id}/notes"): Route(
        "concern", (_api("/api/concerns/{id}/notes", 201, {"text": "Called."}),)
    ),
    ("POST", "/api/concerns/{concern_id}/messages"): Route(
        "concern", (_api("/api/concerns/{id}/messages", 201, {"text": "May I call?"}),)
    ),
    ("POST", "/api/concerns/{concern_id}/close"): Route(
        "concern", (_api("/api/concerns/{id}/close", 204, {"outcome": "family_declined"}),)
    ),
    # Last: the language changes the pages' words, and signing out ends the session.
    ("POST", "/language"): Route(
        "staff", (_form("/language", {"lang": "sv", "back": "/queue/mine"}, "/queue/mine", changes=True),)
    ),
    ("POST", "/logout"): Route("staff", (_form("/logout", goes_to="/login"),)),
}
# Routes with rules of their own, tested elsewhere: the spec, signing in, Telegram's webhook, files,
# the family web chat.
OWN_RULES: Final = {
    ("GET", "/openapi.json"),
    ("GET", "/login"),
    ("POST", "/login"),
    ("POST", "/telegram/webhook"),
    ("MOUNT", "/static"),
    ("GET", "/chat"),  # the family web chat: no staff session, its own cookie (tests/backend/test_webchat.py)
    ("POST", "/chat/api/messages"),
    ("GET", "/chat/api/waiting"),
    ("GET", "/chat/api/wheel"),
    ("GET", "/chat/api/export"),  # the family's data, by its cookie (tests/backend/test_family_export.py)
    ("GET", "/chat/plan"),  # the family's plan: their own cookie or link (tests/backend/test_plans.py)
    ("POST", "/chat/plan/consent"),
    ("GET", "/healthz"),  # health checks: public, no data (tests/deploy/test_health_checks.py)
    ("GET", "/readyz"),
}


def app_routes(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path) of every route, also inside included routers; a mount as ("MOUNT", path)."""
    try:  # newer FastAPI keeps an included router as one route; this walks into it
        from fastapi.routing import iter_route_contexts

        routes: list[Any] = list(iter_route_contexts(app.routes))
    except ImportError:
        routes = list(app.routes)
    found = set()
    for route in routes:
        methods = getattr(route, "methods", None)
        if methods is None:
            found.add(("MOUNT", route.path))
        found |= {(method, route.path) for method in methods or () if method != "HEAD"}
    return found


def test_the_table_names_every_route_of_the_app(tmp_path: Path) -> None:
    app = create_app(load_settings(data_dir=tmp_path, telegram_webhook_secret="s" * 32), migrate=False)
    found = app_routes(app)
    assert found - OWN_RULES - set(ROUTES) == set(), "routes without an entry in the authorization table"
    assert set(ROUTES) - found == set(), "entries for routes the app no longer has"
    assert found >= OWN_RULES


# ---- the world: a concern, the people around it, each signed in -----------------------------


@dataclass
class World:
    app: FastAPI
    ids: dict[str, int]
    target: int  # Anna's concern: answers, the family's own words, a private note
    colleagues: int  # Berit's concern, same BVC
    schools: int  # Sara's concern, at the school
    spare_rule: int
    browsers: dict[str, httpx.AsyncClient]
    csrf: dict[str, str]
    tokens: dict[str, str]
    made: int = 0
    known: dict[str, list[tuple[Any, ...]]] | None = None  # the database as the last POST left it

    async def state(self) -> dict[str, list[tuple[Any, ...]]]:
        """The database's rows now (what the last POST left, unless something was added since)."""
        if self.known is None:
            self.known = await snapshot(self.sessions)
        return self.known

    @property
    def sessions(self):  # type: ignore[no-untyped-def]
        return self.app.state.desk.service.sessions

    def staff_id(self, actor: str) -> int:
        return self.ids[STAFF_OF[actor]]

    async def fresh(self) -> int:
        """Another concern like Anna's, new and hers (for an action that changes it)."""
        return await self.copy(self.ids["bvc"], self.ids["nurse_a"])

    async def copy(self, unit_id: int, staff_id: int) -> int:
        async with self.sessions() as session, session.begin():
            model = await session.get(Concern, self.target)
            assert model is not None
            concern = Concern(
                child_id=model.child_id, conversation_id=model.conversation_id, user_id=model.user_id,
                kind=model.kind, reasons=list(model.reasons), priority=model.priority,
                answers_shared=model.answers_shared, unit_id=unit_id, assigned_to_id=staff_id,
                due_at=model.due_at, source=model.source,
            )  # fmt: skip
            session.add(concern)
            await session.flush()
            await Concerns(session).add_event(concern.id, "created", data={"reason": model.reasons[0]})
        self.made, self.known = self.made + 1, None
        return concern.id

    def values(self, actor: str, concern_id: int) -> dict[str, Any]:
        return {
            "id": concern_id,
            "home": HOME.get(actor, "/queue/mine"),
            "municipality": self.ids["municipality"],
            "rule": self.spare_rule,
            "colleague": self.ids["nurse_b"],
        }

    async def send(self, actor: str, call: Call, values: dict[str, Any], csrf: str | None) -> httpx.Response:
        browser, path = self.browsers[actor], call.path.format(**values)
        if call.api:
            bearer = {"Authorization": f"Bearer {self.tokens[actor]}"} if actor in self.tokens else {}
            return await browser.request(call.method, path, json=call.body, headers=bearer)
        if call.method == "GET":
            return await browser.get(path)
        form = {name: value.format(**values) for name, value in call.form.items()}
        if csrf is not None:
            form["csrf"] = csrf
        return await browser.post(path, data=form)


@pytest.fixture
async def world(database_url: str, directory: dict[str, int], tmp_path: Path) -> AsyncIterator[World]:
    async with running_desk(desk_settings(database_url, tmp_path / "var")) as app:
        service = app.state.desk.service
        ids = await prepare_staff(service.sessions, directory)
        target = await console_worry(service, "parent-1", FAMILY_WORDS)
        async with service.sessions() as session, session.begin():
            concern = await session.get(Concern, target)
            assert concern is not None and concern.unit_id == ids["bvc"]
            concern.assigned_to_id = ids["nurse_a"]
            await Concerns(session).add_event(target, "note", staff_id=ids["nurse_a"], body=NOTE_WORDS)
            rule = RoutingRule(
                municipality_id=ids["municipality"], min_age_months=241, max_age_months=260, kind="kaa"
            )
            session.add(rule)
            await session.flush()
            spare_rule = rule.id
        staff_ids = {actor: ids[STAFF_OF[actor]] for actor in SIGNED_IN}
        tokens = await issue_tokens(service.sessions, staff_ids)
        async with AsyncExitStack() as stack:
            browsers = {actor: await stack.enter_async_context(client(app)) for actor in ACTORS}
            csrf = {
                actor: await open_session(service.sessions, browsers[actor], staff_ids[actor])
                for actor in SIGNED_IN
            }
            world = World(app, ids, target, 0, 0, spare_rule, browsers, csrf, tokens)
            world.colleagues = await world.copy(ids["bvc"], ids["nurse_b"])
            world.schools = await world.copy(ids["school"], ids["teacher"])
            yield world


# ---- the matrix -------------------------------------------------------------------------------


def _shows(response: httpx.Response, call: Call, concern_id: int) -> bool:
    if call.api:
        return any(item["id"] == concern_id for item in response.json())
    return f'href="/concerns/{concern_id}"' in response.text


def _leaks(response: httpx.Response) -> list[str]:
    return [secret for secret in SECRETS if secret in response.text]


def _where(response: httpx.Response) -> str:
    return response.headers.get("location", "")


def _goes(location: str, expected: str) -> bool:
    return location.startswith(expected) if "?" in expected else location.split("?")[0] == expected


async def check(world: World, route: Route, call: Call, actor: str) -> tuple[int, list[str]]:
    """Make `call` as `actor` (and, for a UI form, without and with a wrong CSRF token first);
    returns the number of requests made and what was wrong."""
    allowed = actor in WHO_MAY[call.guard or route.guard]
    concern_id = world.target
    if allowed and call.changes and "{id}" in call.path:
        concern_id = await world.fresh()
    values = world.values(actor, concern_id)
    label = f"{call.method} {call.path.format(**values)} as {actor}"
    problems: list[str] = []
    requests = 0

    async def send(csrf: str | None) -> tuple[httpx.Response, list[str]]:
        nonlocal requests
        requests += 1
        before = await world.state() if call.method == "POST" else {}
        response = await world.send(actor, call, values, csrf)
        if call.method == "POST":
            world.known = None
        after = await world.state() if call.method == "POST" else {}
        if response.status_code >= 500:
            problems.append(f"{label}: {response.status_code}")
        if actor not in WHO_MAY["concern"] and _leaks(response):
            problems.append(f"{label}: shows {_leaks(response)}")
        return response, changed(before, after)

    if actor == "anonymous":
        response, tables = await send(None)
        if call.api and response.status_code != 401:
            problems.append(f"{label}: {response.status_code}, not 401")
        if not call.api and (response.status_code, _where(response)[:13]) != (303, "/login?next=/"):
            problems.append(f"{label}: {response.status_code} {_where(response)}, not to the login")
        if tables:
            problems.append(f"{label}: changed {tables}")
        return requests, problems

    if call.method == "POST" and not call.api:
        others = SIGNED_IN[(SIGNED_IN.index(actor) + 1) % len(SIGNED_IN)]
        for how, token in (
            ("without a CSRF token", None),
            ("with another session's token", world.csrf[others]),
        ):
            response, tables = await send(token)
            if response.status_code != 400:
                problems.append(f"{label} {how}: {response.status_code}, not 400")
            if tables:
                problems.append(f"{label} {how}: changed {tables}")

    response, tables = await send(world.csrf[actor])
    if not allowed:
        if response.status_code != 404:
            problems.append(f"{label}: {response.status_code}, not 404")
        if tables:
            problems.append(f"{label}: refused, yet changed {tables}")
        return requests, problems
    if response.status_code != call.ok:
        problems.append(f"{label}: {response.status_code} {_where(response)}, not {call.ok}")
    if call.goes_to and not _goes(_where(response), call.goes_to.format(**values)):
        problems.append(f"{label}: to {_where(response)!r}, not {call.goes_to.format(**values)!r}")
    if call.method == "POST" and bool(tables) != call.changes:
        problems.append(f"{label}: changed {tables or 'nothing'}")
    if call.method == "GET" and response.status_code == 200:
        if "{id}" in call.path:  # the concern itself, to those who may see it: everything on it
            if call.path.endswith("{id}") and not all(secret in response.text for secret in SECRETS):
                problems.append(f"{label}: the family's words or the note are missing")
        elif _shows(response, call, world.target) != (actor in call.lists):
            problems.append(f"{label}: Anna's concern {'is' if actor not in call.lists else 'is not'} listed")
    return requests, problems


async def test_every_route_answers_every_actor_as_the_table_says(world: World) -> None:
    cells: set[tuple[tuple[str, str], str]] = set()
    problems: list[str] = []
    requests = 0
    for key, route in ROUTES.items():
        for call in route.calls:
            for actor in ACTORS:
                made, wrong = await check(world, route, call, actor)
                cells.add((key, actor))
                requests += made
                problems += wrong

    for actor in SIGNED_IN:  # signed out by the last route: the session is over
        after = await world.browsers[actor].get("/queue/mine")
        assert _where(after).startswith("/login?next=/queue/mine"), actor
    print(
        f"\nauthorization matrix: {len(ROUTES)} routes × {len(ACTORS)} actors = {len(cells)} cells, "
        f"{requests} requests, {world.made} fresh concerns"
    )
    assert not problems, "\n".join(problems)
    assert len(cells) == len(ROUTES) * len(ACTORS) == 25 * 7


async def test_the_api_takes_no_cookie_so_another_site_cannot_use_a_session(world: World) -> None:
    """The API has no CSRF token because it reads no cookie: a signed-in browser gets 401."""
    browser = world.browsers["named_person"]
    before = await snapshot(world.sessions)
    for call in (c for route in ROUTES.values() for c in route.calls if c.api):
        response = await browser.request(call.method, call.path.format(id=world.target), json=call.body)
        assert response.status_code == 401, call.path
        assert response.headers["www-authenticate"] == "Bearer"
    assert await snapshot(world.sessions) == before
    wrong = await browser.get("/api/concerns", headers={"Authorization": "Bearer hj_not-a-token"})
    assert wrong.status_code == 401


# ---- guessed ids --------------------------------------------------------------------------------

GUESSES: Final = ("not theirs", "missing", "0", "-1", "abc")


def _guess(world: World, actor: str, guess: str) -> str:
    not_theirs = {"named_person": world.colleagues, "lead": world.schools}.get(actor, world.target)
    return {"not theirs": str(not_theirs), "missing": "987654"}.get(guess, guess)


async def test_guessed_ids_are_not_found_and_tell_nothing(world: World) -> None:
    """Someone else's concern, one that does not exist, 0, negative, non-numeric: a page says 404,
    the API 404 (or 422 for what is no id of ours), the same answer whether the concern exists or
    not, nothing changed."""
    before = await snapshot(world.sessions)
    for actor in SIGNED_IN:
        browser, csrf = world.browsers[actor], world.csrf[actor]
        bearer = {"Authorization": f"Bearer {world.tokens[actor]}"}
        answers: dict[str, dict[str, tuple[int, str]]] = {}
        for guess in GUESSES:
            x = _guess(world, actor, guess)
            responses = {
                "page": await browser.get(f"/concerns/{x}"),
                "form": await browser.post(f"/concerns/{x}/note", data={"csrf": csrf, "text": "Hello"}),
                "api": await browser.get(f"/api/concerns/{x}", headers=bearer),
                "api note": await browser.post(
                    f"/api/concerns/{x}/notes", json={"text": "Hi"}, headers=bearer
                ),
            }
            ui_ok = 404  # a page: nothing there, whatever was typed
            api_ok = 404 if guess in ("not theirs", "missing") else 422  # the API's ids are 1..2**31-1
            for what, response in responses.items():
                expected = api_ok if what.startswith("api") else ui_ok
                assert response.status_code == expected, (actor, guess, what, response.status_code)
                assert not _leaks(response), (actor, guess, what)
            answers[guess] = {what: (r.status_code, r.text) for what, r in responses.items()}
        assert answers["not theirs"] == answers["missing"], f"{actor}: a hidden concern answers unlike none"
    for huge in (2**31, 2**63):
        response = await world.browsers["named_person"].get(
            f"/api/concerns/{huge}", headers={"Authorization": f"Bearer {world.tokens['named_person']}"}
        )
        assert response.status_code == 422
    assert await snapshot(world.sessions) == before


async def test_a_huge_concern_id_on_the_desk_pages_is_not_found(world: World) -> None:
    browser, csrf = world.browsers["named_person"], world.csrf["named_person"]
    statuses = []
    for huge in (2**31, 2**63):
        statuses.append((await browser.get(f"/concerns/{huge}")).status_code)
        statuses.append(
            (await browser.post(f"/concerns/{huge}/note", data={"csrf": csrf, "text": "x"})).status_code
        )
    assert statuses == [404] * 4, statuses


async def test_admin_forms_with_ids_that_do_not_exist_are_refused_not_500(world: World) -> None:
    browser, csrf = world.browsers["admin"], world.csrf["admin"]
    before = await snapshot(world.sessions)
    forms = [
        (f"/admin/municipalities/{2**63}", {"name": "X"}),
        (f"/admin/rules/{2**63}/delete", {}),
        ("/admin/units", {"code": "x_1", "name": "X", "kind": "bvc", "municipality_id": str(2**63)}),
        (
            "/admin/rules",
            {"municipality_id": "987654", "min_age_months": "250", "max_age_months": "260", "kind": "kaa"},
        ),
    ]
    statuses = {
        path: (await browser.post(path, data={"csrf": csrf, **form})).status_code for path, form in forms
    }
    assert all(status < 500 for status in statuses.values()), statuses
    assert await snapshot(world.sessions) == before


# ---- the audit log -----------------------------------------------------------------------------


async def test_every_denied_read_is_audited_as_denied(world: World) -> None:
    expected: list[tuple[int, int]] = []
    for actor in ("stranger", "colleague", "coordinator_lead", "admin"):
        bearer = {"Authorization": f"Bearer {world.tokens[actor]}"}
        browser = world.browsers[actor]
        assert (await browser.get(f"/concerns/{world.target}")).status_code == 404
        assert (await browser.get(f"/api/concerns/{world.target}", headers=bearer)).status_code == 404
        assert (await browser.get("/concerns/987654")).status_code == 404
        expected += [(world.staff_id(actor), world.target)] * 2 + [(world.staff_id(actor), 987654)]
    async with world.sessions() as session:
        query = sa.select(AuditEntry.staff_id, AuditEntry.object_id).where(
            AuditEntry.action == "denied", AuditEntry.object_type == "concern"
        )
        denied = sorted(tuple(row) for row in await session.execute(query.order_by(AuditEntry.id)))
    assert denied == sorted(expected), json.dumps(denied)


async def test_reads_that_are_allowed_are_audited(world: World) -> None:
    """The other half of the audit: Anna's and Lena's reads are there, with who read what."""
    for actor in ("named_person", "lead"):
        bearer = {"Authorization": f"Bearer {world.tokens[actor]}"}
        assert (await world.browsers[actor].get(f"/concerns/{world.target}")).status_code == 200
        assert (
            await world.browsers[actor].get(f"/api/concerns/{world.target}", headers=bearer)
        ).status_code == 200
    async with world.sessions() as session:
        query = sa.select(AuditEntry.staff_id).where(
            AuditEntry.action == "read", AuditEntry.object_id == world.target
        )
        readers = list(await session.scalars(query))
    assert sorted(readers) == sorted([world.staff_id("named_person")] * 2 + [world.staff_id("lead")] * 2)
