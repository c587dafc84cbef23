"""Conversation state: plain data, stored as JSON between messages."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from flows.wellbeing import Indicator

VarValue = str | int | None


class Frame(BaseModel):
    flow: str
    step: str
    phase: Literal["ask", "comment"] = "ask"


class AnswerState(BaseModel):
    indicator: Indicator | None = None
    code: str


class State(BaseModel):
    lang: str
    stack: list[Frame] = Field(default_factory=list)
    vars: dict[str, VarValue] = Field(default_factory=dict)
    answers: dict[str, AnswerState] = Field(default_factory=dict)
    fired: list[str] = Field(default_factory=list)
    misses: int = 0
    started: bool = False
    paused: bool = False
    finished: bool = False

    @property
    def frame(self) -> Frame | None:
        return self.stack[-1] if self.stack else None

    def env(self) -> dict[str, VarValue]:
        """Variables visible to conditions."""
        return {**self.vars, "lang": self.lang}
