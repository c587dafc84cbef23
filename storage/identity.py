"""Pseudonyms for users: the database never holds a channel's raw user id.

A pseudonym is HMAC-SHA256 over ``"<channel>:<raw id>"`` with a secret key kept in a file outside the
database. The same person on the same channel always gets the same pseudonym; without the key, a
pseudonym cannot be linked back to a Telegram account. Losing the key makes every existing user
unknown (their data stays, unreachable), so the key file must be backed up with the database.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path
from typing import Final

from storage.errors import StorageError

SECRET_BYTES: Final = 32


def pseudonym(secret: bytes, channel: str, raw_id: str) -> str:
    """The stable pseudonym (64 hex characters) of ``raw_id`` on ``channel``."""
    if len(secret) < SECRET_BYTES:
        raise ValueError(f"the pseudonym secret must be at least {SECRET_BYTES} bytes")
    if not channel or ":" in channel:
        raise ValueError("channel must be a non-empty name without ':'")
    message = f"{channel}:{raw_id}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def load_or_create_secret(path: Path) -> bytes:
    """Read the pseudonym key at ``path``, creating a new random one (mode 0600) if there is none.

    A key file that is shorter than 32 bytes raises ``StorageError``: a truncated key would silently
    give every user a new pseudonym.
    """
    path = Path(path).expanduser()
    try:
        return _read(path)
    except FileNotFoundError:
        pass
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it just now: use theirs
        return _read(path)
    except OSError as exc:
        raise StorageError(f"Cannot create the pseudonym key file {path}: {_why(exc)}") from exc
    key = secrets.token_bytes(SECRET_BYTES)
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(key)
            file.flush()
            os.fsync(file.fileno())
    except OSError as exc:
        path.unlink(missing_ok=True)
        raise StorageError(f"Cannot write the pseudonym key file {path}: {_why(exc)}") from exc
    return key


def _read(path: Path) -> bytes:
    try:
        key = path.read_bytes()
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise StorageError(f"Cannot read the pseudonym key file {path}: {_why(exc)}") from exc
    if len(key) < SECRET_BYTES:
        raise StorageError(
            f"The pseudonym key file {path} is {'empty' if not key else f'only {len(key)} bytes'} "
            f"(it must hold {SECRET_BYTES}); restore it from a backup, or delete it to start over "
            "(existing users will then be unknown)"
        )
    return key


def _why(exc: OSError) -> str:
    return (exc.strerror or str(exc)).lower()
