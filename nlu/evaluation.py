"""Measure the understanding layer on held-out examples (Rasa NLU files, as in nlu/eval/).

Examples named by an intent count for intent precision and recall (per language, per intent); named
by a risk category they count for risk recall; every other example (an intent, or `benign`) must
not raise a risk, and counts for the false-alarm rate. Latency is that of `parse` per message.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Final

from nlu.examples import INTENTS, RISK_CATEGORIES, Example
from nlu.parse import Parse

MIN_INTENT_ACCURACY: Final = 0.85  # per language that has intent examples
MIN_RISK_RECALL: Final = 0.97  # over all languages
MAX_FALSE_ALARMS: Final = 0.10
MAX_P99_MS: Final = 20.0  # checked by tests/nlu/test_evaluation.py on a machine that is not busy


@dataclass(frozen=True)
class Counts:
    true_positive: int = 0
    false_positive: int = 0
    false_negative: int = 0

    @property
    def precision(self) -> float:
        return self.true_positive / max(1, self.true_positive + self.false_positive)

    @property
    def recall(self) -> float:
        return self.true_positive / max(1, self.true_positive + self.false_negative)


@dataclass
class Report:
    intent: dict[str, dict[str, Counts]] = field(default_factory=dict)  # language -> intent -> counts
    accuracy: dict[str, float] = field(default_factory=dict)  # language -> intent accuracy
    risk_found: Counter[str] = field(default_factory=Counter)  # language -> risk examples flagged
    risk_total: Counter[str] = field(default_factory=Counter)
    category_found: Counter[str] = field(default_factory=Counter)  # category -> flagged with it
    category_total: Counter[str] = field(default_factory=Counter)
    alarms: int = 0
    benign: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    missed: list[Example] = field(default_factory=list)  # risk examples not flagged
    false_alarms: list[tuple[Example, Parse]] = field(default_factory=list)
    confused: list[tuple[Example, str]] = field(default_factory=list)  # intent examples, predicted

    @property
    def risk_recall(self) -> float:
        return sum(self.risk_found.values()) / max(1, sum(self.risk_total.values()))

    @property
    def false_alarm_rate(self) -> float:
        return self.alarms / max(1, self.benign)

    def latency(self, quantile: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(quantile * len(ordered)))] if ordered else 0.0

    def failures(self) -> list[str]:
        """The floors this report falls below, as sentences; empty when it passes. Latency is shown
        but not a floor here: on a busy machine it measures the other programs (tests check it)."""
        failed = [
            f"intent accuracy {language} {value:.3f} < {MIN_INTENT_ACCURACY}"
            for language, value in sorted(self.accuracy.items())
            if value < MIN_INTENT_ACCURACY
        ]
        if self.risk_total and self.risk_recall < MIN_RISK_RECALL:
            failed.append(f"risk recall {self.risk_recall:.3f} < {MIN_RISK_RECALL}")
        if self.false_alarm_rate > MAX_FALSE_ALARMS:
            failed.append(f"false alarms {self.false_alarm_rate:.3f} > {MAX_FALSE_ALARMS}")
        return failed


def evaluate(parse: Callable[[str, str | None], Parse], examples: Iterable[Example]) -> Report:
    """Run `parse(text, language)` on every example and count."""
    report = Report()
    outcomes: dict[str, list[tuple[str, str]]] = defaultdict(list)  # language -> (gold, predicted)
    for example in examples:
        start = time.perf_counter()
        result = parse(example.text, example.language)
        report.latencies_ms.append((time.perf_counter() - start) * 1000)
        if example.label in RISK_CATEGORIES:
            report.risk_total[example.language] += 1
            report.category_total[example.label] += 1
            if result.risk_level != "none":
                report.risk_found[example.language] += 1
            else:
                report.missed.append(example)
            if example.label in result.risk_categories:
                report.category_found[example.label] += 1
            continue
        report.benign += 1
        if result.risk_level != "none":
            report.alarms += 1
            report.false_alarms.append((example, result))
        if example.label in INTENTS:
            outcomes[example.language].append((example.label, result.intent))
            if result.intent != example.label:
                report.confused.append((example, result.intent))
    for language, pairs in outcomes.items():
        per_intent: dict[str, Counts] = {}
        for intent in sorted({gold for gold, _ in pairs} | {predicted for _, predicted in pairs}):
            per_intent[intent] = Counts(
                sum(1 for g, p in pairs if g == intent and p == intent),
                sum(1 for g, p in pairs if g != intent and p == intent),
                sum(1 for g, p in pairs if g == intent and p != intent),
            )
        report.intent[language] = per_intent
        report.accuracy[language] = sum(1 for g, p in pairs if g == p) / len(pairs)
    return report


def table(report: Report) -> str:
    """The report as plain text columns, for a terminal."""
    lines = ["intents (precision / recall)", f"{'':20}" + "".join(f"{lang:>12}" for lang in report.intent)]
    for intent in INTENTS:
        cells = []
        for per_intent in report.intent.values():
            counts = per_intent.get(intent)
            cells.append(f"{counts.precision:5.2f} /{counts.recall:5.2f}" if counts else f"{'-':>12}")
        lines.append(f"{intent:20}" + "".join(f"{cell:>12}" for cell in cells))
    lines.append(f"{'accuracy':20}" + "".join(f"{value:>12.3f}" for value in report.accuracy.values()))
    lines += ["", "risk recall (flagged / examples)"]
    for language in sorted(report.risk_total):
        found, total = report.risk_found[language], report.risk_total[language]
        lines.append(f"  {language:8} {found:4} / {total:<4} {found / total:.3f}")
    lines.append(
        f"  {'all':8} {sum(report.risk_found.values()):4} / {sum(report.risk_total.values()):<4}"
        f" {report.risk_recall:.3f}"
    )
    lines += ["", "risk category found (right category among the flags)"]
    for category in RISK_CATEGORIES:
        total = report.category_total[category]
        if total:
            lines.append(
                f"  {category:18} {report.category_found[category]:4} / {total:<4}"
                f" {report.category_found[category] / total:.3f}"
            )
    lines += [
        "",
        f"false alarms on benign text: {report.alarms} / {report.benign} = {report.false_alarm_rate:.3f}",
        f"parse latency: p50 {report.latency(0.5):.1f} ms, p99 {report.latency(0.99):.1f} ms"
        f" over {len(report.latencies_ms)} messages",
    ]
    return "\n".join(lines)
