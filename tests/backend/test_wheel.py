"""The wheel as a picture: right states, readable in grey-scale and without colour, described in words."""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET

from backend.wheel import LOOKS, states, wheel_svg
from flows.wellbeing import Indicator

NAMES = {"good": "Goes well", "some_worries": "Some worries", "worried": "Worried", "unknown": "Not answered"}
LABELS = {part: part.value.title() for part in Indicator}
SVG = "{http://www.w3.org/2000/svg}"


def test_each_part_takes_its_worst_answer_and_unrated_parts_are_unknown() -> None:
    worst = states(
        [("safe", "good"), ("healthy", "good"), ("healthy", "worried"), ("achieving", "some_worries"),
         ("active", "dont_know"), ("included", "skipped"), (None, "worried")]
    )  # fmt: skip

    assert worst[Indicator.SAFE] == "good" and worst[Indicator.HEALTHY] == "worried"
    assert worst[Indicator.ACHIEVING] == "some_worries"
    assert worst[Indicator.ACTIVE] == worst[Indicator.INCLUDED] == worst[Indicator.NURTURED] == "unknown"


def test_the_svg_has_eight_slices_in_the_states_given_and_says_them_in_words() -> None:
    worst = states([("safe", "good"), ("healthy", "worried"), ("achieving", "some_worries")])
    root = ET.fromstring(wheel_svg(worst, LABELS, NAMES, "Your child's wheel"))

    slices = {
        p.get("data-indicator"): p.get("class") for p in root.iter(f"{SVG}path") if p.get("data-indicator")
    }
    assert slices["safe"] == "slice good" and slices["healthy"] == "slice worried"
    assert slices["achieving"] == "slice some_worries" and len(slices) == 8
    assert root.get("role") == "img" and root.find(f"{SVG}title").text == "Your child's wheel"  # type: ignore[union-attr]
    desc = root.find(f"{SVG}desc").text or ""  # type: ignore[union-attr]
    assert "Safe: Goes well" in desc and "Healthy: Worried" in desc and "Nurtured: Not answered" in desc


def _luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def test_states_differ_without_colour_and_in_grey_scale() -> None:
    looks = list(LOOKS.values())
    assert len({look.symbol for look in looks}) == len(looks)  # a symbol per state
    assert len({look.pattern for look in looks}) == len(looks)  # and a pattern (or plain fill)
    grey = sorted(_luminance(look.colour) for look in looks)
    assert all(b - a > 0.05 for a, b in itertools.pairwise(grey))  # lightness apart in grey-scale


def test_labels_are_escaped_and_right_to_left_names_kept() -> None:
    labels = {**LABELS, Indicator.SAFE: "الأمان", Indicator.HEALTHY: "<b>&"}
    svg = wheel_svg(states([]), labels, NAMES, "عجلة طفلك")

    assert "الأمان" in svg and "&lt;b&gt;&amp;" in svg and "<b>" not in svg
    ET.fromstring(svg)
