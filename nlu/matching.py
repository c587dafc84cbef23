"""Match a family's words to a command or to one of the choices on screen.

Examples come from nlu/data/<lang>.yml (Rasa NLU format: intents and lookup tables).
Matching is exact on a normalised key, then fuzzy for typos. When unsure, no match:
the conversation asks again rather than guesses.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from nlu.examples import DATA_DIR, read_items
from nlu.text import normalize

FUZZY = 0.84
# A whole message that is one of these examples is a command, anywhere.
COMMAND_INTENTS = {
    "help": "help",
    "change_language": "language",
    "delete_data": "delete",
    "stop": "pause",
    "command_pause": "pause",
    "command_mydata": "mydata",
    "command_restart": "restart",
    "command_professional": "professional",
}
SLASH_COMMANDS = {
    "start": "start",
    "help": "help",
    "language": "language",
    "pause": "pause",
    "mydata": "mydata",
    "delete": "delete",
    "restart": "restart",
    "professional": "professional",
}
# Which examples also stand for a choice code on screen.
CODE_INTENTS = {
    "yes": "affirm",
    "no": "deny",
    "good": "rate_good",
    "some_worries": "rate_some_worries",
    "worried": "rate_worried",
    "dont_know": "dont_know",
    "explain": "explain",
    "skip": "skip",
    "talk": "talk_to_person",
}
# Words that turn a meaning around; with one of them, only an exact example matches.
_NEGATION = frozenset(
    normalize(word)
    for word in (
        "not", "no", "never", "inte", "ej", "aldrig", "inga", "ingen", "لا", "ليس", "مش", "ما",  # en sv ar
        "maya", "aan", "نه", "نیست", "هیچ", "نا", "نییە", "نەخێر", "ኣይ", "የለን", "ኣይኮነን",  # so fa ckb ti
        "не", "ні", "ніколи", "nie", "nigdy", "ne", "nije", "nikad", "na",  # uk pl bs kmr
        "ei", "eivät", "älä", "değil", "yok", "hiç", "hayır",  # fi tr
    )
)  # fmt: skip


@dataclass(frozen=True)
class Option:
    code: str
    labels: tuple[str, ...]


@dataclass
class Lexicon:
    """Examples per intent or lookup table, as normalised keys, over all languages."""

    examples: dict[str, set[str]] = field(default_factory=dict)

    def add(self, name: str, texts: Iterable[str]) -> None:
        self.examples.setdefault(name, set()).update(k for k in (normalize(t) for t in texts) if k)

    def command(self, text: str) -> str | None:
        stripped = text.strip()
        if stripped.startswith("/"):
            word = stripped[1:].split(maxsplit=1)[0].split("@")[0].casefold() if len(stripped) > 1 else ""
            return SLASH_COMMANDS.get(word)
        key = normalize(text)
        for intent, command in COMMAND_INTENTS.items():
            if key in self.examples.get(intent, ()):
                return command
        return None

    def choose(self, text: str, options: Sequence[Option], fuzzy: bool = True) -> str | None:
        """The code of the option the words mean, or None when unsure (`fuzzy`: typos too)."""
        key = normalize(text).removesuffix(" ").strip()
        if not key:
            return None
        if key.isdecimal():
            index = int(key) - 1
            return options[index].code if 0 <= index < len(options) else None
        candidates: list[tuple[str, str]] = []
        for option in options:
            keys = {normalize(label) for label in option.labels}
            keys |= {option.code.replace("_", " ")}
            keys |= self.examples.get(CODE_INTENTS.get(option.code, ""), set())
            if key in keys:
                return option.code
            candidates.extend((k, option.code) for k in keys if k)
        if not fuzzy or len(key) < 4 or _NEGATION & set(key.split()):
            return None  # too short to guess from, or "not worried": a guess could turn it around
        scored = sorted(
            ((difflib.SequenceMatcher(None, key, k).ratio(), code) for k, code in candidates), reverse=True
        )
        if scored and scored[0][0] >= FUZZY:
            best_code = scored[0][1]
            rivals = [code for score, code in scored if code != best_code and score >= scored[0][0] - 0.05]
            return None if rivals else best_code
        return None


def load_lexicon(data_dir: Path = DATA_DIR) -> Lexicon:
    """Read every Rasa NLU file in `data_dir` (intents and lookup tables)."""
    lexicon = Lexicon()
    for path in sorted(data_dir.glob("*.yml")):
        for item in read_items(path):
            if item.kind != "regex":
                lexicon.add(item.name, item.examples)
    return lexicon
