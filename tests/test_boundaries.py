"""The domain (flows/, nlu/) imports no channel, database or web framework, and none of our outer layers."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOMAIN = ("flows", "nlu")
FORBIDDEN = {
    "aiogram",
    "sqlalchemy",
    "fastapi",
    "starlette",
    "aiohttp",
    "asyncpg",
    "aiosqlite",
    "alembic",
    "bot",
    "storage",
    "backend",
}
DYNAMIC_IMPORTERS = {"import_module", "__import__"}


def imported_modules(path: Path) -> Iterator[tuple[int, str]]:
    """(line, module) for every absolute import in a file, including importlib calls with a literal name."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            first = node.args[0] if node.args else None
            if name in DYNAMIC_IMPORTERS and isinstance(first, ast.Constant) and isinstance(first.value, str):
                yield node.lineno, first.value


def violations(files: list[Path]) -> list[str]:
    """`path:line: imports module` for each forbidden import."""
    return [
        f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}:{line}: imports {module}"
        for path in files
        for line, module in imported_modules(path)
        if module.split(".")[0] in FORBIDDEN
    ]


def domain_files() -> list[Path]:
    return sorted(path for package in DOMAIN for path in (ROOT / package).rglob("*.py"))


def test_the_domain_has_files_to_check() -> None:
    names = {path.relative_to(ROOT).as_posix() for path in domain_files()}

    assert {"flows/engine.py", "flows/loader.py", "nlu/matching.py", "nlu/age.py"} <= names


def test_the_domain_imports_no_framework_database_or_outer_layer() -> None:
    assert violations(domain_files()) == []


@pytest.mark.parametrize(
    "source, where",
    [
        ("import sqlalchemy\n", "1: imports sqlalchemy"),
        ("from sqlalchemy.ext.asyncio import AsyncSession\n", "1: imports sqlalchemy.ext.asyncio"),
        ("import os, aiogram.types as t\n", "1: imports aiogram.types"),
        ("def f():\n    from storage import Store\n", "2: imports storage"),
        ("try:\n    import fastapi\nexcept ImportError:\n    pass\n", "2: imports fastapi"),
        ("import importlib\n\nimportlib.import_module('bot.service')\n", "3: imports bot.service"),
        ("__import__('asyncpg')\n", "1: imports asyncpg"),
    ],
)
def test_the_check_finds_a_forbidden_import(tmp_path: Path, source: str, where: str) -> None:
    path = tmp_path / "sneaky.py"
    path.write_text(source, encoding="utf-8")

    assert violations([path]) == [f"{path}:{where}"]


@pytest.mark.parametrize(
    "source",
    [
        "import yaml\nfrom pydantic import BaseModel\n",
        "from . import storage\n",  # a relative import stays inside the package
        "from .bot import x\n",
        "import botanist\n",  # a name that only starts like a forbidden one
        "import flows.engine\n",
    ],
)
def test_the_check_lets_allowed_imports_through(tmp_path: Path, source: str) -> None:
    path = tmp_path / "fine.py"
    path.write_text(source, encoding="utf-8")

    assert violations([path]) == []
