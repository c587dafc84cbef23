"""The floors `make test` enforces on the held-out data in nlu/eval, and what the evaluation counts."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nlu import Parse, Understanding
from nlu.evaluation import (
    MAX_FALSE_ALARMS,
    MAX_P99_MS,
    MIN_INTENT_ACCURACY,
    MIN_RISK_RECALL,
    Report,
    evaluate,
    table,
)
from nlu.examples import EVAL_DIR, Example, eval_examples

ROOT = Path(__file__).resolve().parents[2]
MAX_START_UP_S = 2.0


@pytest.fixture(scope="module")
def report(understanding: Understanding) -> Report:
    return evaluate(understanding.parse, eval_examples([EVAL_DIR]))


def test_intent_accuracy_per_language_meets_the_floor(report: Report) -> None:
    assert {"sv", "en", "ar"} <= set(report.accuracy)
    assert {lang: acc for lang, acc in report.accuracy.items() if acc < MIN_INTENT_ACCURACY} == {}


def test_risk_recall_meets_the_floor(report: Report) -> None:
    missed = [f"[{e.language}] {e.label}: {e.text}" for e in report.missed]

    assert report.risk_recall >= MIN_RISK_RECALL, missed


def test_false_alarms_on_benign_text_stay_under_the_ceiling(report: Report) -> None:
    alarms = [f"[{e.language}] {r.risk_categories}: {e.text}" for e, r in report.false_alarms]

    assert report.false_alarm_rate <= MAX_FALSE_ALARMS, alarms


def _parse_p99(understanding: Understanding, texts: list[str]) -> float:
    """The p99 over texts of each text's best of two runs (a burst from a neighbour is not ours)."""
    costs = []
    for text in texts:
        runs = []
        for _ in range(2):
            started = time.perf_counter()
            understanding.parse(text, "sv")
            runs.append((time.perf_counter() - started) * 1000)
        costs.append(min(runs))
    costs.sort()
    return costs[int(0.99 * (len(costs) - 1))]


def test_parse_p99_is_under_20_ms(understanding: Understanding) -> None:
    # Cost grows with tokens (8 ms under 10 tokens, 19 ms at 20-29 on one core of this machine); the
    # machine is shared, and other tenants' load comes and goes (its load average counts them). Up to
    # three tries: the first clean pass counts. A try that began with someone else already using
    # half the cores (our own threads are idle then) is no verdict; if every try began so, the test
    # is skipped with the figures, otherwise the floor must be met.
    texts = [e.text for e in eval_examples([EVAL_DIR])][::3]
    cores = os.cpu_count() or 1
    tries = []
    for _ in range(3):
        before = os.getloadavg()[0]
        p99 = _parse_p99(understanding, texts)
        tries.append((round(p99, 1), round(before, 1)))
        if p99 < MAX_P99_MS:
            return
    quiet = [p99 for p99, load in tries if load <= cores / 2]
    if not quiet:
        pytest.skip(f"the machine was busy before every try (p99 ms, load before): {tries} on {cores} cores")
    assert min(quiet) < MAX_P99_MS, tries


def test_start_up_takes_under_two_seconds(understanding: Understanding) -> None:
    # `understanding` has built the cache if needed; a fresh process only loads it
    program = "import time; t = time.perf_counter(); import nlu; nlu.load(); print(time.perf_counter() - t)"
    command = [sys.executable, "-c", program]
    runs = [
        float(subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True).stdout)
        for _ in range(2)
    ]

    assert min(runs) < MAX_START_UP_S


# ---- what the evaluation counts, on a stand-in for parse ----------------------------------------


def fixed(intent: str, level: str = "none", categories: tuple[str, ...] = ()) -> Parse:
    return Parse("", "en", 1.0, intent, 1.0, level, categories, None)  # type: ignore[arg-type]


ANSWERS = {
    "hi": fixed("greet"),
    "hello": fixed("help"),
    "help": fixed("help"),
    "he hits me": fixed("other", "urgent", ("violence",)),
    "no food": fixed("other", "concern", ("violence",)),
    "she is scared": fixed("other"),
    "he hits the ball": fixed("other", "concern", ("violence",)),
}
EXAMPLES = [
    Example("hi", "greet", "en"),
    Example("hello", "greet", "en"),
    Example("help", "help", "en"),
    Example("he hits me", "violence", "en"),
    Example("no food", "neglect", "en"),
    Example("she is scared", "violence", "sv"),
    Example("he hits the ball", "benign", "en"),
]


def test_the_evaluation_counts_precision_recall_risk_and_false_alarms() -> None:
    report = evaluate(lambda text, _: ANSWERS[text], EXAMPLES)

    greet, help_ = report.intent["en"]["greet"], report.intent["en"]["help"]
    assert (greet.precision, greet.recall) == (1.0, 0.5)
    assert (help_.precision, help_.recall) == (0.5, 1.0)
    assert report.accuracy == {"en": 2 / 3}
    assert (report.risk_found["en"], report.risk_total["en"], report.risk_total["sv"]) == (2, 2, 1)
    assert report.risk_recall == 2 / 3
    assert report.category_found == {"violence": 1}  # "no food" was flagged, but as violence
    assert (report.alarms, report.benign, report.false_alarm_rate) == (1, 4, 0.25)
    assert [e.text for e in report.missed] == ["she is scared"]
    assert len(report.latencies_ms) == len(EXAMPLES)


def test_failures_name_each_floor_that_is_not_met() -> None:
    report = evaluate(lambda text, _: ANSWERS[text], EXAMPLES)

    failures = report.failures()

    assert any(f.startswith("intent accuracy en 0.667") for f in failures)
    assert any(f.startswith("risk recall 0.667") for f in failures)
    assert any(f.startswith("false alarms 0.250") for f in failures)


def test_the_table_shows_languages_intents_and_totals() -> None:
    text = table(evaluate(lambda text, _: ANSWERS[text], EXAMPLES))

    assert "greet" in text and " 1.00 / 0.50" in text
    assert "all" in text and "2 / 3" in text
    assert "false alarms on benign text: 1 / 4 = 0.250" in text
    assert "p99" in text
