"""The common language: one plain definition per term, the same for families, professionals and staff.

The model's core idea is that a police officer, a preschool teacher and a parent from another country
mean the same thing by the same word. So every glossary text is marked `G_`: it is extracted into
both catalogs (family.po and staff.po) under the same message id, and `hjulet locales check` fails
when a language's two catalogs translate it differently.

A question that uses a term offers "What do the words mean?" (see flows/loader.py: a step's terms are
the ones it declares, its wellbeing indicator, and the ones its English text names).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from flows.i18n import G_
from flows.wellbeing import INDICATORS, Indicator


@dataclass(frozen=True)
class Term:
    id: str
    name: str  # message id
    definition: str  # message id: one to three short sentences
    aliases: tuple[str, ...] = ()  # how English flow texts name it (matched as whole words)


_OTHER_TERMS = (
    Term(
        "named_person",
        G_("Named person"),
        G_(
            "The named person is the professional who helps when someone is worried about a child. "
            "Until school starts, it is the nurse at the child health centre (BVC)."
        ),
        ("named person",),
    ),
    Term(
        "childs_plan",
        G_("Child's plan"),
        G_(
            "A child's plan is one plan for a child who needs more help. "
            "It says who does what, and when we meet again. The family can read it."
        ),
        ("child's plan",),
    ),
    Term(
        "consent",
        G_("Consent"),
        G_("Consent means that you say yes. You can say no, or take back your yes at any time."),
        ("consent",),
    ),
    Term(
        "concern",
        G_("Concern"),
        G_("A concern is when someone is worried about how a child is doing."),
        ("concern", "concerns"),
    ),
    Term(
        "social_services",
        G_("Social services"),
        G_(
            "Social services help children and families in the municipality. "
            "They must act at once if a child may be in danger."
        ),
        ("social services",),
    ),
    Term(
        "preschool",
        G_("Preschool"),
        G_("Preschool is where children aged 1 to 5 play and learn during the day."),
        ("preschool",),
    ),
    Term(
        "bvc",
        G_("Child health centre (BVC)"),
        G_(
            "The child health centre (BVC) checks how a child grows and feels until school starts. "
            "It is free."
        ),
        ("child health centre", "BVC"),
    ),
)

TERMS: dict[str, Term] = {
    **{code.value: Term(code.value, text.name, text.meaning) for code, text in INDICATORS.items()},
    **{term.id: term for term in _OTHER_TERMS},
}


def named_in(text: str) -> tuple[str, ...]:
    """The terms an English text names (whole words, any case), in glossary order."""
    return tuple(
        term.id
        for term in _OTHER_TERMS
        if any(re.search(rf"(?<!\w){re.escape(alias)}(?!\w)", text, re.IGNORECASE) for alias in term.aliases)
    )


def indicator_term(indicator: Indicator) -> str:
    return indicator.value
