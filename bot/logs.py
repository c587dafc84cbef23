"""Logs: one JSON object a line (plain text at a terminal), with no personal data and no secrets.

    {"time": "2025-01-31T09:12:03.412Z", "level": "WARNING", "logger": "bot.telegram.webhook",
     "message": "webhook update 81 not stored (OperationalError)", "update_id": 81}

A line holds the time (UTC), the level, the logger, the message, and only the fields named in
SAFE_FIELDS, given with `extra=` (`log.info("...", extra={"concern_id": 7})`). An exception is logged
by its type and the places it passed through, never its message: a database error's message carries
the statement's parameters, which can be a family's words. Request lines (HJULET_ACCESS_LOG) carry the
method, the path and the status: never the query string (plan keys, invitations, `next=`) and never
the client's address. A secret setting that reaches a message anyway (a URL with the bot's token, a
driver's error with the database password) is replaced by ***.

The messages themselves hold no message text, names or user ids: that is the rule for every log call
in the code (tests/deploy/test_log_privacy.py plants canaries through every door and looks for them).
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Final, TextIO
from urllib.parse import unquote, urlsplit

SAFE_FIELDS: Final = (
    "event",
    "update_id",
    "concern_id",
    "outbox_id",
    "attempt",
    "channel",
    "count",
    "duration_ms",
    "method",
    "path",
    "status",
)
FORMATS: Final = ("auto", "json", "text")
LEVELS: Final = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
ACCESS_LOGGER: Final = "uvicorn.access"
MIN_SECRET: Final = 8  # shorter values are not hunted for in messages (they would match ordinary words)
MAX_FRAMES: Final = 12
_MARK: Final = "_hjulet_handler"


def json_wanted(log_format: str, stream: TextIO | None = None) -> bool:
    """`auto` is JSON unless the logs go to a terminal (a person reading them)."""
    if log_format == "auto":
        stream = stream or sys.stderr
        return not (hasattr(stream, "isatty") and stream.isatty())
    return log_format == "json"


def secret_values(values: Iterable[str]) -> tuple[str, ...]:
    """The strings to hide in log lines, from secret settings' values: each value, a URL's password and
    each key of a keyring ('<id> <key>;...')."""
    found: set[str] = set()
    for value in values:
        if not value:
            continue
        found.add(value)
        if "://" in value:
            try:
                password = urlsplit(value).password
            except ValueError:
                password = None
            if password:
                found.update((password, unquote(password)))  # as written, and as a driver may quote it
        found.update(part for part in value.replace(";", " ").split() if len(part) >= 16)
    return tuple(sorted((v for v in found if len(v) >= MIN_SECRET), key=len, reverse=True))


class _Redacting(logging.Formatter):
    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = tuple(secrets)

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, "***")
        return text

    def fields(self, record: logging.LogRecord) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for name in SAFE_FIELDS:
            value = record.__dict__.get(name)
            if isinstance(value, bool | int | float):
                found[name] = value
            elif isinstance(value, str):
                found[name] = self.redact(value)
        return found

    @staticmethod
    def error(record: logging.LogRecord) -> dict[str, Any]:
        """The exception's type and where it passed (file:line function), never its message."""
        if not record.exc_info or record.exc_info[0] is None:
            return {}
        kind, _value, tb = record.exc_info
        return {"error": f"{kind.__module__}.{kind.__qualname__}", "where": _frames(tb)}


def _frames(tb: TracebackType | None) -> list[str]:
    frames = traceback.extract_tb(tb)[-MAX_FRAMES:]
    return [f"{Path(frame.filename).name}:{frame.lineno} {frame.name}" for frame in frames]


def _time(record: logging.LogRecord) -> str:
    moment = datetime.fromtimestamp(record.created, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class JsonFormatter(_Redacting):
    """One JSON object a line: time, level, logger, message, the safe fields, and an error's type."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": _time(record),
            "level": record.levelname,
            "logger": record.name,
            "message": self.redact(record.getMessage()),
        }
        entry.update(self.fields(record))
        entry.update(self.error(record))
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(_Redacting):
    """`time LEVEL logger: message key=value ...`, for a person at a terminal; the same content."""

    def format(self, record: logging.LogRecord) -> str:
        parts = [f"{_time(record)} {record.levelname} {record.name}: {self.redact(record.getMessage())}"]
        parts += [f"{name}={value}" for name, value in self.fields(record).items() if name != "event"]
        error = self.error(record)
        if error:
            parts.append(f"error={error['error']} at {' < '.join(reversed(error['where']))}")
        return " ".join(parts)


class AccessFilter(logging.Filter):
    """Uvicorn's request lines without the client's address and without the query string."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if not (isinstance(args, tuple) and len(args) == 5):
            return False  # a shape we do not know: dropped rather than risk a key in a query string
        _client, method, full_path, _version, status = args
        path = str(full_path).split("?", 1)[0].split("#", 1)[0]
        record.msg, record.args = "%s %s %s", (method, path, status)
        record.__dict__.update(method=str(method), path=path, status=status, event="request")
        return True


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is at the time (a test runner may swap it)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


def install(
    level: str = "WARNING",
    log_format: str = "auto",
    secrets: Iterable[str] = (),
    stream: TextIO | None = None,
) -> logging.Handler | None:
    """Send every log record to stderr (or `stream`) as JSON or text, at `level` and above.

    Like logging.basicConfig, it leaves a root logger alone that someone else has set up (a program
    that embeds Hjulet, or the test runner): then it returns None. Calling it again replaces its own
    handler. Uvicorn's request lines are always filtered (AccessFilter)."""
    if log_format not in FORMATS:
        raise ValueError(f"unknown log format {log_format!r}; choose from {', '.join(FORMATS)}")
    if level.upper() not in LEVELS:
        raise ValueError(f"unknown log level {level!r}; choose from {', '.join(LEVELS)}")
    access = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(f, AccessFilter) for f in access.filters):
        access.addFilter(AccessFilter())
    root = logging.getLogger()
    ours = [handler for handler in root.handlers if getattr(handler, _MARK, False)]
    if len(ours) != len(root.handlers):
        return None
    for old in ours:
        root.removeHandler(old)
    handler: logging.Handler = logging.StreamHandler(stream) if stream is not None else _StderrHandler()
    formatter = JsonFormatter if json_wanted(log_format, stream) else TextFormatter
    handler.setFormatter(formatter(secret_values(secrets)))
    setattr(handler, _MARK, True)
    root.addHandler(handler)
    root.setLevel(level.upper())
    logging.captureWarnings(True)  # Python's warnings become log lines too, not loose text on stderr
    return handler
