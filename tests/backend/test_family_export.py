"""A family downloads everything stored about them from the web chat: by their chat cookie only."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.backend.desk_fixtures import client, desk_settings, running_desk


@pytest.fixture
async def app(database_url: str, directory: dict[str, int], tmp_path: Path) -> AsyncIterator[FastAPI]:
    async with running_desk(desk_settings(database_url, tmp_path / "var")) as app:
        yield app


async def post(browser: httpx.AsyncClient, **body: Any) -> None:
    response = await browser.post("/chat/api/messages", json=body)
    assert response.status_code == 200, response.text


async def worried(browser: httpx.AsyncClient, name: str, words: str) -> None:
    """English, both consents, the child's name, 3 years, no unit; worried at the first question."""
    await post(browser, start=True)
    for step in ({"choice": "en"}, {"choice": "yes"}, {"choice": "yes"}, {"text": name}, {"text": "3"}):
        await post(browser, **step)
    for step in ({"choice": "skip"}, {"choice": "worried"}, {"text": words}):
        await post(browser, **step)


async def test_a_family_downloads_its_own_data_and_only_its_own(app: FastAPI) -> None:
    async with client(app) as first, client(app) as second, client(app) as nobody:
        await worried(first, "Hodan", "hon vaknar varje natt")
        await worried(second, "Ayaan", "ANOTHER FAMILY'S WORDS")

        mine = await first.get("/chat/api/export")
        theirs = await second.get("/chat/api/export")
        without = await nobody.get("/chat/api/export")
        nobody.cookies.set("hjulet_chat", "x" * 43, domain="desk.test", path="/chat")
        unknown = await nobody.get("/chat/api/export")  # a well-formed cookie nobody has

    assert mine.status_code == 200
    assert mine.headers["content-disposition"] == 'attachment; filename="hjulet-my-data.json"'
    assert mine.headers["content-type"].startswith("application/json")
    assert mine.headers["cache-control"] == "no-store"
    document = json.loads(mine.content)
    assert document["schema_version"] == 1 and document["you"]["channel"] == "web"
    assert [c["name"] for c in document["children"]] == ["Hodan"]
    assert [a["own_words"] for a in document["answers"]] == ["hon vaknar varje natt"]
    assert [c["scope"] for c in document["consents"]] == ["store", "share"]
    assert [(c["kind"], c["status"]) for c in document["concerns"]] == [("concern", "new")]
    assert "ANOTHER FAMILY" not in mine.text and "Ayaan" not in mine.text
    assert [a["own_words"] for a in json.loads(theirs.content)["answers"]] == ["ANOTHER FAMILY'S WORDS"]
    assert (without.status_code, unknown.status_code) == (404, 404)
    assert "Hodan" not in without.text + unknown.text
