"""`hjulet keys`: the encryption keyring. Key ids are shown, key material never.

    hjulet keys status              # which key holds how many values
    hjulet keys rotate              # a new key first in the key file, everything re-encrypted under it
    hjulet keys retire k20261124-3f9a   # an old key out of the key file, once it holds nothing
    hjulet keys add --file new.keys     # a new key in a file (for a keyring kept elsewhere)

The work is in ``storage.keys``; see there how a rotation runs while the service keeps running.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from bot.command_line import Factory, failing_clearly, on_database
from bot.command_line import command_settings as _settings
from bot.settings import Settings
from storage.crypto import Cipher
from storage.keys import BATCH, OTHER, KeyCounts, Progress

T = TypeVar("T")
friendly = failing_clearly("keys")  # "keys: there is no key ..."


def _run(settings: Settings, work: Callable[[Factory, Cipher], Awaitable[T]]) -> T:
    """`work` on a migrated database, with the keyring it was opened with."""
    from bot.wiring import load_cipher

    cipher = load_cipher(settings)
    return on_database(settings, lambda factory: work(factory, cipher), cipher=cipher)


def _source(cipher: Cipher) -> str:
    return f"the file {cipher.source}" if cipher.source else "HJULET_ENCRYPTION_KEYS"


def _table(counts: KeyCounts, *, columns: bool) -> list[str]:
    width = max(16, *(len(k) for k in counts.keys))
    lines = [f"{'key':<{width}}  {'values':>8}"]
    for number, key_id in enumerate(counts.keys):
        note = "  active: new values" if number == 0 else ""
        if number and not counts.held(key_id):
            note = f"  holds nothing: hjulet keys retire {key_id}"
        lines.append(f"{key_id:<{width}}  {counts.held(key_id):>8}{note}")
    if counts.other:
        lines.append(f"{'(no key here)':<{width}}  {counts.other:>8}  under a key missing from the keyring")
    if columns:
        lines.append("")
        for name, by_key in counts.by_column.items():
            held = ", ".join(f"{k if k != OTHER else '(no key here)'} {n}" for k, n in by_key.items() if n)
            lines.append(f"{name}: {held or 'empty'}")
    return lines


@click.group(help="The encryption keyring: what each key holds, rotating to a new key, retiring old ones.")
def keys() -> None:
    pass


@keys.command("status", help="Show the keys (ids only) and how many stored values each one holds.")
@click.option("--columns", is_flag=True, help="Also per encrypted column.")
@friendly
def status(columns: bool) -> None:
    from storage.keys import count_keys

    async def work(sessions: Factory, cipher: Cipher) -> tuple[KeyCounts, str]:
        return await count_keys(sessions, cipher), _source(cipher)

    counts, source = _run(_settings(), work)
    click.echo(f"keyring: {source}, {len(counts.keys)} key{'s' if len(counts.keys) != 1 else ''}")
    for line in _table(counts, columns=columns):
        click.echo(line)


@keys.command(
    "rotate",
    help="Put a new key first in the key file and re-encrypt every value under it, in small batches, "
    "while the service runs. If values are still under older keys (a rotation that stopped), it "
    "finishes that one instead. Safe to stop and run again.",
)
@click.option(
    "--keep-key", is_flag=True, help="Make no new key: re-encrypt under the first key the keyring has now."
)
@click.option("--batch-size", type=click.IntRange(1, 10_000), default=BATCH, show_default=True)
@friendly
def rotate(keep_key: bool, batch_size: int) -> None:
    from storage.keys import rotate as run_rotation

    settings = _settings()
    if settings.encryption_keys and not keep_key:
        raise click.ClickException(
            "the keyring comes from HJULET_ENCRYPTION_KEYS: put a new key first there on every process "
            "(hjulet keys add --file makes one), restart them one by one, then run hjulet keys rotate "
            "--keep-key"
        )

    def report(progress: Progress) -> None:
        click.echo(f"  {progress.rewritten} values re-encrypted ({progress.rate:.0f}/s)", err=True)

    async def work(sessions: Factory, cipher: Cipher) -> Any:
        return await run_rotation(
            sessions, cipher, new_key=not keep_key, batch_size=batch_size, on_batch=_every(50, report)
        )

    rotation = _run(settings, work)
    progress, counts = rotation.progress, rotation.counts
    if rotation.new_key:
        click.echo(f"new key {rotation.new_key} is first in the keyring; the old keys stay for reading")
    else:
        click.echo(f"re-encrypting under the active key {counts.keys[0]} (no new key made)")
    click.echo(
        f"re-encrypted {progress.rewritten} values in {progress.seconds:.1f} s ({progress.rate:.0f} values/s)"
    )
    for line in _table(counts, columns=False):
        click.echo(line)
    if progress.unreadable:
        shown = ", ".join(progress.unreadable[:10])
        raise click.ClickException(
            f"{len(progress.unreadable)} values cannot be decrypted with this keyring and were left as "
            f"they are: {shown}"
        )
    if counts.outdated:
        raise click.ClickException(
            f"{counts.outdated} values are still under older keys (saved meanwhile): run it again"
        )


def _every(n: int, report: Callable[[Progress], None]) -> Callable[[Progress], None]:
    def maybe(progress: Progress) -> None:
        if progress.batches % n == 0:
            report(progress)

    return maybe


@keys.command("retire", help="Remove an old key from the key file, once it holds no value.")
@click.argument("key_id")
@friendly
def retire(key_id: str) -> None:
    from storage.keys import retire as run_retire

    async def work(sessions: Factory, cipher: Cipher) -> None:
        await run_retire(sessions, cipher, key_id)

    _run(_settings(), work)
    click.echo(f"key {key_id} is retired: removed from the keyring")


@keys.command(
    "add",
    help="Put a new key first in a key file (default: the one the service reads) without re-encrypting "
    "anything. With --file, for a keyring kept in a secret store or in HJULET_ENCRYPTION_KEYS.",
)
@click.option("--file", "file", type=click.Path(dir_okay=False, path_type=Path), default=None)
@friendly
def add(file: Path | None) -> None:
    from storage.keys import add_key

    settings = _settings()
    if file is None and settings.encryption_keys:
        raise click.ClickException("the keyring comes from HJULET_ENCRYPTION_KEYS: give --file")
    path = file or settings.keyring_file
    click.echo(f"new key {add_key(path)} is first in {path} (the key itself is only in the file)")
