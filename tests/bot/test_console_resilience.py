"""Nothing a family gave is lost, and nothing they type shows a traceback."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import time

import pytest

pytestmark = pytest.mark.slow

OPENING = ["English", "yes", "1", "Sam", "2", "skip"]  # English, consents, name, age 2, no unit


class Screen:
    """Everything the bot has printed so far, read without blocking on a missing newline."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        self.fd = process.stdout.fileno()
        self.seen = b""

    @property
    def text(self) -> str:
        return self.seen.decode("utf-8", "replace")

    def wait_for_prompts(self, count: int, timeout: float = 30) -> str:
        """Read until the bot has shown `count` prompts (`> `) in all."""
        deadline = time.monotonic() + timeout
        while self.text.count("> ") < count:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"timed out; output so far:\n{self.text}"
            ready, _, _ = select.select([self.fd], [], [], remaining)
            if ready:
                chunk = os.read(self.fd, 65536)
                assert chunk, f"the chat ended early:\n{self.text}"
                self.seen += chunk
        return self.text


def send(process: subprocess.Popen[str], line: str) -> None:
    assert process.stdin is not None
    process.stdin.write(line + "\n")
    process.stdin.flush()


async def test_killed_mid_conversation_resumes_where_it_left_off(chat) -> None:
    process = chat.start("--user", "crashy", "--lang", "en")
    screen = Screen(process)
    try:
        screen.wait_for_prompts(1)
        answered = [
            *OPENING,
            "1",
            "3",
            "my words",
            "1",
        ]  # safe_home good, safe_comfort worried + comment, sleep good
        for number, line in enumerate(answered, start=2):
            send(process, line)
            screen.wait_for_prompts(number)  # the reply has arrived: it was committed first
    finally:
        process.send_signal(signal.SIGKILL)  # no goodbye, no cleanup
        process.wait(timeout=10)
        for pipe in (process.stdin, process.stdout, process.stderr):
            if pipe is not None:
                pipe.close()

    answers = await chat.rows("select question_id, code, free_text from answers order by id")
    assert answers == [
        ("safe_home", "good", None),
        ("safe_comfort", "worried", "my words"),
        ("healthy_sleep", "good", None),
    ]

    result = chat.run(["1"], "--user", "crashy")  # the same user, a new process
    assert result.returncode == 0, result.stderr
    first_screen = result.stdout.split("> ")[0]
    assert "Welcome back" in first_screen
    assert "How does your child eat?" in first_screen  # the next question, not the start
    answers = await chat.rows("select question_id, code from answers order by id")
    assert answers[-1] == ("healthy_food", "good")
    assert len(answers) == 4
    assert await chat.rows("select count(*) from conversations") == [(1,)]


async def test_pause_and_come_back_later(chat) -> None:
    first = chat.run([*OPENING, "1", "/pause"], "--user", "pauser", "--lang", "en")
    assert "We have paused" in first.stdout
    assert await chat.rows("select status, step from conversations") == [("paused", "safe_comfort")]

    second = chat.run(["hello", "1"], "--user", "pauser")
    assert "Welcome back" in second.stdout
    # "hello" only woke the conversation; "1" answered the question it was paused on
    assert await chat.rows("select question_id, code from answers order by id") == [
        ("safe_home", "good"),
        ("safe_comfort", "good"),
    ]


async def test_bad_input_is_met_kindly(chat) -> None:
    lines = [
        "",  # empty line
        "English",
        "x" * 10_000,  # a 10 kB line where a choice is expected
        "\x00\x07\x1b[31mja\x1b[0m",  # control characters
        "99",  # a number that is no choice
        "yes",
        "1",
        "\x00",  # a name that is only a control character
        "Kim",
        "soon",  # words where an age is expected
        "40",  # an age that cannot be
        "3",
        "skip",
        "banana",  # words where a rating is expected
        "purple",  # a second miss: show choices and offer "explain more"
        "Explain more",
        "1",
    ]
    result = chat.run(lines, "--user", "typo", "--lang", "en")

    assert result.returncode == 0
    assert "Traceback" not in result.stdout + result.stderr
    assert result.stderr == ""
    out = result.stdout
    assert out.count("Sorry, I did not understand that.") >= 3
    assert "You can press a button or write its number" in out
    assert "Explain more" in out
    assert "Please write the age with numbers" in out
    assert "Think of an ordinary day" in out  # the explanation of the question
    assert "\x1b" not in out and "\x00" not in out  # nothing the user typed comes back raw
    assert await chat.rows("select name, age_years from children") == [("Kim", 3)]
    assert await chat.rows("select question_id, code from answers") == [("safe_home", "good")]


async def test_commands_work_anywhere_and_language_switch_keeps_answers(chat) -> None:
    lines = [*OPENING, "1", "/language", "Svenska", "1", "/mydata", "/help", "1", "/delete", "2", "1"]
    result = chat.run(lines, "--user", "switcher", "--lang", "en")
    out = result.stdout

    assert result.returncode == 0, result.stderr
    assert "Which language do you want to use?" in out
    answers = await chat.rows("select question_id, code, language from answers order by id")
    assert [(a[0], a[1]) for a in answers] == [
        ("safe_home", "good"),
        ("safe_comfort", "good"),
        ("healthy_sleep", "good"),
    ]
    assert [a[2] for a in answers] == ["en", "sv", "sv"]  # switched to Swedish, answers kept
    assert await chat.rows("select language from users") == [("sv",)]


async def test_delete_my_data_erases_everything_and_says_what(chat) -> None:
    lines = [*OPENING, "1", "3", "words", "/delete", "1"]
    result = chat.run(lines, "--user", "eraser", "--lang", "en")

    assert result.returncode == 0, result.stderr
    assert "We have deleted everything we saved about you." in result.stdout
    assert "We deleted 2 answers." in result.stdout
    assert "We deleted 2 yes or no choices." in result.stdout
    assert "We deleted 1 message to the named person." in result.stdout  # one: the singular
    for table in ("users", "conversations", "answers", "consents", "children", "concerns"):
        assert await chat.rows(f"select count(*) from {table}") == [(0,)], table

    again = chat.run([], "--user", "eraser", "--lang", "en")  # a fresh start, not a resume
    assert "Hi! This is Hjulet" in again.stdout and "Welcome back" not in again.stdout


async def test_start_over_begins_a_new_round_and_keeps_the_old_answers(chat) -> None:
    lines = [*OPENING, "1", "/restart", "1", "2"]
    result = chat.run(lines, "--user", "twins", "--lang", "en")

    assert result.returncode == 0, result.stderr
    assert await chat.rows("select status from conversations order by id") == [("done",), ("active",)]
    assert await chat.rows("select question_id from answers") == [("safe_home",)]
    assert "Which language do you want to use?" in result.stdout.split("Yes, start over")[-1]


def test_a_broken_flow_file_stops_start_up_with_file_and_line(chat, broken_flows) -> None:
    path = broken_flows / "mapping.yaml"
    text = path.read_text(encoding="utf-8").replace("next: consent_share", "next: consent_shar", 1)
    path.write_text(text, encoding="utf-8")
    line = next(n for n, row in enumerate(text.splitlines(), 1) if "next: consent_shar" in row)
    chat.env_extra["HJULET_FLOWS_DIR"] = str(broken_flows)

    result = chat.run(["2"], "--user", "anyone")

    assert result.returncode != 0
    assert f"mapping.yaml:{line}: unknown step 'consent_shar'" in result.stderr
    assert "Traceback" not in result.stderr


def test_broken_configuration_is_one_clear_line(chat) -> None:
    chat.env_extra["HJULET_LANGUAGES"] = "sv,xx"
    result = chat.run([], "--user", "anyone")
    assert result.returncode != 0
    assert "HJULET_LANGUAGES" in result.stderr and "xx" in result.stderr
    assert "Traceback" not in result.stderr
