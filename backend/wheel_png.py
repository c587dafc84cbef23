"""The family's wheel as a PNG picture, for channels that show pictures but not SVG (Telegram).

The picture is `backend.wheel`'s SVG, labelled in the family's language and rasterised by resvg
(resvg-py: one self-contained wheel, with text shaping and bidi, so Arabic script joins and reads
right to left) at twice its size for phone screens. Text is drawn only with `backend.fonts.Fonts`,
whose characters are known: when a label has a character no font holds, the parts are numbered
instead of named (digits and symbols every font has), and the description, which goes with the
picture as its caption, names them. So a picture never shows empty boxes for missing glyphs.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final
from xml.sax.saxutils import unescape

import resvg_py

from backend import wheel
from backend.fonts import Fonts
from bot.i18n import Catalogs
from flows.engine import WHEEL_TITLE
from flows.events import Msg
from flows.i18n import N_
from flows.wellbeing import INDICATORS, SCALE_LABELS, Indicator, Scale

log = logging.getLogger(__name__)
SCALE: Final = 2.0  # 1120 x 944 pixels: sharp on a phone screen
BACKGROUND: Final = "#ffffff"
STATE_NAMES: Final = {  # the family's words for the states, as in the web chat
    "good": SCALE_LABELS[Scale.GOOD],
    "some_worries": SCALE_LABELS[Scale.SOME_WORRIES],
    "worried": SCALE_LABELS[Scale.WORRIED],
    "unknown": N_("Not answered"),
}
SYMBOLS: Final = "".join(look.symbol for look in wheel.LOOKS.values())
_DESC: Final = re.compile(r'<desc id="wheel-desc">(.*?)</desc>', re.DOTALL)


@dataclass(frozen=True)
class WheelPicture:
    png: bytes
    description: str  # each part and its state in words (the SVG's text for screen readers)
    named: bool  # False: the fonts lack a character, so the picture numbers the parts


def rasterise(svg: str, fonts: Fonts, scale: float = SCALE) -> bytes:
    """SVG markup -> PNG bytes, drawing text with `fonts` only (no system fonts: what is drawn is
    what `fonts` holds; with no fonts at all, no text is drawn)."""
    return bytes(
        resvg_py.svg_to_bytes(
            svg_string=svg,
            zoom=scale,
            background=BACKGROUND,
            skip_system_fonts=True,
            font_files=fonts.files,
            font_family=fonts.family,
            sans_serif_family=fonts.family,
        )
    )


def description(svg: str) -> str:
    """The text description of a wheel made by `wheel.wheel_svg`."""
    found = _DESC.search(svg)
    return unescape(found.group(1)) if found else ""


class WheelPainter:
    """Draws a family's wheel from their answers' codes, in their language."""

    def __init__(self, catalogs: Catalogs, fonts: Fonts | None = None) -> None:
        self.catalogs = catalogs
        self.fonts = fonts if fonts is not None else Fonts()

    def paint(
        self, lang: str, answers: Iterable[tuple[str | None, str]], title: str | None = None
    ) -> WheelPicture:
        """`answers`: (indicator, scale code) pairs, as stored; `title`: as already shown, if any."""

        def say(message: str) -> str:
            return self.catalogs.render(Msg(message), lang)

        worst = wheel.states(answers)
        labels = {part: say(INDICATORS[part].name) for part in Indicator}
        names = {state: say(message) for state, message in STATE_NAMES.items()}
        title = title or say(WHEEL_TITLE)
        full = wheel.wheel_svg(worst, labels, names, title)
        if self.fonts.covers("".join([*labels.values(), *names.values(), SYMBOLS])):
            return WheelPicture(rasterise(full, self.fonts), description(full), named=True)
        log.warning("no font draws every label in %s: the wheel's parts are numbered", lang)
        return self._numbered(worst, labels, names, title)

    def _numbered(
        self,
        worst: Mapping[Indicator, str],
        labels: Mapping[Indicator, str],
        names: Mapping[str, str],
        title: str,
    ) -> WheelPicture:
        numbers = {part: str(number) for number, part in enumerate(Indicator, 1)}
        picture = wheel.wheel_svg(worst, numbers, dict.fromkeys(names, ""), title)
        told = wheel.wheel_svg(worst, {p: f"{numbers[p]} {labels[p]}" for p in Indicator}, names, title)
        return WheelPicture(rasterise(picture, self.fonts), description(told), named=False)
