"""The wellbeing wheel as a picture: eight slices coloured by the family's answers.

Readable without colour: each state has its own fill pattern and symbol as well as its colour
(colours from the Okabe-Ito set, and lightness at least 0.05 apart, so grey-scale keeps them apart), and the
picture carries a text description for screen readers. Labels come in the viewer's language; the
caller passes them in (this module translates nothing and reads no database). The layout is the same
in right-to-left pages (`direction="ltr"` keeps labels anchored outside the wheel); each label's own
words still read in their direction.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final
from xml.sax.saxutils import escape

from flows.wellbeing import Indicator

SIZE: Final = 360  # the wheel's height; labels take room on both sides
WIDTH: Final = 560
CX: Final = WIDTH / 2
CENTRE: Final = SIZE / 2
RADIUS: Final = 118
LABEL_RADIUS: Final = 150


@dataclass(frozen=True)
class Look:
    colour: str
    symbol: str
    pattern: str  # the id of its <pattern>, or "" for a plain fill


# The worst answer per part of the wheel decides its look; parts not rated look "unknown".
LOOKS: Final[dict[str, Look]] = {
    "good": Look("#009E73", "✓", ""),
    "some_worries": Look("#E69F00", "!", "dots"),
    "worried": Look("#A63603", "!!", "stripes"),
    "unknown": Look("#FFFFFF", "?", "grid"),
}
ORDER: Final = ("good", "some_worries", "worried")


def states(answers: Iterable[tuple[str | None, str]]) -> dict[Indicator, str]:
    """(indicator, scale code) pairs -> the worst rating per part: good, some_worries, worried or unknown."""
    worst: dict[Indicator, str] = {indicator: "unknown" for indicator in Indicator}
    for indicator, code in answers:
        if indicator is None or code not in ORDER or indicator not in Indicator._value2member_map_:
            continue
        part = Indicator(indicator)
        if worst[part] == "unknown" or ORDER.index(code) > ORDER.index(worst[part]):
            worst[part] = code
    return worst


def _point(angle: float, radius: float) -> tuple[float, float]:
    return CX + radius * math.sin(angle), CENTRE - radius * math.cos(angle)


def _defs() -> str:
    return (
        "<defs>"
        '<pattern id="dots" width="10" height="10" patternUnits="userSpaceOnUse">'
        f'<rect width="10" height="10" fill="{LOOKS["some_worries"].colour}"/>'
        '<circle cx="5" cy="5" r="2" fill="#1d2430"/></pattern>'
        '<pattern id="stripes" width="8" height="8" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)">'
        f'<rect width="8" height="8" fill="{LOOKS["worried"].colour}"/>'
        '<rect width="3" height="8" fill="#1d2430"/></pattern>'
        '<pattern id="grid" width="12" height="12" patternUnits="userSpaceOnUse">'
        '<rect width="12" height="12" fill="#FFFFFF"/>'
        '<path d="M0 0H12M0 0V12" stroke="#5b6675" stroke-width="1"/></pattern>'
        "</defs>"
    )


def wheel_svg(
    worst: Mapping[Indicator, str],
    labels: Mapping[Indicator, str],
    state_names: Mapping[str, str],
    title: str,
) -> str:
    """An accessible SVG of the wheel. `labels`: each part's name; `state_names`: good,
    some_worries, worried and unknown in words, for the legend and the description."""
    parts = list(Indicator)
    step = 2 * math.pi / len(parts)
    slices, texts, described = [], [], []
    for index, part in enumerate(parts):
        state = worst.get(part, "unknown")
        look = LOOKS[state]
        start, end = index * step, (index + 1) * step
        x1, y1 = _point(start, RADIUS)
        x2, y2 = _point(end, RADIUS)
        fill = f"url(#{look.pattern})" if look.pattern else look.colour
        slices.append(
            f'<path class="slice {state}" data-indicator="{part.value}" d="M{CX:.1f} {CENTRE:.1f} '
            f'L{x1:.1f} {y1:.1f} A{RADIUS} {RADIUS} 0 0 1 {x2:.1f} {y2:.1f} Z" fill="{fill}" '
            f'stroke="#1d2430" stroke-width="2"/>'
        )
        mx, my = _point(start + step / 2, RADIUS * 0.62)
        texts.append(f'<circle cx="{mx:.1f}" cy="{my:.1f}" r="15" fill="#ffffff" stroke="#1d2430"/>')
        texts.append(
            f'<text x="{mx:.1f}" y="{my:.1f}" class="symbol" text-anchor="middle" '
            f'dominant-baseline="central" '
            f'font-size="17" font-weight="700" fill="#1d2430">{escape(look.symbol)}</text>'
        )
        lx, ly = _point(start + step / 2, LABEL_RADIUS)
        anchor = "middle" if abs(lx - CX) < 20 else ("start" if lx > CX else "end")
        texts.append(
            f'<text x="{lx:.1f}" y="{ly:.1f}" class="label" text-anchor="{anchor}" '
            f'dominant-baseline="central" '
            f'font-size="17" fill="#1d2430">{escape(labels.get(part, part.value))}</text>'
        )
        described.append(f"{labels.get(part, part.value)}: {state_names.get(state, state)}")
    legend = []
    for row, state in enumerate(("good", "some_worries", "worried", "unknown")):
        look = LOOKS[state]
        y = SIZE + 12 + row * 26
        fill = f"url(#{look.pattern})" if look.pattern else look.colour
        legend.append(
            f'<rect x="20" y="{y}" width="20" height="20" fill="{fill}" stroke="#1d2430"/>'
            f'<text x="50" y="{y + 10}" dominant-baseline="central" font-size="16" fill="#1d2430">'
            f"{escape(look.symbol)} {escape(state_names.get(state, state))}</text>"
        )
    height = SIZE + 12 + 4 * 26
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-labelledby="wheel-title wheel-desc" class="wheel" direction="ltr">'
        f'<title id="wheel-title">{escape(title)}</title>'
        f'<desc id="wheel-desc">{escape(". ".join(described))}.</desc>'
        f"{_defs()}{''.join(slices)}{''.join(texts)}{''.join(legend)}</svg>"
    )
