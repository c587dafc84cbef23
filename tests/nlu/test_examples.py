"""The fixed labels, the training data's promises, and reading Rasa NLU files."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from nlu.examples import (
    DATA_DIR,
    EVAL_DIR,
    INTENTS,
    LANGUAGES,
    RISK_CATEGORIES,
    eval_examples,
    intent_examples,
    read_items,
    risk_examples,
)
from nlu.text import normalize

TRAINED = ("sv", "en", "ar")


def test_the_label_sets_are_fixed() -> None:
    # other tools rely on these exact names
    assert INTENTS == (
        "greet", "help", "stop", "change_language", "talk_to_person", "delete_data", "explain",
        "affirm", "deny", "dont_know", "rate_good", "rate_some_worries", "rate_worried", "other",
    )  # fmt: skip
    assert RISK_CATEGORIES == (
        "violence", "sexual_abuse", "neglect", "self_harm", "acute_medical", "caregiver_crisis", "threat",
    )  # fmt: skip
    assert " ".join(LANGUAGES) == "sv en ar so fa prs ti uk pl bs ckb kmr fi tr"


def test_every_intent_has_30_examples_in_sv_en_ar_and_15_in_each_other_language() -> None:
    counts = Counter((e.language, e.label) for e in intent_examples())
    languages = {language for language, _ in counts}

    short = [
        f"{language}/{intent}: {counts[language, intent]}"
        for language in sorted(languages)
        for intent in INTENTS
        if counts[language, intent] < (30 if language in TRAINED else 15)
    ]

    assert set(TRAINED) <= languages
    assert short == []


def test_lookup_tables_of_choices_stay_out_of_the_intents() -> None:
    labels = {e.label for e in intent_examples()}

    assert labels == set(INTENTS)


def test_risk_examples_exist_for_every_category_in_every_language() -> None:
    counts = Counter((e.language, e.label) for e in risk_examples())

    short = [
        f"{language}/{category}: {counts[language, category]}"
        for language in LANGUAGES
        for category in RISK_CATEGORIES
        if counts[language, category] < (10 if language in TRAINED else 3)
    ]
    assert short == []
    assert all(counts[language, "benign"] >= 5 for language in LANGUAGES)


def test_the_held_out_examples_are_not_in_the_training_data() -> None:
    trained = {normalize(e.text) for e in intent_examples() + risk_examples()}

    leaked = [e.text for e in eval_examples([EVAL_DIR]) if normalize(e.text) in trained]

    assert leaked == []


def test_the_held_out_data_covers_every_intent_in_sv_en_ar_and_risk_in_every_language() -> None:
    held_out = eval_examples([EVAL_DIR])
    labels = {(e.language, e.label) for e in held_out}

    assert {(language, intent) for language in TRAINED for intent in INTENTS} <= labels
    assert {(language, c) for language in LANGUAGES for c in RISK_CATEGORIES} <= labels
    assert {(language, "benign") for language in LANGUAGES} <= labels


def test_read_items_takes_the_language_from_the_file_or_the_metadata(tmp_path: Path) -> None:
    path = tmp_path / "sv.yml"
    path.write_text(
        'version: "3.1"\nnlu:\n'
        "- intent: greet\n  examples: |\n    - hej\n"
        "- intent: greet\n  metadata:\n    language: en\n  examples: |\n    - hello\n    - hi\n"
        "- regex: violence\n  examples: |\n    - sl[aå]r\n",
        encoding="utf-8",
    )

    items = read_items(path)

    assert [(i.kind, i.name, i.language, i.examples) for i in items] == [
        ("intent", "greet", "sv", ("hej",)),
        ("intent", "greet", "en", ("hello", "hi")),
        ("regex", "violence", "sv", ("sl[aå]r",)),
    ]


def test_eval_examples_reads_files_and_folders(tmp_path: Path) -> None:
    (tmp_path / "risk").mkdir()
    (tmp_path / "en.yml").write_text("nlu:\n- intent: greet\n  examples: |\n    - hi\n", encoding="utf-8")
    (tmp_path / "risk" / "sv.yml").write_text(
        "nlu:\n- intent: violence\n  examples: |\n    - han slår mig\n"
        "- intent: unknown_label\n  examples: |\n    - ignored\n",
        encoding="utf-8",
    )

    from_folder = eval_examples([tmp_path])
    from_file = eval_examples([tmp_path / "en.yml"])

    assert [(e.language, e.label, e.text) for e in from_folder] == [
        ("en", "greet", "hi"),
        ("sv", "violence", "han slår mig"),
    ]
    assert [e.text for e in from_file] == ["hi"]


@pytest.mark.parametrize("document", ["nlu:\n- ja\n", "nlu:\n- intent: affirm\n  examples:\n    - ja\n"])
def test_a_malformed_file_is_refused_by_name(tmp_path: Path, document: str) -> None:
    path = tmp_path / "bad.yml"
    path.write_text(document, encoding="utf-8")

    with pytest.raises(ValueError, match=r"bad\.yml"):
        read_items(path)


def test_the_data_folder_is_where_the_package_is() -> None:
    assert (DATA_DIR / "sv.yml").exists()
    assert (DATA_DIR / "risk" / "sv.yml").exists()
