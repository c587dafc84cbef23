"""`hjulet directory` and `hjulet staff` through click's test runner, on SQLite and PostgreSQL.

The commands read their database from HJULET_DATABASE_URL as they do in production; each run builds
and disposes its own engine (in a thread, as the command runs its own event loop).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import pty
import re
import select
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result

from backend.commands import directory, staff
from backend.demo import DEMO_FILE
from backend.directory_file import format_directory, parse_directory
from backend.directory_import import import_directory
from backend.passwords import verify_password
from storage.directory import Directory
from tests.backend.test_directory_import import exported, refuse_staff, snapshot

NEW = "ny.person@exempelkommun.example"
PASSWORD = "a long enough password"


@dataclass
class Cli:
    database_url: str
    data_dir: Path

    async def __call__(self, *args: str, input: str | None = None, database_url: str | None = None) -> Result:
        env = {name: None for name in os.environ if name.startswith("HJULET_")}
        env |= {
            "HJULET_DATABASE_URL": database_url or self.database_url,
            "HJULET_DATA_DIR": str(self.data_dir),
        }
        group = {"directory": directory, "staff": staff}[args[0]]
        return await asyncio.to_thread(CliRunner().invoke, group, list(args[1:]), input=input, env=env)


@pytest.fixture
async def cli(database_url: str, session_factory, tmp_path: Path) -> Cli:
    """The command line on a database holding the demo directory."""
    await import_directory(session_factory, DEMO_FILE)
    return Cli(database_url, tmp_path / "data")


def one_error(result: Result, exit_code: int = 1) -> str:
    """The single `Error: ...` line of a failed command."""
    assert result.exit_code == exit_code, result.output
    assert "Traceback" not in result.output
    return result.stderr.strip().splitlines()[-1]


async def test_import_and_export(cli: Cli, session_factory, tmp_path: Path) -> None:
    path = tmp_path / "directory.csv"
    path.write_text(
        format_directory(await exported(session_factory), "csv").replace(",Rektor,", ",Biträdande rektor,")
    )

    imported = await cli("directory", "import", str(path))
    as_yaml = await cli("directory", "export")
    as_csv = await cli("directory", "export", "--format", "csv")
    to_file = await cli("directory", "export", str(tmp_path / "out.yml"))

    assert imported.exit_code == 0, imported.output
    assert imported.stdout.splitlines() == [
        "staff: changed 1 (johan.ekstrom@exempelkommun.example)",
        f"imported: {path} (1 municipalities, 8 units, 3 rules, 8 staff)",
    ]
    now = await exported(session_factory)
    assert "Biträdande rektor" in {person["title"] for person in now.staff}
    assert parse_directory(as_yaml.stdout.encode(), "yaml") == now
    assert parse_directory(as_csv.stdout.encode(), "csv") == now
    assert to_file.exit_code == 0 and to_file.stderr.startswith(f"exported: {tmp_path / 'out.yml'}")
    assert parse_directory((tmp_path / "out.yml").read_bytes(), "yaml") == now


async def test_a_bad_file_is_one_line_per_problem_and_changes_nothing(
    cli: Cli, session_factory, tmp_path
) -> None:
    before = await snapshot(session_factory)
    path = tmp_path / "directory.yaml"
    text = DEMO_FILE.read_text(encoding="utf-8").replace("kind: preschool", "kind: forskola", 1)
    path.write_text(text.replace("role: admin", "role: boss"), encoding="utf-8")

    result = await cli("directory", "import", str(path))

    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.stderr.splitlines() == [
        f"Error: {path}:31: unit 'solrosen': unknown kind 'forskola' "
        "(choose mvc, bvc, preschool, school, kaa, social_services, coordinator)",
        f"{path}:114: staff 'admin@exempelkommun.example': unknown role 'boss' "
        "(choose named_person, unit_lead, admin)",
    ]
    assert await snapshot(session_factory) == before


async def test_a_dry_run_prints_the_changes_and_writes_nothing(cli: Cli, session_factory, tmp_path) -> None:
    before = await snapshot(session_factory)
    path = tmp_path / "directory.yaml"
    path.write_text(
        DEMO_FILE.read_text(encoding="utf-8").replace("Exempelkommun\n", "Nykommun\n"), encoding="utf-8"
    )

    result = await cli("directory", "import", "--dry-run", str(path))

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == "municipalities: changed 1 (exempel)"
    assert result.stdout.splitlines()[-1].startswith(f"dry run, nothing written: {path}")
    assert await snapshot(session_factory) == before


async def test_an_import_the_database_refuses_is_one_line(cli: Cli, session_factory, tmp_path) -> None:
    await refuse_staff(session_factory, NEW)
    before = await snapshot(session_factory)
    path = tmp_path / "directory.yaml"
    path.write_text(DEMO_FILE.read_text(encoding="utf-8") + f"  - {{email: {NEW}, name: Ny, role: admin}}\n")

    line = one_error(await cli("directory", "import", str(path)))

    assert line.startswith("Error: database: the database refused the directory, nothing was changed: ")
    assert "test trigger" in line
    assert await snapshot(session_factory) == before


async def test_staff_add_reads_the_password_from_stdin_and_keeps_only_its_hash(
    cli: Cli, session_factory
) -> None:
    args = ("--role", "named_person", "--unit", "solrosen", "--name", "Ny Person", "--title", "Förskollärare")

    result = await cli("staff", "add", NEW.upper(), *args, "--language", "en", input=PASSWORD + "\n")

    assert result.exit_code == 0, result.output
    assert result.stdout == f"added {NEW} (named_person, solrosen)\n"
    async with session_factory() as session:
        person = await Directory(session).staff_by_email(NEW)
        unit = await Directory(session).unit_by_code("solrosen")
        rows = (await session.execute(sa.text("SELECT * FROM staff"))).all()
    assert (person.name, person.role, person.unit_id, person.title, person.language) == (
        "Ny Person", "named_person", unit.id, "Förskollärare", "en"
    )  # fmt: skip
    assert person.active and person.password_hash.startswith("$argon2id$")
    assert verify_password(person.password_hash, PASSWORD) and not verify_password(
        person.password_hash, "x" * 12
    )
    assert not any(PASSWORD in str(value) for row in rows for value in row)


@pytest.mark.parametrize(
    ("args", "stdin", "exit_code", "message"),
    [
        (
            ("--role", "admin"),
            "short pass\n",
            1,
            "Error: the password is too short: it needs at least 12 characters",
        ),
        (("--role", "admin"), "", 1, "Error: no password: give it as one line on stdin"),
        (("--role", "named_person"), PASSWORD, 2, "Error: a named_person needs a unit: add --unit CODE"),
        (("--role", "unit_lead", "--unit", "nope"), PASSWORD, 1, "Error: unknown unit 'nope'"),
        (("--role", "boss"), PASSWORD, 2, "Error: Invalid value for '--role': 'boss' is not one of"),
        (("--role", "admin", "--language", "ar"), PASSWORD, 2, "Error: Invalid value for '--language'"),
    ],
)
async def test_staff_add_refuses_what_it_cannot_use(
    cli: Cli, session_factory, args: tuple[str, ...], stdin: str, exit_code: int, message: str
) -> None:
    before = await snapshot(session_factory)

    line = one_error(await cli("staff", "add", NEW, *args, input=stdin), exit_code)

    assert line.startswith(message)
    assert await snapshot(session_factory) == before


async def test_staff_add_refuses_a_bad_or_taken_address(cli: Cli) -> None:
    taken = await cli(
        "staff", "add", "Maja.Berglund@exempelkommun.example", "--role", "admin", input=PASSWORD
    )
    bad = await cli("staff", "add", "maja.berglund", "--role", "admin", input=PASSWORD)

    assert one_error(taken) == (
        "Error: maja.berglund@exempelkommun.example already has an account; see 'hjulet staff password'"
    )
    assert one_error(bad, 2) == "Error: Invalid value for EMAIL: 'maja.berglund' is not an e-mail address"


async def test_staff_token_prints_a_token_that_authenticates(cli: Cli, session_factory) -> None:
    result = await cli("staff", "token", "Eva.Lindgren@exempelkommun.example")

    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    assert token.startswith("hj_") and len(token) > 40
    assert "shown once" not in result.stdout and "Authorization: Bearer" in result.stderr
    async with session_factory() as session:
        person = await Directory(session).staff_by_token(token)
        stored = list(await session.scalars(sa.text("SELECT token_hash FROM staff_tokens")))
    assert person.email == "eva.lindgren@exempelkommun.example"
    assert stored == [hashlib.sha256(token.encode()).hexdigest()]
    assert one_error(await cli("staff", "token", "nobody@exempelkommun.example")) == (
        "Error: no staff member has the address nobody@exempelkommun.example"
    )


async def test_staff_password_sets_a_new_one_and_signs_out_everywhere(cli: Cli, session_factory) -> None:
    await cli("staff", "add", NEW, "--role", "admin", input=PASSWORD)
    async with session_factory() as session, session.begin():
        person = await Directory(session).staff_by_email(NEW)
        person.failed_logins = 4
        await Directory(session).add_session("browser-cookie", person.id, "csrf")

    result = await cli("staff", "password", NEW, input="an entirely new password\n")

    assert result.exit_code == 0, result.output
    assert result.stdout == f"new password set for {NEW}; 1 signed-in session(s) ended\n"
    async with session_factory() as session:
        person = await Directory(session).staff_by_email(NEW)
        assert await Directory(session).session_of("browser-cookie") is None
    assert verify_password(person.password_hash, "an entirely new password")
    assert not verify_password(person.password_hash, PASSWORD) and person.failed_logins == 0


async def test_a_deactivated_staff_member_can_no_longer_use_a_token(cli: Cli, session_factory) -> None:
    token = (await cli("staff", "token", "admin@exempelkommun.example")).stdout.strip()

    first = await cli("staff", "deactivate", "admin@exempelkommun.example")
    second = await cli("staff", "deactivate", "admin@exempelkommun.example")

    assert first.stdout == "admin@exempelkommun.example is now deactivated\n"
    assert second.stdout == "admin@exempelkommun.example was already deactivated\n"
    async with session_factory() as session:
        assert await Directory(session).staff_by_token(token) is None
    assert one_error(await cli("staff", "token", "admin@exempelkommun.example")).startswith(
        "Error: admin@exempelkommun.example is deactivated"
    )


async def test_a_database_that_cannot_be_used_is_one_line(cli: Cli) -> None:
    result = await cli("staff", "token", "admin@exempelkommun.example", database_url="mysql://db/hjulet")

    assert one_error(result).startswith("Error: database: Unsupported database URL mysql://db/hjulet")


PROMPT = re.compile(rb"(?:Password|Repeat the password): ")


def in_a_terminal(
    argv: list[str], env: dict[str, str], answers: list[str], timeout: float = 60
) -> tuple[int, str]:
    """Run `argv` with a pseudo-terminal as stdin/stdout/stderr, typing `answers` at each prompt."""
    master, slave = pty.openpty()
    process = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True)
    os.close(slave)
    output, answered, deadline = b"", 0, time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if select.select([master], [], [], 0.1)[0]:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # EIO: the program closed the terminal
                    break
                if not chunk:
                    break
                output += chunk
            if answered < len(answers) and len(re.findall(PROMPT, output)) > answered:
                os.write(master, answers[answered].encode() + b"\n")
                answered += 1
        return process.wait(timeout=10), output.decode(errors="replace")
    finally:
        os.close(master)
        if process.poll() is None:
            process.kill()
            process.wait()


async def test_staff_add_at_a_terminal_asks_twice_without_echo(cli: Cli, session_factory) -> None:
    env = {name: value for name, value in os.environ.items() if not name.startswith("HJULET_")}
    env |= {"HJULET_DATABASE_URL": cli.database_url, "HJULET_DATA_DIR": str(cli.data_dir)}
    argv = [sys.executable, "-c", "from backend.commands import staff; staff(prog_name='hjulet staff')"]

    code, output = await asyncio.to_thread(
        in_a_terminal, [*argv, "add", NEW, "--role", "admin"], env, [PASSWORD, PASSWORD]
    )

    assert code == 0, output
    assert "Password: " in output and "Repeat the password: " in output
    assert PASSWORD not in output and f"added {NEW} (admin)" in output
    async with session_factory() as session:
        person = await Directory(session).staff_by_email(NEW)
    assert verify_password(person.password_hash, PASSWORD)
