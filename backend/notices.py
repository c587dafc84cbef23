"""E-mail notices to staff: only "there is an item for you" and a link, never anything about a child.

Notices go through the outbox (channel "email") in the same transaction as the change they tell of,
so a notice is sent exactly when the change is stored. Without SMTP settings, nothing is queued.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import Catalogs
from flows.events import Msg
from flows.i18n import S_
from storage.desk import Staff
from storage.outbox import Outbox

Notice = Literal["new", "escalated", "reply"]
TEXTS: Final = {
    "new": (
        S_("New item in Hjulet"),
        S_("You have a new item in Hjulet. Open it here: {link}"),
    ),
    "escalated": (
        S_("An item in Hjulet is waiting"),
        S_("An item for your unit has not been acknowledged in time. Open it here: {link}"),
    ),
    "reply": (
        S_("A family has answered in Hjulet"),
        S_("A family has answered your message in Hjulet. Open it here: {link}"),
    ),
}
PRIVACY: Final = S_("For the family's privacy, this e-mail says nothing about the child. Do not reply to it.")


@dataclass(frozen=True)
class Notifier:
    enabled: bool
    public_url: str
    catalogs: Catalogs

    def link(self, concern_id: int) -> str:
        return f"{self.public_url.rstrip('/')}/concerns/{concern_id}"

    async def tell(self, session: AsyncSession, staff: Staff, notice: Notice, concern_id: int) -> None:
        if not self.enabled or not staff.active or not staff.email:
            return
        subject, body = TEXTS[notice]
        lang = staff.language
        text = self.catalogs.render(Msg(body, {"link": self.link(concern_id)}), lang)
        await Outbox(session).add(
            channel="email",
            chat_key=f"staff-{staff.id}",
            user_id=None,
            address=staff.email,
            kind="email",
            payload={
                "subject": self.catalogs.render(Msg(subject), lang),
                "text": f"{text}\n\n{self.catalogs.render(Msg(PRIVACY), lang)}",
            },
        )
