"""The files a municipality deploys with: docker-compose.yml, the Dockerfile, .dockerignore, the example
settings and the health probe. The image cannot be built here (no registry); these hold what must be
true of them, and the probe runs against the real desk."""

from __future__ import annotations

import asyncio
import re
import socket
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.requirements import Requirement

from bot.secret_files import SECRET_SETTINGS
from bot.settings import Settings
from deploy.runtime_requirements import normalize, runtime_lock
from tests.backend.desk_fixtures import desk_settings, running_desk, served

ROOT = Path(__file__).resolve().parents[2]
DEV_TOOLS = {"pytest", "playwright", "mypy", "ruff", "hypothesis", "schemathesis", "aiosmtpd", "httpx"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())  # type: ignore[no-any-return]


def dockerfile_stages() -> list[str]:
    return re.split(r"^FROM ", (ROOT / "Dockerfile").read_text(), flags=re.MULTILINE)[1:]


def test_compose_runs_postgres_then_the_migrations_then_the_app_in_webhook_mode(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    db, migrate, app = services["db"], services["migrate"], services["app"]

    assert set(services) == {"db", "migrate", "app"}
    assert db["image"] == "postgres:15"
    assert "pg_isready" in db["healthcheck"]["test"]
    assert any(volume.endswith(":/var/lib/postgresql/data") for volume in db["volumes"])
    assert migrate["command"] == ["hjulet", "db", "upgrade"] and migrate["restart"] == "no"
    assert migrate["depends_on"] == {"db": {"condition": "service_healthy"}}
    assert app["command"][:4] == ["hjulet", "serve", "--host", "0.0.0.0"]
    assert app["depends_on"] == {
        "db": {"condition": "service_healthy"},
        "migrate": {"condition": "service_completed_successfully"},
    }
    assert app["healthcheck"]["test"] == ["CMD", "python", "/app/deploy/probe.py", "/readyz"]
    assert "HJULET_TELEGRAM_WEBHOOK_SECRET_FILE" in app["environment"]  # webhook mode
    assert compose["networks"]["backend"]["internal"] is True and db["networks"] == ["backend"]


def test_compose_takes_every_secret_from_a_file_and_writes_none(compose: dict[str, Any]) -> None:
    declared = compose["secrets"]
    for name, service in compose["services"].items():
        environment: dict[str, str] = service.get("environment", {})
        mounted = set(service.get("secrets", []))
        files = {key: value for key, value in environment.items() if key.endswith("_FILE")}
        plain_secrets = {f"HJULET_{s.upper()}" for s in SECRET_SETTINGS} | {"POSTGRES_PASSWORD"}

        assert plain_secrets.isdisjoint(environment), name
        for key, path in files.items():
            assert path.startswith("/run/secrets/") and path.removeprefix("/run/secrets/") in mounted, key
    for secret in declared.values():
        assert secret["file"].startswith("deploy/secrets/")
    assert (ROOT / "deploy" / ".gitignore").read_text().split() == ["hjulet.env", "secrets/"]


def test_the_image_installs_hashed_packages_builds_catalogs_and_nlu_and_runs_as_nobody_special() -> None:
    build, run = dockerfile_stages()
    text = (ROOT / "Dockerfile").read_text()

    assert (
        build.startswith("${PYTHON_IMAGE} AS build") and "ARG PYTHON_IMAGE=python:3.11-slim-bookworm" in text
    )
    assert "pip install --require-hashes -r" in build
    assert "pybabel -q compile" in build and "python -m nlu.build --check" in build
    assert "fonts-dejavu-core" in run and "fonts-sil-abyssinica" in run
    user = re.findall(r"^USER (\S+)", run, flags=re.MULTILINE)
    assert user == ["hjulet:hjulet"] and "--uid 10001" in run
    assert re.search(r"HEALTHCHECK .*\n\s+CMD \[\"python\", \"/app/deploy/probe.py\", \"/healthz\"\]", run)
    settings = re.findall(r"^\s*(?:ENV|ARG)\s.*$|^\s+\w+=.*\\$", text, flags=re.MULTILINE)
    assert settings and not [s for s in settings if re.search(r"TOKEN|SECRET|PASSWORD|KEYS|DATABASE_URL", s)]


def test_no_data_key_or_secret_goes_into_the_build_context() -> None:
    ignored = set((ROOT / ".dockerignore").read_text().split())

    assert {".git", ".venv", "var", ".env", "*.env", "*.key", "*.keys", "*.sqlite3"} <= ignored
    assert {"deploy/secrets", "deploy/hjulet.env", "nlu/build", "locales/*/LC_MESSAGES/*.mo"} <= ignored


def test_the_example_settings_name_real_settings_and_no_secret() -> None:
    example = (ROOT / "deploy" / "hjulet.env.example").read_text()
    names = re.findall(r"^(\w+)=", example, flags=re.MULTILINE)
    known = {f"HJULET_{field.upper()}" for field in Settings.model_fields} | {"FORWARDED_ALLOW_IPS"}

    assert len(names) > 10 and set(names) <= known
    assert not {f"HJULET_{s.upper()}" for s in SECRET_SETTINGS} & set(names)


def runtime_packages() -> dict[str, str]:
    """name -> entry text, of the lock the image installs."""
    text = runtime_lock((ROOT / "requirements.lock").read_text(), (ROOT / "pyproject.toml").read_text())
    entries = re.split(r"^(?=[A-Za-z0-9])", text.split("\n", 1)[1], flags=re.MULTILINE)
    return {normalize(entry.split("==")[0]): entry for entry in entries if entry}


def test_the_image_gets_every_package_hjulet_needs_at_run_time_and_no_test_tool() -> None:
    """Walks the installed packages' own requirements (markers evaluated, extras followed) from
    pyproject's dependencies: every one must be in the image's lock, with the lock's own hashes."""
    packages = runtime_packages()
    lock = (ROOT / "requirements.lock").read_text()
    environment = {"python_version": "3.11", "sys_platform": "linux", "platform_system": "Linux"}
    wanted = [Requirement(r) for r in metadata.requires("hjulet") or [] if "extra ==" not in r]
    seen: set[tuple[str, frozenset[str]]] = set()
    while wanted:
        requirement = wanted.pop()
        name = normalize(requirement.name)
        key = (name, frozenset(requirement.extras))
        if key in seen:
            continue
        seen.add(key)
        assert name in packages, f"{name} is needed at run time but not in the image's lock"
        for text in metadata.requires(name) or []:
            needed = Requirement(text)
            extras = {""} | set(requirement.extras)
            if needed.marker is None or any(
                needed.marker.evaluate({**environment, "extra": e}) for e in extras
            ):
                wanted.append(needed)

    assert DEV_TOOLS.isdisjoint(packages)
    assert all(entry in lock for entry in packages.values())  # pins and hashes as the lock has them
    assert len({name for name, _ in seen}) == len(packages)  # and nothing more


async def run_probe(*args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "deploy" / "probe.py"), *args, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode()


async def test_the_health_probe_says_what_the_desk_says(tmp_path: Path) -> None:
    settings = desk_settings(f"sqlite+aiosqlite:///{tmp_path / 'hjulet.sqlite3'}", tmp_path / "var")
    async with running_desk(settings) as app, served(app) as url:
        port = url.rsplit(":", 1)[1]
        ready = await run_probe("/readyz", port)
        live = await run_probe("/healthz", port)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = str(sock.getsockname()[1])
    nobody = await run_probe("/healthz", closed)

    assert ready == (
        1,
        '503 {"status":"unavailable","checks":{"database":"ok","migrations":"not migrated","nlu":"ok"}}\n',
    )
    assert live == (0, '200 {"status":"ok","checks":{"process":"ok"}}\n')
    assert nobody == (1, "0 no answer: URLError\n")
