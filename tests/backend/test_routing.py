"""Routing follows Kronoberg's chain, and falls back to the coordinator queue when nobody matches."""

from __future__ import annotations

from backend.routing import Route, RuleInfo, UnitInfo, pick_named_person, responsible_kind, route

VAXJO, ALVESTA = 1, 2
BVC = UnitInfo(1, "bvc_centrum", "bvc", VAXJO)
SOLROSEN = UnitInfo(2, "solrosen", "preschool", VAXJO, partner_id=1)
LONELY_PRESCHOOL = UnitInfo(3, "lonely", "preschool", VAXJO)
SCHOOL = UnitInfo(4, "skolan", "school", VAXJO)
COORDINATOR = UnitInfo(5, "samordning", "coordinator", VAXJO)
BVC_2 = UnitInfo(6, "bvc_norr", "bvc", VAXJO)
ALVESTA_BVC = UnitInfo(7, "alvesta_bvc", "bvc", ALVESTA)
RULES = [
    RuleInfo(VAXJO, 0, 71, "bvc"),
    RuleInfo(VAXJO, 72, 215, "school"),
    RuleInfo(ALVESTA, 0, 71, "bvc"),
]


def test_the_age_decides_the_kind_of_unit() -> None:
    assert responsible_kind(0, RULES) == "bvc"
    assert responsible_kind(71, RULES) == "bvc"
    assert responsible_kind(72, RULES) == "school"
    assert responsible_kind(400, RULES) is None
    assert responsible_kind(None, RULES) is None


def test_the_childs_own_unit_when_it_is_of_the_responsible_kind() -> None:
    units = [BVC, SOLROSEN, COORDINATOR]
    assert route(age_months=30, child_unit=BVC, municipality_id=None, units=units, rules=RULES) == Route(
        1, "own_unit"
    )


def test_a_preschool_child_goes_to_the_preschools_bvc() -> None:
    units = [BVC, BVC_2, SOLROSEN, COORDINATOR]
    got = route(age_months=40, child_unit=SOLROSEN, municipality_id=None, units=units, rules=RULES)
    assert got == Route(1, "partner")


def test_the_only_unit_of_the_kind_in_the_municipality() -> None:
    units = [BVC, LONELY_PRESCHOOL, COORDINATOR, ALVESTA_BVC]
    got = route(age_months=40, child_unit=LONELY_PRESCHOOL, municipality_id=None, units=units, rules=RULES)
    assert got == Route(1, "only_unit_of_kind")


def test_nobody_matches_the_coordinator_queue_takes_it() -> None:
    units = [BVC, BVC_2, LONELY_PRESCHOOL, COORDINATOR]  # two BVCs, no partner: no guessing
    got = route(age_months=40, child_unit=LONELY_PRESCHOOL, municipality_id=None, units=units, rules=RULES)
    assert got == Route(5, "coordinator")
    no_unit = route(age_months=40, child_unit=None, municipality_id=VAXJO, units=units, rules=RULES)
    assert no_unit == Route(5, "coordinator")


def test_a_school_child_goes_to_the_school_not_the_bvc() -> None:
    units = [BVC, SCHOOL, COORDINATOR]
    got = route(age_months=8 * 12, child_unit=BVC, municipality_id=None, units=units, rules=RULES)
    assert got == Route(4, "only_unit_of_kind")


def test_an_inactive_unit_is_never_chosen_and_no_directory_routes_nowhere() -> None:
    closed = UnitInfo(1, "bvc_centrum", "bvc", VAXJO, active=False)
    got = route(
        age_months=30, child_unit=closed, municipality_id=None, units=[closed, COORDINATOR], rules=RULES
    )
    assert got == Route(5, "coordinator")
    assert route(age_months=30, child_unit=None, municipality_id=None, units=[], rules=[]) == Route(
        None, "nowhere"
    )


def test_the_least_loaded_named_person_gets_it() -> None:
    assert pick_named_person([10, 11, 12], {10: 4, 11: 1, 12: 1}) == 11
    assert pick_named_person([10], {}) == 10
    assert pick_named_person([], {}) is None
