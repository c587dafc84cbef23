"""`hjulet nlu parse` and `hjulet nlu eval`, through click's test runner."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from bot.nlu_commands import nlu


def test_parse_writes_one_json_object_per_line() -> None:
    lines = "hej\n\nhe is scared to go home\nأريد التحدث مع شخص\n"

    result = CliRunner().invoke(nlu, ["parse"], input=lines)

    assert result.exit_code == 0, result.output
    objects = [json.loads(line) for line in result.output.splitlines()]
    assert [o["text"] for o in objects] == ["hej", "he is scared to go home", "أريد التحدث مع شخص"]
    assert all(
        list(o) == ["text", "language", "intent", "confidence", "risk_level", "risk_categories"]
        for o in objects
    )
    assert objects[1]["risk_level"] != "none" and "violence" in objects[1]["risk_categories"]
    assert objects[2]["intent"] == "talk_to_person"
    assert objects[2]["language"] == "ar"


def test_parse_takes_the_familys_language_as_a_hint() -> None:
    result = CliRunner().invoke(nlu, ["parse", "--lang", "sv"], input="ok\n")

    assert json.loads(result.output)["language"] == "sv"


def test_eval_prints_the_table_and_passes_on_good_data(tmp_path: Path) -> None:
    path = tmp_path / "en.yml"
    path.write_text(
        'version: "3.1"\nnlu:\n'
        "- intent: greet\n  examples: |\n    - hello there my friend\n"
        "- intent: self_harm\n  examples: |\n    - i want to kill myself\n"
        "- intent: benign\n  examples: |\n    - he loves his teddy bear\n",
        encoding="utf-8",
    )

    result = CliRunner().invoke(nlu, ["eval", str(path)])

    assert result.exit_code == 0, result.output
    assert "risk recall" in result.output and "p99" in result.output
    assert "all floors met" in result.output


def test_eval_fails_below_the_floors_and_says_which(tmp_path: Path) -> None:
    path = tmp_path / "en.yml"
    path.write_text(  # "other" labels for greetings: intent accuracy 0
        'version: "3.1"\nnlu:\n- intent: other\n  examples: |\n    - hello\n    - good morning\n',
        encoding="utf-8",
    )

    result = CliRunner().invoke(nlu, ["eval", str(path), "--show-errors"])

    assert result.exit_code == 1
    assert "BELOW THE FLOORS: intent accuracy en 0.000" in result.output
    assert "wrong intent  [en] other -> greet: hello" in result.output


def test_eval_refuses_a_file_without_known_labels(tmp_path: Path) -> None:
    path = tmp_path / "x.yml"
    path.write_text("nlu:\n- intent: unknown\n  examples: |\n    - text\n", encoding="utf-8")

    result = CliRunner().invoke(nlu, ["eval", str(path)])

    assert result.exit_code == 1
    assert "no examples with a known intent" in result.output


def test_eval_reports_a_malformed_file_as_one_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yml"
    path.write_text("nlu:\n- just text\n", encoding="utf-8")

    result = CliRunner().invoke(nlu, ["eval", str(path)])

    assert result.exit_code == 1
    assert "bad.yml: every item needs a name and an examples block" in result.output
