"""Which transition a state machine takes: the event's (an intent, a file, any event) or an
eventless one (auto, a variable that matches, a condition that holds), and where a session
rests. Pure: no I/O, no clock."""

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from shared.contracts.machine import (
    FALLBACK_INTENT,
    Auto,
    Condition,
    EventReceived,
    FileReceived,
    IntentMatched,
    NoIntentMatched,
    StateMachine,
    Transition,
    VariableMatches,
)
from shared.expression import number as _number
from shared.expression import satisfied
from shared.expression import text as _text

from .machine_context import Context, MachineEvent, compiled

MAX_HOPS = 20
"""Eventless transitions followed for one event at most (validation forbids auto loops; a loop
through variables that keep matching stops here)."""


@dataclass(frozen=True)
class Prediction:
    """What intent prediction found for a text event (kept in the transcript)."""

    intent: str  # FALLBACK_INTENT (score 1) when the best is below the threshold, as BESSER
    score: float
    params: dict[str, Any]  # param name -> rendered value (a city's name, the words said, ...)


def restore(
    machine: StateMachine, state: Mapping[str, Any] | None
) -> tuple[str, dict[str, str], str | None]:
    """The current state's name, the params kept in `state` and where a global state goes back
    to (anything malformed is ignored)."""
    if not isinstance(state, Mapping):
        return machine.initial, {}, None
    name, kept, back = state.get("state"), state.get("params"), state.get("back")
    if not isinstance(name, str) or name not in machine.states:
        return machine.initial, {}, None
    back = back if isinstance(back, str) and back in machine.states else None
    if not isinstance(kept, Mapping):
        return name, {}, back
    return name, {k: v for k, v in kept.items() if isinstance(k, str) and isinstance(v, str)}, back


def settled(machine: StateMachine, name: str) -> str:
    """Where a session waits for events: past the auto transitions of `name`. A session only
    rests in such a state when it never heard the start event (its initial state, when it
    speaks another protocol than BESSER), and an event must not be spent moving it on."""
    for _ in range(MAX_HOPS):
        auto = next((t for t in machine.states[name].transitions if isinstance(t, Auto)), None)
        if auto is None:
            break
        name = auto.to
    return name


def matches(
    transition: Transition,
    event: MachineEvent,
    prediction: Prediction | None,
    context: Context,
) -> bool:
    """Whether `transition` is taken on `event` (json events never predict intents; the clock
    takes eventless transitions only)."""
    if isinstance(transition, IntentMatched):
        found = prediction is not None and prediction.intent == transition.intent
    elif isinstance(transition, NoIntentMatched):
        found = prediction is not None and prediction.intent == FALLBACK_INTENT
    elif isinstance(transition, FileReceived):
        file = event.file if event.kind == "file" else None
        found = file is not None and _allowed(file.type, transition.types)
    elif isinstance(transition, EventReceived):
        kinds = (
            ("text", "json", "file", "gui") if transition.event == "any" else (transition.event,)
        )
        found = event.kind in kinds
    else:
        return eventless(transition, context)
    return found and (
        transition.if_ is None or satisfied(compiled(transition.if_), context.names())
    )


def eventless(transition: Transition, context: Context) -> bool:
    """Whether `transition` is taken without an event (auto, a variable that matches, a
    condition that holds)."""
    if isinstance(transition, Auto):
        return True
    variables = context.variables
    if isinstance(transition, VariableMatches) and transition.variable in variables:
        return _holds(transition.op, variables[transition.variable], transition.value)
    if isinstance(transition, Condition):
        return satisfied(compiled(transition.if_), context.names())
    return False


def _allowed(mime: str, types: list[str] | None) -> bool:
    if types is None:
        return True
    mime = mime.split(";")[0].strip().lower()
    for allowed in (t.strip().lower() for t in types):
        if mime == allowed or (allowed.endswith("/*") and mime.startswith(allowed[:-1])):
            return True
    return False


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def _holds(op: str, left: Any, right: Any) -> bool:
    """`left op right`: numerically when both are numbers (or numeric text), else as text."""
    if op == "contains":
        if isinstance(left, list):
            return any(_holds("==", item, right) for item in left)
        if isinstance(left, dict | str):
            return _text(right) in left
        return False
    a, b = _number(left), _number(right)
    if a is not None and b is not None:
        return _COMPARE[op](a, b)
    if op in ("==", "!="):
        return _COMPARE[op](_text(left), _text(right))
    return isinstance(left, str) and isinstance(right, str) and _COMPARE[op](left, right)
