"""Retention, run: on a schedule in the long-running processes, and by hand (`hjulet retention`).

    workers.append(asyncio.create_task(retention_job(sessions, settings, stop)))

`hjulet serve` (its lifespan) and `hjulet telegram` run the job once at start-up and then every
``HJULET_RETENTION_INTERVAL_HOURS``. Several processes may run it at the same time: the deletes are
idempotent (see ``storage.retention``). The log says how many rows of each kind went, never which.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress
from typing import Final

import click
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.settings import Settings
from storage.retention import RULES, Counts, Periods, apply_retention

log = logging.getLogger(__name__)
RETRY_SECONDS: Final = 300.0  # after a failed run (the database away), not a whole interval


def periods(settings: Settings) -> Periods:
    """The retention periods in force."""
    return Periods(
        conversation_months=settings.retention_conversation_months,
        concern_months=settings.retention_concern_months,
        kept_concern_months=settings.retention_kept_concern_months,
        audit_months=settings.retention_audit_months,
        outbox_days=settings.retention_outbox_days,
        event_days=settings.retention_event_days,
        session_minutes=settings.session_idle_minutes,
    )


def summary(counts: Counts) -> str:
    """``3 conversations, 12 answers`` (only the kinds with something deleted), or ``nothing``."""
    done = [f"{number} {kind.replace('_', ' ')}" for kind, number in counts.items() if number]
    return ", ".join(done) or "nothing"


async def retention_job(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, stop: asyncio.Event
) -> None:
    """Delete what is past retention now, and again every interval, until ``stop``."""
    every = settings.retention_interval_hours * 3600
    while not stop.is_set():
        wait = every
        try:
            counts = await apply_retention(sessions, periods(settings), stop=stop)
            log.info("retention: deleted %s", summary(counts))
        except Exception as exc:  # the database may be away for a moment: try again soon
            log.warning("retention run failed: %s", type(exc).__name__)
            wait = min(every, RETRY_SECONDS)
        with suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), wait)


@click.group(help="Retention: delete what is kept past its time (it also runs in serve and telegram).")
def retention() -> None:
    pass


@retention.command("run", help="Delete everything past retention now and print how much of each kind.")
@click.option("--dry-run", is_flag=True, help="Count what would be deleted; delete nothing.")
def run(dry_run: bool) -> None:
    from bot.command_line import command_settings as _settings
    from bot.command_line import friendly, on_database

    @friendly
    def go() -> None:
        settings = _settings()
        counts = on_database(
            settings, lambda factory: apply_retention(factory, periods(settings), dry_run=dry_run)
        )
        width = max(map(len, counts))
        for kind, number in counts.items():
            click.echo(f"{kind.ljust(width)}  {number}")
        verb = "would be deleted (dry run: nothing was)" if dry_run else "deleted"
        click.echo(f"{sum(counts.values())} rows {verb}")

    go()


@retention.command("rules", help="Print what is kept, how long and why, with the periods in force.")
def rules() -> None:
    from bot.command_line import command_settings as _settings
    from bot.command_line import friendly

    @friendly
    def go() -> None:
        now = periods(_settings())
        for rule in RULES:
            kept = rule.kept.format(n=getattr(now, rule.period)) if rule.period else rule.kept
            setting = f" ({rule.setting})" if rule.setting else ""
            click.echo(f"{rule.what}\n  kept: {kept}{setting}\n  why: {rule.why}\n")

    go()
