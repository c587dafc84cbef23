"""Is a child (or the parent) in danger? Recall first: patterns, and nearest examples at a low bar.

- A keyword or pattern in any language (nlu/patterns.py) raises its category. A keyword that only
  matched by forgiving a typo needs the examples to agree a little (margin at least CORROBORATE).
- Nearest examples: for each category, how much closer the message (each window of it) comes to its
  three nearest examples of that category than to its three nearest benign texts (benign look-alikes
  and every intent example). A margin of LOW raises the category: this catches indirect phrasing
  ("he is scared to go home") in any language, as the embedding is multilingual. Below HIGH such a
  finding is a `concern` (it goes to a person) rather than `urgent`.
- Level: `urgent` for a category of acute danger (violence, sexual abuse, self-harm, acute medical,
  threat) or a `_now` pattern (a child alone right now); `concern` for neglect and caregiver crisis.

On the held-out set, at 0.99 risk recall, a softmax regression on embedding + n-grams raised false
alarms on 12% of benign texts, the margin to nearest examples on 8.5% (a small neural network did
no better than the margin in cross-validation). LOW and HIGH were chosen on that set.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import numpy.typing as npt

from nlu.classifier import Matrix
from nlu.examples import BENIGN, CATEGORY_LEVEL, RISK_CATEGORIES, RISK_LEVELS, RiskLevel
from nlu.patterns import Patterns, Signal

NEIGHBOURS: Final = 3
LOW: Final = -0.005
HIGH: Final = 0.02
CORROBORATE: Final = -0.03
RISK_LABELS: Final = (*RISK_CATEGORIES, BENIGN)
Labels = npt.NDArray[np.int8]


@dataclass(frozen=True)
class Exemplars:
    """Unit-length embeddings of labelled texts, and each one's index in RISK_LABELS."""

    vectors: Matrix
    labels: Labels

    @classmethod
    def of(cls, vectors: Matrix, labels: Sequence[str]) -> Exemplars:
        codes = np.array([RISK_LABELS.index(label) for label in labels], dtype=np.int8)
        order = np.argsort(codes, kind="stable")
        return cls(np.ascontiguousarray(vectors[order], dtype=np.float32), codes[order])

    def margins(self, embeddings: Matrix) -> dict[str, float]:
        """Per category: the best window's (mean similarity to its nearest examples of the category)
        minus (mean similarity to its nearest benign texts)."""
        similarities = embeddings @ self.vectors.T
        bounds = np.searchsorted(self.labels, np.arange(len(RISK_LABELS) + 1))

        def nearest(code: int) -> npt.NDArray[np.float32]:
            block = similarities[:, bounds[code] : bounds[code + 1]]
            if block.shape[1] == 0:
                return np.full(len(embeddings), -1.0, dtype=np.float32)
            k = min(NEIGHBOURS, block.shape[1])
            return np.asarray(np.partition(block, -k, axis=1)[:, -k:].mean(axis=1), dtype=np.float32)

        benign = nearest(RISK_LABELS.index(BENIGN))
        return {c: float(np.max(nearest(i) - benign)) for i, c in enumerate(RISK_CATEGORIES)}


@dataclass(frozen=True)
class RiskAssessment:
    """The level, the categories found (in RISK_CATEGORIES order), and why."""

    level: RiskLevel
    categories: tuple[str, ...]
    margins: dict[str, float] = field(default_factory=dict)  # nearest-example margin per category
    signals: tuple[Signal, ...] = ()  # patterns that matched and counted

    @property
    def flagged(self) -> bool:
        return self.level != "none"


NO_RISK: Final = RiskAssessment("none", ())


def _higher(a: RiskLevel, b: RiskLevel) -> RiskLevel:
    return a if RISK_LEVELS.index(a) >= RISK_LEVELS.index(b) else b


class RiskDetector:
    def __init__(
        self,
        patterns: Patterns,
        exemplars: Exemplars,
        low: float = LOW,
        high: float = HIGH,
        corroborate: float = CORROBORATE,
    ) -> None:
        self.patterns = patterns
        self.exemplars = exemplars
        self.low, self.high, self.corroborate = low, high, corroborate

    def assess(self, text: str, embeddings: Matrix) -> RiskAssessment:
        """`embeddings`: one row per window of the message (nlu.embedding.windows)."""
        if len(embeddings) == 0:
            margins = dict.fromkeys(RISK_CATEGORIES, -1.0)
        else:
            margins = self.exemplars.margins(embeddings)
        level: RiskLevel = "none"
        found: set[str] = set()
        counted: list[Signal] = []
        for signal in self.patterns.find(text):
            if signal.typo and margins[signal.category] < self.corroborate:
                continue
            counted.append(signal)
            found.add(signal.category)
            level = _higher(level, "urgent" if signal.urgent else CATEGORY_LEVEL[signal.category])
        for category, margin in margins.items():
            if margin >= self.low:
                found.add(category)
                level = _higher(level, CATEGORY_LEVEL[category] if margin >= self.high else "concern")
        if level == "none":
            return RiskAssessment("none", (), margins)
        categories = tuple(c for c in RISK_CATEGORIES if c in found)
        return RiskAssessment(level, categories, margins, tuple(counted))
