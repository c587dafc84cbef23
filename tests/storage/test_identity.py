"""Pseudonyms and the key file they depend on."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from storage import StorageError, load_or_create_secret, pseudonym

SECRET = bytes(range(32))


def test_a_pseudonym_is_stable_hex_and_hides_the_raw_id() -> None:
    first = pseudonym(SECRET, "telegram", "987654321")
    assert first == pseudonym(SECRET, "telegram", "987654321")
    assert len(first) == 64 and int(first, 16) >= 0
    assert "987654321" not in first


def test_a_pseudonym_depends_on_the_secret_the_channel_and_the_id() -> None:
    base = pseudonym(SECRET, "telegram", "42")
    assert pseudonym(bytes(reversed(SECRET)), "telegram", "42") != base
    assert pseudonym(SECRET, "web", "42") != base
    assert pseudonym(SECRET, "telegram", "43") != base


def test_a_short_secret_or_a_bad_channel_is_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        pseudonym(b"short", "telegram", "42")
    with pytest.raises(ValueError, match="channel"):
        pseudonym(SECRET, "tele:gram", "42")


def test_the_key_file_is_created_private_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "pseudonym.key"
    key = load_or_create_secret(path)
    assert len(key) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_secret(path) == key
    assert load_or_create_secret(tmp_path / "other.key") != key


@pytest.mark.parametrize(("content", "says"), [(b"", "is empty"), (b"x" * 10, "only 10 bytes")])
def test_an_empty_or_short_key_file_is_an_error(tmp_path: Path, content: bytes, says: str) -> None:
    path = tmp_path / "pseudonym.key"
    path.write_bytes(content)
    with pytest.raises(StorageError, match=says) as caught:
        load_or_create_secret(path)
    assert str(path) in str(caught.value)
    assert path.read_bytes() == content  # never replaced: that would orphan every user


def test_an_unwritable_folder_is_an_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(
        StorageError, match=r"Cannot (read|create) the pseudonym key file .*: not a directory"
    ):
        load_or_create_secret(blocker / "pseudonym.key")
