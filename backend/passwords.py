"""Staff passwords (argon2id) and API tokens (random, stored only as SHA-256)."""

from __future__ import annotations

import secrets
from typing import Final

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH: Final = 12
_HASHER: Final = PasswordHasher()  # argon2id with the library's recommended parameters (RFC 9106)
# Verified against when an e-mail address is unknown, so a wrong address takes as long as a wrong password.
_DUMMY_HASH: Final = _HASHER.hash("not a real password, only here to spend the same time")


class PasswordTooWeak(ValueError):
    pass


def hash_password(password: str) -> str:
    if len(password) < MIN_LENGTH:
        raise PasswordTooWeak(f"a password needs at least {MIN_LENGTH} characters")
    return _HASHER.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """True when `password` matches; constant work whether or not there is a stored hash."""
    try:
        return _HASHER.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return _HASHER.check_needs_rehash(stored_hash)


def new_token() -> str:
    """An API token for `Authorization: Bearer ...` (shown once; only its hash is stored)."""
    return "hj_" + secrets.token_urlsafe(32)
