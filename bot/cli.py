"""`hjulet`: the command line. Every error is one clear line, never a traceback."""

from __future__ import annotations

import asyncio
import sys

import click

from backend.commands import demo, directory, staff
from bot.command_line import command_settings as _settings
from bot.command_line import friendly
from bot.keys_cli import keys
from bot.nlu_commands import nlu
from bot.retention_cli import retention
from bot.settings import Settings
from storage.crypto import Cipher


def _cipher(settings: Settings) -> Cipher:
    """The encryption keyring, for migrations that encrypt what is already stored."""
    from bot.wiring import load_cipher

    return load_cipher(settings)


@click.group(help="Hjulet: the wellbeing wheel, a chat assistant for early, coordinated support.")
def main() -> None:
    pass


main.add_command(directory)
main.add_command(staff)
main.add_command(demo)
main.add_command(nlu)
main.add_command(keys)
main.add_command(retention)


@main.command(help="Talk to Hjulet in this terminal (the mapping conversation).")
@click.option("--user", default=None, help="Who you are; the same name continues the same conversation.")
@click.option("--lang", default=None, help="Language to begin in: sv, en or ar.")
@friendly
def chat(user: str | None, lang: str | None) -> None:
    from bot.console import Console, default_user
    from bot.wiring import open_service

    settings = _settings()
    if lang is not None and lang not in settings.language_list:
        raise click.BadParameter(f"choose one of {', '.join(settings.language_list)}", param_hint="--lang")

    async def run() -> None:
        async with open_service(settings) as service:
            await Console(service, user or default_user(), lang).run()

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        sys.stdout.write("\n")


@main.command(help="Run the Telegram bot with long polling (token from HJULET_TELEGRAM_TOKEN).")
@friendly
def telegram() -> None:
    from bot.telegram.channel import TelegramChannel
    from bot.telegram.polling import run_polling
    from bot.wiring import open_service, settle_heap

    settings = _settings()
    if not settings.telegram_token:
        raise click.ClickException("HJULET_TELEGRAM_TOKEN is not set: put the token BotFather gave you there")

    async def run() -> None:
        async with open_service(settings) as service:
            channel = TelegramChannel(settings, service)
            settle_heap()
            try:
                click.echo("Telegram bot running; Ctrl-C or SIGTERM stops it cleanly.", err=True)
                await run_polling(channel, service.catalogs)
            finally:
                await channel.close()

    asyncio.run(run())


@main.command(help="Make an invitation for families: a Telegram link and a QR code to print.")
@click.option("--unit", "unit", required=True, help="The inviting unit's code (preschool or BVC).")
@click.option("--out", "out", type=click.Path(dir_okay=False), default=None, help="Where to write the PNG.")
@click.option("--web", is_flag=True, help="Link to the web chat (HJULET_PUBLIC_URL/chat), not Telegram.")
@friendly
def invite(unit: str, out: str | None, web: bool) -> None:
    from pathlib import Path

    from bot.invitations import InvitationError, sign, telegram_link, write_qr_png
    from storage import load_or_create_secret

    settings = _settings()
    try:
        payload = sign(load_or_create_secret(settings.key_file), unit)
    except InvitationError as exc:
        raise click.BadParameter(str(exc), param_hint="--unit") from exc
    if web:
        link = f"{settings.public_url.rstrip('/')}/chat?invite={payload}"
    else:
        link = telegram_link(settings.telegram_bot_username or _bot_username(settings), payload)
    path = write_qr_png(link, Path(out or f"invite-{unit}.png"))
    click.echo(link)
    click.echo(f"QR code: {path}", err=True)


def _bot_username(settings: Settings) -> str:
    """Ask Telegram for the bot's name (getMe) when HJULET_TELEGRAM_BOT_USERNAME is not set."""
    if not settings.telegram_token:
        raise click.ClickException(
            "set HJULET_TELEGRAM_BOT_USERNAME (or HJULET_TELEGRAM_TOKEN to look it up)"
        )
    from bot.telegram.channel import build_bot

    async def ask() -> str:
        bot = build_bot(settings)
        try:
            me = await bot.get_me()
        finally:
            await bot.session.close()
        if not me.username:
            raise click.ClickException("the bot has no username")
        return me.username

    try:
        return asyncio.run(ask())
    except click.ClickException:
        raise
    except Exception as exc:
        raise click.ClickException(
            f"cannot reach Telegram to look up the bot's name: {type(exc).__name__}"
        ) from exc


@main.command(help="Run the desk: the staff web UI, the JSON API and, in webhook mode, Telegram.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535))
@friendly
def serve(host: str, port: int) -> None:
    import uvicorn

    from backend.app import create_app
    from storage import upgrade as run_upgrade

    settings = _settings()
    if settings.telegram_webhook_secret and not settings.telegram_token:
        raise click.ClickException(
            "HJULET_TELEGRAM_WEBHOOK_SECRET is set but HJULET_TELEGRAM_TOKEN (or its _FILE) is not: "
            "webhook mode needs both"
        )
    # here, so a broken database stops start-up with one clear line
    run_upgrade(settings.db_url, cipher=_cipher(settings))
    _say(settings, f"Hjulet desk: http://{host}:{port}/  (Ctrl-C stops it)")
    _say(settings, f"Web chat for families: http://{host}:{port}/chat")
    uvicorn.run(
        create_app(settings, migrate=False, own_process=True),
        host=host,
        port=port,
        proxy_headers=True,
        log_level=settings.log_level.lower(),
        log_config=None,  # uvicorn's lines go through our handler too: JSON, no secrets (bot/logs.py)
        access_log=settings.access_log,  # off by default; on, without query strings or addresses
    )


def _say(settings: Settings, line: str) -> None:
    """To a person at a terminal: a line of text; in JSON logs: a log line, so every line is JSON."""
    from bot.logs import json_wanted

    if json_wanted(settings.log_format):
        import logging

        logging.getLogger("bot.cli").info(line, extra={"event": "listening"})
    else:
        click.echo(line, err=True)


@main.group(help="Translations: the catalogs in locales/.")
def locales() -> None:
    pass


@locales.command("check", help="Check every catalog: complete, correct placeholders, plain language.")
@click.option("--verbose", "-v", is_flag=True, help="List every problem, not only the count.")
def locales_check(verbose: bool) -> None:
    from bot.locales_check import check_all, table
    from bot.locales_tool import DOMAINS, LOCALES, template

    templates = {domain: template(domain) for domain in DOMAINS}
    languages = {domain: spec["languages"] for domain, spec in DOMAINS.items()}
    reports = check_all(LOCALES, templates, languages)  # type: ignore[arg-type]
    click.echo(table(reports))
    unreviewed = sorted({r.lang for r in reports if not r.reviewed})
    if unreviewed:
        click.echo(f"\nNot yet reviewed by a native speaker: {', '.join(unreviewed)}")
    failing = [r for r in reports if not r.ok]
    for report in failing:
        click.echo(f"\n{report.lang}/{report.domain}.po:", err=True)
        for problem in report.problems if verbose else report.problems[:5]:
            click.echo(f"  {problem}", err=True)
        if not verbose and len(report.problems) > 5:
            click.echo(f"  ... and {len(report.problems) - 5} more (--verbose)", err=True)
    if failing:
        raise SystemExit(1)


@main.group(help="The database.")
def db() -> None:
    pass


@db.command(help="Apply the database migrations (creates the SQLite file if needed).")
@friendly
def upgrade() -> None:
    from storage import mask_url
    from storage import upgrade as run_upgrade

    settings = _settings()
    run_upgrade(settings.db_url, cipher=_cipher(settings))
    click.echo(f"database is up to date: {mask_url(settings.db_url)}")


@main.group(help="Flow files.")
def flows() -> None:
    pass


@flows.command("check", help="Load and validate every flow file.")
@friendly
def flows_check() -> None:
    from bot.wiring import build_engine

    engine = build_engine(_settings())
    for name, flow in sorted(engine.flows.items()):
        click.echo(f"{name}: {len(flow.steps)} steps, version {flow.version}")
