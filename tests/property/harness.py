"""What the property tests share: hypothesis profiles, input strategies, and a conversation service
with its own event loop, so hypothesis (which is synchronous) can drive the async service.

Profiles (HJULET_HYPOTHESIS_PROFILE): `default` runs in about a minute and is derandomized, so CI sees
the same examples every run; `ci` runs several times more of them (still derandomized); `explore`
draws new examples each run and keeps failures in an example database under the temp folder.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import tempfile
from collections.abc import Coroutine
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.database import DirectoryBasedExampleDatabase

from backend.intake import Desk
from bot.i18n import Catalogs
from bot.service import ConversationService
from bot.settings import Settings, load_settings
from bot.wiring import build_engine
from flows.state import State
from nlu import Understanding, load_lexicon
from nlu.examples import RISK_DIR, read_items
from storage import Answer, Concern, Conversation, Store, make_engine, make_session_factory, pseudonym
from storage.crypto import Cipher
from storage.desk import Municipality, RoutingRule, Staff, Unit

T = TypeVar("T")
PROFILE_ENV = "HJULET_HYPOTHESIS_PROFILE"
SECRET = b"p" * 32

# ---- profiles ---------------------------------------------------------------

_BASE: dict[str, Any] = {
    "deadline": None,  # one step is a database transaction and an NLU call: timing is not the property
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
    "print_blob": True,
}
# (examples of the state machine, its steps per example, examples of the plain @given tests)
SIZES = {"default": (40, 40, 80), "ci": (160, 60, 320), "explore": (100, 50, 200)}


def profile_name() -> str:
    name = os.environ.get(PROFILE_ENV, "default")
    if name not in SIZES:
        raise ValueError(f"{PROFILE_ENV}={name!r}: use one of {', '.join(SIZES)}")
    return name


def hypothesis_settings(*, machine: bool, postgres: bool = False, share: float = 1.0) -> settings:
    """`share`: of the profile's examples, for a test whose examples cost more."""
    name = profile_name()
    examples, steps, plain = SIZES[name]
    examples, plain = round(examples * share), round(plain * share)
    if postgres:  # every step is a round trip to the server: fewer examples, same kinds of steps
        examples, plain = max(8, examples // 2), max(10, plain // 2)
    if name == "explore":
        database: Any = DirectoryBasedExampleDatabase(Path(tempfile.gettempdir()) / "hjulet-hypothesis")
        chance: dict[str, Any] = {"derandomize": False, "database": database}
    else:
        chance = {"derandomize": True, "database": None}
    if machine:
        return settings(max_examples=examples, stateful_step_count=steps, **_BASE, **chance)
    return settings(max_examples=plain, **_BASE, **chance)


# ---- what families type -------------------------------------------------------

# Characters that have broken chat software before: controls, bidi overrides and isolates, joiners,
# combining marks, a BOM, emoji with skin tones and joiners, right-to-left letters, format braces.
TRICKY = (
    "\x00\x07\x08\x1b\x7f\r\n\t\u0085\u2028\u2029\u200b\u200c\u200d\u200e\u200f\u202a\u202e\u2066\u2069"
    "\ufeff\ufffd\u0301\u0308\u0651\u064b\u1ab0 😀👍🏽👩‍👧‍👦🇸🇪ءابةی۳٣ሰላምጽąüåÅø中{}%$/\\\"'<>&"
)
CHARACTERS = st.one_of(
    st.characters(exclude_categories=()),  # every code point, lone surrogates too (JSON can carry them)
    st.sampled_from(TRICKY),
)
COMMANDS = ("/start", "/help", "/language", "/pause", "/mydata", "/restart", "/professional", "/delete")
ODD_COMMANDS = (
    "/xyz", "/", "//", "/HELP", "/help@hjulet_bot", "/ help", "/start now", "/mydata please", "/språk",
    "/ المساعدة", "/delete yes", "/restart\x00", "/\u202ehelp",
)  # fmt: skip
PLACEHOLDERS = ("{name}", "{phone_bris}", "{0}", "{}", "{{x}}", "%s", "{child_name}", "{n}", "{text")


@cache
def phrases() -> tuple[str, ...]:
    """Words that mean something to the service: every intent and choice example of every language,
    danger phrases, ages, numbers, unit names and format strings."""
    lexicon = load_lexicon()
    words = {w for examples in lexicon.examples.values() for w in examples}
    for path in sorted(RISK_DIR.glob("*.yml")):
        for item in read_items(path):
            if item.kind == "intent":
                words.update(item.examples[:6])
    words.update(["3 years 4 months", "4", "2 år", "٣ سنوات", "40", "-1", "0", "17 years 11 months"])
    words.update(["BVC Centrum", "Solrosen", "solrosens förskola", "Skolan", "nowhere", "Kim", "Åsa"])
    words.update(PLACEHOLDERS)
    return tuple(sorted(words))


def _long(unit: str, length: int) -> str:
    return (unit * (length // max(1, len(unit)) + 1))[:length]


SHORT_TEXT = st.text(CHARACTERS, max_size=40)
LONG_TEXT = st.builds(
    _long,
    st.one_of(st.text(CHARACTERS, min_size=1, max_size=12), st.sampled_from(["ord ", "ab. ", "😀", "x"])),
    st.integers(1000, 4200),
)
NUMBERS = st.integers(-2, 14).map(str) | st.sampled_from(
    ["1.", "2)", " 3 ", "٢", "۳", "01", "1e3", "99999999"]
)


def family_text() -> st.SearchStrategy[str]:
    """Anything a family may type, from nothing to more than Telegram's 4096 characters."""
    meaningful = st.sampled_from(phrases())
    mixed = st.builds(lambda a, b: f"{a} {b}", meaningful, SHORT_TEXT)
    # long messages cost the NLU a few hundred milliseconds: rarer than the short ones
    return st.one_of(SHORT_TEXT, meaningful, mixed, NUMBERS, st.sampled_from(PLACEHOLDERS)) | st.integers(
        0, 7
    ).flatmap(lambda n: LONG_TEXT if n == 0 else SHORT_TEXT)


# ---- the service, driven from synchronous code ---------------------------------


@dataclass(frozen=True)
class Snapshot:
    """What the database holds about one family after a message."""

    user_id: int | None = None
    conversation_id: int | None = None
    status: str | None = None
    step: str | None = None
    language: str | None = None
    state: dict[str, Any] | None = None
    answers: dict[tuple[int, str], tuple[str, str | None]] = field(default_factory=dict)
    concerns: tuple[int, ...] = ()

    def parsed(self) -> State | None:
        return State.model_validate(self.state) if self.state is not None else None


class Harness:
    """One event loop, one database engine and one conversation service for a whole test."""

    def __init__(self, database_url: str, data_dir: Path, understanding: Understanding | None) -> None:
        self.loop = asyncio.new_event_loop()
        self.settings: Settings = load_settings(
            data_dir=data_dir,
            default_language="sv",
            municipality="Växjö",
            municipality_code="vaxjo",
            phone_social="0470-410 00",
            phone_socialjour="0470-410 10",
        )
        self.db = make_engine(database_url, cipher=Cipher([("property", secrets.token_bytes(32))]))
        self.sessions = make_session_factory(self.db)
        self.engine = build_engine(self.settings)
        self.catalogs = Catalogs(self.settings.locales_dir)
        self.service = ConversationService(
            self.settings,
            self.sessions,
            self.engine,
            self.catalogs,
            load_lexicon(),
            SECRET,
            Desk(municipality="vaxjo"),
            understanding,
        )
        self.run(self._directory())

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coroutine)

    def close(self) -> None:
        self.run(self.db.dispose())
        self.loop.run_until_complete(self.loop.shutdown_default_executor())
        self.loop.close()

    async def _directory(self) -> None:
        """A BVC with a named person and a preschool: units to find, someone to route concerns to."""
        async with self.sessions() as session, session.begin():
            if await session.scalar(sa.select(Municipality).where(Municipality.code == "vaxjo")):
                return
            town = Municipality(
                code="vaxjo", name="Växjö", phone_social="0470-410 00", phone_socialjour="0470-410 10"
            )
            session.add(town)
            await session.flush()
            bvc = Unit(municipality_id=town.id, code="bvc_centrum", name="BVC Centrum", kind="bvc")
            session.add(bvc)
            await session.flush()
            session.add_all(
                [
                    Unit(
                        municipality_id=town.id,
                        code="solrosen",
                        name="Solrosens förskola",
                        kind="preschool",
                        partner_id=bvc.id,
                    ),
                    RoutingRule(municipality_id=town.id, min_age_months=0, max_age_months=215, kind="bvc"),
                    Staff(email="anna@bvc.example", name="Anna", role="named_person", unit_id=bvc.id),
                ]
            )

    async def snapshot(self, channel: str, user: str) -> Snapshot:
        async with self.sessions() as session:
            store = Store(session)
            found = await store.get_user(channel, pseudonym(SECRET, channel, user))
            if found is None:
                return Snapshot()
            conversation = await store.latest_conversation(found.id)
            rows = await session.execute(
                sa.select(Answer.conversation_id, Answer.question_id, Answer.code, Answer.free_text)
                .join(Conversation, Answer.conversation_id == Conversation.id)
                .where(Conversation.user_id == found.id)
            )
            answers = {(c, q): (code, text) for c, q, code, text in rows}
            concerns = await session.scalars(sa.select(Concern.id).where(Concern.user_id == found.id))
            if conversation is None:
                return Snapshot(found.id, answers=answers, concerns=tuple(concerns))
            return Snapshot(
                found.id,
                conversation.id,
                conversation.status,
                conversation.step,
                conversation.language,
                dict(conversation.state),
                answers,
                tuple(concerns),
            )
