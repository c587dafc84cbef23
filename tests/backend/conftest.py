"""Desk fixtures: a small directory in a real database, and a conversation service that uses it."""

from __future__ import annotations

from pathlib import Path

import pytest

from backend.intake import Desk
from backend.notices import Notifier
from bot.i18n import Catalogs
from bot.service import ConversationService, IncomingMessage
from bot.settings import load_settings
from bot.wiring import build_engine
from nlu import load_lexicon
from storage.desk import Municipality, RoutingRule, Staff, Unit


@pytest.fixture
async def directory(session_factory) -> dict[str, int]:
    """Växjö-like: a BVC with two named persons and a lead, a preschool whose BVC it is, a school,
    and a coordinator unit. Returns ids by a short name."""
    async with session_factory() as session, session.begin():
        town = Municipality(
            code="vaxjo", name="Växjö", phone_social="0470-410 00", phone_socialjour="0470-410 10"
        )
        session.add(town)
        await session.flush()
        units = {
            "bvc": Unit(municipality_id=town.id, code="bvc_centrum", name="BVC Centrum", kind="bvc"),
            "school": Unit(municipality_id=town.id, code="skolan", name="Skolan", kind="school"),
            "coordinator": Unit(
                municipality_id=town.id, code="samordning", name="Samordning", kind="coordinator"
            ),
        }
        session.add_all(units.values())
        await session.flush()
        units["preschool"] = Unit(
            municipality_id=town.id, code="solrosen", name="Solrosens förskola", kind="preschool",
            partner_id=units["bvc"].id,
        )  # fmt: skip
        session.add(units["preschool"])
        session.add_all(
            [
                RoutingRule(municipality_id=town.id, min_age_months=0, max_age_months=71, kind="bvc"),
                RoutingRule(municipality_id=town.id, min_age_months=72, max_age_months=215, kind="school"),
            ]
        )
        people = {
            "nurse_a": Staff(email="a@bvc.se", name="Anna", role="named_person", unit_id=units["bvc"].id),
            "nurse_b": Staff(email="b@bvc.se", name="Berit", role="named_person", unit_id=units["bvc"].id),
            "lead": Staff(email="lead@bvc.se", name="Lena", role="unit_lead", unit_id=units["bvc"].id),
            "coordinator_lead": Staff(
                email="lead@samordning.se", name="Cecilia", role="unit_lead", unit_id=units["coordinator"].id
            ),
            "admin": Staff(email="admin@kommun.se", name="Adam", role="admin"),
        }
        session.add_all(people.values())
        await session.flush()
        ids = {name: unit.id for name, unit in units.items()}
        ids |= {name: person.id for name, person in people.items()}
        ids["municipality"] = town.id
    return ids


@pytest.fixture
def desk_service(session_factory, tmp_path: Path, understanding) -> ConversationService:
    """The conversation service with e-mail notices switched on."""
    settings = load_settings(data_dir=tmp_path, default_language="en", smtp_host="127.0.0.1")
    notifier = Notifier(True, "https://desk.example", Catalogs(settings.locales_dir, "staff"))
    return ConversationService(
        settings,
        session_factory,
        build_engine(settings),
        Catalogs(settings.locales_dir),
        load_lexicon(),
        b"k" * 32,
        Desk(notifier=notifier, municipality="vaxjo"),
        understanding,
    )


def msg(user: str, **fields) -> IncomingMessage:
    return IncomingMessage(channel="web", user_id=user, language_hint="en", **fields)


async def mapping_until_the_wheel(
    service: ConversationService, user: str, *, age: str = "3", invite: str | None = None
) -> None:
    """Start (perhaps by invitation), English, both consents, no name, `age`, no unit."""
    await service.handle(msg(user, start=True, invite=invite))
    for fields in ({"choice": "en"}, {"choice": "yes"}, {"choice": "yes"}, {"choice": "skip"}, {"text": age}):
        await service.handle(msg(user, **fields))
    if invite is None:
        await service.handle(msg(user, choice="skip"))
