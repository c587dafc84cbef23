"""What goes into the engine (events) and what comes out (replies and effects).

Replies hold message ids, never translated text; channels render them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, TypeAlias

from flows.wellbeing import Indicator

Param: TypeAlias = "str | int | Msg | tuple[Msg, ...]"


@dataclass(frozen=True)
class Msg:
    """A message id with parameters. kind 'language' renders a language's own name; kind 'name' is
    a name from the directory, shown as it is written (never translated)."""

    id: str
    params: Mapping[str, Param] = field(default_factory=dict)
    kind: Literal["text", "language", "name"] = "text"
    plural: str | None = None  # the plural message id (NP_): forms chosen by the parameter `n`

    @classmethod
    def count(cls, forms: tuple[str, str], n: int, **params: Param) -> Msg:
        """A message with plural forms (as NP_ marks them), for the count `n`."""
        return cls(forms[0], {"n": n, **params}, plural=forms[1])


@dataclass(frozen=True)
class Button:
    code: str
    label: Msg


@dataclass(frozen=True)
class Reply:
    """A message to the user.

    kind "mydata": the service adds the stored answers. kind "answered": the question `text` was just
    answered (with `buttons`, the one chosen, if any); a channel closes that question's buttons.
    kind "wheel": the family's wheel as a picture, where the channel can show one (`text`: its title).
    """

    text: Msg
    buttons: tuple[Button, ...] = ()
    step: str | None = None  # the question these buttons answer
    kind: Literal["message", "mydata", "answered", "wheel"] = "message"
    accepts_text: bool = False  # free words are welcome here (a name, an age, a comment)
    flow: str | None = None  # the flow of `step`: step ids are unique only within a flow


# ---- events -------------------------------------------------------------


@dataclass(frozen=True)
class Start:
    """The user opened the conversation (first contact, or came back)."""


@dataclass(frozen=True)
class Choice:
    code: str


@dataclass(frozen=True)
class Text:
    text: str
    language: str | None = None


@dataclass(frozen=True)
class Age:
    years: int
    months: int | None = None


@dataclass(frozen=True)
class UnitFound:
    """What the directory says of the unit a professional named (the service looks it up).

    `candidates`: (code, name) of the units the words fit, when they fit several (or none: empty).
    `contact`: the unit, and whom to contact there (see CONTACT_FIELDS), once it is known."""

    candidates: tuple[tuple[str, str], ...] = ()
    contact: Mapping[str, str] | None = None


@dataclass(frozen=True)
class Verified:
    """A one-time code from the desk was given: `staff_name` when it linked this chat, else None."""

    staff_name: str | None


@dataclass(frozen=True)
class Command:
    name: Literal["help", "language", "pause", "restart", "mydata", "delete", "start", "talk", "professional"]


@dataclass(frozen=True)
class NotUnderstood:
    text: str


Event = Start | Choice | Text | Age | UnitFound | Verified | Command | NotUnderstood
COMMANDS = ("help", "language", "pause", "restart", "mydata", "delete", "start", "talk", "professional")
# What a UnitFound contact holds (flow texts read them as {contact_<field>}).
CONTACT_FIELDS = (
    "unit_code", "unit_name", "unit_phone", "unit_email", "office_hours",
    "person", "title", "phone", "email",
)  # fmt: skip


# ---- effects ------------------------------------------------------------


@dataclass(frozen=True)
class SaveAnswer:
    question_id: str
    indicator: Indicator | None
    code: str


@dataclass(frozen=True)
class SaveAnswerText:
    question_id: str
    text: str
    language: str | None


@dataclass(frozen=True)
class UpdateChild:
    field: Literal["name", "age_years", "age_months", "unit"]
    value: str | int | None


@dataclass(frozen=True)
class RecordConsent:
    scope: Literal["store", "share"]
    given: bool
    text_id: str  # the message id of the consent text the family saw
    flow_version: str


@dataclass(frozen=True)
class RaiseConcern:
    """kind "urgent": a danger signal, raised whatever the family consented to."""

    kind: Literal["concern", "contact_request", "urgent"]
    reason: str
    priority: str
    answers_shared: bool


@dataclass(frozen=True)
class SetLanguage:
    language: str


@dataclass(frozen=True)
class Erase:
    """Erase everything about this user; silent after a declined consent."""

    silent: bool = False


@dataclass(frozen=True)
class AnswerStaff:
    """The family's answer to a message from staff, for the concern's timeline."""

    text: str
    language: str


@dataclass(frozen=True)
class FileReport:
    """A verified professional hands a concern to the named person (the service checks the link)."""

    fields: Mapping[str, str]  # role, age, urgency, seen, when, identity (as the flow saved them)
    language: str


@dataclass(frozen=True)
class Restart:
    """Close this conversation and begin a new one (for example for another child)."""


Effect = (
    SaveAnswer
    | SaveAnswerText
    | UpdateChild
    | RecordConsent
    | RaiseConcern
    | SetLanguage
    | Erase
    | Restart
    | AnswerStaff
    | FileReport
)
