"""Helpers for engine stories: small flow files in tmp_path, and a Chat that remembers the state."""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from flows import events as ev
from flows.engine import Engine, Outcome
from flows.loader import FLOWS_DIR, load_flows
from flows.state import State

LANGUAGES = ("sv", "en", "ar")
COMMAND_FLOWS = ("help", "language", "delete", "restart", "professional")


@dataclass
class Chat:
    """One family talking to the engine: send events, then read what came back."""

    engine: Engine
    state: State
    context: dict[str, str] = field(default_factory=dict)
    last: Outcome | None = None
    effects: list[ev.Effect] = field(default_factory=list)  # every effect so far, in order

    def send(self, *events: ev.Event) -> Outcome:
        """Send the events one by one; return the outcome of the last one."""
        for event in events:
            self.last = self.engine.handle(self.state, event, self.context)
            self.state = self.last.state
            self.effects.extend(self.last.effects)
        assert self.last is not None
        return self.last

    @property
    def messages(self) -> list[ev.Reply]:
        """The new messages of the last reply batch (not the notes that a question was answered)."""
        assert self.last is not None
        return [reply for reply in self.last.replies if reply.kind != "answered"]

    @property
    def answered(self) -> list[ev.Reply]:
        """The questions the last event answered, with the button chosen (if any)."""
        assert self.last is not None
        return [reply for reply in self.last.replies if reply.kind == "answered"]

    @property
    def said(self) -> list[str]:
        """The message ids of the last reply batch, in order."""
        return [reply.text.id for reply in self.messages]

    @property
    def question(self) -> str | None:
        """The step the last reply batch ends on, when it asks something."""
        return self.messages[-1].step if self.messages else None

    @property
    def buttons(self) -> list[str]:
        return [button.code for button in self.messages[-1].buttons] if self.messages else []

    @property
    def labels(self) -> list[str]:
        """The message ids of the last question's button labels."""
        return [button.label.id for button in self.messages[-1].buttons] if self.messages else []

    def effects_of(self, kind: type) -> list[ev.Effect]:
        return [effect for effect in self.effects if isinstance(effect, kind)]


@pytest.fixture
def flow_dir(tmp_path: Path) -> Callable[..., Path]:
    """Write `mapping.yaml` (and other flows by id) next to copies of the real command flows."""

    def write(mapping: str, **others: str) -> Path:
        directory = tmp_path / "flows"
        directory.mkdir(exist_ok=True)
        for name in COMMAND_FLOWS:
            shutil.copy(FLOWS_DIR / f"{name}.yaml", directory / f"{name}.yaml")
        for name, text in {"mapping": mapping, **others}.items():
            (directory / f"{name}.yaml").write_text(textwrap.dedent(text), encoding="utf-8")
        return directory

    return write


@pytest.fixture
def chat(flow_dir: Callable[..., Path]) -> Callable[..., Chat]:
    """A Chat over a small mapping flow written for the test."""

    def make(
        mapping: str,
        languages: Sequence[str] = LANGUAGES,
        context: dict[str, str] | None = None,
        **others: str,
    ) -> Chat:
        engine = Engine(load_flows(flow_dir(mapping, **others)), languages)
        return Chat(engine, engine.new_state("en"), dict(context or {}))

    return make


@pytest.fixture(scope="session")
def real_engine() -> Engine:
    return Engine(load_flows(), LANGUAGES)


@pytest.fixture
def real_chat(real_engine: Engine) -> Chat:
    """A Chat over the real flow files in flows/."""
    return Chat(real_engine, real_engine.new_state("en"))
