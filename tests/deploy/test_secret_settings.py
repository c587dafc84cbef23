"""Secrets come only from the environment or from files (HJULET_<NAME>_FILE, as Docker secrets give
them), never from the command line, and never show in settings' repr or in an error message."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.secret_files import SECRET_SETTINGS
from bot.settings import ConfigError, load_settings

VALUES = {
    "database_url": "postgresql+asyncpg://hjulet:db-pass-canary@db:5432/hjulet",
    "encryption_keys": "k1 c2VjcmV0LWtleS1jYW5hcnktMzItYnl0ZXMtbG9uZyE=",
    "telegram_token": "123456:token-canary-abcdefghijklmnop",
    "telegram_webhook_secret": "hook secret canary with spaces",
    "smtp_password": " smtp pass canary ",  # spaces at either end are part of a password
}
# A parameter that could carry a secret value (a key's id, as in `hjulet keys retire KEY_ID`, is none).
SECRETISH = re.compile(r"token|secret|password|passwd|credential|database|dsn|url|(^|_)keys?$", re.IGNORECASE)


def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in SECRET_SETTINGS:
        monkeypatch.delenv(f"HJULET_{name.upper()}", raising=False)
        monkeypatch.delenv(f"HJULET_{name.upper()}_FILE", raising=False)


def secret_file(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / "run-secrets" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_every_secret_setting_is_read_from_its_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clean_environment(monkeypatch)
    assert set(VALUES) == set(SECRET_SETTINGS)
    for name, value in VALUES.items():
        monkeypatch.setenv(f"HJULET_{name.upper()}_FILE", str(secret_file(tmp_path, name, value + "\n")))

    settings = load_settings()

    assert {name: getattr(settings, name) for name in SECRET_SETTINGS} == VALUES  # the line break gone
    shown = repr(settings) + str(settings)
    assert not [name for name, value in VALUES.items() if value.strip() in shown]


def test_a_secret_given_twice_is_refused_without_showing_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clean_environment(monkeypatch)
    monkeypatch.setenv("HJULET_TELEGRAM_TOKEN", VALUES["telegram_token"])
    monkeypatch.setenv("HJULET_TELEGRAM_TOKEN_FILE", str(secret_file(tmp_path, "t", "other-token-123456")))

    with pytest.raises(ConfigError) as refused:
        load_settings()

    assert str(refused.value) == (
        "HJULET_TELEGRAM_TOKEN_FILE: set HJULET_TELEGRAM_TOKEN or HJULET_TELEGRAM_TOKEN_FILE, not both"
    )


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda d: d / "missing", "there is no file {path}"),
        (lambda d: secret_file(d, "empty", "\n"), "{path} is empty"),
        (lambda d: d, "{path} is a folder, not a file"),
        (lambda d: d / "latin1", "{path} is not UTF-8 text"),
    ],
)
def test_a_secret_file_that_cannot_be_used_stops_start_up_with_one_clear_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make, message: str
) -> None:
    clean_environment(monkeypatch)
    (tmp_path / "latin1").write_bytes("lösenord-ö".encode("latin-1"))
    path = make(tmp_path)
    monkeypatch.setenv("HJULET_SMTP_PASSWORD_FILE", str(path))

    with pytest.raises(ConfigError) as refused:
        load_settings()

    assert str(refused.value) == "HJULET_SMTP_PASSWORD_FILE: " + message.format(path=path)


def test_the_command_line_says_what_is_wrong_in_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-secret"
    result = CliRunner().invoke(
        main,
        ["db", "upgrade"],
        env={"HJULET_DATA_DIR": str(tmp_path), "HJULET_DATABASE_URL_FILE": str(missing)},
    )

    assert result.exit_code == 1
    assert (
        result.output.strip() == f"Error: configuration: HJULET_DATABASE_URL_FILE: there is no file {missing}"
    )


def test_a_database_url_from_a_file_is_the_one_migrated(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'from-file.sqlite3'}"
    path = secret_file(tmp_path, "database_url", url + "\n")
    result = CliRunner().invoke(
        main, ["db", "upgrade"], env={"HJULET_DATA_DIR": str(tmp_path), "HJULET_DATABASE_URL_FILE": str(path)}
    )

    assert result.exit_code == 0, result.output
    assert (tmp_path / "from-file.sqlite3").exists()


def test_webhook_mode_without_a_token_stops_serve_before_it_starts(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        ["serve"],
        env={"HJULET_DATA_DIR": str(tmp_path), "HJULET_TELEGRAM_WEBHOOK_SECRET": "s" * 32},
    )

    assert result.exit_code == 1
    assert "HJULET_TELEGRAM_WEBHOOK_SECRET is set but HJULET_TELEGRAM_TOKEN" in result.output


def test_a_wrong_log_level_is_a_configuration_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["flows", "check"], env={"HJULET_DATA_DIR": str(tmp_path), "HJULET_LOG_LEVEL": "LOUD"}
    )

    assert result.exit_code == 1
    assert result.output.startswith("Error: configuration: HJULET_LOG_LEVEL: unknown log level 'LOUD'")


def options(command: click.Command, path: str = "hjulet") -> list[tuple[str, str]]:
    """(command path, parameter name) for every option and argument that takes a value."""
    found = [
        (path, parameter.name or "")
        for parameter in command.params
        if not (isinstance(parameter, click.Option) and parameter.is_flag)
    ]
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            found += options(sub, f"{path} {name}")
    return found


def test_no_command_takes_a_secret_on_the_command_line() -> None:
    """A secret on the command line is in the shell's history and in every process listing."""
    every = options(main)

    assert len(every) > 10  # the walk finds the commands' parameters
    assert [(path, name) for path, name in every if SECRETISH.search(name)] == []
