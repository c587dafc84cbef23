"""E-mail to staff: a real SMTP server on loopback receives a notice that says "new item" and gives a
link, nothing about the child; mail that cannot go now is kept and sent later, once; a refused
recipient is given up without holding up the rest."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from backend.mail import MAX_ATTEMPTS, EmailSender
from backend.notices import Notifier
from bot.i18n import Catalogs
from bot.settings import load_settings
from storage.desk import Staff
from storage.models import INDICATORS, Concern, OutboxMessage
from tests.backend.conftest import msg
from tests.backend.mailserver import MailServer, SilentServer, eventually, free_port

CANARY = "Zqxwvcanary"


@pytest.fixture
def mail_server() -> Iterator[MailServer]:
    server = MailServer().start()
    try:
        yield server
    finally:
        server.stop()


def notifier() -> Notifier:
    return Notifier(True, "https://desk.example", Catalogs(load_settings().locales_dir, "staff"))


async def tell(session_factory, *staff_ids: int, concern_id: int = 7) -> None:
    """Queue a "new item" notice to each of these staff members, as intake does."""
    async with session_factory() as session, session.begin():
        for staff_id in staff_ids:
            person = await session.get(Staff, staff_id)
            await notifier().tell(session, person, "new", concern_id)


async def mail_rows(session_factory) -> list[OutboxMessage]:
    async with session_factory() as session:
        query = sa.select(OutboxMessage).where(OutboxMessage.channel == "email").order_by(OutboxMessage.id)
        return list(await session.scalars(query))


async def test_a_new_concern_reaches_the_named_person_as_a_link_and_nothing_about_the_child(
    desk_service, session_factory, directory, mail_server, tmp_path, caplog
) -> None:
    caplog.set_level(logging.DEBUG)
    family = "canary-family"
    await desk_service.handle(msg(family, start=True))
    for fields in ({"choice": "en"}, {"choice": "yes"}, {"choice": "yes"}, {"text": CANARY}, {"text": "4"}):
        await desk_service.handle(msg(family, **fields))
    await desk_service.handle(msg(family, choice="skip"))  # no unit
    await desk_service.handle(msg(family, choice="worried"))  # safe_home: worried
    await desk_service.handle(msg(family, text=f"{CANARY} is afraid of the dark"))
    async with session_factory() as session:
        (concern,) = await session.scalars(sa.select(Concern))

    sender = EmailSender(session_factory, mail_server.settings(tmp_path))
    await sender.drain()

    (mail,) = mail_server.received
    message = mail.message
    assert mail.mail_from == "hjulet@kommun.example" and mail.rcpt_tos == ["a@bvc.se"]
    assert message["To"] == "a@bvc.se" and message["From"] == "Hjulet <hjulet@kommun.example>"
    assert message["Subject"] == "Nytt ärende i Hjulet"  # in the nurse's language, Swedish
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Message-ID"].endswith("@kommun.example>") and message["Date"]
    link = f"https://desk.example/concerns/{concern.id}"
    assert mail.body.splitlines()[0] == f"Du har ett nytt ärende i Hjulet. Öppna det här: {link}"
    raw = mail.raw.decode("utf-8", "replace")
    everything = f"{raw}\n{message['Subject']}\n{mail.body}".lower()
    assert CANARY.lower() not in everything and "afraid" not in everything
    swedish = ("trygg", "hälsosam", "presterande", "välnärd", "aktiv", "respekterad", "inkluderad", "orolig")
    for word in (*INDICATORS, *swedish, "worried", "worried_answer", "safe_home", "4 år", "4 years"):
        assert not re.search(rf"\b{re.escape(word)}\b", everything), word
    (row,) = await mail_rows(session_factory)
    assert row.status == "sent" and row.payload is None  # the text is not kept once sent
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith(("backend", "storage")))
    assert "bvc.se" not in logged and "Hjulet" not in logged and "desk.example" not in logged


async def test_one_round_reuses_its_connections(session_factory, directory, mail_server, tmp_path) -> None:
    people = ("nurse_a", "nurse_b", "lead", "coordinator_lead", "admin")
    await tell(session_factory, *(directory[name] for name in people))
    sender = EmailSender(session_factory, mail_server.settings(tmp_path), connections=2)

    assert await sender.round()  # everything in one round

    received = mail_server.received
    assert sorted(to for mail in received for to in mail.rcpt_tos) == sorted(
        ["a@bvc.se", "b@bvc.se", "lead@bvc.se", "lead@samordning.se", "admin@kommun.se"]
    )
    assert len({mail.peer for mail in received}) <= 2  # five messages over at most two connections
    assert [row.status for row in await mail_rows(session_factory)] == ["sent"] * 5


@pytest.mark.parametrize("away", ["refused", "silent"])
async def test_mail_waits_while_the_server_is_away_and_goes_once_it_is_back(
    session_factory, directory, tmp_path, caplog, away: str
) -> None:
    port = free_port()
    silent = await SilentServer(port).start() if away == "silent" else None
    server = MailServer(port)
    await tell(session_factory, directory["nurse_a"], directory["nurse_b"])
    await tell(session_factory, directory["nurse_a"], concern_id=8)  # waits behind the first to nurse A
    sender = EmailSender(session_factory, server.settings(tmp_path), timeout=0.5)

    await sender.drain()

    rows = await mail_rows(session_factory)
    assert [row.status for row in rows] == ["pending"] * 3 and rows[0].payload is not None
    expected = {"SMTPConnectError"} if away == "refused" else {"SMTPConnectTimeoutError", "TimeoutError"}
    assert {rows[0].error, rows[1].error} <= expected and rows[2].error is None
    assert "bvc.se" not in "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("backend"))

    if silent is not None:
        await silent.stop()
    server.start()
    try:

        async def delivered() -> bool:
            await sender.drain()
            return len(server.received) == 3

        await eventually(delivered)
        await sender.drain()
    finally:
        server.stop()
    recipients = sorted(to for mail in server.received for to in mail.rcpt_tos)
    assert recipients == ["a@bvc.se", "a@bvc.se", "b@bvc.se"]
    links = [mail.body.splitlines()[0].rsplit("/", 1)[1] for mail in server.to("a@bvc.se")]
    assert links == ["7", "8"]  # nothing lost, nothing doubled, in order
    assert [row.status for row in await mail_rows(session_factory)] == ["sent"] * 3


async def test_a_refused_recipient_is_given_up_and_later_mail_still_goes(
    session_factory, directory, mail_server, tmp_path, caplog
) -> None:
    caplog.set_level(logging.DEBUG)
    mail_server.refuse["a@bvc.se"] = "550 5.1.1 No such user"
    await tell(session_factory, directory["nurse_a"], directory["nurse_b"])
    await tell(session_factory, directory["nurse_a"], concern_id=8)
    sender = EmailSender(session_factory, mail_server.settings(tmp_path))

    await sender.round()  # the first to nurse A is refused; the one to nurse B goes
    mail_server.refuse.clear()  # the mailbox is fixed
    await sender.drain()

    first, to_b, second = await mail_rows(session_factory)
    assert (first.status, first.payload, first.error) == ("failed", None, "550 recipient refused")
    assert first.attempts == 1  # not retried
    assert to_b.status == second.status == "sent"
    assert [mail.rcpt_tos for mail in mail_server.received] == [["b@bvc.se"], ["a@bvc.se"]]
    assert mail_server.to("a@bvc.se")[0].body.splitlines()[0].endswith("/concerns/8")
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("backend"))
    assert f"outbox {first.id}" in logged and "bvc.se" not in logged


async def test_a_temporary_refusal_is_retried_and_delivered_once(
    session_factory, directory, mail_server, tmp_path
) -> None:
    mail_server.refuse["a@bvc.se"] = "451 4.3.0 Try again later"
    await tell(session_factory, directory["nurse_a"])
    sender = EmailSender(session_factory, mail_server.settings(tmp_path))

    await sender.drain()
    (row,) = await mail_rows(session_factory)
    assert (row.status, row.error) == ("pending", "451 recipient deferred")
    assert row.next_attempt_at > row.created_at  # after a backoff, not at once

    mail_server.refuse.clear()

    async def delivered() -> bool:
        await sender.drain()
        return len(mail_server.received) == 1

    await eventually(delivered)
    await sender.drain()
    assert len(mail_server.received) == 1
    assert [row.status for row in await mail_rows(session_factory)] == ["sent"]


async def test_after_too_many_attempts_a_message_is_given_up(session_factory, directory, tmp_path) -> None:
    await tell(session_factory, directory["nurse_a"], directory["nurse_b"])
    to_a = (await mail_rows(session_factory))[0].id  # (addresses are encrypted: no WHERE on them)
    async with session_factory() as session, session.begin():
        tried = sa.update(OutboxMessage).where(OutboxMessage.id == to_a).values(attempts=MAX_ATTEMPTS - 1)
        await session.execute(tried)
    sender = EmailSender(session_factory, MailServer().settings(tmp_path))  # nobody listens

    await sender.drain()

    rows = {row.address: row for row in await mail_rows(session_factory)}
    assert rows["a@bvc.se"].status == "failed" and rows["a@bvc.se"].error == "gave up: SMTPConnectError"
    assert rows["b@bvc.se"].status == "pending"


async def test_the_running_sender_delivers_when_woken_and_stops_when_told(
    session_factory, directory, mail_server, tmp_path
) -> None:
    sender = EmailSender(session_factory, mail_server.settings(tmp_path))
    stop = asyncio.Event()
    running = asyncio.create_task(sender.run(stop))
    try:
        await tell(session_factory, directory["nurse_a"])
        sender.wake()
        await eventually(lambda: len(mail_server.received) == 1, timeout=3)
        await tell(session_factory, directory["nurse_a"], concern_id=8)
        sender.wake()
        await eventually(lambda: len(mail_server.received) == 2, timeout=3)
    finally:
        stop.set()
        await asyncio.wait_for(running, timeout=3)
    assert running.done() and sender.sent == 2
    assert [row.status for row in await mail_rows(session_factory)] == ["sent", "sent"]
