"""Message markers for the flows package.

The engine speaks in message ids (English source text, gettext style); channels
render them in the user's language. `N_` marks family-facing text and `S_`
staff-facing text for extraction, without translating anything here.
"""

from __future__ import annotations


def N_(message: str) -> str:
    """Mark a family-facing message id for extraction (family.po)."""
    return message


def S_(message: str) -> str:
    """Mark a staff-facing message id for extraction (staff.po)."""
    return message
