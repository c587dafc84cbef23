"""Importing a directory: all or nothing, on SQLite and PostgreSQL; what stays keeps its secrets."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from backend.demo import DEMO_FILE
from backend.directory_file import DirectoryFileError, format_directory
from backend.directory_import import import_directory
from backend.passwords import hash_password, verify_password
from storage import StorageError
from storage.directory import Directory, DirectoryData

TABLES = ("municipalities", "units", "routing_rules", "staff", "staff_tokens")


async def exported(session_factory) -> DirectoryData:
    async with session_factory() as session:
        return await Directory(session).export()


async def snapshot(session_factory) -> dict[str, list[tuple[object, ...]]]:
    """Every row of the directory's tables, secrets included."""
    async with session_factory() as session:
        return {
            table: [
                tuple(row) for row in await session.execute(sa.text(f"SELECT * FROM {table} ORDER BY id"))
            ]
            for table in TABLES
        }


@pytest.fixture
async def demo(session_factory, tmp_path: Path) -> DirectoryData:
    """The demo directory imported, with a password and a token for the first BVC nurse."""
    await import_directory(session_factory, DEMO_FILE)
    async with session_factory() as session, session.begin():
        directory = Directory(session)
        nurse = await directory.staff_by_email("maja.berglund@exempelkommun.example")
        nurse.password_hash = hash_password("nurse-password-1")
        await directory.add_token(nurse.id, "hj_nurse_token")
    return await exported(session_factory)


def edited(text: str, old: str, new: str) -> str:
    assert old in text
    return text.replace(old, new)


async def test_the_file_becomes_the_directory(session_factory, demo: DirectoryData) -> None:
    assert [m["name"] for m in demo.municipalities] == ["Exempelkommun"]
    assert {u["code"]: u["partner"] for u in demo.units}["solrosen"] == "bvc_exempel"
    assert [(r["min_age_months"], r["max_age_months"], r["kind"]) for r in demo.rules] == [
        (0, 71, "bvc"),
        (72, 215, "school"),
        (216, 239, "kaa"),
    ]
    assert len(demo.staff) == 8 and all(p["email"] == p["email"].lower() for p in demo.staff)


BAD_EDITS = [
    ("yaml", "kind: preschool", "kind: forskola", "unknown kind 'forskola'"),
    ("yaml", "role: admin", "role: boss", "unknown role 'boss'"),
    ("yaml", "partner: bvc_exempel", "partner: bvc_nowhere", "unknown partner unit 'bvc_nowhere'"),
    ("yaml", "max_age_months: 71", "max_age_months: 80", "overlaps the rule at line"),
    (
        "yaml",
        "  name: Eva Lindgren\n",
        "  name: Eva Lindgren\n  name: Eva L.\n",
        "key 'name' is written twice",
    ),
    ("csv", ",unit_lead,,,bvc_exempel,", ",unit_lead,,,,", "a unit_lead needs a unit"),
    ("csv", "unit,solrosen,", "unit,bvc_exempel,", "the code is already used"),
    ("csv", "municipality,exempel,", "municipality,exempel kommun,", "a code is 1-40 letters"),
]


@pytest.mark.parametrize(("fmt", "old", "new", "problem"), BAD_EDITS)
async def test_a_bad_file_changes_nothing(
    session_factory, demo: DirectoryData, tmp_path: Path, fmt: str, old: str, new: str, problem: str
) -> None:
    before = await snapshot(session_factory)
    good = format_directory(demo, fmt).replace("Solrosens förskola", "Solrosen (renamed)")
    path = tmp_path / f"directory.{fmt}"
    path.write_text(edited(good, old, new), encoding="utf-8")

    with pytest.raises(DirectoryFileError, match=problem) as caught:
        await import_directory(session_factory, path)

    assert all(line.startswith(f"{path}:") for line in str(caught.value).splitlines())
    assert await exported(session_factory) == demo
    assert await snapshot(session_factory) == before


async def refuse_staff(session_factory, email: str) -> None:
    """A trigger that makes the database itself refuse one staff member (as a full disk would)."""
    async with session_factory() as session, session.begin():
        if session.bind.dialect.name == "sqlite":
            await session.execute(
                sa.text(
                    "CREATE TRIGGER refuse BEFORE INSERT ON staff WHEN NEW.email = :email "
                    "BEGIN SELECT RAISE(ABORT, 'refused by the test trigger'); END".replace(
                        ":email", f"'{email}'"
                    )
                )
            )
            return
        await session.execute(
            sa.text(
                "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                f"IF NEW.email = '{email}' THEN RAISE EXCEPTION 'refused by the test trigger'; END IF; "
                "RETURN NEW; END $$"
            )
        )
        await session.execute(
            sa.text("CREATE TRIGGER refuse BEFORE INSERT ON staff FOR EACH ROW EXECUTE FUNCTION refuse()")
        )


async def test_a_file_the_database_refuses_changes_nothing(
    session_factory, demo: DirectoryData, tmp_path: Path
) -> None:
    await refuse_staff(session_factory, "new.person@exempelkommun.example")
    before = await snapshot(session_factory)
    text = format_directory(demo, "yaml").replace("Exempelkommun\n", "Exempelkommun (renamed)\n")
    text = text.replace(
        "- code: samordning",
        "- code: new_unit\n  name: New\n  kind: bvc\n  municipality: exempel\n- code: samordning",
    )
    text += "- email: new.person@exempelkommun.example\n  name: New Person\n  role: admin\n"
    path = tmp_path / "directory.yaml"
    path.write_text(text, encoding="utf-8")

    with pytest.raises(
        StorageError, match=r"the database refused the directory, nothing was changed: .*test trigger"
    ):
        await import_directory(session_factory, path)

    assert await exported(session_factory) == demo
    assert await snapshot(session_factory) == before


@pytest.mark.parametrize("fmt", ["yaml", "csv"])
async def test_export_then_import_gives_the_same_directory(
    session_factory, demo: DirectoryData, tmp_path: Path, fmt: str
) -> None:
    exported_file = tmp_path / f"export.{fmt}"
    exported_file.write_text(format_directory(demo, fmt), encoding="utf-8")
    other = tmp_path / "other.yaml"  # the same municipality, other units and staff
    other.write_text(
        "municipalities:\n- {code: exempel, name: Annan kommun, phone_social: '1'}\n"
        "units:\n- {code: x, name: X, kind: coordinator, municipality: exempel}\n"
        "staff:\n- {email: x@x.se, name: X, role: unit_lead, unit: x}\n",
        encoding="utf-8",
    )
    await import_directory(session_factory, other)
    assert (await exported(session_factory)).units[0]["code"] == "x"

    result = await import_directory(session_factory, exported_file)

    assert await exported(session_factory) == demo
    assert result.counts == {"municipalities": 1, "units": 8, "rules": 3, "staff": 8}
    assert result.changes.added["units"] == sorted(u["code"] for u in demo.units)
    assert result.changes.removed["staff"] == ["x@x.se"]


async def test_staff_who_stay_keep_passwords_and_tokens_and_the_others_are_deactivated(
    session_factory, demo: DirectoryData, tmp_path: Path
) -> None:
    path = tmp_path / "directory.yaml"
    text = format_directory(demo, "yaml")
    text = edited(text, "  name: Sara Holmqvist\n", "  name: Sara Holmqvist-Ek\n")
    text = edited(
        text, "- email: eva.lindgren@exempelkommun.example\n", "- email: gone@exempelkommun.example\n"
    )
    path.write_text(text.replace("- code: blabaret", "- code: blabaret_ny"), encoding="utf-8")

    result = await import_directory(session_factory, path)

    assert result.changes.removed["staff"] == ["eva.lindgren@exempelkommun.example"]
    assert result.changes.added["staff"] == ["gone@exempelkommun.example"]
    assert result.changes.changed["staff"] == ["sara.holmqvist@exempelkommun.example"]
    assert result.changes.removed["units"] == ["blabaret"] and result.changes.added["units"] == [
        "blabaret_ny"
    ]
    async with session_factory() as session:
        directory = Directory(session)
        nurse = await directory.staff_by_email("maja.berglund@exempelkommun.example")
        assert nurse.active and verify_password(nurse.password_hash, "nurse-password-1")
        assert (await directory.staff_by_token("hj_nurse_token")).id == nurse.id
        lead = await directory.staff_by_email("eva.lindgren@exempelkommun.example")
        assert lead is not None and not lead.active  # kept for the timeline, cannot sign in
        assert not (await directory.unit_by_code("blabaret")).active
    assert "eva.lindgren@exempelkommun.example" not in {
        p["email"] for p in (await exported(session_factory)).staff
    }


async def test_a_dry_run_shows_the_changes_and_writes_nothing(
    session_factory, demo: DirectoryData, tmp_path: Path
) -> None:
    before = await snapshot(session_factory)
    path = tmp_path / "directory.csv"
    text = format_directory(demo, "csv").replace("Exempelkommun,", "Exempelkommun (ny),")
    path.write_text(
        text.replace("rule,,,,kaa,,exempel,,,,216,239", "rule,,,,kaa,,exempel,,,,216,238"), encoding="utf-8"
    )

    result = await import_directory(session_factory, path, dry_run=True)

    assert not result.written
    assert result.changes.lines() == [
        "municipalities: changed 1 (exempel)",
        "rules: added 1 (exempel 216-238 kaa); removed 1 (exempel 216-239 kaa)",
    ]
    assert await snapshot(session_factory) == before
