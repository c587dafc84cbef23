"""Load and validate flow files; every error names its file and line.

flows/mapping.yaml:42: unknown step 'safe_2'
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from flows.conditions import ConditionError, parse_condition
from flows.glossary import TERMS, named_in
from flows.schema import BUILTIN_VARS, END, Flow, Step

FLOWS_DIR = Path(__file__).parent
Path_ = tuple[str | int, ...]
RESERVED_CODES = ("explain", "skip", "more_languages")


class FlowError(Exception):
    """A flow file that cannot be used; str() is `file:line: message`."""

    def __init__(self, path: Path | str, line: int | None, message: str) -> None:
        self.path, self.line, self.message = str(path), line, message
        where = f"{_shown(self.path)}:{line}" if line else _shown(self.path)
        super().__init__(f"{where}: {message}")


def _shown(path: str) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:  # pragma: no cover - another drive on Windows
        return path


def _to_python(node: yaml.Node, path: Path_, lines: dict[Path_, int]) -> Any:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = str(yaml.safe_load(yaml.serialize(key_node)))
            if key in result:
                raise _DuplicateKey(key, key_node.start_mark.line + 1)
            result[key] = _to_python(value_node, (*path, key), lines)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_to_python(item, (*path, i), lines) for i, item in enumerate(node.value)]
    return yaml.safe_load(yaml.serialize(node))


class _DuplicateKey(Exception):
    def __init__(self, key: str, line: int) -> None:
        super().__init__(key)
        self.key, self.line = key, line


def _line(lines: dict[Path_, int], path: Iterable[str | int]) -> int | None:
    parts = tuple(path)
    while parts:
        if parts in lines:
            return lines[parts]
        parts = parts[:-1]
    return lines.get(())


QUESTION_KINDS = ("choice", "scale", "text", "age")


def step_terms(step: Step) -> tuple[str, ...]:
    """The glossary terms a question uses: declared, its wellbeing indicator, and those its text names."""
    if step.kind not in QUESTION_KINDS:
        return tuple(step.terms)
    found = [*step.terms]
    if step.indicator is not None:
        found.append(step.indicator.value)
    found.extend(named_in(" ".join(t for t in (step.text, step.explain) if t)))
    return tuple(dict.fromkeys(found))


def load_flow(path: Path | str) -> Flow:
    return _load(Path(path))[0]


def _load(path: Path) -> tuple[Flow, dict[Path_, int]]:
    """The flow in `path`, and the line of every node in it (for errors found later)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FlowError(path, None, f"cannot read the file ({exc})") from exc
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise FlowError(path, line, f"not valid YAML: {getattr(exc, 'problem', exc)}") from exc
    if node is None:
        raise FlowError(path, 1, "the file is empty")
    lines: dict[Path_, int] = {}
    try:
        data = _to_python(node, (), lines)
    except _DuplicateKey as exc:
        raise FlowError(path, exc.line, f"key '{exc.key}' is written twice") from exc
    try:
        flow = Flow.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = first["loc"]
        field = ".".join(str(p) for p in loc)
        raise FlowError(path, _line(lines, loc), f"{field}: {first['msg']}") from exc
    _check(flow, path, lines)
    return flow, lines


def _check(flow: Flow, path: Path, lines: dict[Path_, int]) -> None:
    ids: dict[str, int] = {}
    for i, step in enumerate(flow.steps):
        if step.id in ids:
            raise FlowError(path, _line(lines, ("steps", i)), f"step id '{step.id}' is used twice")
        ids[step.id] = i
    known_vars = set(BUILTIN_VARS)
    for step in flow.steps:
        if step.save_as:
            known_vars.add(step.save_as)
        for choice in step.choices:
            known_vars.update(choice.set)

    def target(name: str | None, where: Path_) -> None:
        if name is not None and name != END and name not in ids:
            raise FlowError(path, _line(lines, where), f"unknown step '{name}'")

    def condition(source: str | None, where: Path_) -> None:
        if source is None:
            return
        try:
            names = parse_condition(source).names
        except ConditionError as exc:
            raise FlowError(path, _line(lines, where), str(exc)) from exc
        unknown = sorted(names - known_vars)
        if unknown:
            raise FlowError(path, _line(lines, where), f"unknown variable '{unknown[0]}' in condition")

    target(flow.start, ("start",))
    for i, step in enumerate(flow.steps):
        at: Path_ = ("steps", i)
        for j, term in enumerate(step.terms):
            if term not in TERMS:
                raise FlowError(path, _line(lines, (*at, "terms", j)), f"unknown glossary term '{term}'")
        flow.steps[i] = step = step.model_copy(update={"terms": list(step_terms(step))})
        target(step.next, (*at, "next"))
        condition(step.when, (*at, "when"))
        _check_kind(step, path, lines, at)
        codes: set[str] = set()
        for j, choice in enumerate(step.choices):
            if choice.code in codes or choice.code in RESERVED_CODES:
                raise FlowError(
                    path, _line(lines, (*at, "choices", j)), f"choice code '{choice.code}' is taken"
                )
            codes.add(choice.code)
            target(choice.next, (*at, "choices", j, "next"))
        for j, branch in enumerate(step.branches):
            target(branch.next, (*at, "branches", j, "next"))
            condition(branch.when, (*at, "branches", j, "when"))
    for i, rule in enumerate(flow.concerns):
        condition(rule.when, ("concerns", i, "when"))
        if rule.count is None and rule.when is None:
            raise FlowError(path, _line(lines, ("concerns", i)), "a concern rule needs 'count' or 'when'")


def _check_kind(step: Step, path: Path, lines: dict[Path_, int], at: Path_) -> None:
    def need(ok: bool, message: str) -> None:
        if not ok:
            raise FlowError(path, _line(lines, at), f"step '{step.id}' ({step.kind}): {message}")

    if step.kind in ("choice", "scale", "text", "age", "language", "unit", "code"):
        need(step.text is not None, "needs 'text'")
    if step.kind == "say":
        need(step.text is not None or step.indicator is not None, "needs 'text' or 'indicator'")
    if step.kind == "choice":
        need(len(step.choices) >= 1, "needs 'choices'")
    else:
        need(not step.choices, "only choice steps have 'choices'")
    if step.kind == "scale":
        need(step.indicator is not None, "needs 'indicator'")
    if step.kind == "branch":
        need(len(step.branches) >= 1, "needs 'branches'")
    if step.kind == "action":
        need(bool(step.do) or step.call is not None, "needs 'do' or 'call'")
    if step.kind == "text":
        need(step.save_as is not None, "needs 'save_as'")


def load_flows(directory: Path | str = FLOWS_DIR) -> dict[str, Flow]:
    """Load every `*.yaml` flow in `directory` and check calls between flows."""
    directory = Path(directory)
    flows: dict[str, tuple[Flow, Path, dict[Path_, int]]] = {}
    for path in sorted(directory.glob("*.yaml")):
        flow, lines = _load(path)
        if flow.id in flows:
            other = flows[flow.id][1].name
            raise FlowError(path, _line(lines, ("id",)), f"flow id '{flow.id}' is also used by {other}")
        flows[flow.id] = (flow, path, lines)
    for flow, path, lines in flows.values():
        for i, step in enumerate(flow.steps):
            for called in (step.call, *(c.call for c in step.choices)):
                if called is not None and called not in flows:
                    raise FlowError(path, _line(lines, ("steps", i)), f"unknown flow '{called}'")
    return {name: flow for name, (flow, _, _) in flows.items()}
