"""The conversation service every channel shares.

One incoming message = one database transaction: the event id is claimed, the
engine runs on the stored state, its effects (answers, consents, concerns) and
the new state are written together. Replies are rendered afterwards, in the
user's language. Channels only translate to and from `IncomingMessage`/`OutgoingReply`.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend import professional
from backend.intake import Desk, add_signal, answer_to_staff, file_concern, municipality_of
from bot import invitations, mydata
from bot.i18n import Catalogs, is_rtl
from bot.settings import Settings
from flows import events as ev
from flows.engine import MORE_CODE, MORE_LANGUAGES, UNIT_PREFIX, Engine, Outcome
from flows.events import Msg
from flows.i18n import N_
from flows.state import State
from nlu import Lexicon, Parse, Understanding, clean, normalize
from nlu.age import parse_age
from nlu.indicators import IndicatorSuggester
from nlu.matching import Option
from storage import ConcurrentUpdate, Conversation, Store, User, chat_links, pseudonym
from storage.outbox import Outbox

log = logging.getLogger(__name__)
RETRIES = 3
TROUBLE = N_("Sorry, something went wrong on our side. Your answers are saved. Please try again in a moment.")
# While the database is away, to a family whose message the channel will deliver again (Telegram):
# they must not send it again, or the second copy would answer the next question.
WILL_ANSWER = N_(
    "Sorry, we have a problem on our side. We have your message and will answer it in a moment. "
    "You do not need to send it again."
)
LANGUAGES_KEPT = 10_000  # families whose language this process remembers, for when the database is away
ALREADY_ANSWERED = N_("You have already answered that question.")
KEPT_BEFORE = N_(
    "The answers you gave before stay saved. Write /mydata to read them or /delete to delete them."
)
FROM_STAFF = N_("A message from {name}, {role} at {unit}:")
ROLES = {"named_person": N_("your child's named person"), "unit_lead": N_("the head of the unit")}
# Where a console user is reached: the console shows waiting messages at its next prompt.
CONSOLE_ADDRESS = "console"
# Intents that answer the question on screen (when it has that choice), and wishes that work anywhere.
PROFESSIONAL_FLOW = "professional"  # flows/professional.yaml
INTENT_CHOICES = {
    "rate_good": "good",
    "rate_some_worries": "some_worries",
    "rate_worried": "worried",
    "dont_know": "dont_know",
    "affirm": "yes",
    "deny": "no",
    "explain": "explain",
}
INTENT_COMMANDS = {
    "help": "help",
    "stop": "pause",
    "change_language": "language",
    "delete_data": "delete",
    "talk_to_person": "talk",
}
CHOICE_CONFIDENCE = 0.7  # below this, ask again rather than guess
COMMAND_CONFIDENCE = 0.75
# Child fields kept in the conversation's variables, copied to the child record when it is created.
CHILD_VARS = {
    "child.name": "name",
    "child.age_years": "age_years",
    "child.age_months": "age_months",
    "child.unit": "unit_text",
    "child.unit_code": "unit_code",
}
GATED = (ev.SaveAnswer, ev.SaveAnswerText, ev.UpdateChild, ev.RaiseConcern)


@dataclass(frozen=True)
class IncomingMessage:
    """What a channel hands over: a user's words, a pressed choice, a command, or a start."""

    channel: str
    user_id: str  # the channel's raw id; only its pseudonym is stored
    text: str | None = None
    choice: str | None = None
    command: str | None = None
    start: bool = False
    event_id: str | None = None  # for deduplication of repeated deliveries
    language_hint: str | None = None
    # Where replies go (a Telegram chat id). With it, replies are queued in the outbox, in the
    # same transaction, for the channel's sender; the address is stored encrypted.
    address: str | None = None
    question: tuple[str, str] | None = None  # (flow, step) of the pressed button's question
    ref: str | None = None  # the channel's id of the message whose button was pressed
    invite: str | None = None  # a signed invitation payload (see bot.invitations)


ReplyKind = Literal["message", "answered", "notice", "wheel"]


@dataclass(frozen=True)
class OutgoingReply:
    """A rendered reply. kind "answered": close question `text`'s buttons (message `ref`), showing the
    chosen button if any. kind "notice": a short note about a press (for example "already answered").
    `queued`: already in the outbox, so the channel's sender delivers it, not the channel itself."""

    text: str
    buttons: tuple[tuple[str, str], ...] = ()  # (code, label)
    step: str | None = None
    accepts_text: bool = False
    rtl: bool = False
    kind: ReplyKind = "message"
    flow: str | None = None
    ref: str | None = None
    queued: bool = False

    def payload(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "buttons": [list(b) for b in self.buttons],
            "step": self.step,
            "flow": self.flow,
            "accepts_text": self.accepts_text,
            "rtl": self.rtl,
            "kind": self.kind,
            "ref": self.ref,
        }

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> OutgoingReply:
        return cls(
            text=str(data["text"]),
            buttons=tuple((str(code), str(label)) for code, label in data.get("buttons", [])),
            step=data.get("step"),
            accepts_text=bool(data.get("accepts_text")),
            rtl=bool(data.get("rtl")),
            kind=data.get("kind", "message"),
            flow=data.get("flow"),
            ref=data.get("ref"),
            queued=True,
        )


@dataclass
class _Applied:
    lines: dict[int, list[str]] = field(default_factory=dict)  # extra lines after reply i
    erased: list[str] = field(default_factory=list)
    removed: bool = False
    conversation: Conversation | None = None  # the one to save (a restart makes a new one)


class ConversationService:
    def __init__(
        self,
        settings: Settings,
        sessions: async_sessionmaker[AsyncSession],
        engine: Engine,
        catalogs: Catalogs,
        lexicon: Lexicon,
        secret: bytes,
        desk: Desk | None = None,
        understanding: Understanding | None = None,
    ) -> None:
        self.settings, self.sessions, self.engine = settings, sessions, engine
        self.catalogs, self.lexicon, self.secret = catalogs, lexicon, secret
        self.understanding = understanding  # None: words are matched to the choices only (tests)
        self.desk = desk or Desk(municipality=settings.municipality_code or None)
        self.context = settings.context()
        self.questions = mydata.question_texts(engine.flows)
        self._suggester: IndicatorSuggester | None = None  # built on the first professional report
        self._languages: OrderedDict[str, str] = OrderedDict()  # pseudonym -> language, newest last

    async def handle(self, message: IncomingMessage) -> list[OutgoingReply]:
        started = time.perf_counter()
        for attempt in range(1, RETRIES + 1):
            try:
                replies = await self._handle_once(message)
                break
            except ConcurrentUpdate:
                log.info("conversation changed meanwhile; retry %d", attempt)
        else:
            return [self._trouble(message.language_hint or self.settings.default_language)]
        log.debug("handled %s message in %.1f ms", message.channel, (time.perf_counter() - started) * 1000)
        return replies

    async def _handle_once(self, message: IncomingMessage) -> list[OutgoingReply]:
        user_key = pseudonym(self.secret, message.channel, message.user_id)
        async with self.sessions() as session, session.begin():
            store = Store(session)
            if message.event_id and not await store.claim_event(f"{message.channel}:{message.event_id}"):
                return []  # a repeated delivery: already handled, nothing to say twice
            lang = self._language(message.language_hint)
            if message.question is not None and await store.get_user(message.channel, user_key) is None:
                return [self._notice(ALREADY_ANSWERED, lang)]  # a button from before /delete: store nothing
            user = await store.get_or_create_user(message.channel, user_key, lang)
            if message.address is not None and user.address != message.address:
                user.address = message.address
            conversation = await store.latest_conversation(user.id)
            state = self._state(conversation, user.language or lang)
            if message.language_hint in self.settings.language_list and not state.vars.get("language_hints"):
                state.vars["language_hints"] = message.language_hint  # the family's app or browser
            if conversation is None:
                conversation = await store.create_conversation(
                    user.id, self.engine.main, state.lang, state.model_dump(mode="json")
                )
            if message.question is not None and not self.engine.accepts(
                state, *message.question, message.choice or ""
            ):
                return [self._notice(ALREADY_ANSWERED, state.lang)]  # an old keyboard: change nothing
            if message.start and message.invite:
                await self._invited(store, conversation, state, message.invite)
            context = await self._context(store.session, state, user.id)
            event = self._event(message, state)
            understood = await self._understand(message, state)
            if understood is not None:
                event = self._intent(understood, state, event)
                self._hint_language(state, understood)
            event = await self._directory(store.session, state, event, user.id)
            professional = state.frame is not None and state.frame.flow == PROFESSIONAL_FLOW
            if professional and understood is not None:
                # A professional's report is the concern: the flow gives 112 and the duty to report
                # itself, and filing it reads the risk again (never a second, family alert).
                outcome = self.engine.handle(state, event, context)
            elif understood is not None and understood.risk_level != "none":
                outcome = self._with_safety(state, event, understood, context)
            else:
                outcome = self.engine.handle(state, event, context)
            if understood is not None and understood.suggested_language:
                offer = self.engine.offer_language(outcome.state, understood.suggested_language, context)
                outcome = Outcome(offer.state, [*outcome.replies, *offer.replies], outcome.effects)
            applied = await self._apply(store, user, conversation, state, outcome, understood)
            if not applied.removed:
                await self._save(store, applied.conversation or conversation, outcome.state)
            replies = self._render(outcome, applied, message.ref)
            self._remember_language(user_key, outcome.state.lang)
            if message.address is not None:
                replies = await self._queue(
                    session, message, user_key, None if applied.removed else user.id, replies
                )
        return replies

    async def _invited(self, store: Store, conversation: Conversation, state: State, payload: str) -> None:
        """A family came through a unit's invitation: remember the unit for the child."""
        unit = invitations.verify(self.secret, payload)
        if unit is None:
            log.info("an invitation payload did not verify; starting without a unit")
            return
        state.vars["child.unit_code"] = unit
        state.vars["invited"] = "yes"
        if conversation.child_id is not None:
            await store.update_child(conversation.child_id, unit_code=unit)

    async def _queue(
        self,
        session: AsyncSession,
        message: IncomingMessage,
        chat_key: str,
        user_id: int | None,
        replies: list[OutgoingReply],
    ) -> list[OutgoingReply]:
        """Put the replies in the outbox, in this transaction: sent once the change is stored."""
        assert message.address is not None
        outbox = Outbox(session)
        for reply in replies:
            if reply.kind == "notice" or (reply.kind == "wheel" and message.channel != "telegram"):
                continue  # a note shown at once; a picture only Telegram's sender draws (from the codes)
            await outbox.add(
                channel=message.channel,
                chat_key=chat_key,
                user_id=user_id,
                address=message.address,
                kind=reply.kind,
                payload=reply.payload(),
                has_buttons=bool(reply.buttons) and reply.kind == "message",
            )
        return [r if r.kind == "notice" else replace(r, queued=True) for r in replies]

    async def _context(self, session: AsyncSession, state: State, user_id: int) -> dict[str, str]:
        """Phone numbers and the municipality: from the directory (the family's unit's municipality,
        else the home one), else from the settings. For the professional flow: whether this chat is
        linked to a member of staff, and whether the municipality wants the child's identity."""
        context = dict(self.context)
        if (state.frame is not None and state.frame.flow == PROFESSIONAL_FLOW) or state.stack == []:
            context["staff_verified"] = "yes" if await chat_links.staff_of(session, user_id) else "no"
            context["ask_child_identity"] = "yes" if self.settings.professional_child_identity else "no"
        unit_code = state.vars.get("child.unit_code")
        municipality = await municipality_of(
            session, self.desk, unit_code if isinstance(unit_code, str) else None
        )
        if municipality is not None:
            context["municipality"] = municipality.name
            context["phone_social"] = municipality.phone_social or context["phone_social"]
            context["phone_socialjour"] = municipality.phone_socialjour or context["phone_socialjour"]
        return context

    # ---- reading the message --------------------------------------------

    def _language(self, hint: str | None) -> str:
        return hint if hint in self.settings.language_list else self.settings.default_language

    def _state(self, conversation: Conversation | None, lang: str) -> State:
        if conversation is not None:
            try:
                state = State.model_validate(conversation.state)
                if all(f.flow in self.engine.flows for f in state.stack):
                    return state
            except ValidationError:
                pass
            log.warning("stored state no longer fits the flows; starting the flow again")
        return self.engine.new_state(lang)

    def _event(self, message: IncomingMessage, state: State) -> ev.Event:
        if message.start:
            return ev.Start()
        if message.command:
            name = message.command if message.command in ev.COMMANDS else None
            return ev.Command(name) if name else ev.NotUnderstood(message.command)  # type: ignore[arg-type]
        if message.choice is not None:
            return ev.Choice(message.choice)
        text = clean(message.text or "")
        if not text:
            return ev.NotUnderstood("")
        expectation = self.engine.expecting(state)
        if expectation.careful:  # only this step's button words, as shown, or a command
            said = normalize(text)
            shown = (normalize(self.catalogs.render(label, state.lang)) for label in expectation.labels)
            chosen = [code for code, words in zip(expectation.codes, shown, strict=True) if words == said]
            if chosen:
                return ev.Choice(chosen[0])
            command = self.lexicon.command(text)
            return ev.Command(command) if command else ev.NotUnderstood(text)  # type: ignore[arg-type]
        options = [
            Option(code, self._labels(code, expectation.kind, state.lang)) for code in expectation.codes
        ]
        exact = None if text.startswith("/") else self.lexicon.choose(text, options, fuzzy=False)
        if exact is not None:  # the words of a choice on screen win over a command that sounds alike
            return ev.Choice(exact)
        command = self.lexicon.command(text)
        if command:
            return ev.Command(command)  # type: ignore[arg-type]
        if expectation.kind == "age":
            age = parse_age(text)
            if age is not None:
                return ev.Age(*age)
        code = self.lexicon.choose(text, options)
        if code is not None:
            return ev.Choice(code)
        if expectation.kind in ("text", "comment"):
            return ev.Text(text, state.lang)
        return ev.NotUnderstood(text)

    async def _directory(
        self, session: AsyncSession, state: State, event: ev.Event, user_id: int
    ) -> ev.Event:
        """At a `unit` step the directory answers (a unit named, one of several pressed, or "I do not
        know"); at a `code` step the desk's one-time code is redeemed for this chat."""
        kind = self.engine.expecting(state).kind
        if kind == "unit":
            age = state.vars.get("pro.age_months")
            months = int(age) if isinstance(age, (int, str)) and str(age).isdecimal() else None
            if isinstance(event, ev.Choice) and event.code.startswith(UNIT_PREFIX):
                unit = event.code.removeprefix(UNIT_PREFIX)
            elif isinstance(event, ev.Choice) and event.code == "skip":
                unit = None
            elif isinstance(event, ev.NotUnderstood) and event.text.strip():
                found = await professional.find_units(session, event.text)
                if len(found) != 1:
                    return ev.UnitFound(candidates=tuple(found))
                unit = found[0][0]
            else:
                return event
            contact = await professional.contact_for(session, self.desk, unit, months)
            return ev.UnitFound(contact=contact.fields)
        if kind == "code" and isinstance(event, ev.NotUnderstood) and event.text.strip():
            staff = await chat_links.redeem(session, event.text, user_id)
            return ev.Verified(staff.name if staff is not None else None)
        return event

    async def _understand(self, message: IncomingMessage, state: State) -> Parse | None:
        """Language, intent and risk of words the family typed (not of presses or commands)."""
        text = clean(message.text or "")
        if self.understanding is None or not text or text.startswith("/"):
            return None
        return await asyncio.to_thread(self.understanding.parse, text, state.lang)

    def _hint_language(self, state: State, understood: Parse) -> None:
        """The language the family writes in goes first when languages are offered (never switched)."""
        written = understood.suggested_language
        if written is None and self.engine.expecting(state).kind == "language":
            written = understood.language if understood.language_confidence >= 0.5 else None
        if written in self.settings.language_list:
            hints = [c for c in str(state.vars.get("language_hints") or "").split(",") if c and c != written]
            state.vars["language_hints"] = ",".join([written, *hints])

    def _intent(self, understood: Parse, state: State, event: ev.Event) -> ev.Event:
        """Words the choices did not match, read by their intent: an answer, or a wish (help, talk,
        pause, another language, deletion) anywhere. Unsure: not understood, so the question is
        asked again rather than guessed."""
        if not isinstance(event, ev.NotUnderstood):
            return event
        expectation = self.engine.expecting(state)
        code = INTENT_CHOICES.get(understood.intent)
        sure = understood.intent_confidence
        if (
            code is not None
            and not expectation.careful
            and sure >= CHOICE_CONFIDENCE
            and (code in expectation.codes or code == "explain")
        ):
            return ev.Choice(code)
        command = INTENT_COMMANDS.get(understood.intent)
        if command is not None and sure >= COMMAND_CONFIDENCE:
            return ev.Command(command)  # type: ignore[arg-type]
        return event

    def _with_safety(
        self, state: State, event: ev.Event, understood: Parse, context: dict[str, str]
    ) -> Outcome:
        """Calm help and an urgent concern, at once; then the conversation goes on where it was."""
        variables: dict[str, ev.Param | None] = {
            "risk_level": understood.risk_level,
            "risk_categories": ",".join(understood.risk_categories),
        }
        if isinstance(event, ev.NotUnderstood | ev.Command):  # the words were no answer: ask again after
            return self.engine.interrupt(state, "safety", variables, context)
        answered = self.engine.handle(state, event, context)  # the words were also an answer: keep it
        safety = self.engine.interrupt(answered.state, "safety", variables, context, resume=False)
        closing = [r for r in answered.replies if r.kind == "answered"]
        rest = [r for r in answered.replies if r.kind != "answered"]
        return Outcome(safety.state, [*closing, *safety.replies, *rest], [*answered.effects, *safety.effects])

    def _labels(self, code: str, kind: str, lang: str) -> tuple[str, ...]:
        if kind == "language" and code in self.settings.language_list:
            return (self.catalogs.render(Msg(code, kind="language"), lang), code)
        if code == MORE_CODE:  # "More languages", the language list's last button
            return (self.catalogs.gettext(MORE_LANGUAGES, lang), MORE_LANGUAGES)
        labels = [
            b.label for f in self.engine.flows.values() for s in f.steps for b in s.choices if b.code == code
        ]
        rendered = {self.catalogs.gettext(label, lang) for label in labels}
        return tuple(rendered | set(labels))

    # ---- effects --------------------------------------------------------

    async def _apply(
        self,
        store: Store,
        user: User,
        conversation: Conversation,
        before: State,
        outcome: Outcome,
        understood: Parse | None = None,
    ) -> _Applied:
        applied = _Applied(conversation=conversation)
        state = outcome.state
        lang = state.lang
        stored_ok = state.vars.get("consent_store") == "yes"
        for effect in outcome.effects:
            urgent = isinstance(effect, ev.RaiseConcern) and effect.kind == "urgent"
            if isinstance(effect, GATED) and not stored_ok and not urgent:
                continue  # nothing is stored without consent to store; a danger signal is
            if isinstance(effect, ev.SaveAnswer):
                child_id = await self._child(store, user, conversation, state)
                await store.upsert_answer(
                    conversation_id=conversation.id,
                    child_id=child_id,
                    indicator=effect.indicator.value if effect.indicator else None,
                    question_id=effect.question_id,
                    code=effect.code,
                    language=lang,
                )
            elif isinstance(effect, ev.SaveAnswerText):
                await store.set_answer_text(
                    conversation_id=conversation.id,
                    question_id=effect.question_id,
                    text=effect.text,
                    text_language=effect.language,
                )
            elif isinstance(effect, ev.UpdateChild):
                child_id = await self._child(store, user, conversation, state)
                column = "unit_text" if effect.field == "unit" else effect.field
                await store.update_child(child_id, **{column: effect.value})
            elif isinstance(effect, ev.RecordConsent):
                rendered = self.catalogs.gettext(effect.text_id, lang)
                digest = hashlib.sha256(rendered.encode()).hexdigest()[:12]
                await store.record_consent(
                    user_id=user.id,
                    child_id=conversation.child_id,
                    scope=effect.scope,
                    given=effect.given,
                    text_version=f"{effect.flow_version}:{lang}:{digest}",
                    language=lang,
                )
            elif isinstance(effect, ev.RaiseConcern):
                child_id = await self._child(store, user, conversation, state) if stored_ok else None
                concern = await file_concern(
                    store.session,
                    self.desk,
                    user_id=user.id,
                    child_id=child_id,
                    conversation_id=conversation.id,
                    kind=effect.kind,
                    reason=effect.reason,
                    priority=effect.priority,
                    answers_shared=effect.answers_shared,
                    hints=self._hints(state),
                )
                if urgent and understood is not None:  # the family's words, for whoever acts on it
                    await add_signal(store.session, concern, understood)
            elif isinstance(effect, ev.AnswerStaff):
                concern_id = state.vars.get("reply_concern")
                if isinstance(concern_id, int):
                    await answer_to_staff(
                        store.session, self.desk, concern_id, user.id, effect.text, effect.language
                    )
            elif isinstance(effect, ev.FileReport):
                await self._file_report(store.session, user, state, effect)
            elif isinstance(effect, ev.SetLanguage):
                await store.set_user_language(user, effect.language)
            elif isinstance(effect, ev.Erase):
                if effect.silent and (await store.user_data(user.id)).answers:
                    # "no" to saving a new round: the answers given before stay (only /delete erases them)
                    applied.erased = [self.catalogs.render(Msg(KEPT_BEFORE), lang)]
                    continue
                counts = await store.erase_user(user.id)
                applied.removed = True
                if not effect.silent:
                    render = lambda m: self.catalogs.render(m, lang)  # noqa: E731
                    kept = self.settings.retention_kept_concern_months  # said when the law keeps a report
                    applied.erased = mydata.erased(counts, render, kept)
                return applied
            elif isinstance(effect, ev.Restart):
                await store.save_conversation(
                    conversation,
                    step=None,
                    status="done",
                    language=lang,
                    state=before.model_dump(mode="json"),
                )
                conversation = await store.create_conversation(
                    user.id, self.engine.main, lang, state.model_dump(mode="json")
                )
                applied.conversation = conversation
        for index, reply in enumerate(outcome.replies):
            if reply.kind == "mydata":
                data = await store.user_data(user.id)
                render = lambda m: self.catalogs.render(m, lang)  # noqa: E731
                applied.lines[index] = mydata.describe(data, self.questions, render, lang)
        return applied

    async def _file_report(
        self, session: AsyncSession, user: User, state: State, report: ev.FileReport
    ) -> None:
        """A professional's worry into the named person's queue: only for a chat linked to the desk."""
        staff = await chat_links.staff_of(session, user.id)
        if staff is None:  # the link was removed meanwhile: nothing is filed (the flow asked for it)
            log.warning("a report from a chat that is not linked to the desk was not filed")
            return
        unit_code = state.vars.get("contact.unit_code")
        contact = await professional.contact_for(
            session, self.desk, unit_code if isinstance(unit_code, str) else None, None
        )
        seen = report.fields.get("seen", "")
        indicators: tuple[str, ...] = ()
        if self.understanding is not None and seen:
            understood = await asyncio.to_thread(self.understanding.parse, seen, report.language)
            if understood.risk_level == "urgent":
                report = ev.FileReport({**report.fields, "urgency": "danger"}, report.language)
            indicators = await asyncio.to_thread(self._indicators().suggest, seen, understood.risk)
        await professional.file_report(
            session,
            self.desk,
            user_id=user.id,
            professional=staff,
            contact=contact,
            report=report.fields,
            language=report.language,
            indicators=indicators,
        )

    def _indicators(self) -> IndicatorSuggester:
        assert self.understanding is not None
        if self._suggester is None:
            self._suggester = IndicatorSuggester(self.understanding.encoder)
        return self._suggester

    @staticmethod
    def _hints(state: State) -> dict[str, str | int]:
        """What routing may use when there is no child record (a danger signal before consent)."""
        hints: dict[str, str | int] = {}
        if isinstance(code := state.vars.get("child.unit_code"), str):
            hints["unit_code"] = code
        if isinstance(years := state.vars.get("child.age_years"), int):
            months = state.vars.get("child.age_months")
            hints["age_months"] = years * 12 + (months if isinstance(months, int) else 0)
        return hints

    async def _child(self, store: Store, user: User, conversation: Conversation, state: State) -> int:
        """The conversation's child, created (with what the conversation knows already) if new."""
        if conversation.child_id is None:
            child = await store.create_child(user.id)
            known = {
                column: state.vars[var]
                for var, column in CHILD_VARS.items()
                if state.vars.get(var) is not None
            }
            if known:
                await store.update_child(child.id, **known)
            conversation.child_id = child.id
        return conversation.child_id

    async def _save(self, store: Store, conversation: Conversation, state: State) -> None:
        frame = state.frame
        status = "paused" if state.paused else "done" if state.finished else "active"
        await store.save_conversation(
            conversation,
            step=frame.step if frame else None,
            status=status,
            language=state.lang,
            state=state.model_dump(mode="json"),
        )

    # ---- rendering ------------------------------------------------------

    def _render(self, outcome: Outcome, applied: _Applied, ref: str | None = None) -> list[OutgoingReply]:
        lang = outcome.state.lang
        rtl = is_rtl(lang)
        out: list[OutgoingReply] = []
        for index, reply in enumerate(outcome.replies):
            text = self.catalogs.render(reply.text, lang)
            extra = applied.lines.get(index)
            if extra:
                text = "\n".join([text, *extra])
            buttons = tuple((b.code, self.catalogs.render(b.label, lang)) for b in reply.buttons)
            kind: ReplyKind = reply.kind if reply.kind in ("answered", "wheel") else "message"
            out.append(
                OutgoingReply(
                    text,
                    buttons,
                    reply.step,
                    reply.accepts_text,
                    rtl,
                    kind=kind,
                    flow=reply.flow,
                    ref=ref if kind == "answered" else None,
                )
            )
        out.extend(OutgoingReply(line, rtl=rtl) for line in applied.erased)
        return out

    def _notice(self, message: str, lang: str) -> OutgoingReply:
        return OutgoingReply(self.catalogs.render(Msg(message), lang), rtl=is_rtl(lang), kind="notice")

    async def message_from_staff(
        self,
        session: AsyncSession,
        *,
        user_id: int,
        concern_id: int,
        staff_name: str,
        role: str | None,
        unit: str,
        text: str,
        role_code: str = "named_person",
    ) -> bool:
        """Send staff's words to the family, in the caller's transaction, through the family's own
        channel (the outbox); the family's next words are their answer. False: no way to reach them."""
        store = Store(session)
        user = await session.get(User, user_id)
        if user is None:
            return False
        conversation = await store.latest_conversation(user.id)
        state = self._state(conversation, user.language or self.settings.default_language)
        lang = state.lang
        variables: dict[str, ev.Param | None] = {
            "staff_name": staff_name,
            "reply_concern": concern_id,
            "reply_text": None,
        }
        context = await self._context(session, state, user.id)
        outcome = self.engine.interrupt(state, "reply", variables, context)
        if conversation is None:
            conversation = await store.create_conversation(user.id, self.engine.main, lang, {})
        await self._save(store, conversation, outcome.state)
        shown_role: ev.Param = role or Msg(ROLES.get(role_code, ROLES["named_person"]))  # a title as written
        header = Msg(FROM_STAFF, {"name": staff_name, "role": shown_role, "unit": unit})
        words = OutgoingReply(f"{self.catalogs.render(header, lang)}\n\n{text}", rtl=is_rtl(lang))
        # the console and the web chat fetch what waits for them (`waiting`) when the family is there
        address = user.address or (CONSOLE_ADDRESS if user.channel in ("console", "web") else None)
        if address is None:
            return False
        message = IncomingMessage(channel=user.channel, user_id="", address=address)
        await self._queue(
            session, message, user.pseudonym, user.id, [words, *self._render(outcome, _Applied())]
        )
        return True

    async def tell_family(self, session: AsyncSession, *, user_id: int, message: Msg) -> bool:
        """A notice to a family in their language, through their own channel (the outbox, in the
        caller's transaction), without touching their conversation. False: no way to reach them."""
        user = await session.get(User, user_id)
        if user is None:
            return False
        address = user.address or (CONSOLE_ADDRESS if user.channel in ("console", "web") else None)
        if address is None:
            return False
        lang = user.language or self.settings.default_language
        notice = OutgoingReply(self.catalogs.render(message, lang), rtl=is_rtl(lang))
        channel = IncomingMessage(channel=user.channel, user_id="", address=address)
        await self._queue(session, channel, user.pseudonym, user.id, [notice])
        return True

    async def language_of(self, channel: str, user_id: str) -> str | None:
        """The language a user chose, if they have been here before."""
        async with self.sessions() as session:
            user = await Store(session).get_user(channel, pseudonym(self.secret, channel, user_id))
        return user.language if user is not None else None

    async def latest_answers(self, channel: str, user_id: str) -> tuple[str, list[tuple[str | None, str]]]:
        """The user's language and the (indicator, code) of their newest conversation's answers."""
        async with self.sessions() as session:
            store = Store(session)
            user = await store.get_user(channel, pseudonym(self.secret, channel, user_id))
            if user is None:
                return self.settings.default_language, []
            conversation = await store.latest_conversation(user.id)
            answers = await store.answers_for_conversation(conversation.id) if conversation else []
        return user.language or self.settings.default_language, [(a.indicator, a.code) for a in answers]

    async def waiting(self, channel: str, user_id: str) -> list[OutgoingReply]:
        """Messages waiting for a user who is reached only when they are here (the console)."""
        chat_key = pseudonym(self.secret, channel, user_id)
        replies: list[OutgoingReply] = []
        async with self.sessions() as session, session.begin():
            outbox = Outbox(session)
            while items := await outbox.claim_due(channel, chat_key=chat_key):  # one at a time, in order
                for item in items:
                    await outbox.mark_sent(item.id)
                    replies.append(OutgoingReply.from_payload(item.payload))
        return replies

    def _remember_language(self, user_key: str, lang: str) -> None:
        self._languages[user_key] = lang
        self._languages.move_to_end(user_key)
        if len(self._languages) > LANGUAGES_KEPT:
            self._languages.popitem(last=False)

    def known_language(self, channel: str, user_id: str) -> str | None:
        """The language this process last saw the user speak, without asking the database."""
        return self._languages.get(pseudonym(self.secret, channel, user_id))

    def will_answer(self, channel: str, user_id: str, hint: str | None = None) -> OutgoingReply:
        """What to say while the database is away to a family whose message comes again by itself
        (Telegram delivers it again): in their language if this process knows it, else the hint's."""
        lang = self.known_language(channel, user_id) or self._language(hint)
        return OutgoingReply(self.catalogs.render(Msg(WILL_ANSWER), lang), rtl=is_rtl(lang))

    def trouble(self, lang: str | None = None) -> OutgoingReply:
        """What to say when the message could not be handled (nothing was half-saved)."""
        return self._trouble(self._language(lang))

    def _trouble(self, lang: str) -> OutgoingReply:
        return OutgoingReply(self.catalogs.render(Msg(TROUBLE), lang), rtl=is_rtl(lang))
