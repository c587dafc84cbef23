"""The shape of a flow file, validated with pydantic on load.

A flow reads like an XLSForm or a Rasa flow: steps with ids and kinds, message
ids (English source text), choices with stable codes, `next` and `when`, and
concern rules.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from flows.events import CONTACT_FIELDS
from flows.wellbeing import Indicator, Priority, Scale

StepKind = Literal[
    "say", "choice", "scale", "text", "age", "language", "unit", "code", "branch", "action", "end"
]  # fmt: skip
Action = Literal[
    "summary", "pause", "mydata", "erase", "decline", "restart", "finish", "reply", "alert", "report"
]  # fmt: skip

CODE_PATTERN = r"^[a-z0-9_]{1,24}$"
ID_PATTERN = r"^[a-z][a-z0-9_]{0,59}$"
# Targets that the conversation service persists on the child record.
CHILD_FIELDS = ("child.name", "child.age_years", "child.age_months", "child.unit")
# Set by the conversation service: the unit whose invitation the family followed.
INVITATION_VARS = ("invited", "child.unit_code")
# Set when staff write to the family (see flows/reply.yaml).
STAFF_VARS = ("staff_name", "reply_concern")
# Set by the conversation service when a family's words tell of danger (see flows/safety.yaml).
SAFETY_VARS = ("risk_level", "risk_categories")
# Set by the conversation service: languages to offer first, and one the family seems to write.
LANGUAGE_VARS = ("language_hints", "all_languages", "languages_offered")
# The professional flow: the directory's answer (a `unit` step), the desk link (a `code` step or
# the service, for a chat already linked), and whether the municipality wants the child's identity.
PROFESSIONAL_VARS = (
    *(f"contact.{name}" for name in CONTACT_FIELDS),
    "unit_candidates",
    "staff_verified",
    "verified_name",
    "ask_child_identity",
)
# Values the service passes in from configuration (phone numbers, the municipality).
CONTEXT_VARS = (
    "phone_emergency",
    "phone_bris",
    "phone_1177",
    "phone_social",
    "phone_socialjour",
    "municipality",
)
# Variables the engine itself sets, and the context.
BUILTIN_VARS = (
    "concern_sent",
    "contact_requested",
    "worry_not_shared",
    "consent_store",
    "consent_share",
    "lang",
    *CHILD_FIELDS,
    *INVITATION_VARS,
    *STAFF_VARS,
    *PROFESSIONAL_VARS,
    *SAFETY_VARS,
    *LANGUAGE_VARS,
    *CONTEXT_VARS,
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Consent(_Strict):
    scope: Literal["store", "share"]
    given: bool


class ChoiceSpec(_Strict):
    code: str = Field(pattern=CODE_PATTERN)
    label: str = Field(min_length=1)
    next: str | None = None
    set: dict[str, str | int] = Field(default_factory=dict)
    consent: Consent | None = None
    call: str | None = None
    do: list[Action] = Field(default_factory=list)


class Branch(_Strict):
    when: str
    next: str


class Step(_Strict):
    id: str = Field(pattern=ID_PATTERN)
    kind: StepKind
    text: str | None = None
    explain: str | None = None
    indicator: Indicator | None = None
    choices: list[ChoiceSpec] = Field(default_factory=list)
    branches: list[Branch] = Field(default_factory=list)
    next: str | None = None
    when: str | None = None
    save_as: str | None = None
    optional: bool = False
    max_length: int = Field(default=500, ge=1, le=4000)
    comment: str | None = None
    do: list[Action] = Field(default_factory=list)
    call: str | None = None
    terms: list[str] = Field(default_factory=list)  # glossary ids; the loader adds the ones it finds
    # A choice that cannot be undone (deleting): typed words answer it only when they are a button's
    # words; no single letters, numbers, typos or guesses from the NLU.
    careful: bool = False


class ConcernRule(_Strict):
    reason: str = Field(pattern=CODE_PATTERN)
    label: str
    kind: Literal["concern", "contact_request"] = "concern"
    priority: Priority
    count: Scale | None = None
    at_least: int = Field(default=1, ge=1)
    when: str | None = None
    requires_share: bool = True


class Flow(_Strict):
    id: str = Field(pattern=ID_PATTERN)
    version: int = Field(ge=1)
    description: str = ""
    start: str
    comment_prompt: str | None = None
    concerns: list[ConcernRule] = Field(default_factory=list)
    steps: list[Step] = Field(min_length=1)

    def step(self, step_id: str) -> Step:
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)

    def following(self, step: Step) -> str | None:
        """The step after `step`: its `next`, else the next one in the file."""
        if step.next is not None:
            return step.next
        index = self.steps.index(step)
        return self.steps[index + 1].id if index + 1 < len(self.steps) else None


END = "end"  # `next: end` finishes the flow
