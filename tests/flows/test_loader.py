"""The flow loader: good files load, bad files are refused as `file:line: what is wrong`.

Each bad file below marks the line the error must name with `# <-`.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from flows.loader import FlowError, load_flow, load_flows
from flows.wellbeing import Indicator

MARK = "# <-"


def write(directory: Path, text: str, name: str = "mapping.yaml") -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def marked_line(path: Path) -> int:
    lines = [n for n, line in enumerate(path.read_text().splitlines(), start=1) if MARK in line]
    assert len(lines) == 1, "mark exactly one line"
    return lines[0]


def refused(path: Path) -> FlowError:
    with pytest.raises(FlowError) as caught:
        load_flow(path)
    return caught.value


# ---- good files ---------------------------------------------------------------------------------


def test_the_real_flows_load() -> None:
    flows = load_flows()

    assert set(flows) == {
        "mapping",
        "professional",
        "help",
        "language",
        "delete",
        "restart",
        "reply",
        "safety",
    }
    scales = [step for step in flows["mapping"].steps if step.kind == "scale"]
    assert len(scales) == 18
    assert {step.indicator for step in scales} == set(Indicator)


def test_a_small_flow_loads_with_its_defaults(tmp_path: Path) -> None:
    flow = load_flow(
        write(
            tmp_path,
            """\
            id: mapping
            version: 2
            start: hello
            steps:
              - id: hello
                kind: say
                text: "Hello"
              - id: name
                kind: text
                text: "Name?"
                save_as: child.name
            """,
        )
    )

    assert flow.id == "mapping"
    assert flow.version == 2
    assert flow.following(flow.step("hello")) == "name"
    assert flow.following(flow.step("name")) is None
    assert flow.step("name").max_length == 500
    assert not flow.step("name").optional


# ---- bad files: each names its file and line ----------------------------------------------------


def test_a_next_to_a_missing_step_names_the_file_the_line_and_the_step(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        id: mapping
        version: 1
        start: safe_1
        steps:
          - id: safe_1
            kind: scale
            indicator: safe
            text: "Safe at home?"
            next: safe_2
        """,
    )

    error = refused(path)

    assert error.path == str(path)
    assert error.line == 9
    assert str(error).endswith("mapping.yaml:9: unknown step 'safe_2'")


BAD_FILES = {
    "invalid YAML": (
        """\
        id: mapping
        version: 1
        start: a
        steps:
          - id: a
            kind: say
             text: "Hi"  # <-
        """,
        "not valid YAML",
    ),
    "duplicate step id": (
        """\
        id: mapping
        version: 1
        start: a
        steps:
          - id: a
            kind: say
            text: "Hi"
          - id: a  # <-
            kind: say
            text: "Hi again"
        """,
        "step id 'a' is used twice",
    ),
    "unknown field (typo)": (
        """\
        id: mapping
        version: 1
        start: a
        steps:
          - id: a
            kind: say
            text: "Hi"
            nxt: a  # <-
        """,
        "steps.0.nxt: Extra inputs are not permitted",
    ),
    "scale step without indicator": (
        """\
        id: mapping
        version: 1
        start: a
        steps:
          - id: a
            kind: say
            text: "Hi"
          - id: b  # <-
            kind: scale
            text: "How is it?"
        """,
        "step 'b' (scale): needs 'indicator'",
    ),
    "unknown indicator": (
        """\
        id: mapping
        version: 1
        start: a
        steps:
          - id: a
            kind: scale
            indicator: happy  # <-
            text: "Happy?"
        """,
        "steps.0.indicator: Input should be",
    ),
    "unknown kind": (
        """\
        id: mapping
        version: 1
        start: a
        steps:
          - id: a
            kind: sya  # <-
            text: "Hi"
        """,
        "steps.0.kind: Input should be",
    ),
    "choice code with capital letters": (
        """\
        id: mapping
        version: 1
        start: a
        steps:
          - id: a
            kind: choice
            text: "Well?"
            choices:
              - code: "fine"
                label: "Fine"
              - code: "NotFine"  # <-
                label: "Not fine"
        """,
        "steps.0.choices.1.code: String should match pattern",
    ),
    "unquoted yes is a YAML boolean, not a code": (
        """\
        id: mapping
        version: 1
        start: a
        steps:
          - id: a
            kind: choice
            text: "Well?"
            choices:
              - code: yes  # <-
                label: "Yes"
        """,
        "steps.0.choices.0.code: Input should be a valid string",
    ),
    "reserved choice code skip": (
        """\
        id: mapping
        version: 1
        start: a
        steps:
          - id: a
            kind: choice
            text: "Well?"
            choices:
              - code: "fine"
                label: "Fine"
              - code: "skip"  # <-
                label: "Skip it"
        """,
        "choice code 'skip' is taken",
    ),
    "choice code used twice": (
        """\
        id: mapping
        version: 1
        start: a
        steps:
          - id: a
            kind: choice
            text: "Well?"
            choices:
              - code: "fine"
                label: "Fine"
              - code: "fine"  # <-
                label: "Also fine"
        """,
        "choice code 'fine' is taken",
    ),
    "choices on a step that is not a choice": (
        """\
        id: mapping
        version: 1
        start: a
        steps:
          - id: a  # <-
            kind: say
            text: "Hi"
            choices:
              - code: "x"
                label: "X"
        """,
        "step 'a' (say): only choice steps have 'choices'",
    ),
    "text step without save_as": (
        """\
        id: mapping
        version: 1
        start: a
        steps:
          - id: a  # <-
            kind: text
            text: "Name?"
        """,
        "step 'a' (text): needs 'save_as'",
    ),
    "choice next to a missing step": (
        """\
        id: mapping
        version: 1
        start: a
        steps:
          - id: a
            kind: choice
            text: "Well?"
            choices:
              - code: "fine"
                label: "Fine"
                next: b2  # <-
          - id: b
            kind: say
            text: "Hi"
        """,
        "unknown step 'b2'",
    ),
    "branch to a missing step": (
        """\
        id: mapping
        version: 1
        start: a
        steps:
          - id: a
            kind: branch
            branches:
              - when: consent_share == yes
                next: b
              - when: consent_share == no
                next: zz  # <-
          - id: b
            kind: say
            text: "Hi"
        """,
        "unknown step 'zz'",
    ),
    "start at a missing step": (
        """\
        id: mapping
        version: 1
        start: nowhere  # <-
        steps:
          - id: a
            kind: say
            text: "Hi"
        """,
        "unknown step 'nowhere'",
    ),
    "condition that cannot be read": (
        """\
        id: mapping
        version: 1
        start: a
        steps:
          - id: a
            kind: say
            text: "Hi"
          - id: b
            kind: say
            text: "Hi"
            when: x === 3  # <-
        """,
        "cannot read condition 'x === 3'",
    ),
    "unknown variable in a condition": (
        """\
        id: mapping
        version: 1
        start: a
        steps:
          - id: a
            kind: choice
            text: "Talk?"
            choices:
              - code: "yes"
                label: "Yes"
                set: {wants_contact: "yes"}
          - id: b
            kind: say
            text: "We call you"
            when: wants_cotnact == yes  # <-
        """,
        "unknown variable 'wants_cotnact' in condition",
    ),
    "unknown variable in a concern rule": (
        """\
        id: mapping
        version: 1
        start: a
        concerns:
          - reason: r
            label: "R"
            priority: low
            when: mood == bad  # <-
        steps:
          - id: a
            kind: say
            text: "Hi"
        """,
        "unknown variable 'mood' in condition",
    ),
    "concern rule without count or when": (
        """\
        id: mapping
        version: 1
        start: a
        concerns:
          - reason: r  # <-
            label: "R"
            priority: low
        steps:
          - id: a
            kind: say
            text: "Hi"
        """,
        "a concern rule needs 'count' or 'when'",
    ),
    "missing flow id": (
        """\
        version: 1  # <-
        start: a
        steps:
          - id: a
            kind: say
            text: "Hi"
        """,
        "id: Field required",
    ),
}


@pytest.mark.parametrize("text, message", BAD_FILES.values(), ids=BAD_FILES.keys())
def test_a_bad_file_is_refused_at_the_line_that_is_wrong(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)

    error = refused(path)

    assert error.path == str(path)
    assert error.line == marked_line(path)
    assert message in error.message
    assert f"mapping.yaml:{error.line}: " in str(error)


@pytest.mark.parametrize("text", ["", "# only a comment\n", "\n\n"], ids=["empty", "comment", "blank"])
def test_an_empty_file_is_refused(tmp_path: Path, text: str) -> None:
    error = refused(write(tmp_path, text))

    assert error.line == 1
    assert error.message == "the file is empty"


def test_a_file_that_is_not_utf8_is_refused_without_a_line(tmp_path: Path) -> None:
    path = tmp_path / "mapping.yaml"
    path.write_bytes(b"id: \xff\xfe\n")

    error = refused(path)

    assert error.line is None
    assert "cannot read the file" in error.message
    assert str(error).endswith("mapping.yaml: " + error.message)


def test_a_key_written_twice_is_refused(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        id: mapping
        version: 1
        start: a
        steps:
          - id: a
            kind: say
            text: "Hi"
            next: end
            next: a  # <-
        """,
    )

    assert refused(path).line == marked_line(path)


# ---- several files ------------------------------------------------------------------------------

CALLER = """\
    id: mapping
    version: 1
    start: a
    steps:
      - id: a
        kind: say
        text: "Hi"
      - id: b
        kind: action
        call: nowhere
    """
CALLER_LINE = 8  # the line of `- id: b`


def test_a_call_of_an_unknown_flow_names_the_calling_step(tmp_path: Path) -> None:
    path = write(tmp_path, CALLER)

    with pytest.raises(FlowError) as caught:
        load_flows(tmp_path)

    assert caught.value.path == str(path)
    assert caught.value.line == CALLER_LINE
    assert caught.value.message == "unknown flow 'nowhere'"


def test_a_choice_that_calls_an_unknown_flow_names_its_step(tmp_path: Path) -> None:
    write(
        tmp_path,
        """\
        id: mapping
        version: 1
        start: a
        steps:
          - id: a
            kind: choice
            text: "More?"
            choices:
              - code: "yes"
                label: "Yes"
                call: more_questions
        """,
    )

    with pytest.raises(FlowError) as caught:
        load_flows(tmp_path)

    assert caught.value.line == 5  # the step's `- id: a`
    assert caught.value.message == "unknown flow 'more_questions'"


def test_a_call_of_a_flow_in_the_same_folder_loads(tmp_path: Path) -> None:
    write(tmp_path, CALLER.replace("nowhere", "extra"))
    write(
        tmp_path,
        """\
        id: extra
        version: 1
        start: x
        steps:
          - id: x
            kind: say
            text: "Extra"
        """,
        name="extra.yaml",
    )

    assert set(load_flows(tmp_path)) == {"mapping", "extra"}


@pytest.mark.parametrize(
    "text",
    [
        CALLER.replace("- id: b", '- id: "b"'),
        CALLER.replace("- id: b", "- id: b  # calls a flow"),
        CALLER.replace("id: mapping", "id: b"),
    ],
    ids=["quoted step id", "comment after the step id", "step id equal to the flow id"],
)
def test_a_call_of_an_unknown_flow_names_the_step_however_it_is_written(tmp_path: Path, text: str) -> None:
    write(tmp_path, text)

    with pytest.raises(FlowError) as caught:
        load_flows(tmp_path)

    assert caught.value.line == CALLER_LINE


def test_two_files_with_the_same_flow_id_are_refused(tmp_path: Path) -> None:
    flow = """\
        id: mapping
        version: 1
        start: a
        steps:
          - id: a
            kind: say
            text: "Hi"
        """
    write(tmp_path, flow, name="a_first.yaml")
    second = write(tmp_path, flow, name="b_second.yaml")

    with pytest.raises(FlowError) as caught:
        load_flows(tmp_path)

    assert caught.value.path == str(second)
    assert caught.value.line == 1
    assert caught.value.message == "flow id 'mapping' is also used by a_first.yaml"


def test_two_files_with_the_same_flow_id_name_the_id_line(tmp_path: Path) -> None:
    flow = """\
        # A flow that starts with a comment, like every file in flows/.
        id: mapping
        version: 1
        start: a
        steps:
          - id: a
            kind: say
            text: "Hi"
        """
    write(tmp_path, flow, name="a_first.yaml")
    write(tmp_path, flow, name="b_second.yaml")

    with pytest.raises(FlowError) as caught:
        load_flows(tmp_path)

    assert caught.value.line == 2


# ---- the common language ------------------------------------------------------------------------


def test_a_question_that_names_a_glossary_term_gets_it_and_one_declared_unknown_is_an_error(
    tmp_path: Path,
) -> None:
    flow = tmp_path / "terms.yaml"
    flow.write_text(
        "id: terms\nversion: 1\nstart: share\nsteps:\n"
        "  - id: share\n    kind: choice\n"
        '    text: "May we share your answers with your child\'s named person?"\n'
        "    terms: [consent]\n"
        "    choices:\n      - {code: 'yes', label: 'Yes'}\n"
    )
    assert load_flow(flow).steps[0].terms == ["consent", "named_person"]

    flow.write_text(flow.read_text().replace("terms: [consent]", "terms: [consent, trygghet]"))
    with pytest.raises(FlowError) as error:
        load_flow(flow)
    assert "unknown glossary term 'trygghet'" in str(error.value) and ":8" in str(error.value)


def test_every_wellbeing_question_in_the_mapping_flow_offers_its_definition() -> None:
    from flows.glossary import TERMS

    mapping = load_flows()["mapping"]
    scale = [step for step in mapping.steps if step.kind == "scale"]
    assert scale and all(step.indicator is not None and step.indicator.value in step.terms for step in scale)
    share = next(step for step in mapping.steps if step.id == "consent_share")
    assert {"named_person", "bvc"} <= set(share.terms)
    assert all(term in TERMS for step in mapping.steps for term in step.terms)
