"""Encryption at rest: AES-256-GCM with a keyring, so keys can be rotated without downtime.

A token is ``<key id>.<base64url(nonce | ciphertext+tag)>``. The first key of the keyring encrypts;
every key in it decrypts, so a new key can be put first while old rows are re-encrypted in the
background (``hjulet keys rotate``).

The keyring lives in a file (one ``<key id> <base64 key>`` line per key, the active key first; created
with mode 0600 on first use) or in ``HJULET_ENCRYPTION_KEYS`` (the same lines, separated by ``;``).
Columns typed ``EncryptedText`` / ``EncryptedJSON`` are encrypted by SQLAlchemy on the way in and
decrypted on the way out, with the cipher that ``make_engine(url, cipher=...)`` attached to the
engine's dialect: no global key, one per engine.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import secrets
from pathlib import Path
from typing import Any, Final

import sqlalchemy as sa
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.engine import Dialect

from storage.errors import StorageError

KEY_BYTES: Final = 32
NONCE_BYTES: Final = 12
_KEY_ID: Final = re.compile(r"^[A-Za-z0-9_-]{1,16}$")
DIALECT_ATTRIBUTE: Final = "hjulet_cipher"


class Cipher:
    """AES-GCM over a keyring: ``keys`` in order, the first one active."""

    def __init__(self, keys: list[tuple[str, bytes]]) -> None:
        if not keys:
            raise StorageError("the encryption keyring is empty")
        for key_id, key in keys:
            if not _KEY_ID.fullmatch(key_id) or len(key) != KEY_BYTES:
                raise StorageError(f"encryption key {key_id!r} must be a short id and {KEY_BYTES} bytes")
        self.active = keys[0][0]
        self._aead = {key_id: AESGCM(key) for key_id, key in keys}

    @property
    def key_ids(self) -> tuple[str, ...]:
        return tuple(self._aead)

    def encrypt(self, plaintext: str) -> str:
        nonce = secrets.token_bytes(NONCE_BYTES)
        sealed = self._aead[self.active].encrypt(nonce, plaintext.encode(), self.active.encode())
        return f"{self.active}.{base64.urlsafe_b64encode(nonce + sealed).decode()}"

    def decrypt(self, token: str) -> str:
        key_id, dot, body = token.partition(".")
        aead = self._aead.get(key_id)
        if not dot or aead is None:
            raise StorageError(f"a stored value was encrypted with an unknown key {key_id[:16]!r}")
        try:
            raw = base64.urlsafe_b64decode(body)
            return aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], key_id.encode()).decode()
        except (InvalidTag, binascii.Error, ValueError) as exc:
            raise StorageError("a stored value cannot be decrypted (damaged, or a wrong key)") from exc

    def is_current(self, token: str) -> bool:
        """True when ``token`` is encrypted with the active key (nothing to rotate)."""
        return token.partition(".")[0] == self.active


def new_key_line(key_id: str | None = None) -> str:
    key_id = key_id or secrets.token_hex(4)
    return f"{key_id} {base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()}"


def parse_keyring(text: str, where: str) -> Cipher:
    keys: list[tuple[str, bytes]] = []
    for number, line in enumerate(re.split(r"[;\n]", text), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        try:
            key = base64.b64decode(parts[1], validate=True) if len(parts) == 2 else b""
        except binascii.Error:
            key = b""
        if len(key) != KEY_BYTES or not _KEY_ID.fullmatch(parts[0]):
            raise StorageError(f"{where}: entry {number} is not '<key id> <base64 of {KEY_BYTES} bytes>'")
        keys.append((parts[0], key))
    if not keys:
        raise StorageError(f"{where}: no encryption key")
    return Cipher(keys)


def load_or_create_keyring(path: Path, env_value: str | None = None) -> Cipher:
    """The keyring from ``env_value`` if given, else from ``path`` (created with one key if missing)."""
    if env_value:
        return parse_keyring(env_value, "HJULET_ENCRYPTION_KEYS")
    path = Path(path).expanduser()
    if not path.exists():
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w") as file:
                file.write(new_key_line() + "\n")
        except FileExistsError:
            pass  # another process made it just now
        except OSError as exc:
            raise StorageError(f"Cannot create the encryption key file {path}: {exc.strerror}") from exc
    try:
        return parse_keyring(path.read_text(encoding="ascii"), str(path))
    except (OSError, UnicodeDecodeError) as exc:
        raise StorageError(f"Cannot read the encryption key file {path}") from exc


def write_keyring(path: Path, lines: list[str]) -> None:
    """Replace the keyring file atomically (used by key rotation)."""
    path = Path(path).expanduser()
    temporary = path.with_suffix(".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write("\n".join(lines) + "\n")
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)


def cipher_of(dialect: Dialect) -> Cipher:
    cipher = getattr(dialect, DIALECT_ATTRIBUTE, None)
    if cipher is None:
        raise StorageError("this database engine has no encryption key: use make_engine(url, cipher=...)")
    return cipher  # type: ignore[no-any-return]


class EncryptedText(sa.TypeDecorator[str]):
    """Text stored encrypted with the engine's cipher."""

    impl = sa.Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else cipher_of(dialect).encrypt(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else cipher_of(dialect).decrypt(value)


class EncryptedJSON(sa.TypeDecorator[Any]):
    """A JSON value stored encrypted (as text) with the engine's cipher."""

    impl = sa.Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return cipher_of(dialect).encrypt(json.dumps(value, ensure_ascii=False, separators=(",", ":")))

    def process_result_value(self, value: str | None, dialect: Dialect) -> Any:
        return None if value is None else json.loads(cipher_of(dialect).decrypt(value))
