"""The flow engine, told as small stories: the family sends X -> the engine asks Y -> effects hold Z.

Most stories run on small flow files written for the test (see conftest.py); the last ones walk the
real flows in flows/ from the welcome to the final menu.
"""

from __future__ import annotations

import pytest

from flows.engine import (
    AGE_AGAIN,
    COMMENT_PROMPT,
    FINISHED,
    GENERIC_EXPLAIN,
    MYDATA,
    PAUSED,
    SORRY,
    SORRY_AGAIN,
    SUMMARY_GOOD,
    SUMMARY_NONE,
    SUMMARY_SOME,
    SUMMARY_TITLE,
    SUMMARY_WORRIED,
    THANKS,
    WELCOME_BACK,
    WHEEL_TITLE,
    Engine,
    EngineError,
)
from flows.events import (
    Age,
    AnswerStaff,
    Choice,
    Command,
    Erase,
    Msg,
    NotUnderstood,
    RaiseConcern,
    RecordConsent,
    Restart,
    SaveAnswer,
    SaveAnswerText,
    SetLanguage,
    Start,
    Text,
    UpdateChild,
)
from flows.loader import load_flows
from flows.wellbeing import INDICATORS, Indicator

# A small wheel: a share consent, four questions on four indicators, a wish to talk, goodbye.
MINI = """\
    id: mapping
    version: 3
    start: hello
    comment_prompt: "Tell us more, or skip."
    concerns:
      - reason: worried_answer
        label: "The family answered Worried"
        count: worried
        priority: normal
      - reason: several_some_worries
        label: "Some worries in three answers"
        count: some_worries
        at_least: 3
        priority: low
      - reason: asked_to_talk
        label: "The family asks to talk"
        kind: contact_request
        when: wants_contact == yes
        priority: normal
        requires_share: false
    steps:
      - id: hello
        kind: say
        text: "Hello"
      - id: about
        kind: say
        text: "Four questions"
      - id: share
        kind: choice
        text: "May we share your answers?"
        choices:
          - code: "yes"
            label: "Yes, share"
            consent: {scope: share, given: true}
          - code: "no"
            label: "No"
            consent: {scope: share, given: false}
      - id: q_safe
        kind: scale
        indicator: safe
        text: "Safe at home?"
      - id: q_sleep
        kind: scale
        indicator: healthy
        text: "Sleeps well?"
        comment: "What about sleep?"
      - id: q_play
        kind: scale
        indicator: active
        text: "Plays every day?"
        explain: "Play with toys, with you or with other children."
      - id: q_friends
        kind: scale
        indicator: included
        text: "Has friends?"
      - id: talk
        kind: choice
        text: "Talk to someone?"
        choices:
          - code: "yes"
            label: "Yes, call me"
            set: {wants_contact: "yes"}
          - code: "no"
            label: "No"
      - id: bye
        kind: say
        text: "Bye"
"""
SCALE_BUTTONS = ["good", "some_worries", "worried", "dont_know", "explain", "skip"]


def at_first_question(chat, share: str = "yes"):
    chat.send(Start(), Choice(share))
    assert chat.question == "q_safe"
    return chat


# ---- say ----------------------------------------------------------------------------------------


def test_say_steps_run_on_until_a_step_waits_for_an_answer(chat) -> None:
    family = chat(MINI)

    family.send(Start())

    assert family.said == ["Hello", "Four questions", "May we share your answers?"]
    assert family.question == "share"
    assert family.buttons == ["yes", "no"]
    assert family.state.started


def test_a_say_step_with_only_an_indicator_says_what_the_indicator_means(chat) -> None:
    family = chat(
        """\
        id: mapping
        version: 1
        start: meaning
        steps:
          - id: meaning
            kind: say
            indicator: nurtured
          - id: q
            kind: scale
            indicator: nurtured
            text: "Close every day?"
        """
    )

    family.send(Start())

    assert family.said == [INDICATORS[Indicator.NURTURED].meaning, "Close every day?"]


def test_the_first_words_only_open_the_conversation(chat) -> None:
    family = chat(MINI)

    family.send(Choice("yes"))  # a stale button from an old chat

    assert family.question == "share"
    assert family.effects == []


def test_the_end_of_the_main_flow_finishes_the_conversation(chat) -> None:
    family = at_first_question(chat(MINI))

    family.send(*[Choice("good")] * 4, Choice("no"))

    assert family.said == ["Bye", FINISHED]
    assert family.question is None
    assert family.state.finished
    assert family.state.stack == []


# ---- choice -------------------------------------------------------------------------------------


def test_a_consent_choice_records_the_text_the_family_saw_and_the_flow_version(chat) -> None:
    family = chat(MINI)

    family.send(Start(), Choice("yes"))

    assert family.last.effects == [RecordConsent("share", True, "May we share your answers?", "mapping.v3")]
    assert family.state.vars["consent_share"] == "yes"
    assert family.question == "q_safe"


def test_a_refused_consent_is_recorded_too(chat) -> None:
    family = chat(MINI)

    family.send(Start(), Choice("no"))

    assert family.last.effects == [RecordConsent("share", False, "May we share your answers?", "mapping.v3")]
    assert family.state.vars["consent_share"] == "no"


def test_a_choice_sets_its_variables(chat) -> None:
    family = at_first_question(chat(MINI))
    family.send(*[Choice("good")] * 4)
    assert family.question == "talk"

    family.send(Choice("yes"))

    assert family.state.vars["wants_contact"] == "yes"


def test_a_code_the_step_does_not_offer_is_not_understood(chat) -> None:
    family = chat(MINI)
    family.send(Start())

    family.send(Choice("maybe"))

    assert family.said == [SORRY, "May we share your answers?"]
    assert family.effects == []


CALLS = """\
    id: mapping
    version: 1
    start: menu
    steps:
      - id: menu
        kind: choice
        text: "What now?"
        choices:
          - code: extra
            label: "The extra questions"
            call: extra
            next: after_extra
          - code: "no"
            label: "No"
            next: after_extra
      - id: skipped_over
        kind: say
        text: "Never said when the choice names its next step"
      - id: after_extra
        kind: say
        text: "Back in the main flow"
      - id: more
        kind: action
        call: extra
      - id: last
        kind: choice
        text: "Last question?"
        choices:
          - code: "yes"
            label: "Yes"
    """
EXTRA = """\
    id: extra
    version: 1
    start: intro
    steps:
      - id: intro
        kind: say
        text: "Some extra questions"
      - id: pets
        kind: choice
        text: "Do you have pets?"
        choices:
          - code: "yes"
            label: "Yes"
            set: {pets: "yes"}
          - code: "no"
            label: "No"
    """


def test_a_choice_calls_a_sub_flow_and_returns_to_its_next_step(chat) -> None:
    family = chat(CALLS, extra=EXTRA)
    family.send(Start())

    family.send(Choice("extra"))

    assert family.said == ["Some extra questions", "Do you have pets?"]
    assert [frame.flow for frame in family.state.stack] == ["mapping", "extra"]

    family.send(Choice("yes"))

    assert family.state.vars["pets"] == "yes"
    assert family.said[0] == "Back in the main flow"
    assert family.said[1:] == ["Some extra questions", "Do you have pets?"]  # the action step calls again


def test_an_action_step_calls_a_flow_and_goes_on_after_it(chat) -> None:
    family = chat(CALLS, extra=EXTRA)
    family.send(Start(), Choice("no"))
    assert family.said == ["Back in the main flow", "Some extra questions", "Do you have pets?"]

    family.send(Choice("no"))

    assert family.said == ["Last question?"]
    assert [frame.flow for frame in family.state.stack] == ["mapping"]


def test_a_choice_runs_its_actions_and_then_goes_to_its_next_step(chat) -> None:
    family = chat(
        """\
        id: mapping
        version: 1
        start: rate
        steps:
          - id: rate
            kind: scale
            indicator: active
            text: "Plays?"
          - id: menu
            kind: choice
            text: "What now?"
            choices:
              - code: summary
                label: "Summary"
                do: [summary]
                next: menu
        """
    )
    family.send(Start(), Choice("good"))

    family.send(Choice("summary"))

    assert family.said == [SUMMARY_TITLE, SUMMARY_GOOD, WHEEL_TITLE, "What now?"]
    assert family.question == "menu"


# ---- scale --------------------------------------------------------------------------------------


def test_a_scale_answer_is_saved_as_a_code_with_its_indicator(chat) -> None:
    family = at_first_question(chat(MINI))
    assert family.buttons == SCALE_BUTTONS

    family.send(Choice("good"))

    assert family.last.effects == [SaveAnswer("q_safe", Indicator.SAFE, "good")]
    assert family.state.answers["q_safe"].code == "good"
    assert family.state.answers["q_safe"].indicator == Indicator.SAFE
    assert family.question == "q_sleep"


@pytest.mark.parametrize("worry", ["worried", "some_worries"])
def test_a_worry_asks_for_a_comment_and_saves_the_words_as_written(chat, worry: str) -> None:
    family = at_first_question(chat(MINI))

    family.send(Choice(worry))

    assert family.last.effects[0] == SaveAnswer("q_safe", Indicator.SAFE, worry)
    assert family.said == ["Tell us more, or skip."]  # the flow's comment prompt
    assert family.question == "q_safe"
    assert family.buttons == ["skip"]
    assert family.messages[-1].accepts_text

    family.send(Text("  Hon vaknar varje natt  ", language="sv"))

    assert family.last.effects == [SaveAnswerText("q_safe", "Hon vaknar varje natt", "sv")]
    assert family.said == [THANKS, "Sleeps well?"]
    assert family.state.frame.phase == "ask"


def test_a_step_comment_prompt_wins_over_the_flow_one(chat) -> None:
    family = at_first_question(chat(MINI))

    family.send(Choice("good"), Choice("worried"))

    assert family.said == ["What about sleep?"]


def test_the_engine_has_its_own_comment_prompt_when_the_flow_has_none(chat) -> None:
    family = chat(MINI.replace('    comment_prompt: "Tell us more, or skip."\n', ""))
    at_first_question(family)

    family.send(Choice("worried"))

    assert family.said == [COMMENT_PROMPT]


def test_skipping_the_comment_moves_on_without_saving_text(chat) -> None:
    family = at_first_question(chat(MINI))

    family.send(Choice("worried"), Choice("skip"))

    assert family.last.effects == []
    assert family.said == ["Sleeps well?"]
    assert not family.effects_of(SaveAnswerText)


def test_a_comment_that_is_not_words_is_asked_for_again(chat) -> None:
    family = at_first_question(chat(MINI))
    family.send(Choice("worried"))

    family.send(NotUnderstood("???"))

    assert family.said == [SORRY, "Tell us more, or skip."]
    assert family.state.frame.phase == "comment"


def test_skipping_a_scale_question_records_skipped(chat) -> None:
    family = at_first_question(chat(MINI))

    family.send(Choice("skip"))

    assert family.last.effects == [SaveAnswer("q_safe", Indicator.SAFE, "skipped")]
    assert family.question == "q_sleep"


def test_dont_know_is_never_a_worry(chat) -> None:
    family = at_first_question(chat(MINI))

    family.send(*[Choice("dont_know")] * 4)

    assert [e.code for e in family.effects_of(SaveAnswer)] == ["dont_know"] * 4
    assert family.question == "talk"  # no comment prompts on the way
    assert not family.effects_of(RaiseConcern)
    assert "worry_not_shared" not in family.state.vars


# ---- text ---------------------------------------------------------------------------------------

TEXTS = """\
    id: mapping
    version: 1
    start: name
    steps:
      - id: name
        kind: text
        text: "Your child's name?"
        save_as: child.name
        optional: true
        max_length: 10
      - id: wish
        kind: text
        text: "One wish?"
        save_as: wish
      - id: echo
        kind: say
        text: "Thank you {child_name}: {wish}"
      - id: last
        kind: choice
        text: "Done?"
        choices:
          - code: "yes"
            label: "Yes"
    """


def test_a_name_is_saved_on_the_child(chat) -> None:
    family = chat(TEXTS)
    family.send(Start())
    assert family.buttons == ["skip"]
    assert family.messages[-1].accepts_text

    family.send(Text("  Ali  "))

    assert family.last.effects == [UpdateChild("name", "Ali")]
    assert family.state.vars["child.name"] == "Ali"
    assert family.question == "wish"


def test_a_text_answer_is_cut_at_the_step_max_length(chat) -> None:
    family = chat(TEXTS)
    family.send(Start())

    family.send(Text("Maximiliana Charlotta"))

    assert family.last.effects == [UpdateChild("name", "Maximilian")]


def test_saved_text_becomes_a_message_parameter(chat) -> None:
    family = chat(TEXTS)
    family.send(Start(), Text("Ali"))

    family.send(Text("A dog"))

    assert family.last.effects == []  # `wish` is a flow variable, not a child field
    echo = family.messages[0].text
    assert echo.id == "Thank you {child_name}: {wish}"
    assert echo.params["child_name"] == "Ali"
    assert echo.params["wish"] == "A dog"


def test_an_optional_text_step_can_be_skipped(chat) -> None:
    family = chat(TEXTS)
    family.send(Start())

    family.send(Choice("skip"))

    assert family.last.effects == []
    assert "child.name" not in family.state.vars
    assert family.question == "wish"


@pytest.mark.parametrize("event", [Choice("skip"), Text("   "), NotUnderstood("")], ids=repr)
def test_a_required_text_step_cannot_be_skipped_or_left_blank(chat, event) -> None:
    family = chat(TEXTS)
    family.send(Start(), Text("Ali"))
    assert family.buttons == []

    family.send(event)

    assert family.said == [SORRY, "One wish?"]
    assert "wish" not in family.state.vars


# ---- age ----------------------------------------------------------------------------------------

AGES = """\
    id: mapping
    version: 1
    start: age
    steps:
      - id: age
        kind: age
        text: "How old is your child?"
      - id: older
        kind: say
        when: child.age_years >= 3
        text: "A big child"
      - id: last
        kind: choice
        text: "Done?"
        choices:
          - code: "yes"
            label: "Yes"
    """


def test_an_age_sets_years_and_months_on_the_child(chat) -> None:
    family = chat(AGES)
    family.send(Start())

    family.send(Age(3, 4))

    assert family.last.effects == [UpdateChild("age_years", 3), UpdateChild("age_months", 4)]
    assert family.state.vars["child.age_years"] == 3
    assert family.state.vars["child.age_months"] == 4
    assert family.said == ["A big child", "Done?"]


def test_an_age_in_years_only_has_no_months(chat) -> None:
    family = chat(AGES)
    family.send(Start())

    family.send(Age(2))

    assert family.last.effects == [UpdateChild("age_years", 2), UpdateChild("age_months", None)]
    assert family.said == ["Done?"]


@pytest.mark.parametrize("age", [Age(18), Age(-1), Age(2, 12), Age(2, -1)], ids=repr)
def test_an_age_out_of_range_is_asked_again(chat, age: Age) -> None:
    family = chat(AGES)
    family.send(Start())

    family.send(age)

    assert family.said == [AGE_AGAIN, "How old is your child?"]
    assert family.last.effects == []
    assert family.question == "age"


def test_words_on_an_age_step_are_not_understood(chat) -> None:
    family = chat(AGES)
    family.send(Start())

    family.send(Text("three"))

    assert family.said == [SORRY, "How old is your child?"]


# ---- language -----------------------------------------------------------------------------------

LANGUAGE = """\
    id: mapping
    version: 1
    start: q_safe
    steps:
      - id: q_safe
        kind: scale
        indicator: safe
        text: "Safe at home?"
      - id: pick
        kind: language
        text: "Which language?"
      - id: q_play
        kind: scale
        indicator: active
        text: "Plays every day?"
    """


def test_a_language_step_offers_the_engine_languages_by_their_own_names(chat) -> None:
    family = chat(LANGUAGE, languages=("sv", "ar"))
    family.send(Start(), Choice("good"))

    buttons = family.messages[-1].buttons
    assert [(b.code, b.label) for b in buttons] == [
        ("sv", Msg("sv", kind="language")),
        ("ar", Msg("ar", kind="language")),
    ]


def test_choosing_a_language_changes_it_and_keeps_the_answers(chat) -> None:
    family = chat(LANGUAGE)
    family.send(Start(), Choice("good"))

    family.send(Choice("ar"))

    assert family.last.effects == [SetLanguage("ar")]
    assert family.state.lang == "ar"
    assert family.state.answers["q_safe"].code == "good"
    assert family.question == "q_play"


def test_a_language_the_engine_does_not_speak_is_not_understood(chat) -> None:
    family = chat(LANGUAGE, languages=("sv", "en"))
    family.send(Start(), Choice("good"))

    family.send(Choice("ar"))

    assert family.said == [SORRY, "Which language?"]
    assert family.state.lang == "en"


# ---- branch and when ----------------------------------------------------------------------------

BRANCHES = """\
    id: mapping
    version: 1
    start: share
    steps:
      - id: share
        kind: choice
        text: "May we share?"
        choices:
          - code: "yes"
            label: "Yes"
            consent: {scope: share, given: true}
          - code: "no"
            label: "No"
            consent: {scope: share, given: false}
      - id: route
        kind: branch
        branches:
          - when: consent_share == yes
            next: thanks_for_sharing
      - id: private
        kind: say
        text: "Nothing is shared"
        next: last
      - id: thanks_for_sharing
        kind: say
        text: "Thanks for sharing"
      - id: who
        kind: choice
        when: consent_share == yes
        text: "Do you know your named person?"
        choices:
          - code: "yes"
            label: "Yes"
      - id: last
        kind: choice
        text: "Done?"
        choices:
          - code: "yes"
            label: "Yes"
    """


def test_a_branch_follows_the_first_condition_that_holds(chat) -> None:
    family = chat(BRANCHES)

    family.send(Start(), Choice("yes"))

    assert family.said == ["Thanks for sharing", "Do you know your named person?"]


def test_a_branch_falls_through_to_the_next_step_and_a_false_when_skips_a_question(chat) -> None:
    family = chat(BRANCHES)

    family.send(Start(), Choice("no"))

    assert family.said == ["Nothing is shared", "Done?"]
    assert family.question == "last"


# ---- actions ------------------------------------------------------------------------------------

ACTIONS = """\
    id: mapping
    version: 1
    start: q_safe
    steps:
      - id: q_safe
        kind: scale
        indicator: safe
        text: "Safe at home?"
      - id: q_safe_again
        kind: scale
        indicator: safe
        text: "Comforted?"
      - id: q_sleep
        kind: scale
        indicator: healthy
        text: "Sleeps well?"
      - id: q_play
        kind: scale
        indicator: active
        text: "Plays?"
      - id: q_friends
        kind: scale
        indicator: included
        text: "Friends?"
      - id: q_listen
        kind: scale
        indicator: respected
        text: "Listened to?"
      - id: wrap
        kind: action
        do: [summary, finish]
      - id: menu
        kind: choice
        text: "What now?"
        choices:
          - code: erase
            label: "Delete everything"
            do: [erase]
          - code: restart
            label: "Start over"
            do: [restart]
    """


def answer_all(family, *codes: str) -> None:
    family.send(Start())
    for code in codes:
        family.send(Choice(code))
        if family.state.frame is not None and family.state.frame.phase == "comment":
            family.send(Choice("skip"))


def test_the_summary_lists_strengths_first_then_worries_by_the_worst_answer(chat) -> None:
    family = chat(ACTIONS)

    answer_all(family, "good", "worried", "good", "some_worries", "dont_know", "skip")

    lines = [(reply.text.id, reply.text.params.get("indicators")) for reply in family.messages]
    assert lines == [
        (SUMMARY_TITLE, None),
        (SUMMARY_GOOD, (Msg("Healthy"),)),
        (SUMMARY_SOME, (Msg("Active"),)),
        (SUMMARY_WORRIED, (Msg("Safe"),)),  # good, then worried: the worry counts
        (WHEEL_TITLE, None),  # the picture, where the channel can show one
        ("What now?", None),
    ]
    assert [reply.kind for reply in family.messages].count("wheel") == 1


def test_a_summary_without_ratings_says_so(chat) -> None:
    family = chat(ACTIONS)

    answer_all(family, *["dont_know", "skip"] * 3)

    assert family.said == [SUMMARY_TITLE, SUMMARY_NONE, WHEEL_TITLE, "What now?"]


def test_finish_marks_the_conversation_done_and_the_final_menu_still_answers(chat) -> None:
    family = chat(ACTIONS)

    answer_all(family, *["good"] * 6)

    assert family.state.finished
    assert family.question == "menu"
    assert FINISHED not in family.said


def test_erase_asks_to_erase_everything_and_ends_the_conversation(chat) -> None:
    family = chat(ACTIONS)
    answer_all(family, *["good"] * 6)

    family.send(Choice("erase"))

    assert family.last.effects == [Erase(silent=False)]
    assert family.messages == []
    assert family.state.stack == []
    assert not family.state.started


def test_restart_begins_again_with_a_fresh_state_in_the_same_language(chat) -> None:
    family = chat(ACTIONS)
    family.state = family.engine.new_state("ar")
    answer_all(family, *["good"] * 6)

    family.send(Choice("restart"))

    assert family.last.effects == [Restart()]
    assert family.said == ["Safe at home?"]
    assert family.state.answers == {}
    assert family.state.vars == {}
    assert family.state.lang == "ar"
    assert family.state.started
    assert not family.state.finished


DECLINE = """\
    id: mapping
    version: 1
    start: store
    steps:
      - id: store
        kind: choice
        text: "May we save your answers?"
        choices:
          - code: "yes"
            label: "Yes"
            consent: {scope: store, given: true}
            next: q
          - code: "no"
            label: "No"
            next: declined
      - id: declined
        kind: say
        text: "Fine. In an emergency call {phone_emergency}."
      - id: declined_end
        kind: action
        do: [decline]
      - id: q
        kind: scale
        indicator: safe
        text: "Safe at home?"
    """


def test_decline_erases_silently_after_saying_goodbye(chat) -> None:
    family = chat(DECLINE, context={"phone_emergency": "112"})

    family.send(Start(), Choice("no"))

    assert family.said == ["Fine. In an emergency call {phone_emergency}."]
    assert family.messages[0].text.params["phone_emergency"] == "112"
    assert family.last.effects == [Erase(silent=True)]
    assert family.state.stack == []


def test_a_new_message_after_an_erase_starts_from_the_beginning(chat) -> None:
    family = chat(DECLINE)
    family.send(Start(), Choice("no"))

    family.send(Text("hello again"))

    assert family.said == ["May we save your answers?"]
    assert family.state.started


PAUSE_STEP = """\
    id: mapping
    version: 1
    start: hello
    steps:
      - id: hello
        kind: say
        text: "Hello"
      - id: rest
        kind: action
        do: [pause]
      - id: ready
        kind: choice
        text: "Ready?"
        choices:
          - code: "yes"
            label: "Yes"
    """


def test_a_pause_action_step_lets_the_family_come_back(chat) -> None:
    family = chat(PAUSE_STEP)
    family.send(Start())
    assert family.said == ["Hello", PAUSED]

    family.send(Text("I am back"))

    assert family.said == [WELCOME_BACK, "Ready?"]
    assert not family.state.paused


# ---- concern rules ------------------------------------------------------------------------------


def test_a_worried_answer_raises_a_concern_once_when_the_family_shares(chat) -> None:
    family = at_first_question(chat(MINI), share="yes")

    family.send(Choice("worried"))

    assert family.last.effects[1:] == [RaiseConcern("concern", "worried_answer", "normal", True)]
    assert family.state.vars["concern_sent"] == "yes"

    family.send(Choice("skip"), Choice("worried"), Choice("skip"))

    assert len(family.effects_of(RaiseConcern)) == 1
    assert family.state.fired == ["worried_answer"]


def test_three_answers_with_some_worries_raise_a_low_priority_concern(chat) -> None:
    family = at_first_question(chat(MINI))

    for _ in range(2):
        family.send(Choice("some_worries"), Choice("skip"))
    assert not family.effects_of(RaiseConcern)

    family.send(Choice("some_worries"))

    assert family.last.effects[1:] == [RaiseConcern("concern", "several_some_worries", "low", True)]


def test_without_consent_to_share_a_worry_raises_nothing_but_is_remembered(chat) -> None:
    family = at_first_question(chat(MINI), share="no")

    family.send(Choice("worried"), Choice("skip"), *[Choice("some_worries"), Choice("skip")] * 3)

    assert not family.effects_of(RaiseConcern)
    assert family.state.vars["worry_not_shared"] == "yes"
    assert "concern_sent" not in family.state.vars


def test_a_wish_to_talk_reaches_the_named_person_even_without_consent_to_share(chat) -> None:
    family = at_first_question(chat(MINI), share="no")
    family.send(*[Choice("good")] * 4)

    family.send(Choice("yes"))

    assert family.last.effects == [RaiseConcern("contact_request", "asked_to_talk", "normal", False)]
    assert family.state.vars["contact_requested"] == "yes"
    assert "concern_sent" not in family.state.vars


# ---- answers that miss --------------------------------------------------------------------------


def test_a_first_miss_says_sorry_and_asks_again(chat) -> None:
    family = chat(MINI)
    family.send(Start())

    family.send(NotUnderstood("perhaps"))

    assert family.said == [SORRY, "May we share your answers?"]
    assert family.buttons == ["yes", "no"]
    assert family.question == "share"


def test_a_second_miss_explains_the_buttons_and_offers_explain(chat) -> None:
    family = chat(MINI)
    family.send(Start())

    family.send(NotUnderstood("perhaps"), NotUnderstood("perhaps not"))

    assert family.said == [SORRY_AGAIN, "May we share your answers?"]
    assert family.buttons == ["yes", "no", "explain"]


def test_explain_shows_the_explanation_and_asks_again(chat) -> None:
    family = chat(MINI)
    family.send(Start(), NotUnderstood("perhaps"), NotUnderstood("perhaps not"))

    family.send(Choice("explain"))

    assert family.said == [GENERIC_EXPLAIN, "May we share your answers?"]  # the step has no explain text
    assert family.buttons == ["yes", "no"]


def test_what_does_it_mean_on_a_scale_question_gives_its_text_and_the_indicators_definition(chat) -> None:
    family = at_first_question(chat(MINI))
    assert "What does it mean?" in family.labels

    family.send(Choice("explain"))
    assert family.said == [INDICATORS[Indicator.SAFE].meaning, "Safe at home?"]

    family.send(Choice("good"), Choice("good"), Choice("explain"))
    assert family.said == [
        "Play with toys, with you or with other children.",
        INDICATORS[Indicator.ACTIVE].meaning,
        "Plays every day?",
    ]


# ---- commands, anywhere -------------------------------------------------------------------------


def at_second_question(chat):
    family = at_first_question(chat(MINI))
    family.send(Choice("good"))
    assert family.question == "q_sleep"
    return family


def test_help_opens_the_help_menu_and_continue_returns_to_the_same_question(chat) -> None:
    family = at_second_question(chat)

    family.send(Command("help"))
    assert family.question == "help_menu"

    family.send(Choice("continue"))

    assert family.said == ["Sleeps well?"]
    assert [frame.flow for frame in family.state.stack] == ["mapping"]


def test_changing_language_midway_keeps_the_answers(chat) -> None:
    family = at_second_question(chat)

    family.send(Command("language"))
    assert family.question == "pick"
    family.send(Choice("sv"))

    assert family.last.effects == [SetLanguage("sv")]
    assert family.state.lang == "sv"
    assert family.state.answers["q_safe"].code == "good"
    assert family.said == ["Sleeps well?"]


def test_language_command_on_the_language_question_asks_only_once(real_chat) -> None:
    real_chat.send(Start())
    assert real_chat.question == "pick"

    real_chat.send(Command("language"), Choice("sv"))

    assert real_chat.question == "consent_store"


def test_pause_then_any_words_welcome_the_family_back_to_the_same_question(chat) -> None:
    family = at_second_question(chat)

    family.send(Command("pause"))
    assert family.said == [PAUSED]
    assert family.state.paused

    family.send(Choice("worried"))  # not taken as an answer

    assert family.said == [WELCOME_BACK, "Sleeps well?"]
    assert family.last.effects == []
    assert "q_sleep" not in family.state.answers
    assert not family.state.paused

    family.send(Choice("good"))
    assert family.last.effects == [SaveAnswer("q_sleep", Indicator.HEALTHY, "good")]


def test_pause_from_the_help_menu_comes_back_to_the_question(chat) -> None:
    family = at_second_question(chat)

    family.send(Command("help"), Choice("pause"))
    assert family.said == [PAUSED]

    family.send(Text("hi"))

    assert family.said == [WELCOME_BACK, "Sleeps well?"]


def test_mydata_shows_the_data_and_asks_the_same_question_again(chat) -> None:
    family = at_second_question(chat)

    family.send(Command("mydata"))

    assert [m.kind for m in family.messages[:2]] == ["mydata", "wheel"]  # with answers: the picture too
    assert family.said == [MYDATA, WHEEL_TITLE, "Sleeps well?"]


def test_delete_then_no_keeps_the_answers(chat) -> None:
    family = at_second_question(chat)

    family.send(Command("delete"))
    assert family.question == "confirm"
    family.send(Choice("no"))

    assert family.said == ["Good. We keep your answers.", "Sleeps well?"]
    assert not family.effects_of(Erase)
    assert family.state.answers["q_safe"].code == "good"


def test_delete_then_yes_erases_everything(chat) -> None:
    family = at_second_question(chat)

    family.send(Command("delete"), Choice("yes"))

    assert family.last.effects == [Erase(silent=False)]
    assert family.state.stack == []


def test_restart_command_then_yes_starts_over(chat) -> None:
    family = at_second_question(chat)

    family.send(Command("restart"), Choice("yes"))

    assert family.last.effects == [Restart()]
    assert family.said == ["Hello", "Four questions", "May we share your answers?"]
    assert family.state.answers == {}


def test_a_command_before_the_first_question_opens_the_conversation_too(chat) -> None:
    family = chat(MINI)

    family.send(Command("help"))

    assert family.said[0] == "Hello"
    assert family.question == "help_menu"
    family.send(Choice("continue"))
    assert family.question == "share"


# ---- purity and safety --------------------------------------------------------------------------


def test_handle_never_changes_the_state_it_is_given(chat) -> None:
    family = chat(MINI)
    events = [
        Start(),
        Choice("yes"),
        Choice("worried"),
        Text("night terrors"),
        Command("help"),
        Choice("continue"),
        Command("pause"),
        Text("back"),
        NotUnderstood("?"),
        Command("language"),
        Choice("ar"),
        Choice("some_worries"),
        Command("mydata"),
        Command("restart"),
        Choice("yes"),
        Command("delete"),
        Choice("yes"),
    ]
    for event in events:
        before = family.state.model_dump()
        given = family.state

        family.send(event)

        assert given.model_dump() == before, event
        assert family.state is not given


def test_a_flow_that_never_waits_for_an_answer_is_an_error_not_a_hang(chat) -> None:
    family = chat(
        """\
        id: mapping
        version: 1
        start: ping
        steps:
          - id: ping
            kind: say
            text: "Ping"
            next: pong
          - id: pong
            kind: say
            text: "Pong"
            next: ping
        """
    )

    with pytest.raises(EngineError, match="does not stop"):
        family.send(Start())


def test_an_engine_needs_its_main_flow(flow_dir) -> None:
    flows = load_flows(flow_dir(MINI.replace("id: mapping", "id: intake")))

    with pytest.raises(EngineError, match="main flow 'mapping' is missing"):
        Engine(flows, ["en"])

    engine = Engine(flows, ["en"], main="intake")
    assert engine.new_state("en").frame.flow == "intake"


# ---- the real flows, from the welcome to the final menu -----------------------------------------

REAL_SCALE_STEPS = 18


def begin_real(real_chat, share: str = "yes"):
    real_chat.send(Start())
    assert real_chat.question == "pick"
    real_chat.send(Choice("en"))
    assert real_chat.question == "consent_store"
    real_chat.send(Choice("yes"))
    assert real_chat.question == "consent_share"
    real_chat.send(Choice(share))
    assert real_chat.question == "child_name"
    real_chat.send(Text("Ali"))
    assert real_chat.question == "child_age"
    real_chat.send(Age(3, 4))
    assert real_chat.question == "child_unit"
    real_chat.send(Choice("skip"))
    assert real_chat.question == "safe_home"
    return real_chat


def answer_every_question(real_chat, code: str) -> None:
    while real_chat.question != "talk":
        real_chat.send(Choice(code))
        if real_chat.state.frame.phase == "comment":
            real_chat.send(Choice("skip"))


def test_real_flows_a_family_where_everything_goes_well(real_chat) -> None:
    begin_real(real_chat)
    answer_every_question(real_chat, "good")

    real_chat.send(Choice("no"))

    saved = real_chat.effects_of(SaveAnswer)
    assert len(saved) == REAL_SCALE_STEPS
    assert {e.code for e in saved} == {"good"}
    assert {e.indicator for e in saved} == set(Indicator)
    assert real_chat.effects_of(RecordConsent) == [
        RecordConsent(
            "store", True, real_chat.engine.flows["mapping"].step("consent_store").text, "mapping.v1"
        ),
        RecordConsent(
            "share", True, real_chat.engine.flows["mapping"].step("consent_share").text, "mapping.v1"
        ),
    ]
    assert UpdateChild("name", "Ali") in real_chat.effects
    assert UpdateChild("age_years", 3) in real_chat.effects
    assert not real_chat.effects_of(RaiseConcern)
    assert real_chat.said[:2] == [SUMMARY_TITLE, SUMMARY_GOOD]
    assert "Thank you! Your answers are saved. The named person can read them if you said yes to that." in (
        real_chat.said
    )
    assert real_chat.state.finished
    assert real_chat.question == "done"


def test_real_flows_a_worried_family_that_shares_reaches_the_named_person_once(real_chat) -> None:
    begin_real(real_chat, share="yes")
    answer_every_question(real_chat, "worried")

    real_chat.send(Choice("no"))

    assert len(real_chat.effects_of(SaveAnswer)) == REAL_SCALE_STEPS
    assert real_chat.effects_of(RaiseConcern) == [RaiseConcern("concern", "worried_answer", "normal", True)]
    assert (
        "We have sent your answers to the named person. They will contact you within 3 working days."
        in real_chat.said
    )
    assert real_chat.state.finished
    assert real_chat.question == "done"


def test_real_flows_a_worried_family_that_does_not_share_is_told_nothing_was_sent(real_chat) -> None:
    begin_real(real_chat, share="no")
    answer_every_question(real_chat, "worried")

    real_chat.send(Choice("no"))

    assert not real_chat.effects_of(RaiseConcern)
    assert any(
        text.startswith("You have some worries, but you chose not to share") for text in real_chat.said
    )
    assert not any(text.startswith("We have sent your answers") for text in real_chat.said)


@pytest.mark.parametrize("configured", [True, False])
def test_real_flows_social_services_are_named_only_when_configured(real_chat, configured: bool) -> None:
    real_chat.context = {"phone_social": "08-123 45", "municipality": "Hjulby"} if configured else {}
    begin_real(real_chat)
    answer_every_question(real_chat, "good")

    real_chat.send(Choice("no"))

    social = [r.text for r in real_chat.messages if r.text.id.startswith("Social services in")]
    if configured:
        assert [(m.params["municipality"], m.params["phone_social"]) for m in social] == [
            ("Hjulby", "08-123 45")
        ]
    else:
        assert social == []


def test_real_flows_a_wish_to_talk_is_passed_on_and_acknowledged(real_chat) -> None:
    begin_real(real_chat, share="no")
    answer_every_question(real_chat, "good")

    real_chat.send(Choice("yes"))

    assert real_chat.effects_of(RaiseConcern) == [
        RaiseConcern("contact_request", "asked_to_talk", "normal", False)
    ]
    assert "You asked to talk to someone. The named person will contact you within 3 working days." in (
        real_chat.said
    )


def test_real_flows_declining_to_save_erases_silently(real_chat) -> None:
    real_chat.send(Start(), Choice("en"))

    real_chat.send(Choice("no"))

    assert real_chat.effects_of(Erase) == [Erase(silent=True)]
    assert not real_chat.effects_of(RecordConsent)
    assert real_chat.said[0] == "That is fine. We have not saved anything. Thank you for your time."


def test_real_flows_start_over_from_the_final_menu(real_chat) -> None:
    begin_real(real_chat)
    answer_every_question(real_chat, "good")
    real_chat.send(Choice("no"))

    real_chat.send(Choice("restart"))
    assert real_chat.question == "confirm"
    real_chat.send(Choice("yes"))

    assert real_chat.last.effects == [Restart()]
    assert real_chat.question == "pick"
    assert real_chat.state.answers == {}
    assert not real_chat.state.finished


# ---- answered questions: a channel closes the buttons of a question once it is answered ----------


def test_a_pressed_answer_is_reported_with_its_question_and_the_chosen_button(chat) -> None:
    family = at_first_question(chat(MINI))

    family.send(Choice("good"))

    (answered,) = family.answered
    assert (answered.flow, answered.step, answered.text.id) == ("mapping", "q_safe", "Safe at home?")
    assert [(b.code, b.label.id) for b in answered.buttons] == [("good", "It goes well")]
    assert family.last.replies[0] is answered  # before the next question
    assert family.question == "q_sleep"


def test_words_that_answer_a_question_close_it_without_a_chosen_button(chat) -> None:
    family = at_second_question(chat)
    family.send(Choice("worried"))  # q_sleep: a worry opens the comment

    family.send(Text("She wakes up at night"))

    (answered,) = family.answered
    assert (answered.step, answered.text.id, answered.buttons) == ("q_sleep", "What about sleep?", ())


def test_a_miss_answers_nothing_and_explain_closes_the_old_buttons(chat) -> None:
    family = at_first_question(chat(MINI))

    family.send(NotUnderstood("purple"))
    assert family.answered == []

    family.send(Choice("explain"))
    (answered,) = family.answered
    assert (answered.step, answered.buttons) == ("q_safe", ())
    assert family.question == "q_safe"  # asked again, with fresh buttons


def test_accepts_only_presses_on_the_current_question(chat) -> None:
    family = at_first_question(chat(MINI))
    engine, state = family.engine, family.state

    assert engine.accepts(state, "mapping", "q_safe", "worried")
    assert engine.accepts(state, "mapping", "q_safe", "explain")
    assert not engine.accepts(state, "mapping", "q_safe", "yes")  # not a button of this question
    assert not engine.accepts(state, "mapping", "share", "yes")  # an earlier question
    assert not engine.accepts(state, "help", "q_safe", "good")  # same step id, another flow
    family.send(Choice("worried"))
    assert engine.accepts(family.state, "mapping", "q_safe", "skip")  # the comment on it
    assert not engine.accepts(family.state, "mapping", "q_safe", "good")


# ---- staff write to the family: the reply flow on top, then back where they were ----------------


def test_a_message_from_staff_lets_the_family_answer_and_go_back_to_their_question(real_chat) -> None:
    real_chat.send(Start(), Choice("en"), Choice("yes"), Choice("yes"))
    assert real_chat.question == "child_name"

    outcome = real_chat.engine.interrupt(
        real_chat.state, "reply", {"staff_name": "Anna", "reply_concern": 7, "reply_text": None}
    )
    real_chat.state = outcome.state
    assert [r.text.id for r in outcome.replies] == [
        "You can answer {staff_name} here. Write your answer, or choose Skip."
    ]
    assert outcome.replies[0].text.params["staff_name"] == "Anna"

    real_chat.send(Text("Please call me after five"))

    assert real_chat.last.effects == [AnswerStaff("Please call me after five", "en")]
    assert real_chat.said[0] == "Thank you. {staff_name} can read your answer now."
    assert real_chat.question == "child_name"  # back to the question they were on
    assert real_chat.state.vars.get("child.name") is None  # the answer was not taken as the name


def test_skipping_the_answer_sends_nothing(real_chat) -> None:
    real_chat.send(Start(), Choice("en"), Choice("yes"), Choice("yes"))
    outcome = real_chat.engine.interrupt(
        real_chat.state, "reply", {"staff_name": "Anna", "reply_concern": 7, "reply_text": "old"}
    )
    real_chat.state = outcome.state

    real_chat.send(Choice("skip"))

    assert real_chat.last.effects == []
    assert real_chat.question == "child_name"


# ---- choosing among many languages: the likely ones first, the rest one tap away ---------------

MANY = ("sv", "en", "ar", "so", "fa", "prs", "ti", "uk", "pl", "bs", "ckb", "kmr", "fi", "tr")


def test_the_likely_languages_come_first_and_the_rest_behind_more_languages(chat) -> None:
    family = chat(LANGUAGE, languages=MANY)
    family.state.vars["language_hints"] = "uk"  # the family's phone is set to Ukrainian
    family.send(Start(), Choice("good"))

    assert family.buttons == ["uk", "en", "sv", "ar", "more_languages"]

    family.send(Choice("more_languages"))
    assert family.buttons == [
        "uk",
        "en",
        "sv",
        "ar",
        "so",
        "fa",
        "prs",
        "ti",
        "pl",
        "bs",
        "ckb",
        "kmr",
        "fi",
        "tr",
    ]

    family.send(Choice("ti"))
    assert family.state.lang == "ti" and family.question == "q_play"


def test_an_offered_language_can_be_taken_at_any_point_or_passed_by(real_chat) -> None:
    real_chat.send(Start(), Choice("sv"), Choice("yes"), Choice("yes"))
    offer = real_chat.engine.offer_language(real_chat.state, "ar")
    real_chat.state = offer.state
    (reply,) = offer.replies
    assert [b.code for b in reply.buttons] == ["lang:ar", "lang:sv"]
    assert real_chat.engine.offer_language(real_chat.state, "ar").replies == []  # offered once
    assert real_chat.engine.accepts(real_chat.state, "help", "anything", "lang:ar")

    real_chat.send(Text("Ali"))  # passed by: the question underneath still takes its answer
    assert real_chat.question == "child_age" and real_chat.state.lang == "sv"

    real_chat.send(Choice("lang:ar"))  # taken later: the same question, now in Arabic
    assert real_chat.state.lang == "ar" and real_chat.question == "child_age"
    assert real_chat.last.effects == [SetLanguage("ar")]
