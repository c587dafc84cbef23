"""Tiny, safe conditions for flow files: `child.age_years >= 3 and wants_contact == yes`.

Grammar: clause (('and' | 'or') clause)*, clause = name op value | name; 'and' binds tighter.
Values are integers or bare words. An unset variable differs from every value
(`x != yes` holds, `x == yes` and `x >= 3` do not); a bare name holds when the
variable is set and not empty.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

_CLAUSE = re.compile(r"^\s*([a-z][a-z0-9_.]*)\s*(?:(==|!=|>=|<=|>|<)\s*([A-Za-z0-9_-]+))?\s*$")

Value = str | int | None


class ConditionError(ValueError):
    """A condition that cannot be parsed."""


@dataclass(frozen=True)
class Clause:
    name: str
    op: str | None
    value: str | int | None

    def holds(self, env: Mapping[str, Value]) -> bool:
        actual = env.get(self.name)
        if actual is None:
            return self.op == "!="
        if self.op is None:
            return actual != ""
        expected = self.value
        if self.op in ("==", "!="):
            same = str(actual) == str(expected)
            return same if self.op == "==" else not same
        if not isinstance(actual, int) or not isinstance(expected, int):
            return False
        return {
            ">=": actual >= expected,
            "<=": actual <= expected,
            ">": actual > expected,
            "<": actual < expected,
        }[self.op]


@dataclass(frozen=True)
class Condition:
    """Disjunction of conjunctions of clauses."""

    source: str
    alternatives: tuple[tuple[Clause, ...], ...]

    def holds(self, env: Mapping[str, Value]) -> bool:
        return any(all(c.holds(env) for c in conj) for conj in self.alternatives)

    @property
    def names(self) -> set[str]:
        return {c.name for conj in self.alternatives for c in conj}


def parse_condition(source: str) -> Condition:
    alternatives: list[tuple[Clause, ...]] = []
    for alternative in re.split(r"\s+or\s+", source.strip()):
        clauses: list[Clause] = []
        for part in re.split(r"\s+and\s+", alternative):
            match = _CLAUSE.match(part)
            if not match:
                raise ConditionError(f"cannot read condition {part.strip()!r} (write: name == value)")
            name, op, raw = match.groups()
            if op is None:
                clauses.append(Clause(name, None, None))
                continue
            value: str | int = int(raw) if raw.lstrip("-").isdigit() else raw
            if op not in ("==", "!=") and not isinstance(value, int):
                raise ConditionError(f"{op} needs a number in {part.strip()!r}")
            clauses.append(Clause(name, op, value))
        alternatives.append(tuple(clauses))
    return Condition(source, tuple(alternatives))
