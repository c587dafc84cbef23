"""The flow engine: (state, event) -> (new state, replies, effects). Pure: no I/O.

The engine walks flow files. Steps that need no answer (say, branch, action)
run on until a step waits for the user. Commands work anywhere; help, language,
delete and restart are small flows of their own, pushed on a stack and popped
back to the question the user was on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from flows import events as ev
from flows.conditions import parse_condition
from flows.events import Button, Msg, Reply
from flows.glossary import TERMS
from flows.i18n import N_
from flows.schema import CHILD_FIELDS, END, ChoiceSpec, Flow, Step
from flows.state import AnswerState, Frame, State
from flows.wellbeing import INDICATORS, RATINGS, SCALE_LABELS, WORRIES, Indicator, Scale

MAX_TRANSITIONS = 500
SHORT_LANGUAGE_LIST = 4  # languages shown before "More languages"
MORE_CODE = "more_languages"
LANG_PREFIX = "lang:"  # a language button that works at any point: "lang:ar"
COMMAND_FLOWS = {
    "help": "help",
    "language": "language",
    "delete": "delete",
    "restart": "restart",
    "professional": "professional",
}

SORRY = N_("Sorry, I did not understand that.")
SORRY_AGAIN = N_(
    "You can press a button or write its number. If the question is unclear, choose Explain more."
)
WELCOME_BACK = N_("Welcome back! We go on where you left off.")
PAUSED = N_("We have paused. Your answers are saved. Write anything when you want to go on.")
THANKS = N_("Thank you.")
EXPLAIN = N_("Explain more")
WHAT_DOES_IT_MEAN = N_("What does it mean?")
UNIT_UNKNOWN = N_("I do not know which one that is")
UNIT_NOT_FOUND = N_("I could not find that unit. Please check the name, or choose that you do not know it.")
UNIT_WHICH = N_("Several units fit. Which one do you mean?")
NO_CODE = N_("I have no code")
CODE_WRONG = N_("That code does not work. It may be too old. Make a new code in the desk and try again.")
UNIT_PREFIX = "unit:"  # a button for one of several units the words fit
SKIP = N_("Skip")
GENERIC_EXPLAIN = N_("Choose the answer that fits best. If you are not sure, choose Don't know.")
COMMENT_PROMPT = N_("Do you want to tell us more? Write a few words in your own language. Or choose Skip.")
AGE_AGAIN = N_("Please write the age with numbers, for example 3 years 4 months.")
SUMMARY_TITLE = N_("Here is a short summary of your answers.")
WHEEL_TITLE = N_("Your child's wheel")
SUMMARY_GOOD = N_("Going well: {indicators}.")
SUMMARY_SOME = N_("Some worries: {indicators}.")
SUMMARY_WORRIED = N_("Worried: {indicators}.")
SUMMARY_NONE = N_("You did not answer any question with It goes well, Some worries or Worried.")
MYDATA = N_("Here is everything we have saved about you and your child.")
FINISHED = N_("We are done. You can start over or read your answers with /mydata.")
MORE_LANGUAGES = N_("More languages")
OFFER_LANGUAGE = N_("It looks like you write in {language}. Do you want to use it here?")
TALK_THANKS = N_("Thank you. The named person will contact you within 3 working days.")


class EngineError(RuntimeError):
    """A flow that loops or points nowhere at run time."""


@dataclass(frozen=True)
class Expectation:
    """What the current step waits for, so a channel or the NLU can read free words."""

    kind: str  # choice | scale | text | age | comment | language | none
    step: str | None = None
    codes: tuple[str, ...] = ()
    careful: bool = False  # only a button's own words answer it (Step.careful)
    labels: tuple[Msg, ...] = ()  # the buttons' words, one per code


@dataclass
class Outcome:
    state: State
    replies: list[Reply] = field(default_factory=list)
    effects: list[ev.Effect] = field(default_factory=list)


class Engine:
    def __init__(self, flows: Mapping[str, Flow], languages: Sequence[str], main: str = "mapping") -> None:
        if main not in flows:
            raise EngineError(f"main flow '{main}' is missing")
        self.flows = dict(flows)
        self.languages = tuple(languages)
        self.main = main

    # ---- public ---------------------------------------------------------

    def new_state(self, lang: str) -> State:
        return State(lang=lang, stack=[Frame(flow=self.main, step=self.flows[self.main].start)])

    def expecting(self, state: State) -> Expectation:
        frame = state.frame
        if frame is None or state.paused:
            return Expectation("none")
        step = self._step(frame)
        if frame.phase == "comment":
            return Expectation("comment", step.id, ("skip",))
        buttons = self._buttons(step, state)
        codes, labels = tuple(b.code for b in buttons), tuple(b.label for b in buttons)
        return Expectation(step.kind, step.id, codes, careful=step.careful, labels=labels)

    def accepts(self, state: State, flow: str, step: str, code: str) -> bool:
        """Whether a press of button `code` on question `flow`.`step` answers the current question
        (a language button works at any point)."""
        if code.startswith(LANG_PREFIX):
            return code.removeprefix(LANG_PREFIX) in self.languages
        frame = state.frame
        if frame is None or (frame.flow, frame.step) != (flow, step) or flow not in self.flows:
            return False
        if frame.phase == "comment":
            return code == "skip"
        current = self._step(frame)
        codes = {b.code for b in self._buttons(current, state)}
        return code in codes or (code == "explain" and current.kind == "choice")

    def interrupt(
        self,
        state: State,
        flow: str,
        variables: Mapping[str, ev.Param | None],
        context: Mapping[str, str] | None = None,
        *,
        resume: bool = True,
    ) -> Outcome:
        """Put `flow` on top of the conversation now (a message from staff that the family may answer,
        the safety net); when it ends, the family is back at the question they were on, asked again
        (`resume`) or not (the caller shows it)."""
        run = _Run(self, state.model_copy(deep=True), dict(context or {}))
        if not resume:
            run.resume_below = len(run.state.stack)
        for name, value in variables.items():
            run.state.vars[name] = value  # type: ignore[assignment]
        run.state.started, run.state.paused, run.state.finished = True, False, False
        if run.state.frame is not None:
            run.state.frame.phase = "ask"
        run.state.stack.append(Frame(flow=flow, step=self.flows[flow].start))
        run.enter()
        return Outcome(run.state, run.replies, run.effects)

    def offer_language(self, state: State, code: str, context: Mapping[str, str] | None = None) -> Outcome:
        """Offer the language the family seems to write in (never switch silently), once. The
        buttons work at any point; the family may also just go on."""
        run = _Run(self, state.model_copy(deep=True), dict(context or {}))
        offered = [c for c in str(run.state.vars.get("languages_offered") or "").split(",") if c]
        if code in offered or code == state.lang or code not in self.languages:
            return Outcome(run.state)
        run.state.vars["languages_offered"] = ",".join([*offered, code])
        frame = run.state.frame
        buttons = tuple(Button(f"{LANG_PREFIX}{c}", Msg(c, kind="language")) for c in (code, state.lang))
        text = Msg(OFFER_LANGUAGE, {"language": Msg(code, kind="language")})
        step, flow = (frame.step, frame.flow) if frame else (None, None)
        run.replies.append(Reply(text, buttons, step, flow=flow))
        return Outcome(run.state, run.replies, run.effects)

    def handle(self, state: State, event: ev.Event, context: Mapping[str, str] | None = None) -> Outcome:
        run = _Run(self, state.model_copy(deep=True), dict(context or {}))
        run.dispatch(event)
        return Outcome(run.state, run.replies, run.effects)

    # ---- helpers shared with _Run ---------------------------------------

    def _step(self, frame: Frame) -> Step:
        return self.flows[frame.flow].step(frame.step)

    def language_order(self, state: State) -> list[str]:
        """The languages to offer: the likely ones first (the family's app or browser, what they
        write), then the usual order; a short list until the family asks for more."""
        hints = [c for c in str(state.vars.get("language_hints") or "").split(",") if c in self.languages]
        current = [state.lang] if state.lang in self.languages else []
        ordered = list(dict.fromkeys([*hints, *current, *self.languages]))
        if state.vars.get("all_languages") == "yes" or len(ordered) <= SHORT_LANGUAGE_LIST + 1:
            return ordered
        return ordered[:SHORT_LANGUAGE_LIST]

    def _buttons(self, step: Step, state: State) -> list[Button]:
        buttons: list[Button] = []
        if step.kind == "choice":
            buttons = [Button(c.code, Msg(c.label)) for c in step.choices]
        elif step.kind == "scale":
            buttons = [Button(s.value, Msg(SCALE_LABELS[s])) for s in (*RATINGS, Scale.DONT_KNOW)]
        elif step.kind == "unit":
            buttons = [
                Button(f"{UNIT_PREFIX}{code}", Msg(name, kind="name")) for code, name in _candidates(state)
            ]
            buttons.append(Button("skip", Msg(UNIT_UNKNOWN)))
        elif step.kind == "code":
            buttons = [Button("skip", Msg(NO_CODE))]
        elif step.kind == "language":
            buttons = [Button(code, Msg(code, kind="language")) for code in self.language_order(state)]
            if len(buttons) < len(self.languages):
                buttons.append(Button(MORE_CODE, Msg(MORE_LANGUAGES)))
        explain: list[Button] = []
        if step.terms:  # explains the question and defines its glossary terms
            explain = [Button("explain", Msg(WHAT_DOES_IT_MEAN))]
        elif step.kind == "scale" or step.explain or (state.misses >= 2 and step.kind == "choice"):
            explain = [Button("explain", Msg(EXPLAIN))]
        skip = (
            [Button("skip", Msg(SKIP))]
            if step.kind == "scale" or (step.kind in ("text", "age") and step.optional)
            else []
        )
        # where typing is the answer, Skip stays the first button
        return [*buttons, *skip, *explain] if step.kind in ("text", "age") else [*buttons, *explain, *skip]


MAX_UNITS = 6  # buttons for units the words fit; more, and the professional types more of the name


def _candidates(state: State) -> list[tuple[str, str]]:
    saved = state.vars.get("unit_candidates")
    if not isinstance(saved, str) or not saved:
        return []
    return [tuple(line.split("\t", 1)) for line in saved.splitlines() if "\t" in line]  # type: ignore[misc]


class _Run:
    """One event's worth of work on a private copy of the state."""

    def __init__(self, engine: Engine, state: State, context: dict[str, str]) -> None:
        self.engine, self.state, self.context = engine, state, context
        self.replies: list[Reply] = []
        self.effects: list[ev.Effect] = []
        self.budget = MAX_TRANSITIONS
        self.resume_below: int | None = None  # an interrupt ending at this depth does not ask again

    # ---- dispatch -------------------------------------------------------

    def dispatch(self, event: ev.Event) -> None:
        state = self.state
        if isinstance(event, ev.Choice) and event.code.startswith(LANG_PREFIX):
            self.switch_language(event.code.removeprefix(LANG_PREFIX))
        elif isinstance(event, ev.Command) and event.name == "pause":
            state.paused = True
            self.say(PAUSED)
        elif not state.started or not state.stack:
            # First contact (or a flow that has ended): begin; the first words only open it.
            state.started, state.paused, state.finished = True, False, False
            if isinstance(event, ev.Command) and event.name == "professional" and not state.stack:
                self.command(event.name)  # a professional's first words: their part, not the parents'
                return
            if not state.stack:
                state.stack = [Frame(flow=self.engine.main, step=self.engine.flows[self.engine.main].start)]
            self.enter()
            if isinstance(event, ev.Command) and event.name != "start":
                self.command(event.name)
        elif state.paused or isinstance(event, ev.Start):
            state.paused = False
            self.say(WELCOME_BACK)
            if isinstance(event, ev.Command):
                self.command(event.name)
            else:
                self.enter()
        elif isinstance(event, ev.Command):
            self.command(event.name)
        else:
            self.answer(event)

    def switch_language(self, code: str) -> None:
        """A language button pressed at any point: the conversation goes on, in that language."""
        if code in self.engine.languages and code != self.state.lang:
            self.state.lang = code
            self.effects.append(ev.SetLanguage(code))
        self.state.paused = False
        if not self.state.stack and self.state.finished:
            self.say(FINISHED)  # nothing to ask again: say that it has ended, in the language
            return
        if not self.state.stack:  # a round the family said no to: it begins again
            self.state.stack = [Frame(flow=self.engine.main, step=self.engine.flows[self.engine.main].start)]
        self.state.started = True
        self.enter()  # the question stays where it was, asked again in the language

    def command(self, name: str) -> None:
        if name == "talk":  # "I want to talk to someone", anywhere: a contact request, then go on
            self.set_var("wants_contact", "yes")
            self.evaluate()
            self.say(TALK_THANKS)
            self.enter()
        elif name == "mydata":
            self.my_data()
            self.enter()
        elif name == "start":
            self.enter()
        else:
            flow = self.engine.flows[COMMAND_FLOWS[name]]
            frame = self.state.frame
            if frame is not None:
                frame.phase = "ask"
                if frame.flow == flow.id or (name == "language" and self.engine._step(frame).kind == name):
                    self.enter()  # already there: ask that question again, do not stack it twice
                    return
            self.state.stack.append(Frame(flow=flow.id, step=flow.start))
            self.enter()

    # ---- answers --------------------------------------------------------

    def answer(self, event: ev.Event) -> None:
        frame = self.state.frame
        assert frame is not None
        step = self.engine._step(frame)
        at, asked = len(self.replies), self.question(step, frame)
        if self.take_answer(step, frame, event):
            chosen: tuple[Button, ...] = ()
            if isinstance(event, ev.Choice) and event.code != "explain":
                chosen = tuple(b for b in asked.buttons if b.code == event.code)
            answered = Reply(asked.text, chosen, asked.step, "answered", flow=asked.flow)
            self.replies.insert(at, answered)

    def take_answer(self, step: Step, frame: Frame, event: ev.Event) -> bool:
        """Act on an answer to the current question; False when it was not understood."""
        if isinstance(event, ev.Choice) and event.code == "explain":
            self.state.misses = 0
            self.explain(step)
            self.ask(step)
            return True
        if frame.phase == "comment":
            return self.comment(step, event)
        handled = False
        if isinstance(event, ev.Choice):
            handled = self.choose(step, event.code)
        elif isinstance(event, ev.Text) and step.kind == "text" and event.text.strip():
            self.set_var(step.save_as or "", event.text.strip()[: step.max_length])
            self.go(self.flow.following(step))
            handled = True
        elif isinstance(event, ev.Age) and step.kind == "age":
            handled = self.age(step, event)
        elif isinstance(event, ev.UnitFound) and step.kind == "unit":
            handled = self.unit(step, event)
        elif isinstance(event, ev.Verified) and step.kind == "code":
            handled = self.verified(step, event)
        if not handled:
            self.miss(step)
        return handled

    def choose(self, step: Step, code: str) -> bool:
        if code == "skip" and step.kind == "code":
            self.go(self.flow.following(step))
            return True
        if code == "skip" and (step.kind == "scale" or (step.kind in ("text", "age") and step.optional)):
            if step.kind == "scale":
                self.record(step, Scale.SKIPPED)
            elif step.kind == "text" and step.save_as and self.state.vars.get(step.save_as) is not None:
                self.set_var(step.save_as, None)  # skipped: no stale answer from an earlier time
            self.go(self.flow.following(step))
            return True
        if step.kind == "scale" and code in {s.value for s in (*RATINGS, Scale.DONT_KNOW)}:
            self.record(step, Scale(code))
            if code in WORRIES and (step.comment or self.flow.comment_prompt or COMMENT_PROMPT):
                assert self.state.frame is not None
                self.state.frame.phase = "comment"
                self.ask(step)
            else:
                self.go(self.flow.following(step))
            return True
        if step.kind == "language" and code == MORE_CODE:
            self.state.vars["all_languages"] = "yes"
            self.ask(step)
            return True
        if step.kind == "language" and code in self.engine.languages:
            self.state.vars["all_languages"] = None
            self.state.lang = code
            self.effects.append(ev.SetLanguage(code))
            self.go(self.flow.following(step))
            return True
        if step.kind == "choice":
            for choice in step.choices:
                if choice.code == code:
                    self.take(step, choice)
                    return True
        return False

    def take(self, step: Step, choice: ChoiceSpec) -> None:
        self.state.misses = 0
        for name, value in choice.set.items():
            self.set_var(name, value)
        if choice.consent is not None:
            scope = choice.consent.scope
            self.state.vars[f"consent_{scope}"] = "yes" if choice.consent.given else "no"
            version = f"{self.flow.id}.v{self.flow.version}"
            self.effects.append(ev.RecordConsent(scope, choice.consent.given, step.text or "", version))
        self.evaluate()
        target = choice.next or self.flow.following(step)
        if choice.call is not None:
            self.call(choice.call, target)
            return
        if "pause" in choice.do:
            self.settle(target)  # when the family comes back, they land after this menu
        if not self.act(choice.do):
            self.go(target)

    def settle(self, target: str | None) -> None:
        """Move to `target` without running it."""
        frame = self.state.frame
        assert frame is not None
        if target is None or target == END:
            self.state.stack.pop()
        else:
            frame.step, frame.phase = target, "ask"

    def age(self, step: Step, event: ev.Age) -> bool:
        months = event.months
        if not (0 <= event.years <= 17) or (months is not None and not 0 <= months <= 11):
            self.say(AGE_AGAIN)
            self.ask(step)
            return True
        self.set_var("child.age_years", event.years)
        self.set_var("child.age_months", months)
        self.go(self.flow.following(step))
        return True

    def unit(self, step: Step, event: ev.UnitFound) -> bool:
        """The directory's answer to the unit a professional named (or to "I do not know")."""
        self.state.misses = 0
        if event.contact is not None:
            self.state.vars["unit_candidates"] = None
            for name in ev.CONTACT_FIELDS:
                self.set_var(f"contact.{name}", event.contact.get(name) or None)
            self.go(self.flow.following(step))
        elif event.candidates:
            self.state.vars["unit_candidates"] = "\n".join(
                f"{c}\t{n}" for c, n in event.candidates[:MAX_UNITS]
            )
            self.say(UNIT_WHICH)
            self.ask(step)
        else:
            self.say(UNIT_NOT_FOUND)
            self.ask(step)
        return True

    def verified(self, step: Step, event: ev.Verified) -> bool:
        if event.staff_name is None:
            self.say(CODE_WRONG)
            self.ask(step)
            return True
        self.set_var("staff_verified", "yes")
        self.set_var("verified_name", event.staff_name)
        self.go(self.flow.following(step))
        return True

    def comment(self, step: Step, event: ev.Event) -> bool:
        assert self.state.frame is not None
        if isinstance(event, ev.Text) and event.text.strip():
            text = event.text.strip()[: step.max_length]
            self.effects.append(ev.SaveAnswerText(step.id, text, event.language))
            self.say(THANKS)
        elif not (isinstance(event, ev.Choice) and event.code == "skip"):
            self.miss(step)
            return False
        self.state.frame.phase = "ask"
        self.go(self.flow.following(step))
        return True

    def miss(self, step: Step) -> None:
        self.state.misses += 1
        self.say(SORRY if self.state.misses < 2 else SORRY_AGAIN)
        self.ask(step)

    def explain(self, step: Step) -> None:
        if step.explain:
            self.say(step.explain)
        elif not step.terms:
            self.say(GENERIC_EXPLAIN)
        for code in step.terms:  # the common language: the same definition everywhere (it names the term)
            self.say(TERMS[code].definition)

    def record(self, step: Step, code: Scale) -> None:
        self.state.misses = 0
        self.state.answers[step.id] = AnswerState(indicator=step.indicator, code=code.value)
        self.effects.append(ev.SaveAnswer(step.id, step.indicator, code.value))
        self.evaluate()

    # ---- moving ---------------------------------------------------------

    @property
    def flow(self) -> Flow:
        assert self.state.frame is not None
        return self.engine.flows[self.state.frame.flow]

    def go(self, target: str | None) -> None:
        frame = self.state.frame
        assert frame is not None
        self.state.misses = 0
        if target is None or target == END:
            self.state.stack.pop()
            if self.resume_below is not None and len(self.state.stack) <= self.resume_below:
                return  # an interrupt that was asked not to ask the question again
            if not self.state.stack:
                self.state.finished = True
                self.say(FINISHED)
                return
        else:
            frame.step, frame.phase = target, "ask"
        self.enter()

    def call(self, flow_id: str, return_to: str | None) -> None:
        frame = self.state.frame
        assert frame is not None
        if return_to is None or return_to == END:
            self.state.stack.pop()  # a tail call: nothing to come back to
        else:
            frame.step, frame.phase = return_to, "ask"
        self.state.stack.append(Frame(flow=flow_id, step=self.engine.flows[flow_id].start))
        self.enter()

    def enter(self) -> None:
        """Run steps from the current one until a step waits for the user."""
        while self.state.stack:
            self.budget -= 1
            if self.budget < 0:
                raise EngineError(f"flow '{self.flow.id}' does not stop for an answer")
            frame = self.state.frame
            assert frame is not None
            step = self.engine._step(frame)
            if frame.phase == "comment":
                self.ask(step)
                return
            if step.when and not parse_condition(step.when).holds(self.env()):
                target = self.flow.following(step)
            elif step.kind == "say":
                meaning = INDICATORS[step.indicator].meaning if step.indicator else ""
                self.say(step.text or meaning)
                target = self.flow.following(step)
            elif step.kind in ("choice", "scale", "text", "age", "language", "unit", "code"):
                self.ask(step)
                return
            elif step.kind == "branch":
                target = next(
                    (b.next for b in step.branches if parse_condition(b.when).holds(self.env())),
                    self.flow.following(step),
                )
            elif step.kind == "action":
                if step.call is not None:
                    self.call(step.call, self.flow.following(step))
                    return
                target = self.flow.following(step)
                if "pause" in step.do:
                    self.settle(target)  # coming back goes on after this step, not into it again
                if self.act(step.do):
                    return
            else:  # end
                target = END
            if target is None or target == END:
                self.go(END)
                return
            frame.step, frame.phase = target, "ask"

    def act(self, actions: Sequence[str]) -> bool:
        """Carry out actions; True when the conversation must stop here."""
        for action in actions:
            if action == "summary":
                self.summary()
            elif action == "mydata":
                self.my_data()
            elif action == "finish":
                self.state.finished = True
            elif action == "alert":
                urgent = self.state.vars.get("risk_level") == "urgent"
                shared = self.state.vars.get("consent_share") == "yes"
                self.state.vars["concern_sent"] = "yes"
                self.effects.append(
                    ev.RaiseConcern("urgent", "danger_signal", "urgent" if urgent else "high", shared)
                )
            elif action == "report":
                saved = {
                    k.removeprefix("pro."): str(v)
                    for k, v in self.state.vars.items()
                    if k.startswith("pro.") and v
                }
                self.effects.append(ev.FileReport(saved, self.state.lang))
            elif action == "reply":
                text = self.state.vars.get("reply_text")
                if isinstance(text, str) and text:
                    self.effects.append(ev.AnswerStaff(text, self.state.lang))
                self.state.vars["reply_text"] = None  # sent once, never again
            elif action == "pause":
                self.state.paused = True
                self.say(PAUSED)
                return True
            elif action in ("erase", "decline"):
                self.effects.append(ev.Erase(silent=action == "decline"))
                self.state.stack.clear()
                self.state.started = False
                return True
            elif action == "restart":
                self.effects.append(ev.Restart())
                fresh = self.engine.new_state(self.state.lang)
                fresh.started = True
                self.state = fresh
                self.enter()
                return True
        return False

    # ---- output ---------------------------------------------------------

    def params(self) -> dict[str, ev.Param]:
        values: dict[str, ev.Param] = dict(self.context)
        for name, value in self.state.vars.items():
            if value is not None:
                values[name.replace(".", "_")] = value
        return values

    def say(self, message: str, **params: ev.Param) -> None:
        self.replies.append(Reply(Msg(message, {**self.params(), **params})))

    def ask(self, step: Step) -> None:
        frame = self.state.frame
        assert frame is not None
        self.replies.append(self.question(step, frame))

    def question(self, step: Step, frame: Frame) -> Reply:
        """The current question as it is shown: its text and buttons."""
        if frame.phase == "comment":
            prompt = step.comment or self.flow.comment_prompt or COMMENT_PROMPT
            buttons: tuple[Button, ...] = (Button("skip", Msg(SKIP)),)
            return Reply(Msg(prompt, self.params()), buttons, step.id, accepts_text=True, flow=frame.flow)
        buttons = tuple(self.engine._buttons(step, self.state))
        free = step.kind in ("text", "age", "unit", "code")
        text = Msg(step.text or "", self.params())
        return Reply(text, buttons, step.id, accepts_text=free, flow=frame.flow)

    def my_data(self) -> None:
        """Everything stored, in words (the service adds it), and the wheel where a channel shows one."""
        self.replies.append(Reply(Msg(MYDATA), kind="mydata"))
        if self.state.answers:
            self.replies.append(Reply(Msg(WHEEL_TITLE), kind="wheel"))

    def summary(self) -> None:
        worst: dict[Indicator, Scale] = {}
        order = [Scale.GOOD, Scale.SOME_WORRIES, Scale.WORRIED]
        for answer in self.state.answers.values():
            code = Scale(answer.code)
            if answer.indicator is None or code not in order:
                continue
            current = worst.get(answer.indicator)
            if current is None or order.index(code) > order.index(current):
                worst[answer.indicator] = code
        self.say(SUMMARY_TITLE)
        if not worst:
            self.say(SUMMARY_NONE)
        for code, message in ((Scale.GOOD, SUMMARY_GOOD), (Scale.SOME_WORRIES, SUMMARY_SOME)):
            names = tuple(Msg(INDICATORS[i].name) for i in Indicator if worst.get(i) == code)
            if names:
                self.say(message, indicators=names)
        names = tuple(Msg(INDICATORS[i].name) for i in Indicator if worst.get(i) == Scale.WORRIED)
        if names:
            self.say(SUMMARY_WORRIED, indicators=names)
        self.replies.append(Reply(Msg(WHEEL_TITLE), kind="wheel"))

    # ---- variables and concern rules ------------------------------------

    def set_var(self, name: str, value: str | int | None) -> None:
        self.state.vars[name] = value
        if name in CHILD_FIELDS:
            field_name = name.removeprefix("child.")
            assert field_name in ("name", "age_years", "age_months", "unit")
            self.effects.append(ev.UpdateChild(field_name, value))  # type: ignore[arg-type]

    def env(self) -> dict[str, str | int | None]:
        return {**self.context, **self.state.env()}

    def evaluate(self) -> None:
        env = self.env()
        counts: dict[str, int] = {}
        for answer in self.state.answers.values():
            counts[answer.code] = counts.get(answer.code, 0) + 1
        shared = self.state.vars.get("consent_share") == "yes"
        for flow in self.engine.flows.values():
            for rule in flow.concerns:
                if rule.reason in self.state.fired:
                    continue
                if rule.count is not None and counts.get(rule.count.value, 0) < rule.at_least:
                    continue
                if rule.when is not None and not parse_condition(rule.when).holds(env):
                    continue
                if rule.requires_share and not shared:
                    self.state.vars["worry_not_shared"] = "yes"
                    continue
                self.state.fired.append(rule.reason)
                self.state.vars["concern_sent" if rule.kind == "concern" else "contact_requested"] = "yes"
                self.effects.append(ev.RaiseConcern(rule.kind, rule.reason, rule.priority.value, shared))
