"""`hjulet directory`, `hjulet staff` and `hjulet demo` as real subprocesses of the installed `hjulet`.

Skipped until the commands of backend/commands.py are registered on the CLI in bot/cli.py (the test
asks `hjulet directory --help` first); the same commands are tested through click's runner meanwhile.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from backend.directory_file import parse_directory
from backend.passwords import verify_password
from storage.directory import Directory
from tests.backend.test_directory_import import exported, snapshot

HJULET = str(Path(sys.executable).with_name("hjulet"))


def _registered() -> bool:
    try:
        found = subprocess.run([HJULET, "directory", "--help"], capture_output=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return found.returncode == 0


if not _registered():
    pytest.skip("`hjulet directory` is not registered in bot/cli.py yet", allow_module_level=True)

pytestmark = pytest.mark.slow
PASSWORD = "a long enough password"


@pytest.fixture
def hjulet(database_url: str, tmp_path: Path):
    env = {name: value for name, value in os.environ.items() if not name.startswith("HJULET_")}
    env |= {"HJULET_DATABASE_URL": database_url, "HJULET_DATA_DIR": str(tmp_path / "data")}
    env["PYTHONIOENCODING"] = "utf-8"

    async def run(*args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        return await asyncio.to_thread(
            subprocess.run,
            [HJULET, *args],
            input=input,
            capture_output=True,
            text=True,
            encoding="utf-8",
            env=env,
            timeout=120,
            check=False,
        )

    return run


async def test_demo_export_and_import(hjulet, session_factory, tmp_path: Path) -> None:
    seeded = await hjulet("demo", "--if-empty")
    again = await hjulet("demo", "--if-empty")
    exported_file = await hjulet("directory", "export", str(tmp_path / "directory.csv"))
    dry_run = await hjulet("directory", "import", "--dry-run", str(tmp_path / "directory.csv"))

    assert seeded.returncode == 0, seeded.stderr
    assert "maja.berglund@exempelkommun.example" in seeded.stdout and "demo-password-1" in seeded.stdout
    assert again.stdout.startswith("the directory is not empty: the demo was not loaded")
    assert exported_file.returncode == 0, exported_file.stderr
    now = await exported(session_factory)
    assert parse_directory((tmp_path / "directory.csv").read_bytes(), "csv") == now
    assert dry_run.stdout.startswith("no changes\ndry run, nothing written:")


async def test_a_bad_file_is_a_clear_error_and_changes_nothing(
    hjulet, session_factory, tmp_path: Path
) -> None:
    await hjulet("demo")
    before = await snapshot(session_factory)
    bad = tmp_path / "directory.yaml"
    bad.write_text("municipalities:\n  - {code: exempel, name: Exempelkommun}\nstaf: []\n", encoding="utf-8")

    result = await hjulet("directory", "import", str(bad))

    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr == (
        f"Error: {bad}:3: unknown section 'staf' (choose municipalities, units, routing, staff)\n"
    )
    assert await snapshot(session_factory) == before


async def test_staff_add_token_password_and_deactivate(hjulet, session_factory) -> None:
    await hjulet("demo")
    email = "ny.person@exempelkommun.example"

    added = await hjulet(
        "staff", "add", email, "--role", "named_person", "--unit", "solrosen", input=PASSWORD + "\n"
    )
    token = await hjulet("staff", "token", email)
    reset = await hjulet("staff", "password", email, input="another long password\n")

    assert added.returncode == 0, added.stderr
    assert token.returncode == 0, token.stderr
    assert reset.returncode == 0, reset.stderr
    async with session_factory() as session:
        person = await Directory(session).staff_by_token(token.stdout.strip())
    assert person is not None and person.email == email
    assert verify_password(person.password_hash, "another long password")

    deactivated = await hjulet("staff", "deactivate", email)
    refused = await hjulet("staff", "token", email)

    assert deactivated.stdout == f"{email} is now deactivated\n"
    assert refused.returncode == 1 and refused.stderr.startswith(f"Error: {email} is deactivated")
    async with session_factory() as session:
        assert await Directory(session).staff_by_token(token.stdout.strip()) is None
