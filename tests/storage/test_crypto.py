"""The keyring's cipher: what it refuses, and that its errors never carry what was written."""

from __future__ import annotations

import secrets

import pytest

from storage.crypto import Cipher
from storage.errors import StorageError


def keyring(*ids: str) -> Cipher:
    return Cipher([(key_id, secrets.token_bytes(32)) for key_id in ids])


def test_a_token_reads_back_and_cannot_be_passed_off_as_another_keys() -> None:
    cipher = keyring("new", "old")
    token = cipher.encrypt("Hon är rädd för mörkret")
    assert token.startswith("new.") and "rädd" not in token
    assert cipher.decrypt(token) == "Hon är rädd för mörkret"
    assert cipher.encrypt("Hon är rädd för mörkret") != token  # a fresh nonce every time

    with pytest.raises(StorageError, match="cannot be decrypted"):
        cipher.decrypt("old." + token.partition(".")[2])  # the key id is bound to the token


def test_an_error_names_a_missing_key_but_never_repeats_a_value_that_is_not_a_token() -> None:
    cipher = keyring("k1")
    stranger = keyring("k0").encrypt("Liv")
    with pytest.raises(StorageError, match="key not in the keyring: 'k0'"):
        cipher.decrypt(stranger)
    with pytest.raises(StorageError) as raised:
        cipher.decrypt("Familjen Åkesson. Flyttade i maj")
    assert "Åkesson" not in str(raised.value) and "Familjen" not in str(raised.value)


def test_reveal_decrypts_tokens_of_the_keyring_and_leaves_everything_else() -> None:
    cipher = keyring("k1")
    assert cipher.reveal(cipher.encrypt("Liv")) == "Liv"
    assert [cipher.reveal(v) for v in (None, 3, "k1 is no token", "k2.abc")] == [
        None,
        3,
        "k1 is no token",
        "k2.abc",
    ]
