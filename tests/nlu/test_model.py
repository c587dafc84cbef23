"""The model artifact: built from the data alone, byte for byte the same, cached, rebuilt when stale."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest

from nlu.embedding import E5Encoder
from nlu.examples import INTENTS
from nlu.model import build, fingerprint, load, load_or_build, save

INTENT_FILE = 'version: "3.1"\nnlu:\n' + "".join(
    f"- intent: {intent}\n  examples: |\n    - {intent.replace('_', ' ')}\n    - please {intent}\n"
    for intent in INTENTS
)
RISK_FILE = """version: "3.1"
nlu:
- intent: violence
  examples: |
    - dad hits me
    - he beats the children
- intent: benign
  examples: |
    - he hits the ball
- lookup: violence
  examples: |
    - beats me
"""


@pytest.fixture(scope="module")
def encoder() -> E5Encoder:
    return E5Encoder()


@pytest.fixture
def data(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    (folder / "risk").mkdir(parents=True)
    (folder / "en.yml").write_text(INTENT_FILE, encoding="utf-8")
    (folder / "risk" / "en.yml").write_text(RISK_FILE, encoding="utf-8")
    return folder


def test_the_same_data_builds_the_same_bytes(encoder: E5Encoder, data: Path, tmp_path: Path) -> None:
    save(build(encoder, data), tmp_path / "one.npz")
    save(build(encoder, data), tmp_path / "two.npz")

    assert (tmp_path / "one.npz").read_bytes() == (tmp_path / "two.npz").read_bytes()


def test_a_saved_model_loads_back_the_same(encoder: E5Encoder, data: Path, tmp_path: Path) -> None:
    model = build(encoder, data)
    save(model, tmp_path / "model.npz")

    loaded = load(tmp_path / "model.npz")

    assert loaded.fingerprint == model.fingerprint == fingerprint(data)
    assert loaded.intents.labels == INTENTS
    assert (loaded.intents.weights == model.intents.weights).all()
    assert (loaded.risk.labels == model.risk.labels).all()
    assert stat.S_IMODE(os.stat(tmp_path / "model.npz").st_mode) == 0o644


def test_the_fingerprint_follows_every_data_file(data: Path) -> None:
    before = fingerprint(data)
    (data / "risk" / "en.yml").write_text(RISK_FILE + "    - kicks me\n", encoding="utf-8")
    after_risk = fingerprint(data)
    (data / "fi.yml").write_text('version: "3.1"\nnlu: []\n', encoding="utf-8")

    assert len({before, after_risk, fingerprint(data)}) == 3


def test_a_missing_cache_is_built_and_written(
    encoder: E5Encoder, data: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cache = tmp_path / "build" / "model.npz"

    with caplog.at_level(logging.WARNING):
        model = load_or_build(encoder, data, cache)

    assert cache.exists()
    assert load(cache).fingerprint == model.fingerprint
    assert "missing" in caplog.text


def test_a_stale_cache_is_rebuilt(
    encoder: E5Encoder, data: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cache = tmp_path / "model.npz"
    old = load_or_build(encoder, data, cache)
    (data / "risk" / "en.yml").write_text(RISK_FILE + "    - kicks me\n", encoding="utf-8")

    with caplog.at_level(logging.WARNING):
        new = load_or_build(encoder, data, cache)

    assert new.fingerprint != old.fingerprint
    assert load(cache).fingerprint == new.fingerprint
    assert "stale" in caplog.text


def test_a_current_cache_is_used_as_it_is(encoder: E5Encoder, data: Path, tmp_path: Path) -> None:
    cache = tmp_path / "model.npz"
    load_or_build(encoder, data, cache)
    written = cache.stat().st_mtime_ns

    load_or_build(encoder, data, cache)

    assert cache.stat().st_mtime_ns == written


def test_a_broken_cache_is_rebuilt(
    encoder: E5Encoder, data: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cache = tmp_path / "model.npz"
    cache.write_bytes(b"not a zip file")

    with caplog.at_level(logging.WARNING):
        model = load_or_build(encoder, data, cache)

    assert load(cache).fingerprint == model.fingerprint
    assert "unreadable" in caplog.text


def test_a_cache_that_cannot_be_written_still_gives_a_model(
    encoder: E5Encoder, data: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("a file where the cache folder would be", encoding="utf-8")

    with caplog.at_level(logging.WARNING):
        model = load_or_build(encoder, data, blocked / "model.npz")

    assert model.fingerprint == fingerprint(data)
    assert "could not write" in caplog.text


def test_data_without_risk_examples_is_refused(encoder: E5Encoder, data: Path) -> None:
    (data / "risk" / "en.yml").unlink()

    with pytest.raises(ValueError, match="risk examples"):
        build(encoder, data)
