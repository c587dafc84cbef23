"""E-mail transport security: STARTTLS with a login, implicit TLS, and never plain text when STARTTLS
is asked for. The server is real (aiosmtpd on loopback) with a certificate made for the test."""

from __future__ import annotations

import ipaddress
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from backend.mail import EmailSender
from backend.notices import Notifier
from bot.i18n import Catalogs
from bot.settings import load_settings
from storage.desk import Staff
from storage.models import OutboxMessage, utcnow
from tests.backend.mailserver import MailServer


@dataclass
class Certificate:
    cert: Path
    key: Path

    def server(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, self.key)
        return context

    def client(self) -> ssl.SSLContext:
        """Trusts this certificate only (as a deployment with a private CA would)."""
        return ssl.create_default_context(cafile=str(self.cert))


LOOPBACK = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    folder = tmp_path_factory.mktemp("tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = utcnow()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(LOOPBACK, critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    paths = Certificate(folder / "cert.pem", folder / "key.pem")
    paths.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return paths


@dataclass
class Logins:
    """An aiosmtpd authenticator that accepts one user and remembers every try."""

    tries: list[tuple[str, str]] = field(default_factory=list)

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        assert isinstance(data, LoginPassword)
        self.tries.append((data.login.decode(), data.password.decode()))
        accepted = (data.login, data.password) == (b"hjulet", b"s3cret-pw")
        return AuthResult(success=accepted, handled=False)  # not handled: aiosmtpd answers 535 itself


@pytest.fixture
def servers() -> Iterator[list[MailServer]]:
    started: list[MailServer] = []
    yield started
    for server in started:
        server.stop()


async def notice_to_nurse(session_factory, directory) -> None:
    catalogs = Catalogs(load_settings().locales_dir, "staff")
    async with session_factory() as session, session.begin():
        nurse = await session.get(Staff, directory["nurse_a"])
        await Notifier(True, "https://desk.example", catalogs).tell(session, nurse, "new", 7)


async def statuses(session_factory) -> list[tuple[str, str | None]]:
    async with session_factory() as session:
        query = sa.select(OutboxMessage.status, OutboxMessage.error).order_by(OutboxMessage.id)
        return [(status, error) for status, error in await session.execute(query)]


async def test_starttls_with_a_login(session_factory, directory, certificate, servers, tmp_path) -> None:
    logins = Logins()
    server = MailServer(
        tls_context=certificate.server(), require_starttls=True, authenticator=logins, auth_required=True
    ).start()
    servers.append(server)
    await notice_to_nurse(session_factory, directory)
    settings = server.settings(
        tmp_path, smtp_security="starttls", smtp_user="hjulet", smtp_password="s3cret-pw"
    )

    await EmailSender(session_factory, settings, tls_context=certificate.client()).drain()

    assert logins.tries == [("hjulet", "s3cret-pw")]
    assert [mail.rcpt_tos for mail in server.received] == [["a@bvc.se"]]
    assert await statuses(session_factory) == [("sent", None)]


async def test_a_wrong_password_keeps_the_mail_for_later(
    session_factory, directory, certificate, servers, tmp_path
) -> None:
    server = MailServer(tls_context=certificate.server(), authenticator=Logins(), auth_required=True).start()
    servers.append(server)
    await notice_to_nurse(session_factory, directory)
    settings = server.settings(tmp_path, smtp_security="starttls", smtp_user="hjulet", smtp_password="wrong")

    await EmailSender(session_factory, settings, tls_context=certificate.client()).drain()

    assert server.received == []
    assert await statuses(session_factory) == [("pending", "535 SMTPAuthenticationError")]


async def test_implicit_tls_and_no_login_without_a_user(
    session_factory, directory, certificate, servers, tmp_path
) -> None:
    logins = Logins()
    server = MailServer(ssl_context=certificate.server(), authenticator=logins, auth_require_tls=False)
    server.start()
    servers.append(server)
    await notice_to_nurse(session_factory, directory)
    settings = server.settings(tmp_path, smtp_security="tls")

    await EmailSender(session_factory, settings, tls_context=certificate.client()).drain()

    assert logins.tries == []
    assert [mail.rcpt_tos for mail in server.received] == [["a@bvc.se"]]
    assert await statuses(session_factory) == [("sent", None)]


async def test_starttls_is_required_when_configured(session_factory, directory, servers, tmp_path) -> None:
    server = MailServer().start()  # offers no STARTTLS
    servers.append(server)
    await notice_to_nurse(session_factory, directory)
    settings = server.settings(tmp_path, smtp_security="starttls")

    await EmailSender(session_factory, settings).drain()

    assert server.received == []  # not sent in plain text instead
    assert await statuses(session_factory) == [("pending", "SMTPException")]


async def test_an_untrusted_certificate_is_refused(
    session_factory, directory, certificate, servers, tmp_path
) -> None:
    server = MailServer(ssl_context=certificate.server()).start()
    servers.append(server)
    await notice_to_nurse(session_factory, directory)

    await EmailSender(session_factory, server.settings(tmp_path, smtp_security="tls")).drain()

    assert server.received == []  # the system's CAs do not know the test's certificate
    assert await statuses(session_factory) == [("pending", "SMTPConnectError")]
