"""Any sequence of messages, presses, commands and language switches: the conversation never reaches
an undefined state and never loses a stored answer.

A hypothesis state machine plays one family (a new one per example) against the real conversation
service, the real NLU and a real database. It keeps its own record of the answers the database held
after each step; an answer may change only when the family answered that question again, and go
away only after "/delete" and "yes". Another family, the bystander, must never be touched.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pytest
from hypothesis import given, note
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    precondition,
    rule,
    run_state_machine_as_test,
)

from backend.casework import Invalid
from backend.casework import _text as casework_text
from bot import invitations
from bot.service import TROUBLE, ConversationService, IncomingMessage, OutgoingReply
from flows import events as ev
from flows.engine import LANG_PREFIX, MORE_CODE
from flows.events import Msg
from nlu import LANGUAGES
from tests.property.harness import (
    CHARACTERS,
    COMMANDS,
    ODD_COMMANDS,
    SECRET,
    SHORT_TEXT,
    Harness,
    Snapshot,
    family_text,
    hypothesis_settings,
)

WAITING = frozenset({"choice", "scale", "text", "age", "language", "unit", "code"})
PLACEHOLDER = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*\}")
UNKNOWN_LANGUAGES = ("xx", "", "EN", "sv-SE", "ku", "lang:", "zz_ZZ", "en\x00")
MADE_UP_CODES = (
    "", "yes", "no", "skip", "explain", "good", "worried", MORE_CODE, "continue", "summary", "unit:solrosen",
    "unit:nowhere", "lang:xx", "lang:", "restart", "delete", "professional", "x" * 80, "\x00", "👍",
)  # fmt: skip
BAD_INVITES = ("bad payload", "", "solrosen", "solrosen-AAAAAAAAAAAAAAAA", "x" * 100, "-", "ünït-abc")
BYSTANDER = "bystander"
AGES = ("3", "4 years", "2 år 3 månader", "٣ سنوات", "1 year 11 months", "40", "soon")
NAMES = ("Kim", "Åsa", "محمد", "{child_name}", "skip", "my words about it", "Sam")
UNITS = ("BVC Centrum", "Solrosen", "solrosens forskola", "nowhere at all", "skip")
COMMENTS = ("she cries at night", "{name} is fine", "he hits her when he is drunk", "jag vet inte", "")
WORDS = {"age": AGES, "text": NAMES, "unit": UNITS, "code": NAMES, "comment": COMMENTS}
# Buttons that leave the question rather than answer it
DETOURS = frozenset(
    {"no", "professional", "explain", MORE_CODE, "delete", "restart", "pause", "language", "talk"}
)


def desk_text(text: str) -> str:
    """A message as the desk passes it on (backend/casework.py): printable characters, or nothing."""
    try:
        return casework_text(text, "message")
    except Invalid:
        return ""


def placeholders(text: str) -> set[str]:
    return set(PLACEHOLDER.findall(text))


@dataclass
class Figures:
    """What a run did, for the report at the end of the test."""

    examples: int = 0
    messages: int = 0
    kinds: dict[str, int] = field(default_factory=dict)
    reached: dict[str, int] = field(default_factory=dict)  # steps at which families stood, by flow
    most_answers: int = 0
    with_answers: int = 0  # messages after which the family had stored answers

    def count(self, kind: str) -> None:
        self.kinds[kind] = self.kinds.get(kind, 0) + 1


class ConversationMachine(RuleBasedStateMachine):
    harness: ClassVar[Harness]
    figures: ClassVar[Figures]
    bystander: ClassVar[Snapshot]
    families: ClassVar[itertools.count[int]] = itertools.count()

    def __init__(self) -> None:
        super().__init__()
        self.user = f"family-{next(self.families)}"
        self.channel, self.hint, self.address = "web", "sv", None
        self.messages = itertools.count()
        self.snap = Snapshot()  # what the database held after the last step
        self.current: list[tuple[str | None, str | None, str]] = []  # buttons of the last replies
        self.older: list[tuple[str | None, str | None, str]] = []  # buttons of earlier replies
        self.typed: set[str] = set()  # placeholders the family typed themselves (shown back in /mydata)
        self.last: IncomingMessage | None = None
        self.figures.examples += 1

    @property
    def service(self) -> ConversationService:
        return self.harness.service

    # ---- the family's moves ---------------------------------------------

    @initialize(
        channel=st.sampled_from(["web", "console", "telegram"]),
        hint=st.sampled_from([*LANGUAGES, *UNKNOWN_LANGUAGES, None]),
    )
    def arrive(self, channel: str, hint: str | None) -> None:
        self.channel, self.hint = channel, hint
        self.address = "4711" if channel == "telegram" else None  # replies go through the outbox

    @rule(text=family_text())
    def type_text(self, text: str) -> None:
        self.send("text", text=text)

    @precondition(lambda self: self.current)
    @rule(data=st.data())
    def press_a_button_of_the_last_reply(self, data: st.DataObject) -> None:
        flow, step, code = data.draw(st.sampled_from(self.current), label="button")
        if data.draw(st.booleans(), label="console style (no question)"):
            self.send("press", choice=code)
        else:
            self.send("press", choice=code, question=(flow or "", step or ""), ref="m1")

    @rule(data=st.data(), count=st.integers(1, 15))
    def answer_the_questions(self, data: st.DataObject, count: int) -> None:
        """Go on through the conversation, mostly forward: a button of the question on screen (an
        answer rather than a detour, more often than not), a name, an age, a comment."""
        for _ in range(count):
            state = self.snap.parsed()
            expecting = self.harness.engine.expecting(state) if state is not None else None
            kind = expecting.kind if expecting is not None else "none"
            if kind in WORDS and (kind != "comment" or data.draw(st.booleans(), label="comment")):
                self.send("answer", text=data.draw(st.sampled_from(WORDS[kind]), label="words"))
            elif self.current:
                forward = [
                    b for b in self.current if b[2] not in DETOURS and not b[2].startswith(LANG_PREFIX)
                ]
                buttons = (
                    st.sampled_from(forward) | st.sampled_from(self.current) if forward else st.nothing()
                )
                flow, step, code = data.draw(buttons | st.sampled_from(self.current), label="button")
                self.send("answer", choice=code, question=(flow or "", step or ""), ref="m1")
            else:
                self.send("answer", text=data.draw(st.sampled_from(NAMES), label="words"))

    @precondition(lambda self: self.older)
    @rule(data=st.data())
    def press_a_stale_button(self, data: st.DataObject) -> None:
        flow, step, code = data.draw(st.sampled_from(self.older), label="old button")
        self.send("stale press", choice=code, question=(flow or "", step or ""), ref="m0")

    @rule(
        code=st.sampled_from(MADE_UP_CODES) | st.text(CHARACTERS, max_size=70),
        question=st.none()
        | st.tuples(st.sampled_from(["mapping", "help", "delete", "nope", ""]), SHORT_TEXT)
        | st.just(("mapping", "safe_home")),
    )
    def press_a_made_up_button(self, code: str, question: tuple[str, str] | None) -> None:
        self.send("made-up press", choice=code, question=question)

    @rule(command=st.sampled_from(COMMANDS + ODD_COMMANDS))
    def write_a_command(self, command: str) -> None:
        self.send("command", text=command)

    @rule(name=st.sampled_from([*ev.COMMANDS, "xyz", "", "help me"]))
    def send_a_command_event(self, name: str) -> None:
        self.send("command event", command=name)

    @rule(invite=st.none() | st.sampled_from(BAD_INVITES) | st.just("valid") | SHORT_TEXT)
    def start_again(self, invite: str | None) -> None:
        if invite == "valid":
            invite = invitations.sign(SECRET, "solrosen")
        self.send("/start", start=True, invite=invite)

    @rule(code=st.sampled_from([*LANGUAGES, *UNKNOWN_LANGUAGES]), at_question=st.booleans())
    def press_a_language_button(self, code: str, at_question: bool) -> None:
        state = self.snap.parsed()
        frame = state.frame if state is not None else None
        question = (frame.flow, frame.step) if at_question and frame is not None else ("mapping", "welcome")
        self.send("language button", choice=f"{LANG_PREFIX}{code}", question=question)
        after = self.snap.parsed()
        if code in self.harness.settings.language_list and after is not None:
            assert after.lang == code, "a language button was pressed, but the conversation kept its language"
            assert self.snap.language == code

    @rule(hint=st.sampled_from([*LANGUAGES, *UNKNOWN_LANGUAGES, None]))
    def change_the_app_language(self, hint: str | None) -> None:
        self.hint = hint  # what Telegram or the browser says from now on

    @rule(confirm=st.sampled_from(["yes", "no"]), how=st.sampled_from(["press", "number", "words"]))
    def delete_my_data(self, confirm: str, how: str) -> None:
        self.send("/delete", text="/delete")
        self._confirm("delete", confirm, how)

    @rule(confirm=st.sampled_from(["yes", "no"]), how=st.sampled_from(["press", "number", "words"]))
    def start_over(self, confirm: str, how: str) -> None:
        self.send("/restart", text="/restart")
        self._confirm("restart", confirm, how)

    def two_tabs_at_once(self, data: st.DataObject, words: str) -> None:
        """The chat open twice: a press in one tab and words in the other, at the same moment.
        Both are answered, nothing stored is lost, and the conversation stays one the engine knows.
        Not a rule: which message wins is up to the scheduler, and hypothesis needs every step after
        a rule to go the same way when it replays an example (test_two_messages_at_once ends on it)."""
        if self.current:
            flow, step, code = data.draw(st.sampled_from(self.current), label="button")
            first = self.message(choice=code, question=(flow or "", step or ""))
        else:  # a question without buttons: words in both tabs
            first = self.message(text=data.draw(st.sampled_from([*AGES, *NAMES]), label="words"))
        messages = [first, self.message(text=words)]

        async def both() -> list[list[OutgoingReply]]:
            return list(await asyncio.gather(*(self.service.handle(m) for m in messages)))

        before = self.snap
        results = self.harness.run(both())
        after = self.harness.run(self.harness.snapshot(self.channel, self.user))
        self.figures.count("two at once")
        state = before.parsed()
        frame = state.frame if state is not None else None
        at = (frame.flow, frame.step) if frame is not None else None
        deleted = not after.answers and at == ("delete", "confirm")
        for replies in results:
            assert replies, "one of two messages at once got no answer"
            self.check_replies(replies)
        if not deleted:
            lost = before.answers.keys() - after.answers.keys()
            assert not lost, f"answers {lost} were lost when two messages came at once"
        self.check_state(after)
        self.snap, self.last = after, messages[-1]
        self.remember([r for replies in results for r in replies])

    @precondition(lambda self: self.last is not None)
    @rule()
    def the_last_message_arrives_again(self) -> None:
        assert self.last is not None
        before = self.snap
        replies = self.harness.run(self.service.handle(self.last))
        after = self.harness.run(self.harness.snapshot(self.channel, self.user))
        self.figures.count("redelivery")
        assert replies == [], "a repeated delivery was answered again"
        assert after == before, "a repeated delivery changed the stored conversation"

    @precondition(lambda self: self.snap.concerns and self.snap.user_id is not None)
    @rule(text=SHORT_TEXT.map(desk_text).filter(bool))
    def the_named_person_writes(self, text: str) -> None:
        async def write() -> bool:
            async with self.harness.sessions() as session, session.begin():
                assert self.snap.user_id is not None
                return await self.service.message_from_staff(
                    session,
                    user_id=self.snap.user_id,
                    concern_id=self.snap.concerns[-1],
                    staff_name="Anna",
                    role=None,
                    unit="BVC Centrum",
                    text=text,
                )

        before = self.snap
        self.harness.run(write())
        self.figures.count("staff message")
        after = self.harness.run(self.harness.snapshot(self.channel, self.user))
        assert after.answers == before.answers, "a message from staff changed the family's answers"
        self.check_state(after)
        self.snap = after
        waiting = self.harness.run(self.service.waiting(self.channel, self.user))
        if self.channel != "telegram":
            self.check_replies(waiting)
            self.remember(waiting)

    # ---- one message and its checks ---------------------------------------

    def _confirm(self, flow: str, confirm: str, how: str) -> None:
        state = self.snap.parsed()
        frame = state.frame if state is not None else None
        if frame is None or (frame.flow, frame.step) != (flow, "confirm") or state is None or state.paused:
            return  # the command did not bring up the question (for example while paused)
        if how == "press":
            self.send(f"/{flow} {confirm}", choice=confirm, question=(flow, "confirm"))
        elif how == "number":
            self.send(f"/{flow} {confirm}", text="1" if confirm == "yes" else "2")
        else:
            lang = state.lang
            label = next(
                s.choices for s in self.harness.engine.flows[flow].steps if s.id == "confirm"
            )  # the button's own words, in the family's language
            words = next(c.label for c in label if c.code == confirm)
            self.send(f"/{flow} {confirm}", text=self.harness.catalogs.render(Msg(words), lang))

    def message(self, **fields: Any) -> IncomingMessage:
        return IncomingMessage(
            channel=self.channel,
            user_id=self.user,
            language_hint=self.hint,
            address=self.address,
            event_id=f"{self.user}:{next(self.messages)}",
            **fields,
        )

    def send(self, kind: str, **fields: Any) -> list[OutgoingReply]:
        message = self.message(**fields)
        self.typed |= placeholders(message.text or "")
        before = self.snap
        started = time.perf_counter()
        replies = self.harness.run(self.service.handle(message))
        took = time.perf_counter() - started
        after = self.harness.run(self.harness.snapshot(self.channel, self.user))
        note(f"{kind}: {_short(fields)} -> {[r.text[:60] for r in replies]} ({took * 1000:.0f} ms)")
        self.figures.messages += 1
        self.figures.count(kind)
        assert replies, "the family got no answer at all"
        self.check_replies(replies)
        self.check_answers(before, after, message)
        self.check_state(after)
        if kind == "stale press" and [r.kind for r in replies] == ["notice"]:
            assert after == before, "an old button that was refused changed the conversation"
        self.check_asked(after, replies)
        self.snap, self.last = after, message
        self.tally(after)
        self.remember(replies)
        return replies

    def check_replies(self, replies: list[OutgoingReply]) -> None:
        trouble = self.harness.catalogs.render(Msg(TROUBLE), "en")
        for reply in replies:
            assert reply.text.strip(), f"an empty reply: {reply}"
            assert reply.text != trouble and "something went wrong" not in reply.text
            leftover = placeholders(reply.text) - self.typed
            assert not leftover, f"unfilled {leftover} in {reply.text!r}"
            for code, label in reply.buttons:
                assert code and label.strip(), f"a button without a code or a label: {reply}"

    def check_answers(self, before: Snapshot, after: Snapshot, message: IncomingMessage) -> None:
        """Every stored answer is still there with the same code, unless the family answered that
        very question again (the question on screen) or said yes to deleting everything."""
        state = before.parsed()
        frame = state.frame if state is not None else None
        awake = state is not None and not state.paused
        on_screen = (
            (before.conversation_id, frame.step)
            if frame is not None and awake and not message.command
            else None
        )
        a_press_or_words = message.choice is not None or message.text is not None
        deleting = (
            frame is not None
            and awake
            and (frame.flow, frame.step) == ("delete", "confirm")
            and a_press_or_words
        )
        if deleting and not after.answers:
            return  # "/delete" and "yes": everything may go
        for key, (code, text) in before.answers.items():
            assert key in after.answers, f"the stored answer {key}={code} was lost after {message}"
            new_code, new_text = after.answers[key]
            answered_again = key == on_screen and frame is not None and frame.phase == "ask"
            if new_code != code:
                assert answered_again, f"{key} changed from {code} to {new_code} after {message}"
            if new_text != text:
                commented = key == on_screen and frame is not None and frame.phase == "comment"
                assert commented and new_text, f"the family's words on {key} changed after {message}"
        for key in after.answers.keys() - before.answers.keys():
            assert key == on_screen, f"an answer to {key} was stored, but the question on screen was {frame}"
            assert state is not None and state.vars.get("consent_store") == "yes", "stored without consent"

    def check_asked(self, snap: Snapshot, replies: list[OutgoingReply]) -> None:
        """A family that is in the middle of the conversation sees the question they are on last."""
        state = snap.parsed()
        if state is None or state.frame is None or state.paused or not state.started:
            return
        if [r.kind for r in replies] == ["notice"]:
            return  # an old button: the question stays on the screen above
        shown = [r for r in replies if r.kind == "message"]
        assert shown, "no message"
        last = shown[-1]
        if last.step is None or last.flow is None:  # the engine's last word may be a note, then nothing
            assert state.frame.flow != "mapping" or state.finished, (
                f"the family is at {state.frame} but the last thing they read was {last.text!r}"
            )
            return
        assert (last.flow, last.step) == (state.frame.flow, state.frame.step), (
            f"the family is at {state.frame} but was last asked {last.flow}.{last.step}"
        )

    def check_state(self, snap: Snapshot) -> None:
        """The stored conversation is one the engine can go on from."""
        if snap.user_id is None:
            return  # erased
        assert snap.conversation_id is not None, "a family without a conversation"
        state = snap.parsed()
        assert state is not None
        engine = self.harness.engine
        assert state.lang in self.harness.settings.language_list and snap.language == state.lang
        assert snap.status == ("paused" if state.paused else "done" if state.finished else "active")
        for frame in state.stack:
            assert frame.flow in engine.flows, f"unknown flow {frame.flow}"
            assert frame.step in {s.id for s in engine.flows[frame.flow].steps}, f"unknown step {frame}"
        top = state.frame
        if not state.started:  # nothing asked yet (or a round declined): the start comes next
            assert state.stack in ([], engine.new_state(state.lang).stack), state
            return
        if top is None:
            assert snap.step is None
            assert state.finished, f"an empty conversation that is not done: {state}"
        else:
            assert snap.step == top.step
            step = engine.flows[top.flow].step(top.step)
            if not state.paused:
                assert step.kind in WAITING, f"the conversation stopped at a {step.kind} step: {top}"
            if top.phase == "comment":
                assert step.kind == "scale", f"a comment on a {step.kind} step"
        engine.expecting(state)

    def tally(self, snap: Snapshot) -> None:
        state = snap.parsed()
        if state is not None and state.frame is not None:
            key = state.frame.flow if state.frame.phase == "ask" else f"{state.frame.flow} comment"
            self.figures.reached[key] = self.figures.reached.get(key, 0) + 1
        self.figures.most_answers = max(self.figures.most_answers, len(snap.answers))
        self.figures.with_answers += bool(snap.answers)

    def remember(self, replies: list[OutgoingReply]) -> None:
        shown = [(r.flow, r.step, code) for r in replies if r.kind == "message" for code, _ in r.buttons]
        if any(r.kind == "message" and r.step for r in replies):
            self.older.extend(b for b in self.current if b not in self.older)
            self.current = shown
        else:
            self.current = [*self.current, *shown]

    def teardown(self) -> None:
        bystander = self.harness.run(self.harness.snapshot("web", BYSTANDER))
        assert bystander == self.bystander, "another family's conversation changed"


def _short(fields: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v!r:.80}" for k, v in fields.items() if v is not None)


def _bystander(harness: Harness) -> Snapshot:
    """A family that answered a few questions, a worry with their own words among them."""
    for fields in (
        {"start": True},
        {"choice": "en"},
        {"choice": "yes"},
        {"choice": "yes"},
        {"text": "Ada"},
        {"text": "4"},
        {"choice": "skip"},
        {"choice": "good"},
        {"choice": "worried"},
        {"text": "she cries at night"},
    ):
        message = IncomingMessage(channel="web", user_id=BYSTANDER, language_hint="en", **fields)
        harness.run(harness.service.handle(message))
    snap = harness.run(harness.snapshot("web", BYSTANDER))
    assert len(snap.answers) == 2
    return snap


@contextmanager
def prepared(database_url: str, tmp_path: Path, understanding: Any) -> Iterator[Harness]:
    harness = Harness(database_url, tmp_path, understanding)
    try:
        ConversationMachine.harness = harness
        ConversationMachine.figures = Figures()
        ConversationMachine.bystander = _bystander(harness)
        yield harness
    finally:
        harness.close()


def run_machine(database_url: str, tmp_path: Path, understanding: Any, postgres: bool) -> Figures:
    with prepared(database_url, tmp_path, understanding):
        run_state_machine_as_test(
            ConversationMachine, settings=hypothesis_settings(machine=True, postgres=postgres)
        )
        return ConversationMachine.figures


def test_any_sequence_keeps_the_conversation_defined_and_the_answers(
    database_url: str, tmp_path: Path, understanding: Any, record: Callable[[str, Figures], None]
) -> None:
    postgres = database_url.startswith("postgresql")
    started = time.perf_counter()
    figures = run_machine(database_url, tmp_path, understanding, postgres)
    figures.kinds["seconds"] = round(time.perf_counter() - started)
    record("postgresql" if postgres else "sqlite", figures)
    assert figures.examples >= 8 and figures.messages >= 100  # the machine really ran


def test_two_messages_at_once(database_url: str, tmp_path: Path, understanding: Any) -> None:
    """Some way into the conversation, a press in one tab and words in another arrive together."""
    with prepared(database_url, tmp_path, understanding):

        @given(
            channel=st.sampled_from(["web", "console"]),
            count=st.integers(1, 30),
            data=st.data(),
            words=family_text(),
        )
        @hypothesis_settings(machine=False, postgres=database_url.startswith("postgresql"), share=0.5)
        def tabs(channel: str, count: int, data: st.DataObject, words: str) -> None:
            family = ConversationMachine()
            family.arrive(channel, "en")
            family.answer_the_questions(data, count)
            family.two_tabs_at_once(data, words)
            family.teardown()

        tabs()
        assert ConversationMachine.figures.kinds.get("two at once", 0) >= 10


@pytest.fixture
def record() -> Callable[[str, Figures], None]:
    """Print what the machine did (visible with -s or in the report of a failing run)."""

    def show(database: str, figures: Figures) -> None:
        steps = sum(v for k, v in figures.kinds.items() if k != "seconds")
        print(
            f"\n[{database}] {figures.examples} examples, {figures.messages} messages, "
            f"{steps} steps in {figures.kinds['seconds']} s; {figures.kinds}; stood in {figures.reached}; "
            f"at most {figures.most_answers} answers stored, {figures.with_answers} messages with answers",
            flush=True,
        )
        if os.environ.get("HJULET_PROPERTY_FIGURES"):
            with open(os.environ["HJULET_PROPERTY_FIGURES"], "a", encoding="utf-8") as out:
                out.write(f"{database}: {figures}\n")

    return show
