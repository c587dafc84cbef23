"""Key rotation without downtime: one process keeps serving families while another rotates the key.

Two "processes" (two engines, each with its own Cipher read from the same keyring file) share one
database. The rotation puts a new key first in the file and re-encrypts in small batches; the family
side keeps writing and reading, notices the new key by itself, and loses nothing. Afterwards no value
is under the old key, the old key can be retired, and running it again changes nothing. A rotation
stopped after one batch goes on where it stopped. The `hjulet keys` commands never show a key.
"""

from __future__ import annotations

import asyncio
import base64
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage import Store, make_engine, make_session_factory, pseudonym
from storage.crypto import Cipher, load_or_create_keyring, parse_keys
from storage.errors import StorageError
from storage.keys import add_key, count_keys, encrypted_columns, reencrypt, retire, rewrite_many, rotate
from storage.models import Answer, Child, Conversation

Factory = async_sessionmaker[AsyncSession]
SECRET = b"k" * 32
HJULET = str(Path(sys.executable).with_name("hjulet"))


class Process:
    """One running process of Hjulet, as far as the database and the keyring go."""

    def __init__(self, url: str, keyring: Path, reload_seconds: float) -> None:
        self.cipher = load_or_create_keyring(keyring, reload_seconds=reload_seconds)
        self.engine = make_engine(url, cipher=self.cipher)
        self.sessions = make_session_factory(self.engine)


@pytest.fixture
async def two_processes(database_url: str, tmp_path: Path) -> AsyncIterator[tuple[Process, Process]]:
    keyring = tmp_path / "keys" / "encryption.keys"
    # it notices a new key within a second when it writes (at once when it reads one): long enough that
    # it writes under the old key after the rotation's first pass has gone by, so the last sweep counts
    family_side = Process(database_url, keyring, reload_seconds=1.0)
    rotator = Process(database_url, keyring, reload_seconds=0.3)
    try:
        yield family_side, rotator
    finally:
        await family_side.engine.dispose()
        await rotator.engine.dispose()


async def a_family(sessions: Factory, n: int) -> int:
    """A family with a child's name, the unit as typed, the conversation's variables and own words."""
    async with sessions() as session, session.begin():
        store = Store(session)
        user = await store.get_or_create_user("web", pseudonym(SECRET, "web", f"family-{n}"), "sv")
        child = await store.create_child(user.id)
        await store.update_child(child.id, name=f"Barn {n}", unit_text=f"Förskolan {n}", age_years=3)
        state = {"vars": {"child.name": f"Barn {n}"}, "n": 0}
        conversation = await store.create_conversation(user.id, "mapping", "sv", state, child_id=child.id)
        for question in ("safe_home", "safe_comfort"):
            await store.upsert_answer(
                conversation_id=conversation.id,
                child_id=child.id,
                indicator="safe",
                question_id=question,
                code="worried",
                language="sv",
            )
            await store.set_answer_text(
                conversation_id=conversation.id,
                question_id=question,
                text=f"{question} sa familj {n}",
                text_language="sv",
            )
        return user.id


async def everything(sessions: Factory) -> dict[str, Any]:
    """What the families wrote, read through the app (decrypted)."""
    async with sessions() as session:
        children = {c.name: c.unit_text for c in await session.scalars(sa.select(Child))}
        states = {c.id: c.state for c in await session.scalars(sa.select(Conversation))}
        texts = set()
        for user_id in await session.scalars(sa.text("SELECT id FROM users")):
            data = await Store(session).user_data(user_id)
            texts |= {a.free_text for a in data.answers}
    return {"children": children, "states": states, "texts": texts}


async def as_stored(sessions: Factory) -> dict[str, list[Any]]:
    async with sessions() as session:
        return {
            column.name: list(
                await session.execute(sa.text(f"SELECT id, {column.column} FROM {column.table}"))
            )
            for column in encrypted_columns()
        }


async def test_a_rotation_while_families_keep_writing_loses_nothing_and_leaves_nothing_under_the_old_key(
    two_processes: tuple[Process, Process],
) -> None:
    family_side, rotator = two_processes
    old = family_side.cipher.active
    seeded = [await a_family(family_side.sessions, n) for n in range(40)]
    stop = asyncio.Event()
    written: list[int] = []
    saves: dict[int, int] = {}  # conversation id -> times a family saved it during the rotation
    seen_keys: set[str] = set()

    async def families_keep_coming() -> None:
        n = 1000
        while not stop.is_set():
            n += 1
            user_id = await a_family(family_side.sessions, n)
            async with family_side.sessions() as session, session.begin():  # a family goes on talking
                store = Store(session)
                conversation = await store.latest_conversation(seeded[n % 4])  # the same few, again and again
                assert conversation is not None and user_id not in seeded
                state = {**conversation.state, "n": conversation.state["n"] + 1}
                saves[conversation.id] = state["n"]
                await store.save_conversation(conversation, step="safe_home", status="active", language="sv",
                                              state=state)  # fmt: skip
            async with family_side.sessions() as session:  # reading everything, whatever key it is under
                children = {c.name: c.unit_text for c in await session.scalars(sa.select(Child))}
                assert len(list(await session.scalars(sa.select(Answer)))) == 2 * len(children)
                assert len(list(await session.scalars(sa.select(Conversation)))) == len(children)
            assert children[f"Barn {n}"] == f"Förskolan {n}"
            written.append(n)
            seen_keys.add(family_side.cipher.active)

    traffic = asyncio.create_task(families_keep_coming())
    await asyncio.sleep(0.2)
    rotation = await rotate(rotator.sessions, rotator.cipher, batch_size=10, settle_seconds=1.2)
    stop.set()
    await traffic

    new = rotation.new_key
    assert new is not None and new != old and rotator.cipher.active == new
    assert len(written) >= 3, "families wrote while the key was rotated"
    assert family_side.cipher.active == new and seen_keys == {old, new}  # it noticed, by itself
    assert rotation.counts.held(old) == 0 and rotation.counts.outdated == 0
    assert rotation.counts.held(new) == rotation.counts.total > 40 * 5
    assert rotation.progress.rewritten >= 40 * 5 and not rotation.progress.unreadable

    seen = await everything(family_side.sessions)
    assert len(seen["children"]) == 40 + len(written)  # nothing lost
    assert all(seen["children"][f"Barn {n}"] == f"Förskolan {n}" for n in [*range(40), *written])
    assert {f"safe_home sa familj {n}" for n in [*range(40), *written]} <= seen["texts"]
    assert {i: seen["states"][i]["n"] for i in saves} == saves  # no save overwritten by the rotation

    await retire(rotator.sessions, rotator.cipher, old, settle_seconds=1.2)
    assert rotator.cipher.key_ids == (new,)
    only_new = Cipher(parse_keys((rotator.cipher.source or Path()).read_text(), "keyring"))
    assert only_new.key_ids == (new,)
    engine = make_engine(family_side.engine.url, cipher=only_new)  # a process started after the rotation
    try:
        assert await everything(make_session_factory(engine)) == seen
    finally:
        await engine.dispose()
    await a_family(family_side.sessions, 9998)  # the running process goes on after the retirement
    await asyncio.sleep(family_side.cipher.reload_seconds)
    await a_family(family_side.sessions, 9999)  # and has let go of the old key by its next look
    assert family_side.cipher.key_ids == (new,)
    assert (await everything(family_side.sessions))["children"]["Barn 9999"] == "Förskolan 9999"

    before = await as_stored(rotator.sessions)
    again = await reencrypt(rotator.sessions, rotator.cipher, batch_size=10)
    assert (again.rewritten, again.changed_meanwhile) == (0, 0)  # a re-run is a no-op
    assert await as_stored(rotator.sessions) == before


async def test_values_a_process_wrote_under_the_old_key_before_it_noticed_the_new_one_are_swept_up(
    database_url: str, tmp_path: Path
) -> None:
    keyring = tmp_path / "encryption.keys"
    writer = Process(database_url, keyring, reload_seconds=3600)  # only looks when told to, below
    rotator = Process(database_url, keyring, reload_seconds=3600)
    old = writer.cipher.active
    for n in range(10):
        await a_family(writer.sessions, n)
    first = keyring.stat().st_mtime_ns
    stale: list[int] = []
    stop = asyncio.Event()

    async def writes_without_reading() -> None:
        n = 100
        while not stop.is_set():
            n += 1
            await a_family(writer.sessions, n)
            if keyring.stat().st_mtime_ns != first and writer.cipher.active == old:
                stale.append(n)  # written under the old key after the new one was made
            if len(stale) == 10:
                writer.cipher.reload()  # its periodic look at the key file (within the settle time)
            await asyncio.sleep(0.01)

    traffic = asyncio.create_task(writes_without_reading())
    try:
        rotation = await rotate(rotator.sessions, rotator.cipher, batch_size=10, settle_seconds=1.5)
    finally:
        stop.set()
        await traffic
        await writer.engine.dispose()
        await rotator.engine.dispose()
    assert len(stale) == 10 and writer.cipher.active == rotation.new_key
    assert rotation.counts.held(old) == 0 and rotation.counts.outdated == 0


async def test_a_value_saved_between_the_rotations_read_and_its_write_is_kept(
    two_processes: tuple[Process, Process],
) -> None:
    family_side, rotator = two_processes
    user_id = await a_family(family_side.sessions, 1)
    add_key(rotator.cipher.source or Path())
    state = next(c for c in encrypted_columns() if c.name == "conversations.state")
    async with rotator.sessions() as session:  # the rotation reads the conversation's state
        conversation_id, read = (await session.execute(sa.text("SELECT id, state FROM conversations"))).one()

    async with family_side.sessions() as session, session.begin():  # the family answers meanwhile
        store = Store(session)
        conversation = await store.latest_conversation(user_id)
        assert conversation is not None
        await store.save_conversation(conversation, step="safe_comfort", status="active", language="sv",
                                      state={**conversation.state, "n": 1})  # fmt: skip

    async with rotator.sessions() as session, session.begin():  # and then the rotation writes
        done = await rewrite_many(session, state, [(conversation_id, read)], rotator.cipher)
    assert (done.rewritten, done.changed_meanwhile) == (0, 1)
    async with rotator.sessions() as session, session.begin():  # read again, it goes through
        current = await session.scalar(sa.text("SELECT state FROM conversations"))
        done = await rewrite_many(session, state, [(conversation_id, current)], rotator.cipher)
    assert (done.rewritten, done.changed_meanwhile) == (1, 0)
    async with family_side.sessions() as session:
        conversation = await Store(session).latest_conversation(user_id)
    assert conversation is not None and conversation.state["n"] == 1 and conversation.step == "safe_comfort"


async def test_a_rotation_stopped_after_one_batch_goes_on_where_it_stopped(
    two_processes: tuple[Process, Process],
) -> None:
    family_side, rotator = two_processes
    old = rotator.cipher.active
    for n in range(12):
        await a_family(family_side.sessions, n)

    stopped = await rotate(rotator.sessions, rotator.cipher, batch_size=5, max_batches=1, settle_seconds=0)
    new = stopped.new_key
    assert stopped.progress.stopped and stopped.progress.rewritten == 5 and new is not None
    assert stopped.counts.held(new) == 5 and stopped.counts.held(old) == 12 * 5 - 5
    assert await everything(family_side.sessions) == await everything(rotator.sessions)  # mixed keys: fine

    resumed = await rotate(rotator.sessions, rotator.cipher, batch_size=5, settle_seconds=0)
    assert resumed.new_key is None  # it finished the stopped rotation rather than make a third key
    assert rotator.cipher.key_ids == (new, old)
    assert resumed.progress.rewritten == 12 * 5 - 5
    assert (resumed.counts.held(new), resumed.counts.held(old)) == (12 * 5, 0)


async def test_retiring_refuses_the_active_key_and_a_key_that_still_holds_values(
    two_processes: tuple[Process, Process],
) -> None:
    family_side, rotator = two_processes
    old = rotator.cipher.active
    await a_family(family_side.sessions, 1)
    with pytest.raises(StorageError, match="is the active key"):
        await retire(rotator.sessions, rotator.cipher, old, settle_seconds=0)
    new = add_key(rotator.cipher.source or Path())
    with pytest.raises(StorageError, match="still holds 5 values"):
        await retire(rotator.sessions, rotator.cipher, old, settle_seconds=0)
    assert rotator.cipher.key_ids == (new, old)
    assert (await count_keys(rotator.sessions, rotator.cipher)).held(old) == 5


async def test_a_process_reads_a_value_under_a_key_it_has_not_seen_yet(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    keyring = tmp_path / "encryption.keys"
    running = load_or_create_keyring(keyring, reload_seconds=3600)  # would not look at the file for an hour
    other = load_or_create_keyring(keyring)
    old = running.active
    new = add_key(keyring)
    other.reload()
    token = other.encrypt("Barnets namn")

    assert token.startswith(f"{new}.") and running.decrypt(token) == "Barnets namn"  # read the file anew
    assert running.active == new

    keyring.write_text("not a keyring\n")  # a damaged file: the process keeps the keys it has
    assert not running.reload()
    assert running.key_ids == (new, old) and running.decrypt(token) == "Barnets namn"
    assert str(keyring) in caplog.text


# ---- the command line -------------------------------------------------------------------------


async def hjulet(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run,
        [HJULET, "keys", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=120,
    )


async def test_hjulet_keys_status_rotate_and_retire_show_ids_never_keys(
    database_url: str, tmp_path: Path
) -> None:
    data = tmp_path / "var"
    env = {k: v for k, v in os.environ.items() if not k.startswith("HJULET_")}
    env |= {"HJULET_DATA_DIR": str(data), "HJULET_DATABASE_URL": database_url}
    family_side = Process(database_url, data / "encryption.keys", reload_seconds=0.3)
    try:
        for n in range(3):
            await a_family(family_side.sessions, n)
    finally:
        await family_side.engine.dispose()
    old = family_side.cipher.active
    keyring = data / "encryption.keys"
    keys = [base64.b64encode(key).decode() for _, key in parse_keys(keyring.read_text(), "k")]

    status = await hjulet(env, "status", "--columns")
    assert status.returncode == 0, status.stderr
    assert f"{old}" in status.stdout and "active" in status.stdout
    assert (
        "children.name: " + f"{old} 3" in status.stdout
        and "answers.free_text: " + f"{old} 6" in status.stdout
    )

    rotated = await hjulet(env, "rotate", "--batch-size", "4")
    assert rotated.returncode == 0, rotated.stderr
    new, new_key = parse_keys(keyring.read_text(), "keys")[0]
    keys.append(base64.b64encode(new_key).decode())
    assert f"new key {new} is first in the keyring" in rotated.stdout
    assert "re-encrypted 15 values" in rotated.stdout
    assert f"holds nothing: hjulet keys retire {old}" in rotated.stdout

    refused = await hjulet(env, "retire", new)
    assert refused.returncode == 1 and "is the active key" in refused.stderr
    retired = await hjulet(env, "retire", old)
    assert retired.returncode == 0, retired.stderr
    assert [key_id for key_id, _ in parse_keys(keyring.read_text(), "keys")] == [new]

    from_env = {**env, "HJULET_ENCRYPTION_KEYS": keyring.read_text().strip()}
    env_rotation = await hjulet(from_env, "rotate")
    assert env_rotation.returncode == 1 and "HJULET_ENCRYPTION_KEYS" in env_rotation.stderr
    again = await hjulet(from_env, "rotate", "--keep-key")  # everything is under the first key already
    assert again.returncode == 0 and "re-encrypted 0 values" in again.stdout

    shown = "".join(r.stdout + r.stderr for r in (status, rotated, refused, retired, env_rotation, again))
    assert len(keys) == 2 and not any(key[:12] in shown for key in keys)  # neither key, nor a part
