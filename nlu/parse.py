"""`parse(text, lang_hint)`: language, intent and risk of one message, in one call.

    >>> from nlu import parse
    >>> result = parse("he is scared to go home", lang_hint="sv")
    >>> result.language, result.suggested_language, result.intent, result.risk_level, result.risk_categories
    ('en', 'en', 'other', 'urgent', ('violence',))

`Understanding.load()` pays the start-up cost (embedding model, language identifier, the cached
model; under two seconds) once; `parse` uses one shared instance, loaded on first use.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nlu.embedding import E5Encoder, Encoder
from nlu.examples import DATA_DIR, LANGUAGES, RiskLevel, risk_patterns
from nlu.features import featurize
from nlu.language import SUGGEST_CONFIDENCE, LanguageDetector, letters
from nlu.model import CACHE, Model, load_or_build
from nlu.patterns import Patterns
from nlu.risk import NO_RISK, RiskAssessment, RiskDetector
from nlu.text import clean

SHORT_TEXT_LETTERS = 12  # below this, the family's own language (lang_hint) stands
THREADS_ENV = "HJULET_NLU_THREADS"  # threads of the embedding model; unset: one, 0: every core


@dataclass(frozen=True)
class Parse:
    """What one message says. `language` is a supported code, or None when nothing tells."""

    text: str
    language: str | None
    language_confidence: float
    intent: str
    intent_confidence: float
    risk_level: RiskLevel
    risk_categories: tuple[str, ...]
    suggested_language: str | None  # offer this language to the family (never switch silently)
    risk: RiskAssessment = NO_RISK

    def to_json(self) -> dict[str, Any]:
        """The fields `hjulet nlu parse` writes, one JSON object per message."""
        return {
            "text": self.text,
            "language": self.language,
            "intent": self.intent,
            "confidence": round(self.intent_confidence, 4),
            "risk_level": self.risk_level,
            "risk_categories": list(self.risk_categories),
        }


class Understanding:
    """Everything `parse` needs, loaded once. Safe to share between threads."""

    def __init__(
        self, model: Model, encoder: Encoder, patterns: Patterns, detector: LanguageDetector
    ) -> None:
        self.model = model
        self.encoder = encoder
        self.detector = detector
        self.risk = RiskDetector(patterns, model.risk)

    @classmethod
    def load(
        cls, data_dir: Path = DATA_DIR, cache: Path = CACHE, threads: int | None = None
    ) -> Understanding:
        """`threads` for the embedding model (see E5Encoder); None: HJULET_NLU_THREADS, or one
        (0: every core)."""
        if threads is None:
            setting = os.environ.get(THREADS_ENV, "")
            threads = int(setting) if setting.isdecimal() else 1
        threads = threads or None
        encoder = E5Encoder(threads)
        model = load_or_build(encoder, data_dir, cache)
        understanding = cls(model, encoder, Patterns(risk_patterns(data_dir)), LanguageDetector())
        understanding.detector.warm_up()
        understanding.parse("hej")  # the first embedding is slower; pay it now
        return understanding

    def _language(self, text: str, hint: str | None) -> tuple[str | None, float]:
        guess = self.detector.detect(text)
        if hint is None or guess.code is None:
            return guess.code, guess.confidence
        trusted = letters(text) >= SHORT_TEXT_LETTERS and guess.confidence >= SUGGEST_CONFIDENCE
        if trusted and guess.code not in (hint, "fa" if hint == "prs" else hint):
            return guess.code, guess.confidence
        hinted = "fa" if hint == "prs" else hint
        return hint, guess.scores.get(hinted, 0.0)

    def parse(self, text: str, lang_hint: str | None = None) -> Parse:
        if lang_hint not in LANGUAGES:
            lang_hint = None  # not one of ours (a typo, "en-US"): no hint, rather than an unknown language
        cleaned = clean(text)
        if not cleaned:
            return Parse(cleaned, lang_hint, 0.0, "other", 0.0, "none", (), None)
        windows = featurize(cleaned, self.encoder, self.model.featurizer)
        probabilities = self.model.intents.probabilities(windows.features[:1])[0]
        best = int(np.argmax(probabilities))
        risk = self.risk.assess(cleaned, windows.embeddings)
        language, language_confidence = self._language(cleaned, lang_hint)
        return Parse(
            text=cleaned,
            language=language,
            language_confidence=language_confidence,
            intent=self.model.intents.labels[best],
            intent_confidence=float(probabilities[best]),
            risk_level=risk.level,
            risk_categories=risk.categories,
            suggested_language=self.detector.suggest(cleaned, lang_hint),
            risk=risk,
        )


_shared: Understanding | None = None
_shared_lock = threading.Lock()


def load() -> Understanding:
    """The shared instance `parse` uses, loaded on first call (call it at start-up to pay the cost then)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = Understanding.load()
        return _shared


def parse(text: str, lang_hint: str | None = None) -> Parse:
    """Language, intent and risk of one message. `lang_hint`: the language the family uses now."""
    return load().parse(text, lang_hint)
