"""The machine itself: states, intents and their params, and the checks of every
cross-reference (each problem reported at its own location, so an admin fixes them all at once)."""

from typing import Annotated, Any, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from ..base import Contract
from ..knowledge import PLACEHOLDER, SYSTEM_ENTITIES, Entity
from .body import Body
from .transitions import ALIASED, VARIABLE, Auto, IntentMatched, Transition, Value, VariableMatches

FALLBACK_INTENT = "fallback_intent"
"""The intent predicted when none scores the threshold (BESSER's name)."""
DEFAULT_THRESHOLD = 0.4  # BESSER's nlp.intent_threshold
MAX_STATES = 500
MAX_MACHINE_INTENTS = 500
MAX_TRANSITIONS = 50

Loc = tuple[str | int, ...]
_Name = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
StateName = Annotated[str, Field(min_length=1, max_length=100)]


class State(Contract):
    """A state: variables to set and a body to say on entering, then where to go."""

    model_config = ALIASED
    global_: str | None = Field(
        None,
        alias="global",
        min_length=1,
        max_length=100,
        description="An intent that leads here from every state (BESSER's set_global); the "
        "session goes back where it was once the states this one leads to end",
    )
    set: dict[str, Value] = Field(
        default_factory=dict, max_length=50, description="Variables set on entering (templated)"
    )
    body: Body = Field(default_factory=list, description="Replies said on entering")
    fallback: Body | None = Field(None, description="Said when no transition matches")
    transitions: list[Transition] = Field(default_factory=list, max_length=MAX_TRANSITIONS)


class Param(Contract):
    """A `{name}` of an intent's sentences, filled by an entity (system or declared)."""

    name: str = _Name
    entity: str = Field(min_length=1, max_length=64)


class MachineIntent(Contract):
    """Something users want and how they say it, with `{param}` marks."""

    name: str = Field(min_length=1, max_length=100)
    sentences: list[str] = Field(min_length=1, max_length=1000)
    params: list[Param] = Field(default_factory=list, max_length=20)


class StateMachine(Contract):
    """A bot as a state machine: where it starts, what it understands, what each state does."""

    initial: str = Field(min_length=1, max_length=100, description="The state a session starts in")
    threshold: float = Field(DEFAULT_THRESHOLD, ge=0.0, le=1.0, description="Lowest intent score")
    timezone: str = Field(
        "UTC", max_length=64, description="Where `time`, `hour` and `weekday` of conditions are"
    )
    entities: list[Entity] = Field(default_factory=list, max_length=500)
    intents: list[MachineIntent] = Field(default_factory=list, max_length=MAX_MACHINE_INTENTS)
    fallback: Body | None = Field(None, description="Said by states without their own fallback")
    states: dict[StateName, State] = Field(min_length=1, max_length=MAX_STATES)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is no time zone (like Europe/Berlin or UTC)") from None
        return value

    @classmethod
    def parse(cls, data: Any) -> Self:
        """The machine in `data` (a loaded YAML or JSON document); ValidationError lists every
        problem, each at its location."""
        return cls.model_validate(data)

    @model_validator(mode="after")
    def _references(self) -> Self:
        problems = _problems(self)
        if problems:
            raise ValidationError.from_exception_data(
                type(self).__name__,
                [
                    InitErrorDetails(
                        type=PydanticCustomError("machine", "{message}", {"message": message}),
                        loc=loc,
                        input=None,
                    )
                    for loc, message in problems
                ],
            )
        return self


class _Problems(list[tuple[Loc, str]]):
    def add(self, *loc: str | int, message: str) -> None:
        self.append((loc, message))


def _problems(machine: StateMachine) -> _Problems:
    """Every cross-reference problem of `machine`, with its location."""
    problems = _Problems()
    _check_intents(machine, problems)
    _check_states(machine, problems)
    if machine.initial not in machine.states:
        states = ", ".join(repr(name) for name in list(machine.states)[:20])
        problems.add("initial", message=f"initial state {machine.initial!r} is not one of {states}")
    else:
        _check_reachable(machine, problems)
    _check_globals(machine, problems)
    _check_auto_loops(machine, problems)
    return problems


def _check_intents(machine: StateMachine, problems: _Problems) -> None:
    entities = [entity.name for entity in machine.entities]
    for n, name in enumerate(entities):
        if name in entities[:n]:
            problems.add("entities", n, "name", message=f"entity {name!r} is declared twice")
    seen: set[str] = set()
    for n, intent in enumerate(machine.intents):
        where = f"intent {intent.name!r}"
        if intent.name in seen:
            problems.add("intents", n, "name", message=f"{where} is declared twice")
        if intent.name == FALLBACK_INTENT:
            problems.add("intents", n, "name", message=f"{where} is the built-in fallback")
        seen.add(intent.name)
        params = [param.name for param in intent.params]
        for k, param in enumerate(intent.params):
            if param.name in params[:k]:
                problems.add(
                    "intents",
                    n,
                    "params",
                    k,
                    message=f"{where}: param {param.name!r} is declared twice",
                )
            if param.entity not in SYSTEM_ENTITIES and param.entity not in entities:
                problems.add(
                    *("intents", n, "params", k, "entity"),
                    message=f"{where}: param {param.name!r} has entity {param.entity!r}, which is"
                    f" neither built in ({', '.join(SYSTEM_ENTITIES)}) nor declared",
                )
        for k, sentence in enumerate(intent.sentences):
            if not sentence.strip() or len(sentence) > 1000:
                problems.add(
                    "intents",
                    n,
                    "sentences",
                    k,
                    message=f"{where}: a sentence has 1 to 1000 characters",
                )
            for mark in PLACEHOLDER.findall(sentence):
                if mark not in params:
                    problems.add(
                        *("intents", n, "sentences", k),
                        message=f"{where}: {sentence!r} names {{{mark}}}, which is no param",
                    )


def _check_states(machine: StateMachine, problems: _Problems) -> None:
    intents = {intent.name for intent in machine.intents}
    for name, state in machine.states.items():
        where = f"state {name!r}"
        for variable in state.set:
            if not VARIABLE.match(variable):
                problems.add(
                    *("states", name, "set", variable),
                    message=f"{where}: variable {variable!r} must start with a letter and have"
                    " only letters, digits and _ (64 at most)",
                )
        for k, t in enumerate(state.transitions):
            at, which = ("states", name, "transitions", k), f"{where}, transition {k + 1}"
            if t.to not in machine.states:
                problems.add(*at, "to", message=f"{which} goes to {t.to!r}, which is no state")
            if isinstance(t, IntentMatched) and t.intent not in intents:
                problems.add(
                    *at,
                    "intent",
                    message=f"{which} waits for intent {t.intent!r}, which is not declared",
                )
            if isinstance(t, VariableMatches) and not VARIABLE.match(t.variable):
                problems.add(
                    *at,
                    "variable",
                    message=f"{which} tests {t.variable!r}, which is no variable name",
                )
        if any(isinstance(t, Auto) for t in state.transitions) and len(state.transitions) > 1:
            problems.add(
                *("states", name, "transitions"),
                message=f"{where}: an auto transition must be the state's only transition",
            )


def _check_reachable(machine: StateMachine, problems: _Problems) -> None:
    heads = [name for name, state in machine.states.items() if state.global_ is not None]
    reached = reachable(machine, [machine.initial, *heads])
    for name in machine.states:
        if name not in reached:
            problems.add(
                "states", name, message=f"state {name!r} cannot be reached from {machine.initial!r}"
            )


def reachable(
    machine: StateMachine, starts: list[str], *, stop: frozenset[str] = frozenset()
) -> set[str]:
    """The states reached from `starts` along transitions, not entering those in `stop`."""
    reached, todo = set(starts), list(starts)
    while todo:
        for transition in machine.states[todo.pop()].transitions:
            to = transition.to
            if to in machine.states and to not in reached and to not in stop:
                reached.add(to)
                todo.append(to)
    return reached


def main_flow(machine: StateMachine) -> set[str]:
    """The states of the main flow: reached from the initial state without entering a global
    state. The others (global states and where they lead) go back where the user was."""
    heads = frozenset(n for n, s in machine.states.items() if s.global_ is not None)
    return reachable(machine, [machine.initial], stop=heads)


def _check_globals(machine: StateMachine, problems: _Problems) -> None:
    intents = {intent.name for intent in machine.intents}
    seen: dict[str, str] = {}
    for name, state in machine.states.items():
        intent = state.global_
        if intent is None:
            continue
        at, where = ("states", name, "global"), f"global state {name!r}"
        if intent not in intents:
            problems.add(*at, message=f"{where} waits for intent {intent!r}, which is not declared")
        if intent in seen:
            problems.add(
                *at, message=f"{where}: intent {intent!r} leads to {seen[intent]!r} already"
            )
        seen.setdefault(intent, name)
        if name == machine.initial:
            problems.add(*at, message=f"{where} is the initial state: it has nowhere to go back")


def _check_auto_loops(machine: StateMachine, problems: _Problems) -> None:
    """Loops made of auto transitions only: the machine would go round without waiting."""
    auto = {
        n: t.to for n, s in machine.states.items() for t in s.transitions if isinstance(t, Auto)
    }
    done: set[str] = set()
    for start in machine.states:
        path: list[str] = []
        node: str | None = start
        while node is not None and node not in done and node not in path:
            path.append(node)
            node = auto.get(node)
        if node is not None and node in path:
            loop = path[path.index(node) :]
            problems.add(
                *("states", loop[0], "transitions"),
                message=f"auto transitions loop through {' → '.join([*loop, loop[0]])}:"
                " the machine would never wait for the user",
            )
        done.update(path)
