"""Unit names as people type them: no å/ä/ö, typos, genitive s, kind words, or only a part."""

from __future__ import annotations

import pytest

from backend.unit_search import best, search

UNITS = [
    ("lammhult_fsk", "Lammhults förskola"),
    ("solrosen", "Solrosens förskola"),
    ("bvc_centrum", "BVC Centrum Växjö"),
    ("bvc_teleborg", "BVC Teleborg"),
    ("ostra_skolan", "Östra skolan"),
    ("skogsbrynet", "Förskolan Skogsbrynet"),
]
VARIANTS = {
    "lammhult_fsk": [
        "lammhult forskola",
        "Lammhults förskola",
        "lamhult",
        "LAMMHULTS",
        "lammhult fsk",
        "lamhults forskolan",
    ],
    "solrosen": ["solrosen", "solrossen", "Solrosens", "förskolan solrosen", "solros"],
    "bvc_teleborg": ["teleborg", "bvc teleborg", "teleborgs bvc", "telebrog"],
    "ostra_skolan": ["östra skolan", "ostra", "östra"],
    "skogsbrynet": ["skogsbrynet", "skogsbrynets förskola", "skogsbrynt"],
}


@pytest.mark.parametrize(("code", "typed"), [(code, t) for code, typed in VARIANTS.items() for t in typed])
def test_the_unit_meant_is_found(code: str, typed: str) -> None:
    match = best(typed, UNITS)
    assert match is not None and match.code == code, search(typed, UNITS)


def test_an_unclear_query_gives_several_and_no_best() -> None:
    assert best("bvc", UNITS) is None
    assert {m.code for m in search("bvc", UNITS)} == {"bvc_centrum", "bvc_teleborg"}


@pytest.mark.parametrize("typed", ["", "   ", "?!", "sjukhuset", "xyz förskola"])
def test_nothing_that_is_not_there(typed: str) -> None:
    assert best(typed, UNITS) is None
