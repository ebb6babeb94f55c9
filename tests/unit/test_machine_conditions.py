"""State machines' conditions, events and global states as data: the expression language,
transitions taken on conditions, GUI and JSON events, the clock's ticks, global states that go
back where the user was, and machines refused with where the problem is."""

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from services.dialog.engines.machine import MachineModel, Step
from services.dialog.engines.machine_context import MachineEvent
from services.gateway.admin.formats.knowledge import FormatError, as_yaml, read_machine
from services.gateway.protocols.besser.wire import reply_frames
from shared.contracts.chat import TextPart
from shared.contracts.machine import StateMachine
from shared.expression import Invalid, parse, satisfied

pytestmark = pytest.mark.unit

NOON = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)  # a Wednesday


def model(doc: dict[str, Any]) -> MachineModel:
    return MachineModel(StateMachine.parse(doc))


def step(
    bot: MachineModel,
    event: MachineEvent,
    state: dict[str, Any] | None = None,
    variables: dict[str, Any] | None = None,
    now: datetime = NOON,
) -> Step:
    return bot.step(event, state=state, variables=variables or {}, lang="en", now=now)


def texts(found: Step) -> list[str]:
    return [p.text for p in found.parts if isinstance(p, TextPart)]


def said(text: str) -> dict[str, Any]:
    return {"text": text}


# --- The expression language -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "names", "expected"),
    [
        ("vars.age >= 18 and not (intent == 'cancel')", {"vars": {"age": "21"}}, True),
        ("vars.age >= 18", {"vars": {}}, False),
        (
            "message startswith 'order' and message matches '[0-9]{4}$'",
            {"message": "order 1234"},
            True,
        ),
        ("message contains 'price' or message endswith '?'", {"message": "how much?"}, True),
        ("weekday in ['sat', 'sun']", {"weekday": "wed"}, False),
        ("vars.city not in ['Paris', 'Madrid']", {"vars": {"city": "Rome"}}, True),
        ("event.value.qty > 2", {"event": {"value": {"qty": 3}}}, True),
        ("lower(message) == 'yes'", {"message": "YES"}, True),
        ("len(vars.items) == 2", {"vars": {"items": [1, 2]}}, True),
        ("vars.flag", {"vars": {"flag": True}}, True),
        ("vars.missing == null", {"vars": {}}, True),
        ("message matches '(a+)+$'", {"message": "a" * 40 + "!"}, False),
    ],
)
def test_conditions_evaluate_over_plain_values(
    source: str, names: dict[str, Any], expected: bool
) -> None:
    """Comparisons, and/or/not, in, string tests and functions give what they say."""
    assert satisfied(parse(source), names) is expected


@pytest.mark.parametrize(
    ("source", "position", "reason"),
    [
        ("vars.age >=", 11, "expected a value"),
        ("foo == 1", 0, "unknown name 'foo'"),
        ("message matches '('", 16, "not a valid pattern"),
        ("(vars.a == 1", 12, "expected ')'"),
        ("vars.a == 1 )", 12, "unexpected ')'"),
        ("__import__('os')", 0, "unknown name '__import__'"),
    ],
)
def test_a_bad_condition_says_where_it_goes_wrong(source: str, position: int, reason: str) -> None:
    """A condition that does not parse is refused with the character where it goes wrong."""
    with pytest.raises(Invalid) as refused:
        parse(source)
    assert refused.value.position == position
    assert reason in str(refused.value)


# --- Conditions and events in transitions -----------------------------------------------------

ORDER: dict[str, Any] = {
    "initial": "ask",
    "timezone": "Europe/Madrid",
    "states": {
        "ask": {
            "body": [said("Fill in the form")],
            "transitions": [
                {
                    "when": "event",
                    "event": "gui",
                    "if": "event.action == 'onSubmit' and event.value.qty > 0",
                    "to": "ordered",
                },
                {"when": "event", "event": "json", "if": "event.sku == 'A1'", "to": "ordered"},
                {"when": "condition", "if": "vars.paid == true", "to": "paid"},
                {"when": "condition", "if": "hour >= 22", "to": "closed"},
            ],
        },
        "ordered": {
            "body": [said("Ordered {qty}{sku}")],
            "transitions": [{"when": "auto", "to": "ask"}],
        },
        "paid": {"body": [said("Thanks for paying")]},
        "closed": {"body": [said("We are closed")]},
    },
}


def test_a_gui_event_takes_a_transition_whose_condition_its_payload_meets() -> None:
    """A submitted form with a quantity moves on (its values fill the reply); a click, or an
    empty form, is not taken."""
    bot = model(ORDER)
    submit = {"elementId": "order", "action": "onSubmit", "value": {"qty": 2}}
    found = step(bot, MachineEvent("gui", payload=submit), {"state": "ask"})
    assert texts(found) == ["Ordered 2", "Fill in the form"]
    for payload in ({**submit, "action": "onClick"}, {**submit, "value": {"qty": 0}}):
        stayed = step(bot, MachineEvent("gui", payload=payload), {"state": "ask"})
        assert stayed.state["state"] == "ask"
        assert not stayed.handled


def test_a_json_event_is_matched_on_its_fields() -> None:
    """A JSON object sent by a client reaches conditions as `event.*`, its fields the reply."""
    found = step(model(ORDER), MachineEvent("json", payload={"sku": "A1"}), {"state": "ask"})
    assert texts(found)[0] == "Ordered A1"


def test_the_clock_takes_a_condition_that_became_true_and_says_nothing_otherwise() -> None:
    """A tick moves a session whose variable now holds; without one it stays, silent."""
    bot = model(ORDER)
    waiting = {"state": "ask"}
    assert bot.watching(waiting)
    idle = step(bot, MachineEvent("tick"), waiting)
    assert (idle.parts, idle.handled, idle.state["state"]) == ([], False, "ask")
    moved = step(bot, MachineEvent("tick"), waiting, {"paid": True})
    assert texts(moved) == ["Thanks for paying"]
    assert not bot.watching(moved.state)


def test_time_of_day_is_the_machines_time_zone() -> None:
    """20:30 UTC is 22:30 in Madrid in summer: the evening condition holds there."""
    late = datetime(2026, 7, 1, 20, 30, tzinfo=UTC)
    assert texts(step(model(ORDER), MachineEvent("tick"), {"state": "ask"}, now=late)) == [
        "We are closed"
    ]
    assert step(model(ORDER), MachineEvent("tick"), {"state": "ask"}).handled is False


def test_an_intent_transition_with_a_condition_needs_both() -> None:
    """`if` on an intent transition (BESSER's with_condition): the intent alone is not enough."""
    doc = {
        "initial": "start",
        "intents": [{"name": "buy", "sentences": ["i want to buy", "buy"]}],
        "states": {
            "start": {
                "transitions": [
                    {"when": "intent_matched", "intent": "buy", "if": "vars.age >= 18", "to": "ok"},
                ]
            },
            "ok": {"body": [said("Sold")]},
        },
        "fallback": [said("Not for you")],
    }
    bot = model(doc)
    assert texts(step(bot, MachineEvent("text", "buy"), None, {"age": 30})) == ["Sold"]
    assert texts(step(bot, MachineEvent("text", "buy"), None, {"age": 12})) == ["Not for you"]


# --- Global states ----------------------------------------------------------------------------

DESK: dict[str, Any] = {
    "initial": "menu",
    "intents": [
        {"name": "help", "sentences": ["help", "i need help"]},
        {"name": "human", "sentences": ["talk to a human", "a real person please"]},
        {"name": "yes", "sentences": ["yes", "yes please"]},
        {"name": "no", "sentences": ["no", "no thanks"]},
        {"name": "pizza", "sentences": ["a pizza", "pizza"]},
    ],
    "states": {
        "menu": {
            "body": [said("What would you like?")],
            "transitions": [{"when": "intent_matched", "intent": "pizza", "to": "size"}],
        },
        "size": {"body": [said("Which size?")]},
        "help": {"global": "help", "body": [said("I take pizza orders.")]},
        "human": {
            "global": "human",
            "body": [said("Shall I call a person?")],
            "transitions": [
                {"when": "intent_matched", "intent": "yes", "to": "calling"},
                {"when": "intent_matched", "intent": "no", "to": "not_calling"},
            ],
        },
        "calling": {"body": [said("Calling one.")]},
        "not_calling": {"body": [said("Alright.")]},
    },
}


def test_a_global_state_is_reached_from_any_state_and_goes_back() -> None:
    """`help` from `size` says the help, then asks the size again; the session is in `size`."""
    bot = model(DESK)
    found = step(bot, MachineEvent("text", "help"), {"state": "size"})
    assert texts(found) == ["I take pizza orders.", "Which size?"]
    assert found.state["state"] == "size"
    assert "back" not in found.state


def test_a_global_state_with_a_question_waits_then_goes_back_where_the_user_was() -> None:
    """The human hand-off asks first; the answer ends it and the user is back in `size`."""
    bot = model(DESK)
    asked = step(bot, MachineEvent("text", "talk to a human"), {"state": "size"})
    assert texts(asked) == ["Shall I call a person?"]
    assert asked.state == {"state": "human", "params": {}, "back": "size"}
    help_there = step(bot, MachineEvent("text", "help"), asked.state)
    assert help_there.state["state"] == "human"  # no global jump from inside a global state
    ended = step(bot, MachineEvent("text", "no thanks"), asked.state)
    assert texts(ended) == ["Alright.", "Which size?"]
    assert ended.state["state"] == "size"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["states"]["help"].update({"global": "nope"}), "intent 'nope', which is not"),
        (lambda d: d["states"]["human"].update({"global": "help"}), "leads to 'help' already"),
        (lambda d: d["states"]["menu"].update({"global": "pizza"}), "is the initial state"),
    ],
)
def test_bad_global_states_are_refused(change: Any, message: str) -> None:
    """An undeclared or shared global intent, or a global initial state, is refused."""
    doc: dict[str, Any] = {**DESK, "states": {k: dict(v) for k, v in DESK["states"].items()}}
    change(doc)
    with pytest.raises(ValidationError, match=message):
        StateMachine.parse(doc)


def test_states_only_a_global_state_leads_to_are_reachable() -> None:
    """`calling` is reached through the global `human`, so the machine is valid."""
    assert StateMachine.parse(DESK).states["calling"]


# --- Where a bad condition is, in the YAML ----------------------------------------------------

BAD_YAML = """\
initial: ask
states:
  ask:
    transitions:
      - {when: condition, if: "vars.age >= ", to: ask}
      - when: event
        event: gui
        if: event.action == 'onSubmit' and evnt.value
        to: ask
"""


def test_a_bad_condition_in_yaml_names_its_line_column_and_character() -> None:
    """Each bad condition is reported at its line, the YAML column of the fault, and the
    character in the condition."""
    with pytest.raises(FormatError) as refused:
        read_machine(BAD_YAML.encode(), "application/yaml")
    first, second = refused.value.problems
    assert (first["line"], first["column"], first["position"]) == (5, 44, 13)
    assert "expected a value" in first["message"]
    assert first["item"] == "states.ask.transitions[0].condition.if"
    assert (second["line"], second["column"], second["position"]) == (8, 44, 32)
    assert "unknown name 'evnt'" in second["message"]


# --- Forms: what the page sends back as GUI events ---------------------------------------------


def test_a_form_body_item_goes_out_as_an_agent_reply_form_object() -> None:
    """A form says its id, title (filled), fields and button, as one JSON object frame."""
    bot = model(
        {
            "initial": "ask",
            "states": {
                "ask": {
                    "body": [
                        {
                            "form": {
                                "id": "order",
                                "title": "Order for {user}",
                                "fields": [
                                    {"name": "qty", "label": "How many?", "type": "number"},
                                    {"name": "size", "type": "choice", "options": ["S", "L"]},
                                ],
                            }
                        }
                    ]
                }
            },
        }
    )
    [part] = step(bot, MachineEvent("start"), None, {"user": "Ada"}).parts
    [frame] = reply_frames([part], "", at=NOON, reply_id=uuid.UUID(int=1))
    assert frame["action"] == "agent_reply_form"
    assert frame["message"] == {
        "id": "order",
        "title": "Order for Ada",
        "fields": [
            {"name": "qty", "label": "How many?", "type": "number"},
            {"name": "size", "label": "", "type": "choice", "options": ["S", "L"]},
        ],
        "submit": "Send",
    }


def test_a_choice_field_needs_options_and_only_a_choice_has_them() -> None:
    """A form field of type choice without options (or a text field with some) is refused."""
    for field in ({"name": "a", "type": "choice"}, {"name": "a", "options": ["x"]}):
        doc = {
            "initial": "s",
            "states": {"s": {"body": [{"form": {"id": "f", "fields": [field]}}]}},
        }
        with pytest.raises(ValidationError, match="only a choice has them"):
            StateMachine.parse(doc)


def test_a_machine_with_conditions_and_globals_reads_back_as_written() -> None:
    """Exported as YAML (`if`, `global` under their own names), the example machine reads back
    the same."""
    text = (Path(__file__).parents[2] / "examples" / "pizza_machine.yaml").read_bytes()
    machine = read_machine(text, "application/yaml")
    exported = as_yaml(machine)
    assert "if: " in exported and "global: help" in exported and "if_" not in exported
    assert read_machine(exported.encode(), "application/yaml") == machine
    assert StateMachine.model_validate_json(machine.model_dump_json()) == machine


def test_a_variable_transition_is_watched_by_the_clock_too() -> None:
    """A state waiting on `variable_matches` is checked every second: due once it matches."""
    bot = model(
        {
            "initial": "wait",
            "states": {
                "wait": {
                    "transitions": [
                        {
                            "when": "variable_matches",
                            "variable": "age",
                            "op": ">=",
                            "value": 18,
                            "to": "adult",
                        }
                    ]
                },
                "adult": {"body": [said("Welcome")]},
            },
        }
    )
    assert bot.watching({"state": "wait"}) and not bot.watching({"state": "adult"})
    assert not bot.due({"state": "wait"}, {"age": 12}, NOON)
    assert bot.due({"state": "wait"}, {"age": "21"}, NOON)
