"""Helpers for conversation stories: run `hjulet chat` as a real subprocess, read the database."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from storage.crypto import parse_keyring

HJULET = str(Path(sys.executable).with_name("hjulet"))


@dataclass
class Chat:
    """Runs `hjulet chat` against one database with its own data folder."""

    database_url: str
    data_dir: Path
    env_extra: dict[str, str]

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HJULET_")}
        env.update(
            HJULET_DATABASE_URL=self.database_url,
            HJULET_DATA_DIR=str(self.data_dir),
            PYTHONIOENCODING="utf-8",
            **self.env_extra,
        )
        return env

    def run(self, lines: Sequence[str], *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [HJULET, "chat", *args],
            input="".join(f"{line}\n" for line in lines),
            capture_output=True,
            text=True,
            encoding="utf-8",
            env=self.env(),
            timeout=timeout,
            check=False,
        )

    def start(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [HJULET, "chat", *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            env=self.env(),
        )

    async def rows(self, sql: str) -> list[tuple[object, ...]]:
        """Rows as stored, encrypted values decrypted with the chat's keyring (they are stored encrypted)."""
        keyring = self.data_dir / "encryption.keys"
        cipher = parse_keyring(keyring.read_text(), str(keyring)) if keyring.exists() else None
        engine = create_async_engine(self.database_url, poolclass=NullPool)
        try:
            async with engine.connect() as connection:
                rows = (await connection.execute(text(sql))).all()
        finally:
            await engine.dispose()
        return [tuple(cipher.reveal(value) if cipher else value for value in row) for row in rows]


@pytest.fixture
def chat(database_url: str, tmp_path: Path) -> Chat:
    return Chat(database_url, tmp_path / "data", {})


@pytest.fixture
def broken_flows(tmp_path: Path) -> Path:
    """A copy of the real flow files, to break on purpose."""
    target = tmp_path / "flows"
    shutil.copytree(
        Path(__file__).resolve().parents[2] / "flows", target, ignore=shutil.ignore_patterns("*.py")
    )
    return target
