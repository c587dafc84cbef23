"""Routing: which unit, and which named person there, a concern about a child goes to.

Kronoberg's chain by age: the midwife (MVC) before birth, the child health nurse (BVC) until
förskoleklass, the head teacher of the school until 18, the municipality's activity officer (KAA)
for young people outside upper secondary school. A municipality's routing rules say which kind of
unit is responsible at which age; the child's own unit (the one that invited the family) is used
when it is of that kind, else its partner of that kind (a preschool's BVC), else the only unit of
that kind in the municipality, else the municipality's coordinator queue. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class UnitInfo:
    id: int
    code: str
    kind: str
    municipality_id: int
    partner_id: int | None = None
    active: bool = True


@dataclass(frozen=True)
class RuleInfo:
    municipality_id: int
    min_age_months: int
    max_age_months: int
    kind: str


@dataclass(frozen=True)
class Route:
    unit_id: int | None
    why: str  # own_unit | partner | only_unit_of_kind | coordinator | nowhere


def responsible_kind(age_months: int | None, rules: Sequence[RuleInfo]) -> str | None:
    if age_months is None:
        return None
    for rule in rules:
        if rule.min_age_months <= age_months <= rule.max_age_months:
            return rule.kind
    return None


def route(
    *,
    age_months: int | None,
    child_unit: UnitInfo | None,
    municipality_id: int | None,
    units: Sequence[UnitInfo],
    rules: Sequence[RuleInfo],
) -> Route:
    by_id = {unit.id: unit for unit in units if unit.active}
    municipality = child_unit.municipality_id if child_unit else municipality_id
    kind = responsible_kind(age_months, [r for r in rules if r.municipality_id == municipality])
    if child_unit is not None and child_unit.active and kind in (None, child_unit.kind):
        return Route(child_unit.id, "own_unit")
    if child_unit is not None and child_unit.partner_id in by_id:
        partner = by_id[child_unit.partner_id]
        if partner.kind == kind:
            return Route(partner.id, "partner")
    local = [unit for unit in by_id.values() if unit.municipality_id == municipality]
    of_kind = [unit for unit in local if unit.kind == kind]
    if len(of_kind) == 1:
        return Route(of_kind[0].id, "only_unit_of_kind")
    coordinators = [unit for unit in local if unit.kind == "coordinator"]
    if coordinators:
        return Route(min(coordinators, key=lambda u: u.id).id, "coordinator")
    anywhere = sorted((u for u in by_id.values() if u.kind == "coordinator"), key=lambda u: u.id)
    return Route(anywhere[0].id, "coordinator") if anywhere else Route(None, "nowhere")


def pick_named_person(candidates: Sequence[int], open_loads: Mapping[int, int]) -> int | None:
    """The named person with the fewest open concerns (the lowest id on a tie); None if nobody."""
    if not candidates:
        return None
    return min(candidates, key=lambda staff_id: (open_loads.get(staff_id, 0), staff_id))
