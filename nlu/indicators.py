"""Which parts of the wellbeing wheel a professional's description touches: a suggestion only, for
the named person to confirm. Nearest examples (nlu/data/indicators/examples.yml) by sentence
embedding, then the parts an urgent risk always concerns (violence: safe; neglect: cared for ...).
Measured on 12 descriptions written apart from the examples (tests/nlu/test_indicators.py): the
intended part among the first two in 10.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Final

import numpy as np
import yaml

from flows.wellbeing import Indicator
from nlu.embedding import Encoder, windows
from nlu.risk import RiskAssessment

EXAMPLES: Final = Path(__file__).parent / "data" / "indicators" / "examples.yml"
INDICATORS: Final = tuple(indicator.value for indicator in Indicator)  # the wheel's codes, in order
RISK_INDICATORS: Final = {
    "violence": "safe",
    "sexual_abuse": "safe",
    "threat": "safe",
    "neglect": "nurtured",
    "caregiver_crisis": "nurtured",
    "acute_medical": "healthy",
    "self_harm": "healthy",
}
NEAR: Final = 0.02  # a second part is suggested when it is this close to the best
MAX_SUGGESTED: Final = 3


class IndicatorSuggester:
    """Loaded on first use (filing a report is rare; start-up stays short)."""

    def __init__(self, encoder: Encoder, examples: Path = EXAMPLES) -> None:
        self.encoder, self.examples = encoder, examples
        self._vectors: np.ndarray | None = None
        self._labels: list[str] = []
        self._lock = threading.Lock()

    def _load(self) -> tuple[np.ndarray, list[str]]:
        with self._lock:
            if self._vectors is None:
                data = yaml.safe_load(self.examples.read_text(encoding="utf-8"))
                texts, labels = [], []
                for item in data["nlu"]:
                    for line in str(item["examples"]).splitlines():
                        text = line.strip().removeprefix("- ").strip()
                        if text:
                            texts.append(text)
                            labels.append(str(item["indicator"]))
                self._vectors, self._labels = self.encoder(texts), labels
            return self._vectors, self._labels

    def suggest(self, text: str, risk: RiskAssessment | None = None) -> tuple[str, ...]:
        """Indicator codes, most likely first; empty for an empty text."""
        pieces = windows(text)
        if not text.strip() or not pieces:
            return ()
        vectors, labels = self._load()
        similarity = (self.encoder(pieces) @ vectors.T).max(axis=0)
        best = dict.fromkeys(INDICATORS, 0.0)
        for score, label in zip(similarity, labels, strict=True):
            best[label] = max(best[label], float(score))
        ranked = sorted(best, key=lambda code: -best[code])
        found = [code for code in ranked if best[code] >= best[ranked[0]] - NEAR]
        if risk is not None and risk.level == "urgent":  # what an urgent risk always concerns, after
            for category in risk.categories:
                if category in RISK_INDICATORS and RISK_INDICATORS[category] not in found:
                    found.append(RISK_INDICATORS[category])
        return tuple(found[:MAX_SUGGESTED])
