"""The cached, restricted copy of py3langid's model gives the same answers as py3langid itself."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from py3langid.langid import MODEL_FILE, LanguageIdentifier

from nlu.identifier import load_identifier

CODES = ["ar", "en", "fa", "sv", "uk"]
TEXTS = ["Min son är rädd för att gå hem", "my son is scared", "ابني خائف", "پسرم می‌ترسد", "Мій син", "ok"]


@pytest.fixture(scope="module")
def original() -> LanguageIdentifier:
    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(CODES)
    return identifier


def test_the_cached_copy_ranks_like_py3langid(original: LanguageIdentifier, tmp_path: Path) -> None:
    cache = tmp_path / "langid.npz"
    load_identifier(CODES, cache)  # writes the copy
    assert cache.exists()

    copy = load_identifier(CODES, cache)  # reads it

    for text in TEXTS:
        assert dict(copy.rank(text)) == pytest.approx(dict(original.rank(text)))
        assert copy.classify(text)[0] == original.classify(text)[0]


def test_a_copy_for_other_languages_is_replaced(tmp_path: Path) -> None:
    cache = tmp_path / "langid.npz"
    load_identifier(["en", "sv"], cache)

    identifier = load_identifier(CODES, cache)

    assert sorted(dict(identifier.rank("hello")).keys()) == CODES


def test_a_broken_copy_falls_back_to_py3langid(
    original: LanguageIdentifier, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cache = tmp_path / "langid.npz"
    cache.write_bytes(b"broken")

    with caplog.at_level(logging.WARNING):
        identifier = load_identifier(CODES, cache)

    assert identifier.classify(TEXTS[0]) == pytest.approx(original.classify(TEXTS[0]))
    assert "unreadable" in caplog.text
    assert load_identifier(CODES, cache).classify(TEXTS[0])[0] == "sv"  # rewritten
