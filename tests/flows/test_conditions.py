"""Conditions in flow files: `child.age_years >= 3 and wants_contact == yes`."""

from __future__ import annotations

import pytest

from flows.conditions import ConditionError, parse_condition

ENV = {
    "consent_share": "yes",
    "wants_contact": "no",
    "child.age_years": 3,
    "empty": "",
    "zero": 0,
}


def holds(source: str, env=ENV) -> bool:
    return parse_condition(source).holds(env)


@pytest.mark.parametrize(
    "source, expected",
    [
        ("consent_share == yes", True),
        ("consent_share == no", False),
        ("consent_share != no", True),
        ("consent_share != yes", False),
        ("child.age_years == 3", True),  # an int variable equals the number
        ("child.age_years != 4", True),
        ("wants_contact == yes", False),
    ],
)
def test_equality(source: str, expected: bool) -> None:
    assert holds(source) is expected


@pytest.mark.parametrize(
    "source, expected",
    [
        ("child.age_years >= 3", True),
        ("child.age_years >= 4", False),
        ("child.age_years <= 3", True),
        ("child.age_years <= 2", False),
        ("child.age_years > 2", True),
        ("child.age_years > 3", False),
        ("child.age_years < 4", True),
        ("child.age_years < 3", False),
        ("child.age_years > -1", True),
        ("consent_share > 1", False),  # a word is never more than a number
    ],
)
def test_numeric_comparisons(source: str, expected: bool) -> None:
    assert holds(source) is expected


@pytest.mark.parametrize(
    "source, expected",
    [
        # and binds tighter than or: (A and B) or C
        ("wants_contact == yes and consent_share == no or child.age_years == 3", True),
        ("wants_contact == yes and consent_share == yes or child.age_years == 4", False),
        # A or (B and C)
        ("child.age_years == 3 or wants_contact == yes and consent_share == no", True),
        ("wants_contact == yes or consent_share == yes and child.age_years == 4", False),
        ("consent_share == yes and child.age_years >= 3", True),
        ("consent_share == yes and child.age_years >= 4", False),
    ],
)
def test_and_binds_tighter_than_or(source: str, expected: bool) -> None:
    assert holds(source) is expected


def test_a_bare_name_holds_when_the_variable_is_set_and_not_empty() -> None:
    assert holds("consent_share")
    assert holds("zero")  # 0 is a value
    assert not holds("empty")
    assert not holds("never_set")


@pytest.mark.parametrize(
    "source, expected",
    [
        ("never_set == yes", False),
        ("never_set != yes", True),  # unset differs from every value
        ("never_set >= 0", False),
        ("never_set < 100", False),
        ("never_set", False),
    ],
)
def test_an_unset_variable_equals_nothing(source: str, expected: bool) -> None:
    assert holds(source) is expected


def test_a_variable_set_to_none_counts_as_unset() -> None:
    assert not holds("child.age_months == 0", {"child.age_months": None})
    assert not holds("child.age_months", {"child.age_months": None})


def test_names_lists_every_variable_read() -> None:
    condition = parse_condition("a == 1 and b.c != x or d")

    assert condition.names == {"a", "b.c", "d"}
    assert condition.source == "a == 1 and b.c != x or d"


@pytest.mark.parametrize(
    "source",
    [
        "",
        "x === 3",
        "x =",
        "x ==",
        "== yes",
        "x == yes and",
        "x == yes or",
        "and x == yes",
        "x == yes AND y == no",
        "x == two words",
        "Wants == yes",  # names are lower case
        "x == 'yes'",
        "x ~= 3",
    ],
)
def test_conditions_that_cannot_be_read(source: str) -> None:
    with pytest.raises(ConditionError, match="cannot read condition"):
        parse_condition(source)


def test_an_order_comparison_needs_a_number() -> None:
    with pytest.raises(ConditionError, match=">= needs a number"):
        parse_condition("consent_share >= yes")
