"""A softmax regression in numpy: small, deterministic, and enough on top of good features.

Training is full-batch Adam from zero weights with a fixed number of steps, classes weighted so a
class with few examples counts as much as one with many. The same data gives the same weights.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

Matrix = npt.NDArray[np.float32]
STEPS: Final = 100
LEARNING_RATE: Final = 0.05
L2: Final = 3e-5


def softmax(scores: Matrix) -> Matrix:
    shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
    probabilities: Matrix = (shifted / shifted.sum(axis=1, keepdims=True)).astype(np.float32)
    return probabilities


@dataclass(frozen=True)
class Classifier:
    """Weights (features + 1 bias row) x classes, and the class names in column order."""

    labels: tuple[str, ...]
    weights: Matrix

    def probabilities(self, features: Matrix) -> Matrix:
        """One row of class probabilities per row of features."""
        return softmax(features @ self.weights[:-1] + self.weights[-1])


def train(
    features: Matrix,
    labels: Sequence[str],
    classes: Sequence[str],
    steps: int = STEPS,
    learning_rate: float = LEARNING_RATE,
    l2: float = L2,
) -> Classifier:
    """Fit a softmax regression; every name in `labels` must be one of `classes`."""
    index = {name: i for i, name in enumerate(classes)}
    targets = np.array([index[label] for label in labels], dtype=np.int64)
    n, k = len(targets), len(classes)
    onehot = np.eye(k, dtype=np.float32)[targets]
    counts = np.bincount(targets, minlength=k).astype(np.float32)
    sample_weight = (n / (k * np.maximum(counts, 1.0)))[targets][:, None].astype(np.float32)
    with_bias = np.hstack([features, np.ones((n, 1), dtype=np.float32)]).astype(np.float32)
    weights = np.zeros((with_bias.shape[1], k), dtype=np.float32)
    first = np.zeros_like(weights)
    second = np.zeros_like(weights)
    for step in range(1, steps + 1):
        error = (softmax(with_bias @ weights) - onehot) * sample_weight
        gradient = (with_bias.T @ error) / n + l2 * weights
        first = 0.9 * first + 0.1 * gradient
        second = 0.999 * second + 0.001 * gradient * gradient
        corrected = (first / (1 - 0.9**step)) / (np.sqrt(second / (1 - 0.999**step)) + 1e-8)
        weights = (weights - learning_rate * corrected).astype(np.float32)
    return Classifier(tuple(classes), weights)
