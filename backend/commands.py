"""`hjulet directory`, `hjulet staff` and `hjulet demo`: the desk's directory and accounts.

    hjulet directory import directory.yaml --dry-run     # check, and show what would change
    hjulet directory export directory.csv                 # or to stdout: hjulet directory export
    printf '%s\\n' "$PASSWORD" | hjulet staff add anna@kommun.se --role named_person --unit bvc_centrum
    hjulet staff token anna@kommun.se                     # prints an API token, shown once
    hjulet demo --if-empty                                # the demo directory and its logins

Each command migrates first (as `hjulet db upgrade` does) and builds and disposes its own engine.
Errors are one clear line (a bad directory file: one per problem), never a traceback.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import click

from backend.directory_check import NEEDS_UNIT, STAFF_LANGUAGES, is_email, text_problem
from bot.command_line import Factory, friendly
from bot.command_line import command_settings as _settings
from bot.command_line import on_database as _run
from storage.desk import ROLES, Staff
from storage.directory import Directory


@click.group(help="The desk's directory. Municipalities, units, routing rules and staff.")
def directory() -> None:
    pass


@directory.command(
    "import",
    help="Import a directory file. FILE (.yaml, .yml or .csv) becomes the directory, all or nothing.",
)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Check the file and show what would change; write nothing.")
@friendly
def import_command(file: Path, dry_run: bool) -> None:
    from backend.directory_file import read_directory
    from backend.directory_import import apply_directory

    data = read_directory(file)  # a bad file stops here, before the database is touched
    result = _run(_settings(), lambda factory: apply_directory(factory, data, dry_run=dry_run))
    for line in result.changes.lines() or ["no changes"]:
        click.echo(line)
    counts = ", ".join(f"{count} {name}" for name, count in result.counts.items())
    click.echo(f"{'dry run, nothing written' if dry_run else 'imported'}: {file} ({counts})")


@directory.command("export", help="Export the directory. To FILE, or to stdout without FILE.")
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--format", "fmt", type=click.Choice(["yaml", "csv"]), help="Default: FILE's extension, else yaml."
)
@friendly
def export_command(file: Path | None, fmt: str | None) -> None:
    from backend.directory_file import file_format, format_directory

    if file is not None:
        named = file_format(file)
        if fmt is not None and fmt != named:
            raise click.BadParameter(f"{file.name} is the name of a {named} file", param_hint="--format")
        fmt = named

    async def export(factory: Factory) -> Any:
        async with factory() as session:
            return await Directory(session).export()

    data = _run(_settings(), export)
    text = format_directory(data, fmt or "yaml")
    if file is None:
        click.echo(text, nl=False)
        return
    try:
        file.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise click.ClickException(f"cannot write {file}: {(exc.strerror or str(exc)).lower()}") from exc
    counts = f"{len(data.municipalities)} municipalities, {len(data.units)} units, {len(data.staff)} staff"
    click.echo(f"exported: {file} ({counts})", err=True)


# ---- hjulet staff -------------------------------------------------------------------------


@click.group(help="Staff accounts of the desk. Passwords are read from stdin.")
def staff() -> None:
    pass


def new_password_hash() -> str:
    """The argon2id hash of one line from stdin; at a terminal, asked twice without echo."""
    from backend.passwords import MIN_LENGTH, hash_password

    stdin = sys.stdin
    if stdin is not None and stdin.isatty():
        password = click.prompt(
            "Password", hide_input=True, confirmation_prompt="Repeat the password", err=True
        )
    else:
        password = stdin.readline().rstrip("\r\n") if stdin is not None else ""
    if not password:
        raise click.ClickException("no password: give it as one line on stdin")
    if len(password) < MIN_LENGTH:
        raise click.ClickException(f"the password is too short: it needs at least {MIN_LENGTH} characters")
    return hash_password(password)


def _email(value: str) -> str:
    email = value.strip().lower()
    if not is_email(email):
        raise click.BadParameter(f"'{value}' is not an e-mail address", param_hint="EMAIL")
    return email


async def _find(directory: Directory, email: str, *, active: bool = True) -> Staff:
    person = await directory.staff_by_email(email)
    if person is None:
        raise click.ClickException(f"no staff member has the address {email}")
    if active and not person.active:
        raise click.ClickException(f"{email} is deactivated (an import that lists them makes them active)")
    return person


@staff.command("add", help="Add a staff member. The password is one line on stdin (at least 12 characters).")
@click.argument("email")
@click.option("--role", required=True, type=click.Choice(ROLES), help="What they do at the desk.")
@click.option("--unit", "unit_code", help="Their unit's code (named persons and unit leads need one).")
@click.option("--name", help="Their full name (default: the address before the @).")
@click.option("--title", default="", help='Their title, such as "BVC nurse" or "head teacher".')
@click.option("--language", type=click.Choice(STAFF_LANGUAGES), default="sv", show_default=True)
@friendly
def staff_add(
    email: str, role: str, unit_code: str | None, name: str | None, title: str, language: str
) -> None:
    email = _email(email)
    if role in NEEDS_UNIT and not unit_code:
        raise click.UsageError(f"a {role} needs a unit: add --unit CODE")
    name, title = (name or email.partition("@")[0]).strip(), title.strip()
    for option, value in (("name", name), ("title", title)):
        if problem := text_problem(option, value):
            raise click.BadParameter(problem, param_hint=f"--{option}")

    async def work(factory: Factory) -> None:
        async with factory() as session:  # check before asking for a password
            directory = Directory(session)
            if (known := await directory.staff_by_email(email)) is not None:
                state = "" if known.active else " (deactivated)"
                raise click.ClickException(
                    f"{email} already has an account{state}; see 'hjulet staff password'"
                )
            unit = await directory.unit_by_code(unit_code) if unit_code else None
            if unit_code and (unit is None or not unit.active):
                raise click.ClickException(f"unknown unit '{unit_code}'")
        password_hash = await asyncio.to_thread(new_password_hash)
        async with factory() as session, session.begin():
            person = Staff(email=email, name=name, role=role, title=title, language=language, active=True)
            person.unit_id = unit.id if unit is not None else None
            person.password_hash, person.failed_logins = password_hash, 0
            await Directory(session).add(person)

    _run(_settings(), work)
    click.echo(f"added {email} ({role}{', ' + unit_code if unit_code else ''})")


@staff.command("token", help="Print a new API token. It is shown once; only its hash is kept.")
@click.argument("email")
@friendly
def staff_token(email: str) -> None:
    from backend.passwords import new_token

    email, token = _email(email), new_token()

    async def work(factory: Factory) -> None:
        async with factory() as session, session.begin():
            directory = Directory(session)
            await directory.add_token((await _find(directory, email)).id, token)

    _run(_settings(), work)
    click.echo(token)
    click.echo(f"a new API token for {email}: send it as 'Authorization: Bearer <token>'", err=True)


@staff.command("password", help="Set a new password. One line on stdin; it also signs them out everywhere.")
@click.argument("email")
@friendly
def staff_password(email: str) -> None:
    email = _email(email)

    async def work(factory: Factory) -> int:
        async with factory() as session:
            await _find(Directory(session), email)  # before asking for a password
        password_hash = await asyncio.to_thread(new_password_hash)
        async with factory() as session, session.begin():
            directory = Directory(session)
            person = await _find(directory, email)
            person.password_hash, person.failed_logins, person.locked_until = password_hash, 0, None
            return await directory.end_sessions_of(person.id)

    ended = _run(_settings(), work)
    click.echo(f"new password set for {email}; {ended} signed-in session(s) ended")


@staff.command("deactivate", help="Deactivate a staff member. They can no longer sign in or use tokens.")
@click.argument("email")
@friendly
def staff_deactivate(email: str) -> None:
    email = _email(email)

    async def work(factory: Factory) -> bool:
        async with factory() as session, session.begin():
            directory = Directory(session)
            person = await _find(directory, email, active=False)
            was_active, person.active = person.active, False
            await directory.end_sessions_of(person.id)
            return was_active

    changed = _run(_settings(), work)
    click.echo(f"{email} {'is now deactivated' if changed else 'was already deactivated'}")


# ---- hjulet demo --------------------------------------------------------------------------


@click.command(help="Load the demo directory. A fictional municipality; prints the demo logins.")
@click.option("--if-empty", is_flag=True, help="Only when the directory has no municipality yet.")
@friendly
def demo(if_empty: bool) -> None:
    from backend.demo import DemoRefused, seed_demo

    settings = _settings()
    try:
        result = _run(settings, lambda factory: seed_demo(factory, if_empty=if_empty))
    except DemoRefused as exc:
        raise click.ClickException(f"demo: {exc}") from exc
    if result.seeded:
        click.echo("demo directory loaded: Exempelkommun, fictional people and example phone numbers")
    else:
        click.echo("the directory is not empty: the demo was not loaded")
    if result.logins:
        click.echo(f"demo logins for the desk at {settings.public_url}:")
        width = max(len(login.email) for login in result.logins)
        for login in result.logins:
            click.echo(f"  {login.email:<{width}}  {login.password}  ({login.role})")
