"""The fixed labels, and the examples behind them, read from Rasa NLU YAML files.

Layout of nlu/data (all Rasa NLU format, version 3.1):
- `<lang>.yml`: intent examples (the fixed intents below) and lookup tables of on-screen choices.
- `risk/<lang>.yml`: risk examples (`intent:` one of the risk categories, or `benign` for texts that look
  alarming but are not), and the pattern layer (`lookup:` keywords, `regex:` patterns).
An item's language is its file's name, unless the item says otherwise in `metadata: {language: xx}`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

import yaml

LANGUAGES: Final = ("sv", "en", "ar", "so", "fa", "prs", "ti", "uk", "pl", "bs", "ckb", "kmr", "fi", "tr")
INTENTS: Final = (
    "greet",
    "help",
    "stop",
    "change_language",
    "talk_to_person",
    "delete_data",
    "explain",
    "affirm",
    "deny",
    "dont_know",
    "rate_good",
    "rate_some_worries",
    "rate_worried",
    "other",
)
RISK_CATEGORIES: Final = (
    "violence",
    "sexual_abuse",
    "neglect",
    "self_harm",
    "acute_medical",
    "caregiver_crisis",
    "threat",
)
BENIGN: Final = "benign"
RiskLevel = Literal["none", "concern", "urgent"]
RISK_LEVELS: Final[tuple[RiskLevel, ...]] = ("none", "concern", "urgent")
# A category's level when it is found; a pattern named `<category>_now` makes any category urgent.
CATEGORY_LEVEL: Final[dict[str, RiskLevel]] = {
    "violence": "urgent",
    "sexual_abuse": "urgent",
    "neglect": "concern",
    "self_harm": "urgent",
    "acute_medical": "urgent",
    "caregiver_crisis": "concern",
    "threat": "urgent",
}
NOW_SUFFIX: Final = "_now"

DATA_DIR: Final = Path(__file__).parent / "data"
RISK_DIR: Final = DATA_DIR / "risk"
EVAL_DIR: Final = Path(__file__).parent / "eval"
_BULLET = re.compile(r"^\s*-\s*(.+?)\s*$")
Kind = Literal["intent", "lookup", "synonym", "regex"]
_KINDS: tuple[Kind, ...] = ("intent", "lookup", "synonym", "regex")


@dataclass(frozen=True)
class Item:
    """One block of a Rasa NLU file: `intent: greet` with its examples."""

    kind: Kind
    name: str
    language: str
    examples: tuple[str, ...]


@dataclass(frozen=True)
class Example:
    text: str
    label: str
    language: str


def read_items(path: Path) -> list[Item]:
    """The blocks of one Rasa NLU file; a malformed block raises ValueError naming the file."""
    document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    items = []
    for block in document.get("nlu", []):
        if not isinstance(block, dict):
            raise ValueError(f"{path.name}: every item needs a name and an examples block")
        kind = next((k for k in _KINDS if block.get(k)), None)
        raw = block.get("examples", "")
        if kind is None or not isinstance(raw, str):
            raise ValueError(f"{path.name}: every item needs a name and an examples block")
        metadata = block.get("metadata")
        language = metadata.get("language") if isinstance(metadata, dict) else None
        texts = tuple(m.group(1) for m in map(_BULLET.match, raw.splitlines()) if m)
        items.append(Item(kind, str(block[kind]), str(language or path.stem), texts))
    return items


def data_files(data_dir: Path = DATA_DIR) -> list[Path]:
    """Every training file: `<lang>.yml` and `risk/<lang>.yml`, in a stable order."""
    return sorted(data_dir.glob("*.yml")) + sorted((data_dir / "risk").glob("*.yml"))


def _examples(paths: Iterable[Path], labels: Iterable[str]) -> Iterator[Example]:
    wanted = set(labels)
    for path in paths:
        for item in read_items(path):
            if item.kind == "intent" and item.name in wanted:
                yield from (Example(text, item.name, item.language) for text in item.examples)


def intent_examples(data_dir: Path = DATA_DIR) -> list[Example]:
    """Examples of the fixed intents from every `<lang>.yml`; other names (lookups) are left out."""
    return list(_examples(sorted(data_dir.glob("*.yml")), INTENTS))


def risk_examples(data_dir: Path = DATA_DIR) -> list[Example]:
    """Risk category and benign examples from every `risk/<lang>.yml`."""
    return list(_examples(sorted((data_dir / "risk").glob("*.yml")), (*RISK_CATEGORIES, BENIGN)))


def risk_patterns(data_dir: Path = DATA_DIR) -> list[Item]:
    """The `lookup:` and `regex:` blocks of every `risk/<lang>.yml`."""
    return [
        item
        for path in sorted((data_dir / "risk").glob("*.yml"))
        for item in read_items(path)
        if item.kind in ("lookup", "regex")
    ]


def eval_examples(paths: Iterable[Path]) -> list[Example]:
    """Held-out examples: intents, risk categories and benign texts (files or folders of files)."""
    files: list[Path] = []
    for path in paths:
        files.extend(sorted(path.rglob("*.yml")) if path.is_dir() else [path])
    return list(_examples(files, (*INTENTS, *RISK_CATEGORIES, BENIGN)))
