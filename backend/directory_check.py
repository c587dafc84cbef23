"""The rules a directory follows, checked on the records read from a file (YAML or CSV alike).

Codes are 1-40 letters, digits or _ and unique; every reference exists (a unit's municipality and
partner, a rule's municipality, a staff member's unit); kinds, roles and languages come from fixed
lists; named persons and unit leads belong to a unit; the age ranges of one municipality's routing
rules do not overlap; e-mail addresses are unique and stored lower-case; free text is one short line.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from storage.desk import ROLES, UNIT_KINDS
from storage.directory import DirectoryData

FIELDS: Final = {
    "municipality": ("code", "name", "phone_social", "phone_socialjour"),
    "unit": ("code", "name", "kind", "municipality", "partner", "phone", "email", "office_hours"),
    "rule": ("municipality", "min_age_months", "max_age_months", "kind"),
    "staff": ("email", "name", "role", "unit", "title", "phone", "language"),
}
REQUIRED: Final = {
    "municipality": ("code", "name"),
    "unit": ("code", "name", "kind", "municipality"),
    "rule": ("municipality", "min_age_months", "max_age_months", "kind"),
    "staff": ("email", "name", "role"),
}
MAX_LENGTH: Final = {"name": 100, "title": 120, "email": 200, "office_hours": 200}  # any other: 40
STAFF_LANGUAGES: Final = ("sv", "en")
NEEDS_UNIT: Final = ("named_person", "unit_lead")
MAX_AGE_MONTHS: Final = 600
_CODE: Final = re.compile(r"[A-Za-z0-9_]{1,40}")
_EMAIL: Final = re.compile(r"[^@\s<>,;:\"()\[\]]+@[^@\s<>,;:\"()\[\]]+\.[^@\s<>,;:\"()\[\].]{2,}")


class Reporter(Protocol):
    def add(self, line: int | None, message: str) -> None: ...


@dataclass
class Record:
    """One municipality, unit, rule or staff member as written: text values and the line of each."""

    kind: str
    line: int
    values: dict[str, str] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)

    def at(self, name: str) -> int:
        return self.lines.get(name, self.line)

    @property
    def label(self) -> str:
        if self.kind == "rule":
            where = self.values.get("municipality")
            return f"rule for '{where}'" if where else "rule"
        key = self.values.get("email" if self.kind == "staff" else "code")
        return f"{self.kind} '{key.lower() if self.kind == 'staff' else key}'" if key else self.kind


def is_code(value: str) -> bool:
    return _CODE.fullmatch(value) is not None


def is_email(value: str) -> bool:
    return len(value) <= MAX_LENGTH["email"] and _EMAIL.fullmatch(value) is not None


def text_problem(name: str, value: str) -> str | None:
    """Why `value` cannot be the free-text field `name`, or None."""
    if any(unicodedata.category(char) in ("Cc", "Zl", "Zp") for char in value):
        return f"{name} must be one line of text"
    limit = MAX_LENGTH.get(name, 40)
    if len(value) > limit:
        return f"{name} is too long ({len(value)} characters, at most {limit})"
    return None


def validate(records: list[Record], problems: Reporter) -> DirectoryData:
    """The directory the records describe; every broken rule is reported to `problems`."""
    usable = [record for record in records if _fields(record, problems)]
    of = {kind: [r for r in usable if r.kind == kind] for kind in FIELDS}
    municipalities = _unique(of["municipality"], "code", problems)
    units = _unique(of["unit"], "code", problems)
    _unique(of["staff"], "email", problems)
    if not any(record.kind == "municipality" for record in records):
        problems.add(1, "no municipalities: a directory needs at least one")
    for unit in of["unit"]:
        _choice(unit, "kind", UNIT_KINDS, problems)
        _reference(unit, "municipality", municipalities, problems)
        partner = units.get(unit.values.get("partner", ""))
        if "partner" not in unit.values:
            pass
        elif partner is None:
            problems.add(unit.at("partner"), f"{unit.label}: unknown partner unit '{unit.values['partner']}'")
        elif partner is unit:
            problems.add(unit.at("partner"), f"{unit.label}: a unit cannot be its own partner")
        elif partner.values["municipality"] != unit.values["municipality"]:
            problems.add(
                unit.at("partner"),
                f"{unit.label}: partner '{partner.values['code']}' is in another municipality",
            )
    for rule in of["rule"]:
        _choice(rule, "kind", UNIT_KINDS, problems)
        _reference(rule, "municipality", municipalities, problems)
        low, high = _months(rule, "min_age_months", problems), _months(rule, "max_age_months", problems)
        if low is not None and high is not None and low > high:
            problems.add(
                rule.at("max_age_months"),
                f"{rule.label}: max_age_months {high} is below min_age_months {low}",
            )
    _overlaps(of["rule"], problems)
    for person in of["staff"]:
        _choice(person, "role", ROLES, problems)
        _choice(person, "language", STAFF_LANGUAGES, problems)
        if "unit" in person.values:
            _reference(person, "unit", units, problems)
        elif person.values["role"] in NEEDS_UNIT:
            problems.add(person.line, f"{person.label}: a {person.values['role']} needs a unit")
    return DirectoryData(
        municipalities=[_plain(record) for record in of["municipality"]],
        units=[_plain(record) for record in of["unit"]],
        rules=[_plain(record) for record in of["rule"]],
        staff=[_plain(record) for record in of["staff"]],
    )


def _fields(record: Record, problems: Reporter) -> bool:
    """Check the fields one by one; False when a required one is missing (the record is left out)."""
    known = FIELDS[record.kind]
    for name, value in record.values.items():
        if name not in known:
            problems.add(
                record.at(name),
                f"{record.label}: unknown field '{name}' (a {record.kind} has {', '.join(known)})",
            )
        elif (problem := text_problem(name, value)) is not None:
            problems.add(record.at(name), f"{record.label}: {problem}")
        elif name == "code" and not is_code(value):
            problems.add(record.at(name), f"{record.label}: a code is 1-40 letters a-z, digits or _")
        elif name == "email" and not is_email(value):
            problems.add(record.at(name), f"{record.label}: '{value}' is not an e-mail address")
    missing = [name for name in REQUIRED[record.kind] if name not in record.values]
    for name in missing:
        problems.add(record.line, f"{record.label}: '{name}' is missing")
    return not missing


def _unique(records: list[Record], key: str, problems: Reporter) -> dict[str, Record]:
    first: dict[str, Record] = {}
    for record in records:
        value = record.values[key].lower() if key == "email" else record.values[key]
        if value in first:
            what = "e-mail address" if key == "email" else "code"
            problems.add(
                record.at(key), f"{record.label}: the {what} is already used at line {first[value].line}"
            )
        else:
            first[value] = record
    return first


def _choice(record: Record, name: str, choices: tuple[str, ...], problems: Reporter) -> None:
    value = record.values.get(name)
    if value is not None and value not in choices:
        problems.add(
            record.at(name), f"{record.label}: unknown {name} '{value}' (choose {', '.join(choices)})"
        )


def _reference(record: Record, name: str, targets: dict[str, Record], problems: Reporter) -> None:
    value = record.values[name]
    if value not in targets:
        what = "unit" if name == "unit" else name
        problems.add(record.at(name), f"{record.label}: unknown {what} '{value}'")


def _whole(value: str) -> int | None:
    """`value` as a number of months, or None."""
    return int(value) if value.isascii() and value.isdigit() and int(value) <= MAX_AGE_MONTHS else None


def _months(record: Record, name: str, problems: Reporter) -> int | None:
    value = record.values[name]
    if (months := _whole(value)) is None:
        problems.add(
            record.at(name),
            f"{record.label}: {name} must be a whole number from 0 to {MAX_AGE_MONTHS}, not '{value}'",
        )
    return months


def _overlaps(rules: list[Record], problems: Reporter) -> None:
    ranges: dict[str, list[tuple[int, int, Record]]] = {}
    for rule in rules:
        low, high = _whole(rule.values["min_age_months"]), _whole(rule.values["max_age_months"])
        if low is not None and high is not None and low <= high:
            ranges.setdefault(rule.values["municipality"], []).append((low, high, rule))
    for found in ranges.values():
        widest: tuple[int, int, Record] | None = None
        for start, end, rule in sorted(found, key=lambda item: (item[0], item[2].line)):
            if widest is not None and start <= widest[1]:
                other = f"the rule at line {widest[2].line} ({widest[0]} to {widest[1]} months)"
                problems.add(
                    rule.at("min_age_months"), f"{rule.label}: {start} to {end} months overlaps {other}"
                )
            if widest is None or end > widest[1]:
                widest = (start, end, rule)


def _plain(record: Record) -> dict[str, Any]:
    """The record as `Directory.replace` and `Directory.export` have it: every field, in order."""
    item: dict[str, Any] = {name: record.values.get(name, "") for name in FIELDS[record.kind]}
    if record.kind == "rule":
        for name in ("min_age_months", "max_age_months"):
            months = _whole(item[name])
            item[name] = -1 if months is None else months  # -1: reported already, never returned
    if record.kind == "unit":
        item["partner"] = item["partner"] or None
    if record.kind == "staff":
        item["unit"], item["language"] = item["unit"] or None, item["language"] or "sv"
    if item.get("email"):
        item["email"] = item["email"].lower()
    return item
