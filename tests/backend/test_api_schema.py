"""The desk's JSON API against its own OpenAPI document, with schemathesis (property-based).

The desk runs under uvicorn on 127.0.0.1 (its lifespan as in production); schemathesis loads
/openapi.json from it and generates requests for every operation, valid ones and invalid ones, as
Anna, a named person with concerns of her own (and one of Berit's she may not see). No answer may be
a 5xx, and every answer must match what the document says of it. Derandomized: the same requests
every run.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.generation import GenerationMode

from storage.models import Concern
from tests.backend.desk_fixtures import console_worry, desk_settings, issue_tokens, prepare_staff, served

pytestmark = pytest.mark.slow

EXAMPLES: Final = {GenerationMode.POSITIVE: 35, GenerationMode.NEGATIVE: 15}


@dataclass
class Api:
    url: str
    token: str
    hers: list[int]  # Anna's concerns
    not_hers: int  # Berit's


@pytest.fixture
async def api(database_url: str, directory: dict[str, int], tmp_path: Path) -> AsyncIterator[Api]:
    from backend.app import create_app

    app = create_app(desk_settings(database_url, tmp_path / "var"), migrate=False)
    async with served(app) as url:
        service = app.state.desk.service
        ids = await prepare_staff(service.sessions, directory)
        made = [await console_worry(service, f"parent-{n}", f"Worry number {n}") for n in range(4)]
        async with service.sessions() as session, session.begin():
            for concern_id in made:
                concern = await session.get(Concern, concern_id)
                assert concern is not None
                concern.assigned_to_id = ids["nurse_b" if concern_id == made[-1] else "nurse_a"]
        [token] = (await issue_tokens(service.sessions, {"nurse_a": ids["nurse_a"]})).values()
        yield Api(url, token, made[:-1], made[-1])


@dataclass
class Summary:
    requests: int = 0
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)

    def table(self) -> str:
        return "\n".join(
            f"  {label:<52} {status}: {n}" for (label, status), n in sorted(self.statuses.items())
        )


def fuzz(api: Api, checks: list[Any]) -> Summary:
    """Every operation, valid and invalid data, through HTTP; collects what failed (run in a thread:
    the server answers on the test's event loop)."""
    schema = schemathesis.openapi.from_url(f"{api.url}/openapi.json")
    auth = {"Authorization": f"Bearer {api.token}"}
    summary = Summary()

    def runner(operation: Any, mode: GenerationMode, session: requests.Session) -> Any:
        label = f"{operation.label} ({mode.value})"

        @settings(
            max_examples=EXAMPLES[mode],
            derandomize=True,  # the same requests every run
            database=None,
            deadline=None,
            phases=[Phase.explicit, Phase.generate, Phase.shrink],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(generation_mode=mode))
        def run(case: Any) -> None:
            response = case.call(base_url=api.url, session=session, headers=auth)
            summary.requests += 1
            summary.statuses[(label, response.status_code)] += 1
            case.validate_response(response, checks=checks, headers=auth)

        return run

    with requests.Session() as session:
        for result in schema.get_all_operations():
            operation = result.ok()
            for mode in EXAMPLES:
                try:
                    runner(operation, mode, session)()
                except (Exception, BaseExceptionGroup) as failure:  # schemathesis' FailureGroup is the latter
                    summary.failures.append(f"{operation.label} ({mode.value}): {str(failure)[:1500]}")
    return summary


async def test_no_operation_answers_5xx(api: Api) -> None:
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import content_type_conformance, response_headers_conformance

    checks = [not_a_server_error, content_type_conformance, response_headers_conformance]
    summary = await asyncio.to_thread(fuzz, api, checks)
    print(f"\nschemathesis: {summary.requests} requests, statuses per operation:\n{summary.table()}")
    assert not summary.failures, "\n\n".join(summary.failures)
    assert summary.requests >= 250
    found = {status for (label, status) in summary.statuses if label.startswith("GET /api/concerns/{")}
    assert {200, 404, 422} <= found  # her concerns, others', and what is no id: the ids meant something


async def test_every_answer_matches_the_document(api: Api) -> None:
    from schemathesis.specs.openapi.checks import response_schema_conformance

    summary = await asyncio.to_thread(fuzz, api, [response_schema_conformance])
    assert not summary.failures, "\n\n".join(summary.failures)


def test_the_document_lists_every_status_the_api_answers(tmp_path: Path) -> None:
    from backend.app import create_app
    from bot.settings import load_settings

    spec = create_app(load_settings(data_dir=tmp_path), migrate=False).openapi()
    missing = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            documented = set(operation["responses"])
            expected = {"401"} | ({"404"} if "{concern_id}" in path else set())
            expected |= {"409"} if method == "post" else set()
            if not expected <= documented:
                missing.append(f"{method.upper()} {path}: {sorted(expected - documented)}")
    assert not missing, missing


async def test_the_api_answers_what_its_document_promises_for_her_own_concern(api: Api) -> None:
    """One hand-made pass over every operation, so the fuzzing above is not all 404s."""

    def calls() -> list[tuple[str, int]]:
        auth = {"Authorization": f"Bearer {api.token}"}
        concern = api.hers[0]
        with requests.Session() as http:
            http.headers.update(auth)
            made = [
                http.get(f"{api.url}/api/concerns", timeout=10),
                http.get(f"{api.url}/api/concerns/{concern}", timeout=10),
                http.post(f"{api.url}/api/concerns/{concern}/acknowledge", timeout=10),
                http.post(f"{api.url}/api/concerns/{concern}/notes", json={"text": "Called."}, timeout=10),
                http.post(f"{api.url}/api/concerns/{concern}/messages", json={"text": "Hello"}, timeout=10),
                http.post(
                    f"{api.url}/api/concerns/{concern}/close", json={"outcome": "advice_given"}, timeout=10
                ),
                http.get(f"{api.url}/api/concerns/{api.not_hers}", timeout=10),
            ]
        return [(r.request.path_url, r.status_code) for r in made]

    answers = await asyncio.to_thread(calls)
    assert [status for _, status in answers] == [200, 200, 204, 201, 201, 204, 404], answers
