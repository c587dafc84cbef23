"""Replies as Telegram sees them: inline keyboards with short stable codes, texts under the limit.

callback_data is `<flow>:<step>:<code>` (never translated text). When that would pass Telegram's
64 bytes, the question is named by a short hash instead, and looked up in the flows.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from flows.schema import Flow

CALLBACK_BYTES = 64
TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024  # a photo's caption
CHUNK = 4000  # a margin under Telegram's limit
CHECK = "✓"


def _digest(flow: str, step: str) -> str:
    return hashlib.sha256(f"{flow}:{step}".encode()).hexdigest()[:10]


class CallbackCodec:
    """Encode (flow, step, code) into callback_data and back."""

    def __init__(self, flows: Mapping[str, Flow]) -> None:
        self._hashed = {_digest(f.id, s.id): (f.id, s.id) for f in flows.values() for s in f.steps}

    def encode(self, flow: str, step: str, code: str) -> str:
        data = f"{flow}:{step}:{code}"
        if len(data.encode()) <= CALLBACK_BYTES:
            return data
        data = f"#{_digest(flow, step)}:{code}"
        if len(data.encode()) > CALLBACK_BYTES:
            raise ValueError(f"choice code {code!r} is too long for a Telegram button")
        return data

    def decode(self, data: str | None) -> tuple[str, str, str] | None:
        if not data:
            return None
        if data.startswith("#"):
            digest, _, code = data[1:].partition(":")
            question = self._hashed.get(digest)
            return (*question, code) if question and code else None
        parts = data.split(":", 2)  # a code may hold a colon itself ("lang:ar")
        return (parts[0], parts[1], parts[2]) if len(parts) == 3 and all(parts) else None


def keyboard(
    codec: CallbackCodec, flow: str | None, step: str | None, buttons: Iterable[list[str] | tuple[str, str]]
) -> InlineKeyboardMarkup | None:
    """One button per row: labels are sentences in many languages and must not be cut."""
    rows = [
        [InlineKeyboardButton(text=label, callback_data=codec.encode(flow or "", step or "", code))]
        for code, label in buttons
    ]
    return InlineKeyboardMarkup(inline_keyboard=rows) if rows and flow and step else None


def split_text(text: str, limit: int = CHUNK) -> list[str]:
    """Split at line ends (else at spaces, else hard) into parts of at most `limit` characters."""
    text = text.strip() or "…"
    parts: list[str] = []
    while len(text) > limit:
        cut = text.rfind("\n", 0, limit)
        if cut < limit // 2:
            cut = text.rfind(" ", 0, limit)
        if cut < limit // 2:
            cut = limit
        parts.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    parts.append(text)
    return [part for part in parts if part]


def answered_text(question: str, chosen: Iterable[list[str] | tuple[str, str]]) -> str | None:
    """The question's text with the chosen answer under it; None when only the buttons should go."""
    labels = [label for _code, label in chosen]
    if not labels or len(question) + 40 > CHUNK:
        return None
    return f"{question}\n\n{CHECK} {labels[0]}"
