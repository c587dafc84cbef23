"""The real lexicon from nlu/data, read once; and the real understanding layer, loaded once."""

from __future__ import annotations

import pytest

from nlu import Lexicon, Understanding, load, load_lexicon


@pytest.fixture(scope="session")
def lexicon() -> Lexicon:
    return load_lexicon()


@pytest.fixture(scope="session")
def understanding() -> Understanding:
    """The shared instance `nlu.parse` uses (builds nlu/build/model.npz first if it is stale)."""
    return load()
