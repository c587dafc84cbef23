"""Health checks for whatever runs the desk (Docker, Kubernetes, a load balancer).

    GET /healthz   liveness: the process answers. Touches nothing else; always 200.
    GET /readyz    readiness: it can serve families and staff now. 200, or 503 when a check fails:
                   {"status": "ok" | "unavailable",
                    "checks": {"database": "ok", "migrations": "ok", "nlu": "ok", "telegram": "ok"}}

`database`: a connection answers within READY_TIMEOUT seconds (else "unreachable" or "timeout");
`migrations`: the database is at the newest migration this code ships (else "not migrated", "not at
head"); `nlu`: the language model is loaded; `telegram` (webhook mode only): the channel is set up.
Both routes are public, so they say nothing of families, staff, secrets, addresses or versions: check
names and these few words. What went wrong is logged when a check starts or stops failing.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import Any, Final

from alembic.runtime.migration import MigrationContext
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncEngine

from storage import StorageError, head_revision, ping

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)
READY_TIMEOUT: Final = 2.0  # seconds for the database checks; Docker's probe allows 5
OK: Final = "ok"
NO_STORE: Final = {"Cache-Control": "no-store"}


@router.get("/healthz")
async def healthz() -> JSONResponse:
    return _answer({"process": OK})


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    desk = getattr(request.app.state, "desk", None)
    if desk is None:  # the lifespan has not finished starting (or has stopped)
        return _answer({"app": "starting"})
    service = desk.service
    checks: dict[str, str] = {}
    checks["database"], checks["migrations"] = await _database(service.sessions.kw["bind"])
    checks["nlu"] = OK if service.understanding is not None else "not loaded"
    if desk.settings.telegram_webhook_secret:
        checks["telegram"] = OK if desk.channel is not None else "not set up"
    _log_changes(request.app.state, checks)
    return _answer(checks)


def _answer(checks: dict[str, str]) -> JSONResponse:
    ready = all(value == OK for value in checks.values())
    body = {"status": OK if ready else "unavailable", "checks": checks}
    return JSONResponse(body, status_code=200 if ready else 503, headers=NO_STORE)


async def _database(engine: AsyncEngine) -> tuple[str, str]:
    """(database, migrations): reachable, and at the newest migration."""
    try:
        async with asyncio.timeout(READY_TIMEOUT):
            await ping(engine)
            async with engine.connect() as connection:
                revision = await connection.run_sync(_revision)
    except TimeoutError:
        log.info("readiness: no answer from the database in %.0f s", READY_TIMEOUT, extra={"event": "ready"})
        return "timeout", "unknown"
    except StorageError as exc:
        log.info("readiness: %s", exc, extra={"event": "ready"})  # one line, the password masked
        return "unreachable", "unknown"
    except Exception as exc:
        log.info("readiness: the database failed (%s)", type(exc).__name__, extra={"event": "ready"})
        return "unreachable", "unknown"
    if revision == _head():
        return OK, OK
    return OK, "not migrated" if revision is None else "not at head"


@functools.cache
def _head() -> str | None:
    return head_revision()


class _Boilerplate(logging.Filter):
    """Alembic's two INFO lines at every MigrationContext: at every probe they would only be noise."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.msg not in ("Context impl %s.", "Will assume %s DDL.")


def _revision(connection: Any) -> str | None:
    quiet, alembic_log = _Boilerplate(), logging.getLogger("alembic.runtime.migration")
    alembic_log.addFilter(quiet)
    try:
        return MigrationContext.configure(connection).get_current_revision()
    finally:
        alembic_log.removeFilter(quiet)


def _log_changes(state: Any, checks: dict[str, str]) -> None:
    """A warning when a check starts failing, a note when it is well again (not every probe)."""
    before: dict[str, str] = getattr(state, "readiness", {})
    for name, value in checks.items():
        if value != before.get(name, OK):
            if value == OK:
                log.warning("readiness: %s is ok again", name, extra={"event": "ready"})
            else:
                log.warning("readiness: %s is %s", name, value, extra={"event": "ready"})
    state.readiness = dict(checks)
