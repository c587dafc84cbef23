"""Stories: a parent goes through the whole mapping conversation in `hjulet chat`.

user says X -> bot asks Y -> the database holds Z. One story per language (sv, en, ar),
on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import pytest

from flows.wellbeing import Indicator

pytestmark = pytest.mark.slow
FSI, PDI = "\u2068", "\u2069"

# The 18 wheel questions, in flow order: (question id, how the parent answers).
QUESTIONS = [
    "safe_home", "safe_comfort", "healthy_sleep", "healthy_food", "healthy_care", "achieving_talk",
    "achieving_new", "nurtured_close", "nurtured_home", "nurtured_rest", "active_play", "active_outside",
    "respected_listen", "respected_choose", "responsible_help", "responsible_rules", "included_friends",
    "included_belong",
]  # fmt: skip


def story(language_number: str, words: dict[str, str]) -> list[str]:
    """A parent who types some answers in words, presses numbers for others, and has one worry."""
    lines = [
        language_number,  # which language
        words["yes"],  # may we save your answers? (typed)
        "1",  # may we share with the named person? yes
        words["name"],  # the child's name
        words["age"],  # the child's age
        "1",  # preschool or BVC: skip
    ]
    for qid in QUESTIONS:
        if qid == "healthy_sleep":
            lines += [words["worried"], words["comment"]]  # a worry, in the parent's own words
        elif qid == "active_play":
            lines.append("4")  # don't know
        elif qid == "included_friends":
            lines.append("6")  # skip
        elif qid in ("safe_home", "nurtured_home"):
            lines.append(words["good"])  # typed answer
        else:
            lines.append("1")  # it goes well
    lines.append("2")  # talk to someone? not now
    return lines


WORDS = {
    "sv": {
        "yes": "ja", "name": "Ali", "age": "3 år 4 mån", "worried": "orolig",
        "comment": "hon vaknar varje natt", "good": "det går bra",
    },
    "en": {
        "yes": "yes", "name": "Ali", "age": "3 years 4 months", "worried": "worried",
        "comment": "she wakes up every night", "good": "it goes well",
    },
    "ar": {
        "yes": "نعم", "name": "Ali", "age": "٣ سنوات ٤ أشهر", "worried": "قلق",
        "comment": "تستيقظ كل ليلة", "good": "لا بأس",
    },
}  # fmt: skip
LANGUAGE_NUMBER = {"sv": "Svenska", "en": "English", "ar": "العربية"}  # typed: the order follows the family
SUMMARY_LINE = {"sv": "Det går bra", "en": "Going well", "ar": "الأمور جيدة"}


@pytest.mark.parametrize("lang", ["sv", "en", "ar"])
async def test_parent_completes_mapping_in_their_language(chat, lang: str) -> None:
    words = WORDS[lang]
    result = chat.run(story(LANGUAGE_NUMBER[lang], words), "--user", f"parent-{lang}", "--lang", lang)

    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    out = result.stdout
    # every prompt is flushed, also with piped input; the choices are numbered lines
    assert out.count("> ") >= len(story(LANGUAGE_NUMBER[lang], words))
    assert "  1) " in out
    # the summary comes in the parent's language, strengths first
    assert SUMMARY_LINE[lang] in out
    if lang == "ar":
        assert FSI in out and PDI in out  # embedded lists and numbers are isolated in right-to-left text

    answers = await chat.rows(
        "select question_id, indicator, code, free_text, free_text_language, language"
        " from answers order by id"
    )
    by_question = {row[0]: row for row in answers}
    assert len(answers) == 18
    assert set(by_question) == set(QUESTIONS)
    assert {row[1] for row in answers} == {i.value for i in Indicator}
    assert by_question["healthy_sleep"][2] == "worried"
    assert by_question["healthy_sleep"][3] == words["comment"]  # stored as written
    assert by_question["healthy_sleep"][4] == lang
    assert by_question["active_play"][2] == "dont_know"
    assert by_question["included_friends"][2] == "skipped"
    assert by_question["safe_home"][2] == "good"  # typed in the parent's words
    assert by_question["nurtured_home"][2] == "good"
    assert {row[5] for row in answers} == {lang}  # codes, not translated text

    consents = await chat.rows("select scope, given, language, text_version from consents order by id")
    assert [(c[0], bool(c[1]), c[2]) for c in consents] == [("store", True, lang), ("share", True, lang)]
    assert all(c[3].startswith(f"mapping.v1:{lang}:") for c in consents)

    concerns = await chat.rows("select kind, priority, status, answers_shared from concerns")
    assert [(c[0], c[1], c[2], bool(c[3])) for c in concerns] == [("concern", "normal", "new", True)]

    children = await chat.rows("select name, age_years, age_months, unit_text from children")
    assert children == [("Ali", 3, 4, None)]

    users = await chat.rows("select channel, pseudonym, language from users")
    assert len(users) == 1 and users[0][0] == "console"
    assert f"parent-{lang}" not in users[0][1]  # only a pseudonym is stored
    assert users[0][2] == lang


async def test_no_share_consent_means_no_concern_and_an_honest_next_step(chat) -> None:
    lines = story("English", WORDS["en"])
    lines[2] = "2"  # no, do not share
    result = chat.run(lines, "--user", "private", "--lang", "en")

    assert result.returncode == 0, result.stderr
    assert "you chose not to share your answers" in result.stdout
    assert await chat.rows("select count(*) from answers") == [(18,)]
    assert await chat.rows("select count(*) from concerns") == [(0,)]
    consents = await chat.rows("select scope, given from consents order by id")
    assert [(c[0], bool(c[1])) for c in consents] == [("store", True), ("share", False)]


async def test_declining_to_store_keeps_nothing(chat) -> None:
    result = chat.run(["English", "2"], "--user", "decliner", "--lang", "en")

    assert result.returncode == 0, result.stderr
    assert "We have not saved anything" in result.stdout
    assert "116 111" in result.stdout and "112" in result.stdout  # helplines on the way out
    for table in ("users", "conversations", "answers", "consents", "children", "concerns"):
        assert await chat.rows(f"select count(*) from {table}") == [(0,)], table


async def test_asking_to_talk_creates_a_contact_request_even_without_sharing(chat) -> None:
    lines = story("English", WORDS["en"])
    lines[2] = "2"  # do not share answers
    lines[-1] = "1"  # but: yes, please contact me
    result = chat.run(lines, "--user", "talker", "--lang", "en")

    assert result.returncode == 0, result.stderr
    assert "You asked to talk to someone" in result.stdout
    concerns = await chat.rows("select kind, answers_shared from concerns")
    assert [(c[0], bool(c[1])) for c in concerns] == [("contact_request", False)]
