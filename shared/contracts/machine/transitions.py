"""A state's transitions (BESSER's names), tried in the order written; each may carry a
condition (shared.expression) tested once its event matched."""

import re
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from shared.expression import Invalid, parse

from ..base import Contract

VARIABLE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
"""Names of session variables (session data keys starting with _ are the service's own)."""
_Number = Annotated[float, Field(allow_inf_nan=False)]
Value = str | int | _Number | bool
Op = Literal["==", "!=", "<", "<=", ">", ">=", "contains"]

_To = Field(min_length=1, max_length=100, description="The state entered")
ALIASED = ConfigDict(
    frozen=True,
    extra="forbid",
    validate_by_name=True,
    validate_by_alias=True,
    serialize_by_alias=True,
)


def expression(value: str) -> str:
    """`value` if it parses as a condition (shared.expression); else an error whose context
    says where in it (`position`, 0-based)."""
    try:
        parse(value)
    except Invalid as err:
        raise PydanticCustomError(
            "expression",
            "{message}",
            {"message": f"condition {value!r}: {err}", "position": err.position},
        ) from None
    return value


class _Guarded(Contract):
    """A transition with an optional condition (`if:`), tested once its event matched (BESSER's
    `with_condition`)."""

    model_config = ALIASED
    if_: str | None = Field(
        None, alias="if", max_length=2000, description="A condition (see shared.expression)"
    )

    @field_validator("if_")
    @classmethod
    def _parses(cls, value: str | None) -> str | None:
        return None if value is None else expression(value)


class IntentMatched(_Guarded):
    """The user said something whose best intent (at or above the threshold) is `intent`."""

    when: Literal["intent_matched"]
    intent: str = Field(min_length=1, max_length=100)
    to: str = _To


class NoIntentMatched(_Guarded):
    """The user said something, and no intent of the state reached the threshold."""

    when: Literal["no_intent_matched"]
    to: str = _To


class FileReceived(_Guarded):
    """The user sent a file, of one of `types` when given (MIME types; `image/*` allowed)."""

    when: Literal["file_received"]
    types: list[str] | None = Field(None, min_length=1, max_length=100)
    to: str = _To


EventKind = Literal["any", "text", "json", "file", "gui"]


class EventReceived(_Guarded):
    """An event of `event`'s kind arrived (BESSER's `when_event`): a text, a JSON object, a
    file, a GUI event (`user_gui_event`: a button or a form), or any of them; its fields are
    `event.*` in the condition."""

    when: Literal["event"]
    event: EventKind = "any"
    to: str = _To


class Condition(Contract):
    """A condition holds (BESSER's `when_condition`): tried as soon as the state is entered,
    on every event, and every second while the session waits there."""

    model_config = ALIASED
    when: Literal["condition"]
    if_: str = Field(alias="if", min_length=1, max_length=2000, description="The condition")
    to: str = _To

    @field_validator("if_")
    @classmethod
    def _parses(cls, value: str) -> str:
        return expression(value)


class VariableMatches(Contract):
    """A session variable compares to `value` (numbers numerically); a missing one never does.

    Also tried as soon as the state is entered, and every second while the session waits.
    """

    when: Literal["variable_matches"]
    variable: str = Field(min_length=1, max_length=64)
    op: Op
    value: Value
    to: str = _To


class Auto(Contract):
    """Unconditional, taken as soon as the state's body is said (the state's only transition)."""

    when: Literal["auto"]
    to: str = _To


Transition = Annotated[
    IntentMatched
    | NoIntentMatched
    | FileReceived
    | EventReceived
    | Condition
    | VariableMatches
    | Auto,
    Field(discriminator="when"),
]
