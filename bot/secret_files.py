"""Secrets from files: `HJULET_<NAME>_FILE` names a file that holds a secret setting's value.

Docker and Compose secrets (/run/secrets/...), systemd credentials and Kubernetes secret volumes all
hand a secret over as a file, so it never sits in the environment, the process list or `docker
inspect`. The file's text is the value, without its trailing line break. Setting both `HJULET_<NAME>`
and `HJULET_<NAME>_FILE` is an error, as is a file that is missing, unreadable or empty. No secret is
ever taken from the command line: no command has an option for one (tests/deploy check this).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

PREFIX: Final = "HJULET_"
# The settings that are secrets: each may come from HJULET_<NAME> or from the file HJULET_<NAME>_FILE.
SECRET_SETTINGS: Final = (
    "database_url",
    "encryption_keys",
    "telegram_token",
    "telegram_webhook_secret",
    "smtp_password",
)


class SecretFileError(Exception):
    """A secret file that cannot be used; the message names the variable and the file, never its text."""


def file_variable(name: str) -> str:
    return f"{PREFIX}{name.upper()}_FILE"


def read_secret_files(values: dict[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    """`values` with each secret whose HJULET_<NAME>_FILE is set read from that file."""
    given = {key.upper(): value for key, value in environ.items()}
    for name in SECRET_SETTINGS:
        variable = file_variable(name)
        path = given.get(variable, "").strip()
        if not path:
            continue
        if values.get(name) not in (None, ""):
            raise SecretFileError(f"{variable}: set {PREFIX}{name.upper()} or {variable}, not both")
        values[name] = read_secret(Path(path), variable)
    return values


def read_secret(path: Path, variable: str) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SecretFileError(f"{variable}: there is no file {path}") from None
    except IsADirectoryError:
        raise SecretFileError(f"{variable}: {path} is a folder, not a file") from None
    except PermissionError:
        raise SecretFileError(f"{variable}: cannot read {path} (permission denied)") from None
    except UnicodeDecodeError:
        raise SecretFileError(f"{variable}: {path} is not UTF-8 text") from None
    except OSError as exc:
        raise SecretFileError(f"{variable}: cannot read {path} ({(exc.strerror or '').lower()})") from None
    value = text.rstrip("\r\n")
    if not value.strip():
        raise SecretFileError(f"{variable}: {path} is empty")
    return value
