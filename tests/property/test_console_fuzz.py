"""Random Unicode into the console channel, in-process: every line is read and answered, the service
never fails underneath, and nothing the family typed comes back as a raw control character."""

from __future__ import annotations

import io
import itertools
import logging
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, note
from hypothesis import strategies as st

from bot.console import PROMPT, Console
from bot.service import TROUBLE
from flows.events import Msg
from nlu import LANGUAGES
from tests.property.harness import NUMBERS, Harness, family_text, hypothesis_settings

LINES = st.lists(
    family_text() | NUMBERS | st.sampled_from(["/export", "/EXPORT ", "/mydata", "/delete", "1", ""]),
    max_size=12,
)
OVERRIDES = frozenset("\u202a\u202b\u202c\u202d\u202e")  # bidi embeddings and overrides: never shown
users = itertools.count()


class Screen(io.StringIO):
    """The console's stdout; counts the prompts it was given (the family's words may hold "> ")."""

    prompts = 0

    def write(self, text: str) -> int:
        self.prompts += text == PROMPT
        return super().write(text)


class Failures(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def harness(database_url: str, tmp_path: Path, understanding: Any) -> Iterator[Harness]:
    harness = Harness(database_url, tmp_path, understanding)
    try:
        yield harness
    finally:
        harness.close()


@pytest.fixture
def failures() -> Iterator[Failures]:
    handler, logger = Failures(), logging.getLogger("bot.console")
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


def test_random_lines_into_the_console(harness: Harness, failures: Failures) -> None:
    @given(
        lines=LINES, lang=st.sampled_from([*LANGUAGES, None, "xx"]), end=st.sampled_from(["\n", "\r\n", ""])
    )
    @hypothesis_settings(machine=False)
    def chat(lines: list[str], lang: str | None, end: str) -> None:
        failures.records.clear()
        typed = end.join(lines) + (end if lines else "")
        stdin, screen = io.StringIO(typed), Screen()
        read = len(io.StringIO(typed).readlines())  # what the console's readline will see
        console = Console(harness.service, f"console-{next(users)}", lang, stdin, screen)
        harness.run(console.run())
        out = screen.getvalue()
        note(out)
        assert not failures.records, [r.getMessage() for r in failures.records]
        assert screen.prompts == read + 1, "a line was not answered (or was answered twice)"
        for language in {lang or harness.settings.default_language, *harness.settings.language_list}:
            assert harness.catalogs.render(Msg(TROUBLE), language) not in out
        raw = {c for c in out if unicodedata.category(c) == "Cc" and c != "\n"} | (OVERRIDES & set(out))
        assert not raw, f"raw control characters on the screen: {raw}"

    chat()
