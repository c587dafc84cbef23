"""Babel extractor for flow files, so `pybabel extract` and `hjulet locales` see every message.

Registered as the `hjulet_flow` extraction method (pyproject entry point). With the
option `domain = staff` it yields the staff-facing texts (concern rule labels);
otherwise the family-facing ones.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from typing import IO, Any

import yaml

FAMILY_STEP_FIELDS = ("text", "explain", "comment")
Extracted = tuple[int, str | None, str, list[str]]


def _walk(node: yaml.Node, domain: str, where: str = "") -> Iterator[Extracted]:
    if isinstance(node, yaml.MappingNode):
        for key_node, value in node.value:
            key = str(key_node.value)
            path = f"{where}.{key}" if where else key
            if isinstance(value, yaml.ScalarNode) and _wanted(path, key, domain):
                text = str(value.value)
                yield value.start_mark.line + 1, None, text, [f"flow: {path}"]
            else:
                yield from _walk(value, domain, path)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            yield from _walk(item, domain, where)


def _wanted(path: str, key: str, domain: str) -> bool:
    if domain == "staff":
        return path == "concerns.label"
    if path == "comment_prompt":
        return True
    if path.startswith("steps."):
        return key in FAMILY_STEP_FIELDS or path == "steps.choices.label"
    return False


def extract_flow(
    fileobj: IO[bytes],
    keywords: Collection[str],
    comment_tags: Collection[str],
    options: Mapping[str, Any],
) -> Iterator[Extracted]:
    """Yield (line, funcname, message, comments) for each message id in a flow file."""
    node = yaml.compose(fileobj.read().decode("utf-8"), Loader=yaml.SafeLoader)
    if node is not None:
        yield from _walk(node, str(options.get("domain", "family")))
