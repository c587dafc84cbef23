"""Print the part of requirements.lock that Hjulet needs at run time: the image installs only that.

    python deploy/runtime_requirements.py requirements.lock pyproject.toml > runtime.lock
    pip install --require-hashes -r runtime.lock

requirements.lock pins every package with its hashes, the development tools too (pytest, playwright,
mypy, ruff ...), which a production image should not carry. This keeps, unchanged (pin and hashes),
the entries of the packages in pyproject.toml's [project] dependencies and of everything they need,
found through the lock's `# via` notes. Nothing is resolved or downloaded here; if an entry were
missing, pip's --require-hashes mode would refuse to install rather than fetch it unpinned.
Standard library only: it runs before anything is installed.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

NAME = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)")


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def entries(lock: str) -> dict[str, tuple[str, set[str]]]:
    """name -> (the entry's text: pin and hash lines, who needs it: the `# via` names)."""
    found: dict[str, tuple[str, set[str]]] = {}
    current: str | None = None
    in_via = False
    for line in lock.splitlines():
        stripped = line.strip()
        if line and not line[0].isspace() and not line.startswith("#"):
            match = NAME.match(line)
            if not match:
                raise ValueError(f"not a requirement: {line!r}")
            current, in_via = normalize(match.group(1)), False
            found[current] = (line + "\n", set())
        elif current is None:
            continue
        elif stripped.startswith("--hash=") or stripped.startswith("\\"):
            text, via = found[current]
            found[current] = (text + line + "\n", via)
        elif stripped.startswith("# via"):
            rest = stripped.removeprefix("# via").strip()
            in_via = not rest
            _needed_by(found[current][1], rest)
        elif in_via and stripped.startswith("#   "):
            _needed_by(found[current][1], stripped.removeprefix("#").strip())
        else:
            in_via = False
    return found


def _needed_by(via: set[str], text: str) -> None:
    """`aiohttp` or `hjulet (pyproject.toml)`: the name of a package that needs this one."""
    match = NAME.match(text)
    if match:
        via.add(normalize(match.group(1)))


def runtime_names(pyproject: str) -> set[str]:
    dependencies = tomllib.loads(pyproject)["project"]["dependencies"]
    names = set()
    for dependency in dependencies:
        match = NAME.match(dependency)
        if not match:
            raise ValueError(f"not a dependency: {dependency!r}")
        names.add(normalize(match.group(1)))
    return names


def runtime_lock(lock: str, pyproject: str) -> str:
    found = entries(lock)
    needed = runtime_names(pyproject)
    missing = needed - set(found)
    if missing:
        raise ValueError(f"not in the lock file: {', '.join(sorted(missing))}")
    while True:
        more = {name for name, (_text, via) in found.items() if name not in needed and via & needed}
        if not more:
            break
        needed |= more
    header = "# The run-time part of requirements.lock (deploy/runtime_requirements.py)\n"
    return header + "".join(found[name][0] for name in sorted(needed))


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        sys.stderr.write("usage: python deploy/runtime_requirements.py requirements.lock pyproject.toml\n")
        return 2
    lock, pyproject = (Path(arg).read_text(encoding="utf-8") for arg in argv)
    try:
        sys.stdout.write(runtime_lock(lock, pyproject))
    except ValueError as exc:
        sys.stderr.write(f"{exc}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
