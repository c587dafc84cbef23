"""What a classifier sees of a text: its sentence embedding next to hashed letter n-grams.

The embedding carries meaning across languages (it works for languages without examples); the
n-grams carry the exact words of dialects and misspellings that the embedding blurs. On the held-out
sv/en/ar intents (softmax regression on each): embedding alone 0.88-0.92, n-grams alone 0.85, both 0.95.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from nlu.embedding import DIM, Encoder, Vectors, windows
from nlu.patterns import fold

NGRAM_DIM: Final = 4096
NGRAM_SIZES: Final = (2, 3, 4)
Matrix = npt.NDArray[np.float32]


def ngrams(text: str) -> list[str]:
    """Whole words and their letter 2-4-grams, with < and > marking where a word begins and ends."""
    grams = []
    for word in fold(text).split():
        marked = f"<{word}>"
        grams.append(f"w:{word}")
        for size in NGRAM_SIZES:
            grams.extend(marked[i : i + size] for i in range(max(1, len(marked) - size + 1)))
    return grams


def ngram_counts(texts: Sequence[str]) -> Matrix:
    """log(1 + count) of each hashed n-gram, one row per text (not yet weighted or normalised)."""
    counts = np.zeros((len(texts), NGRAM_DIM), dtype=np.float32)
    for row, text in enumerate(texts):
        for gram in ngrams(text):
            counts[row, zlib.crc32(gram.encode("utf-8")) % NGRAM_DIM] += 1.0
    return np.log1p(counts)


def inverse_frequency(counts: Matrix) -> Matrix:
    """Smoothed idf of each hashed n-gram over the training texts."""
    seen = (counts > 0).sum(axis=0).astype(np.float32)
    idf: Matrix = np.log((1.0 + len(counts)) / (1.0 + seen)).astype(np.float32)
    return idf + np.float32(1.0)


@dataclass(frozen=True)
class Featurizer:
    """Turns texts into rows of [embedding | weighted n-grams], both parts of unit length."""

    idf: Matrix

    def ngram_part(self, texts: Sequence[str]) -> Matrix:
        weighted = ngram_counts(texts) * self.idf
        norms = np.linalg.norm(weighted, axis=1, keepdims=True)
        unit: Matrix = (weighted / np.maximum(norms, 1e-9)).astype(np.float32)
        return unit

    def rows(self, texts: Sequence[str], embeddings: Vectors) -> Matrix:
        return np.hstack([embeddings, self.ngram_part(texts)]).astype(np.float32)


@dataclass(frozen=True)
class Windows:
    """A message cut into windows, with each window's features; row 0 is the message's beginning."""

    texts: tuple[str, ...]
    embeddings: Vectors
    features: Matrix


def featurize(text: str, encoder: Encoder, featurizer: Featurizer) -> Windows:
    pieces = windows(text)
    embeddings = encoder(pieces) if any(pieces) else np.zeros((len(pieces), DIM), dtype=np.float32)
    return Windows(tuple(pieces), embeddings, featurizer.rows(pieces, embeddings))
