"""Invitations: a preschool or BVC gives families a link (or a QR code) that names the unit.

The payload is `<unit code>-<signature>`: at most 64 characters of [A-Za-z0-9_-], as Telegram's
`/start` payload requires. The signature is an HMAC of the unit code with the server's secret, so a
family cannot forge or alter the unit by editing the link.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from pathlib import Path
from typing import Final

UNIT_CODE: Final = re.compile(r"^[A-Za-z0-9_]{1,40}$")
PAYLOAD: Final = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
SIGNATURE_CHARS: Final = 16


class InvitationError(ValueError):
    """A unit code that cannot be put in an invitation."""


def _signature(secret: bytes, unit: str) -> str:
    digest = hmac.new(secret, f"invite:{unit}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode()[:SIGNATURE_CHARS]


def sign(secret: bytes, unit: str) -> str:
    """The payload that invites families on behalf of `unit`."""
    if not UNIT_CODE.fullmatch(unit):
        raise InvitationError(
            f"unit code {unit!r}: use 1 to 40 letters, digits or _ (for example solrosen_fsk)"
        )
    return f"{unit}-{_signature(secret, unit)}"


def verify(secret: bytes, payload: str | None) -> str | None:
    """The unit code of a genuine payload; None for anything else (forged, altered, malformed)."""
    if not payload or not PAYLOAD.fullmatch(payload):
        return None
    unit, dash, signature = payload.partition("-")
    if not dash or not UNIT_CODE.fullmatch(unit):
        return None
    return unit if hmac.compare_digest(signature, _signature(secret, unit)) else None


def telegram_link(bot_username: str, payload: str) -> str:
    return f"https://t.me/{bot_username.lstrip('@')}?start={payload}"


def write_qr_png(text: str, path: Path) -> Path:
    """Write `text` as a QR code PNG (pure Python: qrcode with pypng, no imaging library)."""
    import qrcode
    from qrcode.image.pure import PyPNGImage

    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=10, border=4)
    code.add_data(text)
    code.make(fit=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as file:
        code.make_image(image_factory=PyPNGImage).save(file)
    return path
