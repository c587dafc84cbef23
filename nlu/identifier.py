"""py3langid's identifier restricted to our languages, kept uncompressed in nlu/build/langid.npz.

py3langid ships one LZMA-compressed model of 97 languages; unpacking it takes 0.5-1 s of every
start. The restricted copy (13 of its languages) loads in a few hundredths of a second. It is keyed
by py3langid's version and the language list; anything wrong with it and the original is used (and
the copy rewritten). Scores are the same: restricting columns is what set_languages does.
"""

from __future__ import annotations

import logging
import os
import tempfile
from array import array
from collections.abc import Sequence
from importlib.metadata import version
from pathlib import Path
from typing import Any, Final

import numpy as np
from py3langid.langid import MODEL_FILE, LanguageIdentifier  # type: ignore[import-untyped]

log = logging.getLogger(__name__)
CACHE: Final = Path(__file__).parent / "build" / "langid.npz"
_TYPES: Final = {"H": np.uint16, "I": np.uint32, "L": np.uint64}


def _key(codes: Sequence[str]) -> str:
    return f"py3langid-{version('py3langid')}:{','.join(codes)}"


def _as_array(values: Any, typecode: str) -> array[int]:
    out = array(typecode)
    out.frombytes(np.ascontiguousarray(values, dtype=_TYPES[typecode]).tobytes())
    return out


def _read(cache: Path, key: str) -> LanguageIdentifier | None:
    try:
        with np.load(cache, allow_pickle=False) as data:
            if str(data["key"].item()) != key:
                return None
            move, row = str(data["move_type"].item()), str(data["row_type"].item())
            return LanguageIdentifier(
                data["ptc"],
                data["pc"],
                [str(c) for c in data["classes"]],
                _as_array(data["nextmove"], move),
                data["output"].tolist(),
                norm_probs=True,
                tk_row=_as_array(data["row"], row),
            )
    except (OSError, ValueError, KeyError) as exc:
        log.warning("language model cache %s unreadable (%s); using py3langid's own", cache, exc)
        return None


def _write(identifier: LanguageIdentifier, cache: Path, key: str) -> None:
    move, row = identifier.tk_nextmove, identifier.tk_row
    cache.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=cache.parent, suffix=".tmp", delete=False) as handle:
        np.savez(  # uncompressed: loading speed is the point
            handle,
            key=np.array(key),
            ptc=np.ascontiguousarray(identifier.nb_ptc),
            pc=np.asarray(identifier.nb_pc),
            classes=np.array(identifier.nb_classes),
            nextmove=np.frombuffer(move, dtype=_TYPES[move.typecode]),
            move_type=np.array(move.typecode),
            row=np.frombuffer(row, dtype=_TYPES[row.typecode]),
            row_type=np.array(row.typecode),
            output=np.asarray(identifier.tk_output, dtype=np.int32),
        )
    os.chmod(handle.name, 0o644)
    os.replace(handle.name, cache)


def load_identifier(codes: Sequence[str], cache: Path = CACHE) -> LanguageIdentifier:
    """py3langid restricted to `codes` (its language codes), with probabilities (norm_probs)."""
    codes = sorted(set(codes))
    key = _key(codes)
    identifier = _read(cache, key) if cache.exists() else None
    if identifier is not None:
        return identifier
    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(codes)
    try:
        _write(identifier, cache, key)
    except OSError as exc:
        log.warning("could not write language model cache %s: %s", cache, exc)
    return identifier
