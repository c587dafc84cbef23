"""The demo directory: a fictional municipality with a BVC, two preschools, a school, KAA, social
services, a coordinator unit and staff in every role, each with a known demo password.

`make run` seeds it with ``hjulet demo --if-empty`` on the embedded SQLite and prints the logins.
The demo never replaces a real directory: it seeds an empty one, or refreshes its own.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.directory_file import read_directory
from backend.directory_import import apply_directory
from backend.passwords import hash_password, verify_password
from storage.directory import Directory, DirectoryData

DEMO_FILE: Final = Path(__file__).resolve().parent / "demo" / "directory.yaml"
PASSWORD_PREFIX: Final = "demo-password-"  # noqa: S105 - the demo passwords are public on purpose


class DemoRefused(Exception):
    """The directory holds municipalities that are not the demo's: seeding would replace them."""


@dataclass(frozen=True)
class DemoLogin:
    email: str
    role: str
    password: str


@dataclass(frozen=True)
class DemoSeed:
    seeded: bool  # False when `if_empty` found a directory already there
    logins: list[DemoLogin]  # the demo accounts that sign in with their demo password


def demo_directory() -> DirectoryData:
    return read_directory(DEMO_FILE)


def demo_logins(data: DirectoryData) -> list[DemoLogin]:
    """Each demo account's password: `demo-password-1`, `-2`, ... in the file's order."""
    return [
        DemoLogin(person["email"], person["role"], f"{PASSWORD_PREFIX}{number}")
        for number, person in enumerate(data.staff, start=1)
    ]


async def seed_demo(session_factory: async_sessionmaker[AsyncSession], *, if_empty: bool = False) -> DemoSeed:
    """Load the demo directory and set the demo passwords, all in one transaction.

    With `if_empty`, do nothing when the directory already has a municipality (and report which demo
    logins still work). Without it, refresh the demo (the same result every time), but refuse with
    ``DemoRefused`` when the directory holds other municipalities.
    """
    data = demo_directory()
    logins = demo_logins(data)
    demo_codes = {item["code"] for item in data.municipalities}
    async with session_factory() as session:
        present = {m.code for m in await Directory(session).municipalities()}
    if present and if_empty:
        return DemoSeed(False, await working_logins(session_factory, logins))
    if present - demo_codes:
        raise DemoRefused(
            f"the directory holds other municipalities ({', '.join(sorted(present - demo_codes))}); "
            "the demo would replace them, so it was not loaded"
        )
    hashed = await asyncio.gather(*(asyncio.to_thread(hash_password, login.password) for login in logins))
    hashes = {login.email: password_hash for login, password_hash in zip(logins, hashed, strict=True)}

    async def set_passwords(directory: Directory) -> None:
        for login in logins:
            person = await directory.staff_by_email(login.email)
            assert person is not None  # replace() just wrote every demo account
            person.password_hash, person.failed_logins, person.locked_until = hashes[login.email], 0, None
        await directory.session.flush()

    await apply_directory(session_factory, data, then=set_passwords)
    return DemoSeed(True, logins)


async def working_logins(
    session_factory: async_sessionmaker[AsyncSession], logins: list[DemoLogin]
) -> list[DemoLogin]:
    """The demo logins whose account is active and still has its demo password."""
    async with session_factory() as session:
        directory = Directory(session)
        people = {login.email: await directory.staff_by_email(login.email) for login in logins}

    async def works(login: DemoLogin) -> bool:
        person = people[login.email]
        if person is None or not person.active:
            return False
        return await asyncio.to_thread(verify_password, person.password_hash, login.password)

    checked = await asyncio.gather(*(works(login) for login in logins))
    return [login for login, ok in zip(logins, checked, strict=True) if ok]
