"""The demo directory: seeded all at once, idempotent, passwords hashed, routing along Kronoberg's chain."""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from backend.commands import demo as demo_command
from backend.demo import DemoRefused, demo_directory, seed_demo
from backend.directory_import import import_directory
from backend.intake import Desk, named_person, route_concern
from backend.passwords import verify_password
from storage.desk import Staff, Unit
from storage.directory import Directory
from storage.models import Child, User
from tests.backend.test_directory_import import exported, snapshot


async def test_the_demo_is_seeded_with_hashed_known_passwords(session_factory) -> None:
    seed = await seed_demo(session_factory)

    assert seed.seeded
    assert [(login.email, login.role) for login in seed.logins] == [
        (person["email"], person["role"]) for person in demo_directory().staff
    ]
    assert {login.role for login in seed.logins} == {"named_person", "unit_lead", "admin"}
    assert all(len(login.password) >= 12 for login in seed.logins)
    async with session_factory() as session:
        directory = Directory(session)
        for login in seed.logins:
            person = await directory.staff_by_email(login.email)
            assert person.active and person.password_hash.startswith("$argon2id$")
            assert verify_password(person.password_hash, login.password)
        rows = (await session.execute(sa.text("SELECT * FROM staff"))).all()
    assert not any("demo-password" in str(value) for row in rows for value in row)


def test_the_demo_directory_is_fictional_with_example_numbers() -> None:
    data = demo_directory()
    phones = [m[key] for m in data.municipalities for key in ("phone_social", "phone_socialjour")]
    phones += [unit["phone"] for unit in data.units if unit["phone"]]
    assert phones and all(re.fullmatch(r"0470-00 00 \d\d", phone) for phone in phones)
    assert all(person["email"].endswith(".example") for person in data.staff)  # a domain that never delivers
    kinds = [unit["kind"] for unit in data.units]
    assert sorted(kinds) == sorted(
        ["mvc", "bvc", "preschool", "preschool", "school", "kaa", "social_services", "coordinator"]
    )
    assert {unit["partner"] for unit in data.units if unit["kind"] == "preschool"} == {"bvc_exempel"}


async def test_seeding_again_gives_the_same_directory(session_factory) -> None:
    first = await seed_demo(session_factory)
    before = await exported(session_factory)
    async with session_factory() as session, session.begin():  # someone changed a demo password
        person = await Directory(session).staff_by_email(first.logins[0].email)
        person.password_hash = None

    again = await seed_demo(session_factory)

    assert again.seeded and again.logins == first.logins
    assert await exported(session_factory) == before
    async with session_factory() as session:
        person = await Directory(session).staff_by_email(first.logins[0].email)
        assert verify_password(person.password_hash, first.logins[0].password)
        assert await session.scalar(sa.select(sa.func.count()).select_from(Unit)) == 8


async def test_if_empty_leaves_a_directory_alone_and_reports_the_logins_that_still_work(
    session_factory,
) -> None:
    first = await seed_demo(session_factory, if_empty=True)
    async with session_factory() as session, session.begin():
        person = await Directory(session).staff_by_email(first.logins[1].email)
        person.password_hash = None
    before = await snapshot(session_factory)

    second = await seed_demo(session_factory, if_empty=True)

    assert first.seeded and not second.seeded
    assert second.logins == [login for number, login in enumerate(first.logins) if number != 1]
    assert await snapshot(session_factory) == before


async def test_the_demo_never_replaces_a_real_directory(session_factory, tmp_path: Path) -> None:
    real = tmp_path / "real.yaml"
    real.write_text("municipalities:\n- {code: vaxjo, name: Växjö}\n", encoding="utf-8")
    await import_directory(session_factory, real)
    before = await snapshot(session_factory)

    with pytest.raises(DemoRefused, match=r"other municipalities \(vaxjo\)"):
        await seed_demo(session_factory)
    skipped = await seed_demo(session_factory, if_empty=True)

    assert not skipped.seeded and skipped.logins == []
    assert await snapshot(session_factory) == before


CHAIN = [  # age in years, the child's unit -> the unit responsible, and why
    (3, "solrosen", "bvc_exempel", "partner"),  # a 3-year-old at a preschool: its BVC nurse
    (3, "blabaret", "bvc_exempel", "partner"),
    (0, None, "bvc_exempel", "only_unit_of_kind"),
    (5, "exempelskolan", "bvc_exempel", "only_unit_of_kind"),  # until förskoleklass: still BVC
    (8, None, "exempelskolan", "only_unit_of_kind"),  # at school: the head teacher
    (19, None, "kaa_exempel", "only_unit_of_kind"),  # outside upper secondary: KAA
    (21, None, "samordning", "coordinator"),  # nobody matches: the coordinator queue
]


async def test_the_demo_routes_along_kronobergs_chain(session_factory) -> None:
    await seed_demo(session_factory)
    routed = []
    async with session_factory() as session, session.begin():
        user = User(channel="web", pseudonym="a" * 64)
        session.add(user)
        await session.flush()
        for years, unit_code, _, _ in CHAIN:
            child = Child(user_id=user.id, age_years=years, age_months=0, unit_code=unit_code)
            session.add(child)
            await session.flush()
            route = await route_concern(session, Desk(municipality="exempel"), child.id)
            unit = await session.get(Unit, route.unit_id)
            routed.append((years, unit_code, unit.code, route.why))
        nurses = await named_person(session, (await Directory(session).unit_by_code("bvc_exempel")).id)
        nurse = await session.get(Staff, nurses)

    assert routed == CHAIN
    assert nurse.title == "BVC-sjuksköterska"


async def test_the_demo_command_prints_the_logins(database_url: str, tmp_path: Path) -> None:
    env = {name: None for name in os.environ if name.startswith("HJULET_")}
    env |= {"HJULET_DATABASE_URL": database_url, "HJULET_DATA_DIR": str(tmp_path / "data")}

    def run(*args: str):
        return CliRunner().invoke(demo_command, list(args), env=env)

    first = await asyncio.to_thread(run, "--if-empty")
    second = await asyncio.to_thread(run, "--if-empty")

    assert first.exit_code == 0, first.output
    lines = first.stdout.splitlines()
    assert lines[0] == "demo directory loaded: Exempelkommun, fictional people and example phone numbers"
    assert lines[1] == "demo logins for the desk at http://127.0.0.1:8080:"
    assert re.fullmatch(
        r"  maja\.berglund@exempelkommun\.example +demo-password-1  \(named_person\)", lines[2]
    )
    assert len(lines) == 2 + len(demo_directory().staff)
    assert second.stdout.splitlines()[0] == "the directory is not empty: the demo was not loaded"
    assert second.stdout.splitlines()[1:] == lines[1:]
