"""Reading a wheel PNG back: its size, and the colour each slice is filled with."""

from __future__ import annotations

import math
import struct
from collections import Counter

import numpy as np
import png

from backend import wheel
from backend.wheel_png import SCALE
from flows.wellbeing import Indicator

SIGNATURE = b"\x89PNG\r\n\x1a\n"
SIZE = (round(wheel.WIDTH * SCALE), round((wheel.SIZE + 12 + 4 * 26) * SCALE))  # as wheel_svg lays it out
SAMPLE_RADIUS = wheel.RADIUS * 0.86  # outside the symbol's circle, inside the rim
BASE = {state: look.colour.lower() for state, look in wheel.LOOKS.items()}  # the fill under each pattern
PATTERN_INK = {"some_worries": "#1d2430", "worried": "#1d2430", "unknown": "#5b6675"}  # dots, stripes, grid


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == SIGNATURE and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def pixels(data: bytes) -> np.ndarray:
    """The picture as an array of rows of (red, green, blue) pixels."""
    width, height, rows, _info = png.Reader(bytes=data).asRGBA8()
    return np.vstack([np.asarray(row, dtype=np.uint8) for row in rows]).reshape(height, width, 4)[:, :, :3]


def colour(pixel: np.ndarray) -> str:
    return "#{:02x}{:02x}{:02x}".format(*pixel)


def area(image: np.ndarray, x: float, y: float, half: int = 10) -> Counter[str]:
    """The colours in a square around (x, y), counted."""
    square = image[int(y) - half : int(y) + half, int(x) - half : int(x) + half]
    return Counter(colour(pixel) for row in square for pixel in row)


def slice_areas(data: bytes) -> dict[Indicator, Counter[str]]:
    """The colours in a square in each part's slice (parts go clockwise from the top)."""
    image = pixels(data)
    step = 2 * math.pi / len(Indicator)
    areas = {}
    for index, part in enumerate(Indicator):
        angle = (index + 0.5) * step
        x = (wheel.CX + SAMPLE_RADIUS * math.sin(angle)) * SCALE
        y = (wheel.CENTRE - SAMPLE_RADIUS * math.cos(angle)) * SCALE
        areas[part] = area(image, x, y)
    return areas


def slice_colours(data: bytes) -> dict[Indicator, str]:
    """Each part's fill: the commonest colour of its square (a pattern's base, not its dots or lines)."""
    return {part: counts.most_common(1)[0][0] for part, counts in slice_areas(data).items()}


def check_slices(data: bytes, states: dict[Indicator, str]) -> None:
    """Each slice has its state's fill colour and, but for "good", its pattern's ink as well."""
    areas = slice_areas(data)
    assert {part: counts.most_common(1)[0][0] for part, counts in areas.items()} == {
        part: BASE[state] for part, state in states.items()
    }
    for part, state in states.items():
        ink = PATTERN_INK.get(state)
        assert (ink in areas[part]) if ink else len(areas[part]) == 1, (part, state, areas[part])
