"""The family's wheel as a PNG picture, for channels that show pictures but not SVG (Telegram).

The picture is `backend.wheel`'s SVG, labelled in the family's language and rasterised by resvg
(resvg-py: one self-contained wheel, with text shaping and bidi, so Arabic script joins and reads
right to left) at twice its size for phone screens. Text is drawn only with `backend.fonts.Fonts`,
whose characters are known: when a label has a character no font holds, the parts are numbered
instead of named (digits and symbols every font has), and the description, which goes with the
picture as its caption, names them. So a picture never shows empty boxes for missing glyphs.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import re
from collections.abc import Iterable, Mapping
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
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
    return _rasterise(svg, list(fonts.files), fonts.family, scale)


def _rasterise(svg: str, files: list[str], family: str | None, scale: float) -> bytes:
    return bytes(
        resvg_py.svg_to_bytes(
            svg_string=svg,
            zoom=scale,
            background=BACKGROUND,
            skip_system_fonts=True,
            font_files=files,
            font_family=family,
            sans_serif_family=family,
        )
    )


class Rasteriser:
    """Rasterises in a process of its own. resvg holds the interpreter lock for the whole picture
    (70-100 ms here), so in a thread it would stop the event loop, and every family's reply with it.
    One worker process, started on first use (spawned: the server has threads, so no fork)."""

    def __init__(self) -> None:
        self._pool: ProcessPoolExecutor | None = None

    async def png(self, svg: str, fonts: Fonts, scale: float = SCALE) -> bytes:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(
                self._pool, _rasterise, svg, list(fonts.files), fonts.family, scale
            )
        except BrokenProcessPool:  # the worker died (out of memory, killed): a new one next time
            log.warning("the wheel's drawing process stopped; starting a new one")
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
            raise

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


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
        svg, words, named = self.compose(lang, answers, title)
        return WheelPicture(rasterise(svg, self.fonts), words, named)

    async def paint_apart(
        self,
        rasteriser: Rasteriser,
        lang: str,
        answers: Iterable[tuple[str | None, str]],
        title: str | None = None,
    ) -> WheelPicture:
        """`paint`, with the pixels drawn in `rasteriser`'s process: the event loop goes on meanwhile."""
        svg, words, named = self.compose(lang, answers, title)
        return WheelPicture(await rasteriser.png(svg, self.fonts), words, named)

    def compose(
        self, lang: str, answers: Iterable[tuple[str | None, str]], title: str | None = None
    ) -> tuple[str, str, bool]:
        """The SVG to draw, its description in words, and whether the parts are named (not numbered)."""

        def say(message: str) -> str:
            return self.catalogs.render(Msg(message), lang)

        worst = wheel.states(answers)
        labels = {part: say(INDICATORS[part].name) for part in Indicator}
        names = {state: say(message) for state, message in STATE_NAMES.items()}
        title = title or say(WHEEL_TITLE)
        full = wheel.wheel_svg(worst, labels, names, title)
        if self.fonts.covers("".join([*labels.values(), *names.values(), SYMBOLS])):
            return full, description(full), True
        log.warning("no font draws every label in %s: the wheel's parts are numbered", lang)
        return self._numbered(worst, labels, names, title)

    def _numbered(
        self,
        worst: Mapping[Indicator, str],
        labels: Mapping[Indicator, str],
        names: Mapping[str, str],
        title: str,
    ) -> tuple[str, str, bool]:
        numbers = {part: str(number) for number, part in enumerate(Indicator, 1)}
        picture = wheel.wheel_svg(worst, numbers, dict.fromkeys(names, ""), title)
        told = wheel.wheel_svg(worst, {p: f"{numbers[p]} {labels[p]}" for p in Indicator}, names, title)
        return picture, description(told), False
