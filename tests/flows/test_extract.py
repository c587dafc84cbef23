"""The Babel extractor for flow files: every family text with its line; staff texts on request."""

from __future__ import annotations

import io
import textwrap

from flows.extract import extract_flow
from flows.loader import FLOWS_DIR, load_flows

FLOW = textwrap.dedent(
    """\
    id: mapping
    version: 1
    description: "Not for families: never translated"
    start: hello
    comment_prompt: "Tell us more?"
    concerns:
      - reason: worried_answer
        label: "The family answered Worried"
        count: worried
        priority: normal
    steps:
      - id: hello
        kind: say
        text: "Hello {municipality}"
      - id: meaning
        kind: say
        indicator: safe
      - id: q_safe
        kind: scale
        indicator: safe
        text: "Safe at home?"
        explain: >-
          Think of an
          ordinary day.
        comment: "What happens at home?"
      - id: share
        kind: choice
        text: "May we share?"
        choices:
          - code: "yes"
            label: "Yes, share"
            set: {wants_contact: "yes"}
          - code: "no"
            label: "No"
    """
)


def extract(source: str, **options: str) -> list[tuple[int, str | None, str, list[str]]]:
    return list(extract_flow(io.BytesIO(source.encode("utf-8")), [], [], options))


def test_every_family_text_is_extracted_with_its_line() -> None:
    assert extract(FLOW) == [
        (5, None, "Tell us more?", ["flow: comment_prompt"]),
        (14, None, "Hello {municipality}", ["flow: steps.text"]),
        (21, None, "Safe at home?", ["flow: steps.text"]),
        (22, None, "Think of an ordinary day.", ["flow: steps.explain"]),
        (25, None, "What happens at home?", ["flow: steps.comment"]),
        (28, None, "May we share?", ["flow: steps.text"]),
        (31, None, "Yes, share", ["flow: steps.choices.label"]),
        (34, None, "No", ["flow: steps.choices.label"]),
    ]


def test_the_staff_domain_gets_only_the_concern_labels() -> None:
    assert extract(FLOW, domain="staff") == [
        (8, None, "The family answered Worried", ["flow: concerns.label"]),
    ]


def test_an_empty_file_yields_nothing() -> None:
    assert extract("") == []
    assert extract("# nothing yet\n") == []


def test_every_text_of_the_real_flows_is_extracted_on_its_own_line() -> None:
    for flow in load_flows().values():
        path = FLOWS_DIR / f"{flow.id}.yaml"
        lines = path.read_text(encoding="utf-8").splitlines()
        extracted = extract(path.read_text(encoding="utf-8"))
        expected = {t for s in flow.steps for t in (s.text, s.explain, s.comment) if t is not None}
        expected |= {choice.label for step in flow.steps for choice in step.choices}
        expected |= {flow.comment_prompt} if flow.comment_prompt else set()

        assert {message for _, _, message, _ in extracted} == expected, flow.id
        for line, _, message, _ in extracted:
            assert message[:30] in lines[line - 1], (flow.id, line, message)

        staff = {message for _, _, message, _ in extract(path.read_text(encoding="utf-8"), domain="staff")}
        assert staff == {rule.label for rule in flow.concerns}, flow.id
