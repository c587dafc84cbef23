"""Directory files: read a YAML or CSV file into ``DirectoryData`` (validating everything), and write one.

Every problem names the file and the line of the offending record or field, and all of them are
reported at once (at most ``MAX_PROBLEMS``):

    directory.yaml:42: unit 'solrosen': unknown kind 'forskola' (choose mvc, bvc, ...)

YAML holds four lists of mappings (``municipalities``, ``units``, ``routing``, ``staff``); CSV holds one
record per row, its ``type`` column saying which (``municipality``, ``unit``, ``rule``, ``staff``) and
the other columns the union of the fields (an empty cell is a field not given). Values are read as
text, so ``phone: 0470 12`` and ``language: no`` mean what they say.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import yaml

from backend.directory_check import FIELDS, Record, validate
from storage.directory import DirectoryData

MAX_PROBLEMS: Final = 20
SECTIONS: Final = {"municipalities": "municipality", "units": "unit", "routing": "rule", "staff": "staff"}
FORMATS: Final = {".yaml": "yaml", ".yml": "yaml", ".csv": "csv"}
COLUMNS: Final = (
    "type", "code", "email", "name", "kind", "role", "municipality", "partner", "unit", "title",
    "min_age_months", "max_age_months", "phone", "phone_social", "phone_socialjour", "office_hours",
    "language",
)  # fmt: skip
_NULLS: Final = ("", "~", "null", "Null", "NULL")
_HEADER: Final = "# The Hjulet directory. Load it with: hjulet directory import FILE\n"


class DirectoryFileError(Exception):
    """A directory file that cannot be used; str() is one `file:line: message` line per problem."""

    def __init__(self, path: Path | str, problems: list[tuple[int | None, str]], more: int = 0) -> None:
        self.path, self.problems, self.more = str(path), problems, max(more, 0)
        lines = [
            f"{self.path}:{line}: {message}" if line else f"{self.path}: {message}"
            for line, message in problems
        ]
        if more > 0:
            lines.append(f"{self.path}: ... and {more} more problem{'s' if more > 1 else ''}")
        super().__init__("\n".join(lines))


@dataclass
class Problems:
    """Problems found so far; raised sorted by line, the first ``MAX_PROBLEMS`` of them in full."""

    items: list[tuple[int | None, str]] = field(default_factory=list)

    def add(self, line: int | None, message: str) -> None:
        self.items.append((line, message))

    def raise_any(self, path: Path | str) -> None:
        if self.items:
            ordered = sorted(self.items, key=lambda item: item[0] or 0)
            raise DirectoryFileError(path, ordered[:MAX_PROBLEMS], len(ordered) - MAX_PROBLEMS)


def file_format(path: Path | str) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise DirectoryFileError(path, [(None, f"unknown file type '{suffix}' (use .yaml, .yml or .csv)")])
    return FORMATS[suffix]


def read_directory(path: Path | str) -> DirectoryData:
    """The directory in the file at `path`, validated; raises ``DirectoryFileError``."""
    fmt = file_format(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise DirectoryFileError(path, [(None, f"cannot read the file ({exc.strerror})")]) from exc
    return parse_directory(raw, fmt, name=str(path))


def parse_directory(raw: bytes, fmt: str, *, name: str = "directory") -> DirectoryData:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        byte = raw[exc.start : exc.start + 1].hex()
        raise DirectoryFileError(
            name, [(line, f"not UTF-8 text (byte 0x{byte}): save the file as UTF-8")]
        ) from exc
    if not text.strip():
        raise DirectoryFileError(name, [(1, "the file is empty")])
    problems = Problems()
    records = _yaml_records(text, problems) if fmt == "yaml" else _csv_records(text, problems)
    if not records:
        problems.raise_any(name)  # nothing to check further
    data = validate(records, problems)
    problems.raise_any(name)
    return data


def _yaml_records(text: str, problems: Problems) -> list[Record]:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problems.add(mark.line + 1 if mark else None, f"not valid YAML: {getattr(exc, 'problem', exc)}")
        return []
    if not isinstance(root, yaml.MappingNode):
        problems.add(
            _line(root) if root else 1, "expected the sections " + ", ".join(f"{s}:" for s in SECTIONS)
        )
        return []
    records: list[Record] = []
    seen: dict[str, int] = {}
    for key_node, value_node in root.value:
        key = _text(key_node)
        if key in seen:
            problems.add(_line(key_node), f"section '{key}' is written twice (first at line {seen[key]})")
            continue
        seen[key] = _line(key_node)
        if key not in SECTIONS:
            problems.add(_line(key_node), f"unknown section '{key}' (choose {', '.join(SECTIONS)})")
        elif isinstance(value_node, yaml.ScalarNode) and not _text(value_node):
            continue  # an empty section
        elif not isinstance(value_node, yaml.SequenceNode):
            problems.add(_line(value_node), f"'{key}' must be a list of records, each starting with '- '")
        else:
            records += [r for item in value_node.value if (r := _yaml_record(SECTIONS[key], item, problems))]
    return records


def _yaml_record(kind: str, node: yaml.Node, problems: Problems) -> Record | None:
    if not isinstance(node, yaml.MappingNode):
        problems.add(_line(node), f"a {kind} must be written as 'field: value' lines")
        return None
    record, twice, nested = Record(kind, _line(node)), [], []
    for key_node, value_node in node.value:
        name = _text(key_node)
        if name in record.lines:
            twice.append((_line(key_node), name))
            continue
        record.lines[name] = _line(value_node) if _text(value_node) else _line(key_node)
        if not isinstance(value_node, yaml.ScalarNode):
            nested.append((_line(key_node), name))
        elif value := _text(value_node):
            record.values[name] = value
    for line, name in twice:
        problems.add(
            line, f"{record.label}: key '{name}' is written twice (first at line {record.lines[name]})"
        )
    for line, name in nested:
        problems.add(line, f"{record.label}: '{name}' must be a single value, not a list or mapping")
    return record


def _text(node: yaml.Node) -> str:
    if not isinstance(node, yaml.ScalarNode):
        return ""
    value = str(node.value)
    return "" if node.style is None and value in _NULLS else value.strip()


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


def _csv_records(text: str, problems: Problems) -> list[Record]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    records: list[Record] = []
    columns: list[str] | None = None
    start = 1
    try:
        for row in reader:
            line, start = start, reader.line_num + 1
            cells = [cell.strip() for cell in row]
            if not any(cells):
                continue
            if columns is None:
                columns = _header(cells, line, problems)
                continue
            if len(cells) > len(columns):
                problems.add(line, f"{len(cells)} cells, but the first row names {len(columns)} columns")
                continue
            values = {name: cell for name, cell in zip(columns, cells, strict=False) if cell}
            kind = values.pop("type", "")
            if kind not in FIELDS:
                problems.add(line, f"unknown type '{kind}' (choose {', '.join(FIELDS)})")
                continue
            records.append(Record(kind, line, values, dict.fromkeys(values, line)))
    except csv.Error as exc:
        problems.add(start, f"not valid CSV: {exc} (is a quote not closed?)")
    return records


def _header(cells: list[str], line: int, problems: Problems) -> list[str]:
    if "type" not in cells:
        problems.add(line, f"the first row must name the columns, 'type' among them ({', '.join(COLUMNS)})")
    for number, name in enumerate(cells):
        if name in cells[:number]:
            problems.add(line, f"column '{name}' is written twice")
        elif name not in COLUMNS:
            problems.add(line, f"unknown column '{name or '(empty)'}' (choose {', '.join(COLUMNS)})")
    return cells


# ---- writing ------------------------------------------------------------------------------


def _records(data: DirectoryData) -> list[tuple[str, dict[str, object]]]:
    sections = zip(FIELDS, (data.municipalities, data.units, data.rules, data.staff), strict=True)
    return [
        (kind, {name: item[name] for name in FIELDS[kind] if item.get(name) not in (None, "")})
        for kind, items in sections
        for item in items
    ]


def format_directory(data: DirectoryData, fmt: str) -> str:
    """The directory as the text of a YAML or CSV file that ``parse_directory`` reads back unchanged."""
    records = _records(data)
    if fmt == "yaml":
        document = {
            section: [values for kind, values in records if kind == SECTIONS[section]] for section in SECTIONS
        }
        return _HEADER + yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=110)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for kind, values in records:
        writer.writerow({"type": kind, **values})
    return out.getvalue()
