"""Encryption at rest: AES-256-GCM with a keyring, so keys can be rotated without downtime.

A token is ``<key id>.<base64url(nonce | ciphertext+tag)>``; the key id is also the associated data,
so a token cannot be passed off as another key's. The first key of the keyring encrypts; every key in
it decrypts, so a new key can be put first while old rows are re-encrypted in the background
(``hjulet keys rotate``, see ``storage.keys``).

The keyring lives in a file (one ``<key id> <base64 key>`` line per key, the active key first; created
with mode 0600 on first use) or in ``HJULET_ENCRYPTION_KEYS`` (the same lines, separated by ``;``).
A keyring read from a file follows the file: a process notices a newer file within ``RELOAD_SECONDS``
when it encrypts, and at once when it meets a value under a key id it does not know, so a rotation
started by another process needs no restart. Key material is never printed or logged.

Columns typed ``EncryptedText`` / ``EncryptedJSON`` are encrypted by SQLAlchemy on the way in and
decrypted on the way out, with the cipher that ``make_engine(url, cipher=...)`` attached to the
engine's dialect: no global key, one per engine.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import re
import secrets
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, NamedTuple

import sqlalchemy as sa
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.engine import Dialect

from storage.errors import StorageError

KEY_BYTES: Final = 32
NONCE_BYTES: Final = 12
RELOAD_SECONDS: Final = 2.0  # how soon a process encrypts with a key put first in its keyring file
_KEY_ID: Final = re.compile(r"^[A-Za-z0-9_-]{1,16}$")
# A key id, a dot, and at least the nonce and the tag (28 bytes) in base64url.
_TOKEN: Final = re.compile(r"[A-Za-z0-9_-]{1,16}\.[A-Za-z0-9_-]{38,}={0,2}")
DIALECT_ATTRIBUTE: Final = "hjulet_cipher"

log = logging.getLogger(__name__)


class _Ring(NamedTuple):
    active: str
    aead: dict[str, AESGCM]
    signature: tuple[int, int, int] | None  # the key file's (inode, mtime, size) when it was read


class Cipher:
    """AES-GCM over a keyring: ``keys`` in order, the first one active.

    With ``source`` (the key file it was read from) the keyring is read again when the file changes:
    checked at most every ``reload_seconds`` before encrypting, and at once on an unknown key id.
    """

    def __init__(
        self,
        keys: list[tuple[str, bytes]],
        *,
        source: Path | None = None,
        reload_seconds: float = RELOAD_SECONDS,
    ) -> None:
        self.source = source
        self.reload_seconds = reload_seconds
        self._ring = _ring(keys, _signature(source) if source is not None else None)
        self._checked = time.monotonic()

    @property
    def active(self) -> str:
        return self._ring.active

    @property
    def key_ids(self) -> tuple[str, ...]:
        return tuple(self._ring.aead)

    def encrypt(self, plaintext: str) -> str:
        if self.source is not None and time.monotonic() - self._checked >= self.reload_seconds:
            self.reload()
        ring = self._ring
        nonce = secrets.token_bytes(NONCE_BYTES)
        sealed = ring.aead[ring.active].encrypt(nonce, plaintext.encode(), ring.active.encode())
        return f"{ring.active}.{base64.urlsafe_b64encode(nonce + sealed).decode()}"

    def decrypt(self, token: str) -> str:
        key_id, dot, body = token.partition(".")
        aead = self._ring.aead.get(key_id)
        if aead is None and dot and self.source is not None and self.reload():
            aead = self._ring.aead.get(key_id)  # written by a process that already has a newer keyring
        if not dot or aead is None:
            if looks_like_token(token):  # the id only: the text of a value that is not a token stays out
                raise StorageError(f"a stored value was encrypted with a key not in the keyring: {key_id!r}")
            raise StorageError("a stored value is not encrypted, or is damaged")
        try:
            raw = base64.urlsafe_b64decode(body)
            return aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], key_id.encode()).decode()
        except (InvalidTag, binascii.Error, ValueError) as exc:
            raise StorageError("a stored value cannot be decrypted (damaged, or a wrong key)") from exc

    def is_current(self, token: str) -> bool:
        """True when ``token`` is encrypted with the active key (nothing to rotate)."""
        return token.partition(".")[0] == self.active

    def reveal(self, value: Any) -> Any:
        """The plaintext of ``value`` if it is a token of this keyring, else ``value`` as it is.

        For tools and tests that read rows as stored; the application reads through the column types.
        """
        if isinstance(value, str) and value.partition(".")[0] in self._ring.aead:
            try:
                return self.decrypt(value)
            except StorageError:
                return value
        return value

    def reload(self) -> bool:
        """Read the key file again if it changed; True when the keyring is now different.

        A file that cannot be read or parsed leaves the keyring as it was (and says so in the log,
        naming the file only).
        """
        self._checked = time.monotonic()
        if self.source is None:
            return False
        signature = _signature(self.source)
        if signature is None or signature == self._ring.signature:
            return False
        try:
            keys = parse_keys(self.source.read_text(encoding="ascii"), str(self.source))
        except (OSError, UnicodeDecodeError, StorageError):
            log.warning(
                "the encryption key file %s changed but cannot be read; keeping the keys", self.source
            )
            return False
        self._ring = _ring(keys, signature)  # one assignment: other threads see the old ring or the new
        return True


def _ring(keys: list[tuple[str, bytes]], signature: tuple[int, int, int] | None) -> _Ring:
    if not keys:
        raise StorageError("the encryption keyring is empty")
    for key_id, key in keys:
        if not _KEY_ID.fullmatch(key_id) or len(key) != KEY_BYTES:
            raise StorageError(f"encryption key {key_id!r} must be a short id and {KEY_BYTES} bytes")
    if len({key_id for key_id, _ in keys}) != len(keys):
        raise StorageError("the encryption keyring names a key id twice")
    return _Ring(keys[0][0], {key_id: AESGCM(key) for key_id, key in keys}, signature)


def _signature(path: Path) -> tuple[int, int, int] | None:
    try:
        status = path.stat()
    except OSError:
        return None
    return (status.st_ino, status.st_mtime_ns, status.st_size)


def new_key_id() -> str:
    """A fresh key id that tells when the key was made: ``k20261124-3f9a``."""
    return f"k{datetime.now(UTC):%Y%m%d}-{secrets.token_hex(2)}"


def new_key_line(key_id: str | None = None) -> str:
    key_id = key_id or new_key_id()
    return f"{key_id} {base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()}"


def parse_keys(text: str, where: str) -> list[tuple[str, bytes]]:
    """The ``(key id, key)`` pairs of a keyring's text, the active one first."""
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
    return keys


def parse_keyring(text: str, where: str) -> Cipher:
    return Cipher(parse_keys(text, where))


def load_or_create_keyring(
    path: Path, env_value: str | None = None, *, reload_seconds: float = RELOAD_SECONDS
) -> Cipher:
    """The keyring from ``env_value`` if given, else from ``path`` (created with one key if missing).

    A keyring from the file follows the file (see ``Cipher``); one from the environment is fixed.
    """
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
        keys = parse_keys(path.read_text(encoding="ascii"), str(path))
    except (OSError, UnicodeDecodeError) as exc:
        raise StorageError(f"Cannot read the encryption key file {path}") from exc
    return Cipher(keys, source=path, reload_seconds=reload_seconds)


def write_keyring(path: Path, lines: list[str]) -> None:
    """Replace the keyring file atomically (used by key rotation): readers see the old file or the new."""
    path = Path(path).expanduser()
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w") as file:
            file.write("\n".join(lines) + "\n")
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def looks_like_token(value: str) -> bool:
    """True when ``value`` has the shape of a token (of any keyring): a key id, a dot, base64url."""
    return _TOKEN.fullmatch(value) is not None


def cipher_of(dialect: Dialect) -> Cipher:
    cipher = getattr(dialect, DIALECT_ATTRIBUTE, None)
    if cipher is None:
        raise StorageError("this database engine has no encryption key: use make_engine(url, cipher=...)")
    return cipher  # type: ignore[no-any-return]


def dump_json(value: Any) -> str:
    """JSON as ``EncryptedJSON`` encrypts it: compact, non-ASCII kept as written."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


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
        return cipher_of(dialect).encrypt(dump_json(value))

    def process_result_value(self, value: str | None, dialect: Dialect) -> Any:
        return None if value is None else json.loads(cipher_of(dialect).decrypt(value))
