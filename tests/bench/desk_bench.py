"""Latency of the desk's busiest reads with 10,000 concerns in the database.

    .venv/bin/python -m tests.bench.desk_bench [--concerns 10000] [--requests 300] [--explain]

Fills a fresh database with a municipality of 12 units and 60 staff, and N concerns spread over the
units and their named persons (some unassigned), every status and priority, each with a family, a
child, 18 answers and its timeline. Then the desk runs under uvicorn on 127.0.0.1 and, warm, each
page is asked for `--requests` times in a row: the unit lead's queue, a named person's own queue,
the JSON list of concerns (a named person and a lead), and a concern's page. Prints p50/p99/max.

SQLite always (a temporary file); PostgreSQL too when HJULET_BENCH_DATABASE_URL names a server
(an admin URL such as postgresql+asyncpg://postgres@127.0.0.1:5432/postgres): a database is created
for the run and dropped after it. --explain prints the plans of the queue queries as the desk ran them.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import statistics
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from backend.app import create_app
from backend.passwords import new_token
from flows.loader import load_flows
from storage.database import upgrade
from storage.desk import ConcernEvent, Municipality, RoutingRule, Staff, Unit
from storage.directory import Directory
from storage.models import Answer, Child, Concern, Conversation, User
from tests.backend.desk_fixtures import desk_settings, open_session, served

STATUSES = (("new", 30), ("acknowledged", 20), ("in_progress", 20), ("closed", 30))
PRIORITIES = (("urgent", 5), ("high", 15), ("normal", 60), ("low", 20))
CODES = (("good", 70), ("some_worries", 20), ("worried", 8), ("dont_know", 2))
# (code, kind, share of the concerns, named persons)
UNITS = [
    ("bvc_centrum", "bvc", 30, 6),
    ("bvc_norr", "bvc", 15, 4),
    ("bvc_syd", "bvc", 15, 4),
    ("bvc_vaster", "bvc", 10, 3),
    ("solrosen", "preschool", 5, 3),
    ("blaklinten", "preschool", 5, 3),
    ("ekbacken", "preschool", 4, 3),
    ("skolan_a", "school", 5, 3),
    ("skolan_b", "school", 4, 3),
    ("elevhalsan", "kaa", 3, 2),
    ("socialtjansten", "social_services", 2, 2),
    ("samordning", "coordinator", 2, 2),
]


@dataclass
class World:
    units: dict[str, int] = field(default_factory=dict)
    leads: dict[str, int] = field(default_factory=dict)
    persons: dict[str, list[int]] = field(default_factory=dict)
    busiest: int = 0  # the named person with the most open concerns
    sample: int = 0  # one of their concerns


def pick(rng: random.Random, weighted: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([v for v, _ in weighted], [w for _, w in weighted])[0]


async def fill(sessions: Any, count: int, seed: int = 7) -> World:
    """The directory, then `count` concerns with everything around them, in bulk."""
    rng = random.Random(seed)
    world = World()
    async with sessions() as session, session.begin():
        town = Municipality(
            code="vaxjo", name="Växjö", phone_social="0470-410 00", phone_socialjour="0470-410 10"
        )
        session.add(town)
        await session.flush()
        session.add_all(
            [
                RoutingRule(municipality_id=town.id, min_age_months=0, max_age_months=71, kind="bvc"),
                RoutingRule(municipality_id=town.id, min_age_months=72, max_age_months=215, kind="school"),
            ]
        )
        for code, kind, _, persons in UNITS:
            unit = Unit(municipality_id=town.id, code=code, name=code.replace("_", " ").title(), kind=kind)
            session.add(unit)
            await session.flush()
            world.units[code] = unit.id
            lead = Staff(email=f"lead@{code}.se", name=f"Lead {code}", role="unit_lead", unit_id=unit.id)
            people = [
                Staff(
                    email=f"np{n}@{code}.se", name=f"Person {n} {code}", role="named_person", unit_id=unit.id
                )
                for n in range(persons)
            ]
            session.add_all([lead, *people])
            await session.flush()
            world.leads[code], world.persons[code] = lead.id, [p.id for p in people]
        session.add(Staff(email="admin@kommun.se", name="Admin", role="admin"))

    questions = [
        (step.id, step.indicator.value) for step in load_flows()["mapping"].steps if step.kind == "scale"
    ]
    now = datetime.now(UTC)
    rows: dict[str, list[dict[str, Any]]] = {
        name: [] for name in ("users", "children", "conv", "ans", "con", "ev")
    }
    loads: dict[int, int] = {}
    for n in range(1, count + 1):
        code, _, _, _ = rng.choices(UNITS, [u[2] for u in UNITS])[0]
        status, priority = pick(rng, STATUSES), pick(rng, PRIORITIES)
        created = now - timedelta(minutes=rng.randint(5, 60 * 24 * 365))
        assigned = rng.choice(world.persons[code]) if rng.random() < 0.85 else None
        if assigned is not None and status != "closed":
            loads[assigned] = loads.get(assigned, 0) + 1
        lang = rng.choice(("sv", "sv", "sv", "en", "ar"))
        rows["users"].append(
            {"id": n, "channel": "telegram", "pseudonym": secrets.token_hex(16), "language": lang,
             "address": str(100000 + n), "created_at": created}
        )  # fmt: skip
        rows["children"].append(
            {"id": n, "user_id": n, "name": None, "age_years": rng.randint(0, 12),
             "age_months": rng.randint(0, 11), "unit_text": None, "unit_code": None, "created_at": created}
        )  # fmt: skip
        rows["conv"].append(
            {"id": n, "user_id": n, "child_id": n, "flow": "mapping", "step": None, "status": "done",
             "language": lang, "state": {}, "version": 1, "created_at": created, "updated_at": created}
        )  # fmt: skip
        for question, indicator in questions:
            answer = pick(rng, CODES)
            rows["ans"].append(
                {"conversation_id": n, "child_id": n, "indicator": indicator, "question_id": question,
                 "code": answer, "free_text": "Vi oroar oss lite" if answer == "worried" else None,
                 "free_text_language": lang if answer == "worried" else None, "language": lang,
                 "answered_at": created, "updated_at": created}
            )  # fmt: skip
        acknowledged = created + timedelta(hours=5) if status != "new" else None
        overdue = status == "new" and created + timedelta(days=3) < now  # as the overdue run leaves them
        rows["con"].append(
            {"id": n, "child_id": n, "conversation_id": n, "user_id": n, "kind": "concern",
             "reasons": ["worried_answer"], "priority": priority, "status": status, "answers_shared": True,
             "created_at": created, "updated_at": created, "unit_id": world.units[code],
             "assigned_to_id": assigned, "source": "family", "due_at": created + timedelta(days=3),
             "acknowledged_at": acknowledged,
             "overdue": overdue, "escalated_at": created + timedelta(days=3) if overdue else None,
             "outcome": "advice_given" if status == "closed" else None,
             "closed_at": created + timedelta(days=2) if status == "closed" else None}
        )  # fmt: skip
        events = [
            ("created", None, {"reason": "worried_answer"}),
            ("routed", None, {"unit_id": world.units[code]}),
        ]
        if status != "new":
            events += [("acknowledged", assigned, {}), ("note", assigned, {})]
        if status == "closed":
            events.append(("closed", assigned, {"outcome": "advice_given"}))
        for kind, staff_id, data in events:
            rows["ev"].append(
                {"concern_id": n, "at": created, "kind": kind, "staff_id": staff_id, "data": data,
                 "body": "Ringde familjen." if kind == "note" else None, "body_language": None}
            )  # fmt: skip
    tables = [
        (User, rows["users"]), (Child, rows["children"]), (Conversation, rows["conv"]), (Answer, rows["ans"]),
        (Concern, rows["con"]), (ConcernEvent, rows["ev"]),
    ]  # fmt: skip
    async with sessions() as session, session.begin():
        for model, batch in tables:
            for start in range(0, len(batch), 5000):
                await session.execute(sa.insert(model.__table__), batch[start : start + 5000])
        if session.bind.dialect.name == "postgresql":  # explicit ids: move the sequences past them
            for model, _ in tables:
                name = model.__tablename__
                await session.execute(
                    sa.text(
                        f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), (SELECT max(id) FROM {name}))"
                    )
                )
    world.busiest = max(loads, key=loads.__getitem__)
    world.sample = next(r["id"] for r in rows["con"] if r["assigned_to_id"] == world.busiest)
    return world


@asynccontextmanager
async def database(kind: str, admin_url: str | None, tmp: Path) -> AsyncIterator[str]:
    if kind == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp / 'bench.sqlite3'}"
        return
    assert admin_url is not None
    name = f"hjulet_bench_{secrets.token_hex(4)}"
    admin = create_async_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    async with admin.connect() as connection:
        await connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as connection:
            await connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


def percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


async def measure(
    client: httpx.AsyncClient, path: str, requests: int, warmup: int = 20, **kw: Any
) -> list[float]:
    for _ in range(warmup):
        assert (await client.get(path, **kw)).status_code == 200, path
    samples = []
    for _ in range(requests):
        start = time.perf_counter()
        response = await client.get(path, **kw)
        samples.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, (path, response.status_code)
    return samples


async def explain(sessions: Any, client: httpx.AsyncClient, path: str, **kw: Any) -> None:
    """Capture the SQL the desk runs for `path`, and print the plans of its queue queries."""
    engine = sessions.kw["bind"].sync_engine
    seen: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "FROM concerns" in statement:
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        await client.get(path, **kw)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    async with sessions() as session:
        postgres = session.bind.dialect.name == "postgresql"
        for statement, parameters in seen:
            prefix = "EXPLAIN (ANALYZE, BUFFERS) " if postgres else "EXPLAIN QUERY PLAN "
            connection = await session.connection()
            plan = await connection.exec_driver_sql(prefix + statement, parameters)
            query = " ".join(statement.split())
            print(f"\n-- {path}: ...{query[query.index(' FROM concerns') :]}")
            for row in plan:
                print("   ", " | ".join(str(v) for v in row))


async def backlog(sessions: Any, client: httpx.AsyncClient, path: str, size: int) -> tuple:
    """`size` new concerns whose deadline has just passed (as after a weekend with the desk down):
    the overdue run marks them, while a named person keeps reading `path`. Returns the latencies,
    the statuses that were not 200, how many were marked and how long the run took."""
    from backend.overdue import mark_overdue
    from storage.models import utcnow

    async with sessions() as session, session.begin():
        ids = list(await session.scalars(sa.select(Concern.id).order_by(Concern.id.desc()).limit(size)))
        await session.execute(
            sa.update(Concern)
            .where(Concern.id.in_(ids))
            .values(status="new", overdue=False, escalated_at=None, due_at=utcnow() - timedelta(minutes=5))
        )
    started = time.perf_counter()
    run = asyncio.create_task(mark_overdue(sessions, None, utcnow()))
    samples, failed = [], []
    while not run.done():
        start = time.perf_counter()
        response = await client.get(path)
        samples.append((time.perf_counter() - start) * 1000)
        if response.status_code != 200:
            failed.append(response.status_code)
    marked = await run
    return samples, failed, len(marked), time.perf_counter() - started


def row(kind: str, label: str, samples: list[float]) -> tuple[str, str, int, float, float, float]:
    p50, p99 = statistics.median(samples), percentile(samples, 0.99)
    return kind, label, len(samples), p50, p99, max(samples)


async def counts(sessions: Any, world: World) -> tuple[int, int]:
    """Open concerns of BVC Centrum, and of the busiest named person."""
    async with sessions() as session:
        open_ = Concern.status != "closed"
        unit = sa.select(sa.func.count()).where(Concern.unit_id == world.units["bvc_centrum"], open_)
        mine = sa.select(sa.func.count()).where(Concern.assigned_to_id == world.busiest, open_)
        return int(await session.scalar(unit) or 0), int(await session.scalar(mine) or 0)


async def signed_in(sessions: Any, base: str, staff_id: int) -> tuple[httpx.AsyncClient, dict[str, str]]:
    """A browser with a session of `staff_id`, and the header of an API token of theirs."""
    client = httpx.AsyncClient(base_url=base, timeout=30)
    await open_session(sessions, client, staff_id)
    token = new_token()
    async with sessions() as session, session.begin():
        await Directory(session).add_token(staff_id, token)
    return client, {"Authorization": f"Bearer {token}"}


async def bench(kind: str, admin_url: str | None, args: argparse.Namespace) -> list[tuple]:
    with tempfile.TemporaryDirectory(prefix="hjulet-desk-bench-") as tmp:
        async with database(kind, admin_url, Path(tmp)) as url:
            await asyncio.to_thread(upgrade, url)
            app = create_app(desk_settings(url, Path(tmp) / "var", log_level="WARNING"), migrate=False)
            async with served(app) as base:
                sessions = app.state.desk.service.sessions
                started = time.perf_counter()
                world = await fill(sessions, args.concerns)
                filled = time.perf_counter() - started
                in_unit, mine = await counts(sessions, world)
                print(f"{kind}: {args.concerns} concerns filled in {filled:.1f} s; "
                      f"BVC Centrum has {in_unit} open, the busiest named person {mine}")  # fmt: skip
                lead, lead_api = await signed_in(sessions, base, world.leads["bvc_centrum"])
                person, person_api = await signed_in(sessions, base, world.busiest)
                cases = [
                    ("GET /queue/unit (unit lead)", lead, "/queue/unit", {}),
                    ("GET /queue/mine (named person)", person, "/queue/mine", {}),
                    ("GET /api/concerns (named person)", person, "/api/concerns", {"headers": person_api}),
                    ("GET /api/concerns (unit lead)", lead, "/api/concerns", {"headers": lead_api}),
                    ("GET /concerns/{id} (named person)", person, f"/concerns/{world.sample}", {}),
                ]
                results = []
                for label, client, path, kw in cases:
                    results.append(row(kind, label, await measure(client, path, args.requests, **kw)))
                    if args.explain and path.startswith(("/queue", "/api")):
                        await explain(sessions, client, path, **kw)
                if args.backlog:
                    samples, failed, marked, seconds = await backlog(
                        sessions, person, "/queue/mine", args.backlog
                    )
                    results.append(row(kind, f"GET /queue/mine, overdue run of {marked}", samples))
                    errors = f"{len(failed)} not 200 {sorted(set(failed))}"
                    print(f"{kind}: the overdue run marked {marked} concerns in {seconds:.1f} s; meanwhile "
                          f"{len(samples)} reads of /queue/mine, {errors}")  # fmt: skip
                await lead.aclose()
                await person.aclose()
    return results


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concerns", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--explain", action="store_true", help="print the query plans of the lists")
    parser.add_argument(
        "--backlog",
        type=int,
        default=2000,
        help="concerns that fall overdue at once, read meanwhile (0: none)",
    )
    args = parser.parse_args()
    admin_url = os.environ.get("HJULET_BENCH_DATABASE_URL")
    results = []
    for kind in ("sqlite", "postgresql") if admin_url else ("sqlite",):
        results += await bench(kind, admin_url, args)
    print(f"\n{'database':<11} {'request':<44} {'n':>5} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for kind, label, n, p50, p99, top in results:
        slow = "  <- p99 over 200 ms" if p99 > 200 else ""
        print(f"{kind:<11} {label:<44} {n:>5} {p50:>8.1f} {p99:>8.1f} {top:>8.1f}{slow}")


if __name__ == "__main__":
    asyncio.run(main())
