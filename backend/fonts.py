"""The fonts pictures are drawn with, and which characters they hold.

The rasteriser is given exactly these files (never the system's whole font list), so what is checked
here is what is drawn: a text with a character no face holds would come out as empty boxes ("tofu"),
and the caller draws something else instead. Each face's characters are read from its `cmap` table
(formats 4 and 12, the ones Unicode fonts use) and its family name from its `name` table.
"""

from __future__ import annotations

import logging
import struct
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Final

log = logging.getLogger(__name__)
FONTS_DIR: Final = Path("/usr/share/fonts/truetype")
# Debian: fonts-dejavu-core (Latin, Cyrillic, Arabic script, symbols) and fonts-sil-abyssinica (Ethiopic,
# for Tigrinya); Noto Sans Ethiopic (fonts-noto-core) is used where it is installed instead.
DEFAULT_FONTS: Final = (
    FONTS_DIR / "dejavu/DejaVuSans.ttf",
    FONTS_DIR / "dejavu/DejaVuSans-Bold.ttf",
    FONTS_DIR / "noto/NotoSansEthiopic-Regular.ttf",
    FONTS_DIR / "abyssinica/AbyssinicaSIL-Regular.ttf",
)
FONT_SUFFIXES: Final = (".ttf", ".otf", ".ttc")
# Characters that need no glyph of their own: spaces, joiners and direction marks are the shaper's.
NO_GLYPH: Final = frozenset({"Zs", "Zl", "Zp", "Cc", "Cf"})


@dataclass(frozen=True)
class Face:
    path: Path
    family: str
    chars: frozenset[int]


class Fonts:
    """Font files (or folders of them) that can be read; the first one's family is the default."""

    def __init__(self, sources: Iterable[Path | str] = DEFAULT_FONTS) -> None:
        faces: list[Face] = []
        for source in map(Path, sources):
            found = source.rglob("*") if source.is_dir() else [source]
            for path in sorted(p for p in found if p.suffix.lower() in FONT_SUFFIXES):
                face = read_face(path)
                if face is not None and face.path not in {f.path for f in faces}:
                    faces.append(face)
        self.faces = tuple(faces)
        self._held = frozenset[int]().union(*(face.chars for face in faces))

    @property
    def files(self) -> list[str]:
        return [str(face.path) for face in self.faces]

    @property
    def family(self) -> str | None:
        return self.faces[0].family if self.faces else None

    def missing(self, text: str) -> set[str]:
        """The characters of `text` that no face has a glyph for."""
        return {c for c in set(text) if unicodedata.category(c) not in NO_GLYPH and ord(c) not in self._held}

    def covers(self, text: str) -> bool:
        return self.family is not None and not self.missing(text)


@cache
def read_face(path: Path) -> Face | None:
    """The font file's family and characters (of its first face); None if it cannot be read."""
    try:
        data = path.read_bytes()
        start = struct.unpack_from(">I", data, 12)[0] if data[:4] == b"ttcf" else 0
        tables = _tables(data, start)
        chars = _cmap(data, tables[b"cmap"])
        family = _family(data, tables[b"name"])
    except (OSError, KeyError, struct.error, ValueError, UnicodeDecodeError) as exc:
        log.info("font %s not used: %s", path, type(exc).__name__)
        return None
    return Face(path, family, chars) if family and chars else None


def _tables(data: bytes, start: int) -> dict[bytes, int]:
    count = struct.unpack_from(">H", data, start + 4)[0]
    records = (struct.unpack_from(">4sIII", data, start + 12 + 16 * i) for i in range(count))
    return {tag: offset for tag, _checksum, offset, _length in records}


def _cmap(data: bytes, cmap: int) -> frozenset[int]:
    """Every character mapped to a real glyph, from the Unicode subtables (formats 4 and 12)."""
    chars: set[int] = set()
    count = struct.unpack_from(">H", data, cmap + 2)[0]
    for index in range(count):
        platform, encoding, offset = struct.unpack_from(">HHI", data, cmap + 4 + 8 * index)
        if platform not in (0, 3) or (platform == 3 and encoding not in (1, 10)):
            continue
        table = cmap + offset
        kind = struct.unpack_from(">H", data, table)[0]
        if kind == 4:
            chars |= _format4(data, table)
        elif kind == 12:
            groups = struct.unpack_from(">I", data, table + 12)[0]
            for group in range(groups):
                first, last, glyph = struct.unpack_from(">III", data, table + 16 + 12 * group)
                chars.update(c for c in range(first, last + 1) if glyph + c - first)
    return frozenset(chars)


def _format4(data: bytes, table: int) -> set[int]:
    segments = struct.unpack_from(">H", data, table + 6)[0] // 2
    ends = struct.unpack_from(f">{segments}H", data, table + 14)
    starts = struct.unpack_from(f">{segments}H", data, table + 16 + 2 * segments)
    deltas = struct.unpack_from(f">{segments}h", data, table + 16 + 4 * segments)
    range_offsets_at = table + 16 + 6 * segments
    chars: set[int] = set()
    for index, (first, last, delta) in enumerate(zip(starts, ends, deltas, strict=True)):
        range_offset = struct.unpack_from(">H", data, range_offsets_at + 2 * index)[0]
        for char in range(first, min(last, 0xFFFE) + 1):
            if range_offset == 0:
                glyph = (char + delta) & 0xFFFF
            else:
                at = range_offsets_at + 2 * index + range_offset + 2 * (char - first)
                glyph = struct.unpack_from(">H", data, at)[0]
                glyph = (glyph + delta) & 0xFFFF if glyph else 0
            if glyph:
                chars.add(char)
    return chars


def _family(data: bytes, name: int) -> str:
    """The family name (typographic if given, else the legacy one), as the rasteriser matches it."""
    count, strings = struct.unpack_from(">HH", data, name + 2)
    found: list[tuple[bool, int, str]] = []  # (not in English, name id, name)
    for index in range(count):
        platform, encoding, language, name_id, length, offset = struct.unpack_from(
            ">HHHHHH", data, name + 6 + 12 * index
        )
        raw = data[name + strings + offset : name + strings + offset + length]
        if name_id in (1, 16) and platform in (0, 3):
            found.append((platform == 3 and language != 0x409, -name_id, raw.decode("utf-16-be")))
        elif name_id in (1, 16) and platform == 1 and encoding == 0:
            found.append((language != 0, -name_id, raw.decode("latin-1")))
    return min(found)[2] if found else ""
