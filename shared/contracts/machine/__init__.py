"""State machines as data (BESSER's bot model): states that reply with a body of parts and
move on along transitions tried in order; intents whose params are filled by entities.

A machine is written in YAML or JSON and validated here, so a bad upload is refused before it
is stored. Cross-references are checked after the shapes, and every problem found is reported
(each at its own location), so that an admin can fix them all in one go.
"""

import re
from typing import Annotated, Any, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from shared.expression import Invalid, parse

from .base import Contract
from .chat import MAX_PART_BYTES, ChartPart, FilePart, FormPart, LocationPart, TablePart
from .knowledge import PLACEHOLDER, SYSTEM_ENTITIES, Entity

FALLBACK_INTENT = "fallback_intent"
"""The intent predicted when none scores the threshold (BESSER's name)."""
DEFAULT_THRESHOLD = 0.4  # BESSER's nlp.intent_threshold
MAX_STATES = 500
MAX_MACHINE_INTENTS = 500
MAX_BODY = 50
MAX_TRANSITIONS = 50
MAX_DEPTH = 32  # nesting of a dataframe's or a plotly figure's JSON
VARIABLE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
"""Names of session variables (session data keys starting with _ are the service's own)."""

Loc = tuple[str | int, ...]
_Name = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
_Template = Field(max_length=65_536, description="With {name} placeholders")
_Number = Annotated[float, Field(allow_inf_nan=False)]
Value = str | int | _Number | bool
StateName = Annotated[str, Field(min_length=1, max_length=100)]
Op = Literal["==", "!=", "<", "<=", ">", ">=", "contains"]


# --- Body items: one-key mappings, each compiled to the matching chat Part ------------------


class TextItem(Contract):
    """`text: "..."`: plain text."""

    text: str = _Template


class MarkdownItem(Contract):
    """`markdown: "..."`: Markdown."""

    markdown: str = _Template


class HtmlItem(Contract):
    """`html: "..."`: HTML."""

    html: str = _Template


class OptionsItem(Contract):
    """`options: [...]`: buttons whose label is said back when picked."""

    options: list[str] = Field(min_length=1, max_length=50)


class DataframeItem(Contract):
    """`dataframe: {column: [values]}`: a table, each column as long as the others."""

    dataframe: dict[str, list[Any]] = Field(min_length=1, max_length=100)

    @field_validator("dataframe")
    @classmethod
    def _table(cls, value: dict[str, list[Any]]) -> dict[str, list[Any]]:
        _shallow(value)
        TablePart(columns=value)
        return value


class PlotlyItem(Contract):
    """`plotly: {data: [...], layout: {...}}`: a plotly figure."""

    plotly: dict[str, Any]

    @field_validator("plotly")
    @classmethod
    def _figure(cls, value: dict[str, Any]) -> dict[str, Any]:
        _shallow(value)
        ChartPart(figure=value)
        return value


class ImageItem(Contract):
    """`image: "<base64 JPEG>"`."""

    image: str = Field(min_length=1, max_length=MAX_PART_BYTES)


class FileItem(Contract):
    """`file: {name, type, base64}`: a file to download."""

    file: FilePart


class LocationItem(Contract):
    """`location: {latitude, longitude}`: a place on the map."""

    location: LocationPart


class AudioItem(Contract):
    """`audio: "..."`: the text, spoken (agent_reply_audio; the media service says it)."""

    audio: str = Field(min_length=1, max_length=2000, description="With {name} placeholders")


class RagItem(Contract):
    """`rag: "{message}"`: the answer from the project's documents to this question, with
    its passages (agent_reply_rag); nothing when no passage holds any of its words."""

    rag: str = Field(min_length=1, max_length=2000, description="With {name} placeholders")


class FormItem(Contract):
    """`form: {id, title, fields: [{name, label, type, options}], submit}`: a form whose
    submission is a GUI event (`when: event, event: gui`)."""

    form: FormPart


_ITEMS: dict[str, type[Contract]] = {
    "text": TextItem,
    "markdown": MarkdownItem,
    "html": HtmlItem,
    "options": OptionsItem,
    "dataframe": DataframeItem,
    "plotly": PlotlyItem,
    "image": ImageItem,
    "file": FileItem,
    "location": LocationItem,
    "audio": AudioItem,
    "rag": RagItem,
    "form": FormItem,
}
_KIND_OF = {model: kind for kind, model in _ITEMS.items()}


def _item_kind(value: Any) -> str | None:
    if isinstance(value, dict):
        return str(next(iter(value))) if len(value) == 1 else None
    return _KIND_OF.get(type(value))


def _shallow(value: Any, depth: int = 0) -> None:
    """Refuse JSON nested deeper than MAX_DEPTH (rendering it recurses)."""
    if depth > MAX_DEPTH:
        raise ValueError(f"nested more than {MAX_DEPTH} levels deep")
    children = value.values() if isinstance(value, dict) else value
    if isinstance(value, dict | list):
        for child in children:
            _shallow(child, depth + 1)


BodyItem = Annotated[
    Annotated[TextItem, Tag("text")]
    | Annotated[MarkdownItem, Tag("markdown")]
    | Annotated[HtmlItem, Tag("html")]
    | Annotated[OptionsItem, Tag("options")]
    | Annotated[DataframeItem, Tag("dataframe")]
    | Annotated[PlotlyItem, Tag("plotly")]
    | Annotated[ImageItem, Tag("image")]
    | Annotated[FileItem, Tag("file")]
    | Annotated[LocationItem, Tag("location")]
    | Annotated[AudioItem, Tag("audio")]
    | Annotated[RagItem, Tag("rag")]
    | Annotated[FormItem, Tag("form")],
    Discriminator(
        _item_kind,
        custom_error_type="body_item",
        custom_error_message=f"a body item is a mapping with one key, one of {', '.join(_ITEMS)}",
    ),
]
Body = Annotated[list[BodyItem], Field(max_length=MAX_BODY)]


# --- Transitions (BESSER's names), tried in the order written ------------------------------

_To = Field(min_length=1, max_length=100, description="The state entered")
_Aliased = ConfigDict(
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

    model_config = _Aliased
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

    model_config = _Aliased
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


# --- States, intents, the machine ----------------------------------------------------------


class State(Contract):
    """A state: variables to set and a body to say on entering, then where to go."""

    model_config = _Aliased
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
