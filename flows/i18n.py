"""Message markers for the flows package.

The engine speaks in message ids (English source text, gettext style); channels
render them in the user's language. `N_` marks family-facing text, `NP_` family-facing text with
plural forms, `S_` staff-facing text and `G_` the glossary (both), for extraction, without
translating anything here.
"""

from __future__ import annotations


def N_(message: str) -> str:
    """Mark a family-facing message id for extraction (family.po)."""
    return message


def G_(message: str) -> str:
    """Mark a glossary text (flows/glossary.py) for extraction into both catalogs, family.po and
    staff.po, under one message id: families and professionals read the same definition."""
    return message


def NP_(singular: str, plural: str) -> tuple[str, str]:
    """Mark a family-facing message with plural forms (family.po); the count is the parameter `n`."""
    return singular, plural


def S_(message: str) -> str:
    """Mark a staff-facing message id for extraction (staff.po)."""
    return message
