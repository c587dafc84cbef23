"""Errors raised by the storage package.

Every message is one line meant for a human reading a terminal or a log: it names the problem and,
where it helps, what to do. Messages never contain passwords or personal data.
"""

from __future__ import annotations


class StorageError(Exception):
    """The database or a storage file cannot be used (bad URL, unreachable server, broken key file)."""


class ConcurrentUpdate(StorageError):
    """Someone else saved the same conversation first; reload it and try again."""


class NotFound(StorageError):
    """A row that the caller said exists does not exist."""
