"""A state machine bot at run time (BESSER's agent loop), pure: one event in, the replies, the
state and the variables out. The session keeps the state and the variables between events.

An event may move the machine along the first of the current state's transitions that matches
it; the state entered says its body, then eventless transitions (auto, a variable that matches,
a condition) are followed. When nothing matches, a global state's intent leads there from any
state of the main flow; else the state's fallback body is said (or the machine's) and the
session stays where it is. A state a global state leads to that has no transitions goes back to
where the user was (its body said again). Intents are predicted with the NLU engine, per state,
over that state's intents (and the global ones) only, as BESSER trains one classifier per state.
"""

import html
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.contracts.chat import (
    Part,
)
from shared.contracts.knowledge import PLACEHOLDER, Intent, Intents, Lang, Slot
from shared.contracts.machine import (
    FALLBACK_INTENT,
    BodyItem,
    Condition,
    IntentMatched,
    StateMachine,
    Transition,
    VariableMatches,
    main_flow,
)
from shared.expression import text as _text

from .knowledge import NluModel, render
from .machine_context import Context, MachineEvent
from .machine_parts import body_part
from .machine_transitions import MAX_HOPS, Prediction, eventless, matches, restore, settled


@dataclass(frozen=True)
class Step:
    """The machine's answer to one event.

    Attributes:
        parts: The replies in order: the bodies of every state entered, or a fallback body.
        state: JSON to keep in the session: {"state": current state, "params": params of the
            intent that led there}.
        variables: The session variables after the step (the input ones and the `set`s).
        handled: False when nothing matched and no fallback body is defined: the caller asks
            its other engines.
        prediction: The intent predicted (text events only).
    """

    parts: list[Part]
    state: dict[str, Any]
    variables: dict[str, Any]
    handled: bool
    prediction: Prediction | None = None


class MachineModel:
    """A machine with its intent models built, for many events of many sessions."""

    def __init__(self, machine: StateMachine) -> None:
        """Build one NLU model per state with intent transitions (states sharing the same
        intents share one model)."""
        self.machine = machine
        self.main = main_flow(machine)
        self.globals = {s.global_: n for n, s in machine.states.items() if s.global_ is not None}
        built: dict[frozenset[str], NluModel] = {}
        self._nlu: dict[str, NluModel] = {}
        for name, state in machine.states.items():
            wanted = frozenset(t.intent for t in state.transitions if isinstance(t, IntentMatched))
            if name in self.main:
                wanted |= frozenset(self.globals)
            if wanted:
                if wanted not in built:
                    built[wanted] = NluModel(_content(machine, wanted))
                self._nlu[name] = built[wanted]

    def step(
        self,
        event: MachineEvent,
        *,
        state: dict[str, Any] | None,
        variables: dict[str, Any],
        lang: Lang,
        now: datetime,
    ) -> Step:
        """Answer `event` from `state` (None, or a state that no longer exists: the initial one,
        its body not said again)."""
        machine = self.machine
        context = Context(event, variables, now, machine.timezone)
        if event.kind == "start":
            turn = _Turn(self, event, dict(variables), {}, context=context)
            turn.enter(machine.initial)
            return turn.follow(prediction=None)
        current, kept, back = restore(machine, state)
        current = settled(machine, current)
        prediction = self._predict(current, event, lang, now) if event.kind == "text" else None
        if prediction is not None:
            context.intent, context.score = prediction.intent, prediction.score
            context.params = prediction.params
        here = machine.states[current]
        for transition in here.transitions:
            if matches(transition, event, prediction, context):
                params = prediction.params if prediction is not None else {}
                turn = _Turn(self, event, dict(variables), params, context=context, back=back)
                turn.leave(current, transition.to)
                return turn.follow(prediction=prediction)
        if prediction is not None and prediction.intent in self.globals and current in self.main:
            turn = _Turn(self, event, dict(variables), prediction.params, context=context)
            turn.leave(current, self.globals[prediction.intent])
            return turn.follow(prediction=prediction)
        # Nothing matched: the session stays, with the params that led it here.
        turn = _Turn(self, event, dict(variables), kept, at=current, context=context, back=back)
        if event.kind == "tick":  # the clock: no fallback, nothing said
            return turn.result(handled=False, prediction=None)
        fallback = here.fallback if here.fallback is not None else machine.fallback
        turn.say(fallback or [])
        return turn.result(handled=fallback is not None, prediction=prediction)

    def watching(self, state: dict[str, Any] | None) -> bool:
        """Whether a session in `state` waits on conditions the clock checks (variables, time)."""
        return bool(self._watched(state))

    def due(self, state: dict[str, Any] | None, variables: dict[str, Any], now: datetime) -> bool:
        """Whether one of the conditions a session in `state` waits on holds `now`."""
        context = Context(MachineEvent("tick"), variables, now, self.machine.timezone)
        return any(eventless(t, context) for t in self._watched(state))

    def _watched(self, state: dict[str, Any] | None) -> list[Transition]:
        current, _, _ = restore(self.machine, state)
        transitions = self.machine.states[settled(self.machine, current)].transitions
        return [t for t in transitions if isinstance(t, Condition | VariableMatches)]

    def _predict(self, current: str, event: MachineEvent, lang: Lang, now: datetime) -> Prediction:
        nlu = self._nlu.get(current)
        understood = nlu.understand(event.text, lang=lang, now=now) if nlu is not None else None
        if understood is None or understood.match.score < self.machine.threshold:
            return Prediction(FALLBACK_INTENT, 1.0, {})
        match = understood.match
        params = {
            name: render(f"{{{name}}}", match.slots) for name, vs in match.slots.items() if vs
        }
        return Prediction(match.name, match.score, params)


def _content(machine: StateMachine, wanted: frozenset[str]) -> Intents:
    """The NLU content of a state: its intents, their params as optional slots."""
    chosen = [intent for intent in machine.intents if intent.name in wanted]
    used = {param.entity for intent in chosen for param in intent.params}
    return Intents(
        entities=[entity for entity in machine.entities if entity.name in used],
        intents=[
            Intent(
                name=intent.name,
                sentences=intent.sentences,
                slots=[Slot(name=p.name, entity=p.entity, required=False) for p in intent.params],
                response="-",  # unused: the states say the replies
            )
            for intent in chosen
        ],
    )


class _Turn:
    """One event's way through the machine: the states entered and what they said."""

    def __init__(
        self,
        model: MachineModel,
        event: MachineEvent,
        variables: dict[str, Any],
        params: dict[str, str],
        *,
        context: Context,
        at: str = "",
        back: str | None = None,
    ) -> None:
        self.model, self.machine, self.event = model, model.machine, event
        self.variables, self.params = variables, params
        self.context = context
        self.parts: list[Part] = []
        self.at, self.back = at, back
        self.said, file = {"message": event.text}, event.file
        if file is not None:
            self.said |= {
                "file_name": file.name,
                "file_type": file.type,
                "file_id": str(file.media_id),
            }
        self.said |= _fields(event)

    def leave(self, current: str, to: str) -> None:
        """Go from `current` to `to`; entering a global state from the main flow remembers
        where to go back."""
        if current in self.model.main and to not in self.model.main:
            self.back = current
        self.enter(to)

    def enter(self, name: str) -> None:
        """Enter the state `name`: set its variables, then say its body."""
        self.at, state = name, self.machine.states[name]
        if name in self.model.main:
            self.back = None
        for variable, value in state.set.items():
            self.variables[variable] = self.fill(value) if isinstance(value, str) else value
        self.context.variables = self.variables
        self.say(state.body)

    def follow(self, *, prediction: Prediction | None) -> Step:
        """Take eventless transitions from the state entered (and go back from the end of a
        global state's states), then give the result."""
        for _ in range(MAX_HOPS):
            transitions = self.machine.states[self.at].transitions
            if not transitions and self.at not in self.model.main:
                back, self.back = self.back or self.machine.initial, None
                self.enter(back)
                continue
            ready = next((t for t in transitions if eventless(t, self.context)), None)
            if ready is None:
                break
            self.leave(self.at, ready.to)
        return self.result(handled=True, prediction=prediction)

    def say(self, body: list[BodyItem]) -> None:
        self.parts.extend(body_part(item, self.fill) for item in body)

    def result(self, *, handled: bool, prediction: Prediction | None) -> Step:
        state: dict[str, Any] = {"state": self.at, "params": dict(self.params)}
        if self.back is not None:
            state["back"] = self.back
        return Step(self.parts, state, self.variables, handled, prediction)

    def fill(self, template: str, *, escape: bool = False) -> str:
        """`template` with each {name} replaced by a param, the event's, a variable, else ""
        (HTML-escaped for HTML: what users say must not become markup)."""
        if escape:
            return PLACEHOLDER.sub(lambda m: html.escape(self._value(m[1])), template)
        return PLACEHOLDER.sub(lambda m: self._value(m[1]), template)

    def _value(self, name: str) -> str:
        for values in (self.params, self.said):
            if name in values:
                return values[name]
        return _text(self.variables.get(name))


def _fields(event: MachineEvent) -> dict[str, str]:
    """What a JSON object's fields, or a GUI event's value (a form's fields), fill in."""
    payload = event.payload or {}
    if event.kind == "gui":
        value = payload.get("value")
        found = value if isinstance(value, Mapping) else {"value": value}
    else:
        found = payload if event.kind == "json" else {}
    return {
        key: _text(item)
        for key, item in found.items()
        if isinstance(key, str) and item is not None and not isinstance(item, dict | list)
    }
