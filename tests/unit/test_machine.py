"""State machine bots as data: the example weather bot driven through conversations (bodies,
placeholders, transitions in order, fallbacks), and definitions refused with errors that name
what is wrong."""

import copy
import json
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import TypeAdapter, ValidationError

from services.dialog.engines.machine import MachineModel, Step
from services.dialog.engines.machine_context import MachineEvent
from services.dialog.engines.machine_transitions import MAX_HOPS, Prediction
from shared.contracts.chat import (
    ChartPart,
    FilePart,
    FileRef,
    ImagePart,
    LocationPart,
    OptionsPart,
    Part,
    TablePart,
    TextPart,
)
from shared.contracts.machine import FALLBACK_INTENT, StateMachine

pytestmark = pytest.mark.unit

NOW = datetime(2026, 7, 1, 12, 0)
WEATHER = Path(__file__).parents[2] / "eval" / "weather_machine.yaml"
GREETING = [
    TextPart(kind="str", text="Hi Ada! Ask me about the weather."),
    OptionsPart(options=["Weather in Paris", "Weather in Madrid"]),
]
SORRY = [TextPart(kind="str", text="Sorry, I didn't get it")]


def weather_doc() -> dict[str, Any]:
    return yaml.safe_load(WEATHER.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def bot() -> MachineModel:
    return MachineModel(StateMachine.parse(weather_doc()))


def say(
    model: MachineModel,
    text: str,
    state: dict[str, Any] | None = None,
    variables: dict[str, Any] | None = None,
) -> Step:
    event = MachineEvent("text", text)
    return model.step(event, state=state, variables=variables or {}, lang="en", now=NOW)


def send(
    model: MachineModel,
    event: MachineEvent,
    state: dict[str, Any] | None = None,
    variables: dict[str, Any] | None = None,
) -> Step:
    return model.step(event, state=state, variables=variables or {}, lang="en", now=NOW)


def pdf(name: str = "report.pdf", mime: str = "application/pdf") -> MachineEvent:
    ref = FileRef(media_id=uuid.UUID(int=7), name=name, type=mime, size=1234)
    return MachineEvent("file", file=ref)


def tiny(**states: Any) -> MachineModel:
    """A machine of `states` starting in the first, without intents or fallback."""
    return MachineModel(StateMachine.parse({"initial": next(iter(states)), "states": states}))


# --- Conversations with the weather bot ----------------------------------------------------


def test_start_says_the_greeting_with_the_users_name(bot: MachineModel) -> None:
    """A new session enters the initial state: its body, placeholders from the variables."""
    step = send(bot, MachineEvent("start"), variables={"user_name": "Ada"})
    assert step.parts == GREETING
    assert step.state == {"state": "greeting", "params": {}}
    assert (step.handled, step.prediction, step.variables) == (True, None, {"user_name": "Ada"})


def test_weather_question_names_the_city_then_greets_again(bot: MachineModel) -> None:
    """The weather intent moves to the weather state: the city fills the markdown and the chart
    title, `set` keeps it, and the auto transition says the greeting again."""
    step = say(bot, "what is the weather in Paris", {"state": "greeting"}, {"user_name": "Ada"})
    markdown, table, chart, html, *rest = step.parts
    assert markdown == TextPart(kind="markdown", text="**Paris**: sunny, 21 degrees ")
    assert table == TablePart(columns={"day": ["Mon", "Tue"], "temp": [21, 23]})
    assert isinstance(chart, ChartPart)
    assert chart.figure["layout"] == {"title": {"text": "Paris"}}
    assert chart.figure["data"] == [{"type": "bar", "x": ["Mon", "Tue"], "y": [21, 23]}]
    assert html == TextPart(
        kind="html", text="<small>You asked: what is the weather in Paris</small>"
    )
    assert rest == GREETING
    assert step.variables == {"user_name": "Ada", "last_city": "Paris"}
    assert step.state == {"state": "greeting", "params": {"city": "Paris"}}
    assert step.prediction == Prediction("weather", 1.0, {"city": "Paris"})


def test_custom_entity_param_renders_its_canonical_value(bot: MachineModel) -> None:
    """A synonym of a custom entity ("imperial") is said back as its value ("fahrenheit")."""
    step = say(bot, "weather in Madrid in imperial", {"state": "greeting"})
    assert step.prediction is not None
    assert step.prediction.params == {"city": "Madrid", "unit": "fahrenheit"}
    assert step.parts[0] == TextPart(
        kind="markdown", text="**Madrid**: sunny, 21 degrees fahrenheit"
    )


def test_asking_for_the_city_over_two_turns(bot: MachineModel) -> None:
    """Without a city the bot asks for one; the city said next gets the weather."""
    asked = say(bot, "what is the weather like", {"state": "greeting"})
    assert asked.parts == [TextPart(kind="str", text="Which city?")]
    assert asked.state["state"] == "ask_city"
    answered = say(bot, "Barcelona", asked.state, asked.variables)
    assert answered.prediction is not None and answered.prediction.intent == "city"
    assert answered.parts[0] == TextPart(kind="markdown", text="**Barcelona**: sunny, 21 degrees ")
    assert answered.variables == {"last_city": "Barcelona"}


def test_gibberish_says_the_global_fallback_and_stays(bot: MachineModel) -> None:
    """Below the threshold is BESSER's fallback_intent; the session keeps its state and params."""
    state = {"state": "greeting", "params": {"city": "Paris"}}
    step = say(bot, "zxqv blorp", state, {"last_city": "Paris"})
    assert step.parts == SORRY
    assert step.state == state
    assert step.variables == {"last_city": "Paris"}
    assert step.handled
    assert step.prediction == Prediction(FALLBACK_INTENT, 1.0, {})


def test_a_states_own_fallback_wins_over_the_global_one(bot: MachineModel) -> None:
    """ask_city says its own fallback, and stays waiting for a city."""
    step = say(bot, "I have no idea", {"state": "ask_city", "params": {}})
    assert step.parts == [TextPart(kind="str", text="I need a city name, like Paris or Madrid.")]
    assert step.state == {"state": "ask_city", "params": {}}


def test_allowed_file_is_thanked_by_name(bot: MachineModel) -> None:
    """A PDF moves to got_file (its name and type in the body), then back to the greeting."""
    step = send(bot, pdf(), {"state": "greeting"}, {"user_name": "Ada"})
    assert step.parts == [
        TextPart(kind="str", text="Thanks for report.pdf (application/pdf)"),
        *GREETING,
    ]
    assert step.state["state"] == "greeting"
    assert step.prediction is None


def test_file_of_another_type_gets_the_fallback(bot: MachineModel) -> None:
    """An image is not in the PDF-only allow-list: fallback, state unchanged."""
    step = send(bot, pdf("cat.png", "image/png"), {"state": "greeting", "params": {}})
    assert (step.parts, step.state) == (SORRY, {"state": "greeting", "params": {}})


def test_json_event_never_matches_intents(bot: MachineModel) -> None:
    """A JSON event goes to the fallback even when its message names an intent (BESSER)."""
    step = send(bot, MachineEvent("json", "weather in Paris"), {"state": "greeting"})
    assert step.parts == SORRY
    assert step.prediction is None


def test_json_event_can_match_a_variable(bot: MachineModel) -> None:
    """Variable transitions are tried on any event, a JSON one included."""
    step = send(bot, MachineEvent("json"), {"state": "greeting"}, {"age": 9, "user_name": "Bo"})
    assert step.parts == [
        TextPart(kind="str", text="Ask a grown-up to look at the sky with you, Bo!")
    ]
    assert step.state["state"] == "kids"


@pytest.mark.parametrize(
    ("age", "kids"),
    [(9, True), ("9", True), (9.5, True), (13, False), ("25", False), ("nine", False)],
)
def test_variable_transition_compares_numbers_numerically(
    bot: MachineModel, age: Any, kids: bool
) -> None:
    """On entering the greeting, age < 13 goes on to kids at once ("9" is a number too; "10"
    is not below "9" as text would have it)."""
    step = send(bot, MachineEvent("start"), variables={"age": age})
    assert (step.state["state"] == "kids") is kids
    assert len(step.parts) == (3 if kids else 2)


def test_missing_variable_never_matches(bot: MachineModel) -> None:
    """No age: the greeting is where the session waits."""
    assert send(bot, MachineEvent("start")).state["state"] == "greeting"


def test_unknown_placeholder_renders_empty(bot: MachineModel) -> None:
    """{user_name} without such a variable becomes "", never an error."""
    step = send(bot, MachineEvent("start"))
    assert step.parts[0] == TextPart(kind="str", text="Hi ! Ask me about the weather.")


def test_no_state_yet_means_the_initial_state_without_its_body(bot: MachineModel) -> None:
    """A session without a state (or with one the content no longer has) is in the initial
    state: the event moves it, the initial body is not said first."""
    for state in (None, {"state": "removed_state"}, {"state": 3, "params": "x"}):
        step = say(bot, "hello", state, {"user_name": "Ada"})
        assert step.parts == GREETING
        assert step.state == {"state": "greeting", "params": {}}


def test_user_text_in_html_is_escaped(bot: MachineModel) -> None:
    """What users say cannot inject markup into an html item."""
    step = say(bot, "weather in Paris <script>alert(1)</script>", {"state": "greeting"})
    html = step.parts[3]
    assert isinstance(html, TextPart) and html.kind == "html"
    assert "<script>" not in html.text and "&lt;script&gt;" in html.text


def test_steps_are_deterministic_and_json(bot: MachineModel) -> None:
    """The same event gives the same step; state and variables survive JSON."""
    first = say(bot, "weather in Paris", {"state": "greeting"}, {"n": 1})
    assert first == say(bot, "weather in Paris", {"state": "greeting"}, {"n": 1})
    assert json.loads(json.dumps([first.state, first.variables])) == [first.state, first.variables]


# --- Small machines -------------------------------------------------------------------------


def test_no_fallback_anywhere_is_not_handled() -> None:
    """Nothing matches and no fallback: handled False, nothing said, nothing changed."""
    model = tiny(
        a={"body": [{"text": "A"}], "transitions": [{"when": "file_received", "to": "b"}]}, b={}
    )
    step = say(model, "hello", {"state": "a", "params": {}}, {"x": 1})
    assert step == Step(
        [], {"state": "a", "params": {}}, {"x": 1}, False, Prediction(FALLBACK_INTENT, 1.0, {})
    )


def test_no_intent_matched_and_any_file() -> None:
    """A state without intents predicts fallback_intent, which no_intent_matched takes; a
    file_received without types takes any file; image/* takes any image."""
    model = tiny(
        a={
            "transitions": [
                {"when": "file_received", "types": ["image/*"], "to": "img"},
                {"when": "file_received", "to": "other"},
                {"when": "no_intent_matched", "to": "b"},
            ]
        },
        b={"body": [{"text": "you said {message}"}]},
        img={"body": [{"text": "nice {file_type}"}]},
        other={"body": [{"text": "got {file_id}"}]},
    )
    assert say(model, "anything").parts == [TextPart(kind="str", text="you said anything")]
    assert send(model, pdf("a.JPG", "IMAGE/JPEG")).parts == [
        TextPart(kind="str", text="nice IMAGE/JPEG")
    ]
    assert send(model, pdf()).parts == [TextPart(kind="str", text=f"got {uuid.UUID(int=7)}")]


@pytest.mark.parametrize(
    ("op", "have", "value", "holds"),
    [
        ("==", "10", 10, True),
        ("==", "yes", "yes", True),
        ("==", True, "true", True),
        ("!=", "a", "b", True),
        (">", "10", 9, True),
        ("<", "10", "9", False),
        ("<=", "b", "a", False),
        (">=", "b", "a", True),
        ("<", "ten", 20, False),
        ("contains", "hello world", "world", True),
        ("contains", ["red", 2], 2, True),
        ("contains", ["red"], "blue", False),
        ("contains", 5, 5, False),
    ],
)
def test_variable_operators(op: str, have: Any, value: Any, holds: bool) -> None:
    """Each operator, numbers compared as numbers, text as text, lists by their items."""
    model = tiny(
        a={
            "transitions": [
                {"when": "variable_matches", "variable": "v", "op": op, "value": value, "to": "b"}
            ]
        },
        b={},
    )
    assert (
        send(model, MachineEvent("start"), variables={"v": have}).state["state"] == "b"
    ) is holds


def test_variable_loops_stop_after_the_hop_limit() -> None:
    """Variables that keep matching cannot loop forever: MAX_HOPS eventless hops at most."""
    go = {"when": "variable_matches", "variable": "x", "op": "==", "value": 1}
    model = tiny(
        a={"body": [{"text": "a"}], "transitions": [{**go, "to": "b"}]},
        b={"body": [{"text": "b"}], "transitions": [{**go, "to": "a"}]},
    )
    assert len(send(model, MachineEvent("start"), variables={"x": 1}).parts) == 1 + MAX_HOPS


def test_every_item_compiles_to_its_part() -> None:
    """Each body item becomes the matching Part, every string in it filled (option labels,
    file names, plotly titles, table cells), and `set` keeps values that are not text."""
    body = [
        {"text": "t {v}"},
        {"markdown": "m {v}"},
        {"html": "h {v}"},
        {"options": ["o {v}", "p"]},
        {"dataframe": {"c {v}": ["{v}", 1]}},
        {
            "plotly": {
                "data": [{"type": "bar", "name": "{v}"}],
                "layout": {"title": {"text": "{v}"}},
            }
        },
        {"image": "/9j/4AAQ"},
        {"file": {"name": "{v}.csv", "type": "text/csv", "base64": "YSxi"}},
        {"file": {"name": "{nothing}", "type": "{nothing}", "base64": ""}},
        {"location": {"latitude": 41.39, "longitude": 2.17}},
    ]
    model = tiny(a={"set": {"v": "x", "n": 3, "ok": True}, "body": body})
    step = send(model, MachineEvent("start"))
    assert step.variables == {"v": "x", "n": 3, "ok": True}
    assert step.parts == [
        TextPart(kind="str", text="t x"),
        TextPart(kind="markdown", text="m x"),
        TextPart(kind="html", text="h x"),
        OptionsPart(options=["o x", "p"]),
        TablePart(columns={"c x": ["x", 1]}),
        ChartPart(
            figure={"data": [{"type": "bar", "name": "x"}], "layout": {"title": {"text": "x"}}}
        ),
        ImagePart(base64="/9j/4AAQ"),
        FilePart(name="x.csv", type="text/csv", base64="YSxi"),
        FilePart(name="file", type="application/octet-stream", base64=""),
        LocationPart(latitude=41.39, longitude=2.17),
    ]
    dumped = TypeAdapter(list[Part]).dump_python(step.parts, mode="json")
    assert TypeAdapter(list[Part]).validate_python(dumped) == step.parts


# --- Definitions ----------------------------------------------------------------------------


def test_json_and_yaml_are_the_same_machine() -> None:
    """The JSON spelling of the weather bot is accepted and equal; a dump reads back equal."""
    machine = StateMachine.parse(weather_doc())
    assert StateMachine.model_validate_json(json.dumps(weather_doc())) == machine
    assert StateMachine.parse(json.loads(machine.model_dump_json())) == machine
    assert StateMachine.parse(machine.model_dump(mode="json", exclude_defaults=True)) == machine


def problems(doc: dict[str, Any]) -> list[tuple[str, str]]:
    """Each error as (dotted location, message)."""
    with pytest.raises(ValidationError) as caught:
        StateMachine.parse(doc)
    return [(".".join(str(p) for p in e["loc"]), e["msg"]) for e in caught.value.errors()]


def changed(edit: Any) -> dict[str, Any]:
    doc = copy.deepcopy(weather_doc())
    edit(doc)
    return doc


def _greeting(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return doc["states"]["greeting"]["transitions"]  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("edit", "where", "words"),
    [
        (lambda d: d.pop("initial"), "initial", "Field required"),
        (lambda d: d.update(initial="nowhere"), "initial", "'nowhere' is not one of"),
        (
            lambda d: _greeting(d)[0].update(to="wether"),
            "states.greeting.transitions.0.to",
            "'wether', which is no state",
        ),
        (
            lambda d: _greeting(d)[0].update(intent="wether"),
            "states.greeting.transitions.0.intent",
            "intent 'wether'",
        ),
        (
            lambda d: d["intents"][1]["params"][1].update(entity="units"),
            "intents.1.params.1.entity",
            "param 'unit' has entity 'units'",
        ),
        (
            lambda d: d["intents"][1]["sentences"].append("rain in {town}"),
            "intents.1.sentences.5",
            "names {town}, which is no param",
        ),
        (
            lambda d: d["states"].update(lost={"body": [{"text": "?"}]}),
            "states.lost",
            "'lost' cannot be reached",
        ),
        (
            lambda d: _greeting(d).append({"when": "auto", "to": "weather"}),
            "states.greeting.transitions",
            "auto transition must be the state's only",
        ),
        (
            lambda d: d["states"]["weather"]["set"].update(_secret="x"),
            "states.weather.set._secret",
            "'_secret' must start with a letter",
        ),
        (
            lambda d: d["states"]["weather"]["set"].update({"a-b": "x"}),
            "states.weather.set.a-b",
            "'a-b' must start with a letter",
        ),
        (
            lambda d: d["intents"].append({"name": "hello", "sentences": ["yo"]}),
            "intents.5.name",
            "'hello' is declared twice",
        ),
        (
            lambda d: d["intents"].append({"name": FALLBACK_INTENT, "sentences": ["x"]}),
            "intents.5.name",
            "built-in fallback",
        ),
        (
            lambda d: d["states"]["ask_city"]["body"].append({"txt": "x"}),
            "states.ask_city.body.1",
            "one of text, markdown",
        ),
        (
            lambda d: d["states"]["ask_city"]["body"].append({"text": "x", "html": "y"}),
            "states.ask_city.body.1",
            "a mapping with one key",
        ),
        (
            lambda d: _greeting(d).append({"when": "sometimes", "to": "x"}),
            "states.greeting.transitions.6",
            "'sometimes'",
        ),
        (
            lambda d: d["states"]["weather"]["body"].append({"dataframe": {"a": [1], "b": []}}),
            "states.weather.body.4.dataframe.dataframe",
            "same number of rows",
        ),
        (
            lambda d: d["states"]["weather"]["body"].append({"plotly": {"layout": {}}}),
            "states.weather.body.4.plotly.plotly",
            '"data" list',
        ),
        (
            lambda d: d["states"]["weather"]["body"].extend([{"text": "x"}] * 50),
            "states.weather.body",
            "at most 50 items",
        ),
        (
            lambda d: d["states"].update({f"s{n}": {} for n in range(500)}),
            "states",
            "at most 500 items",
        ),
        (
            lambda d: d["intents"].extend(
                {"name": f"i{n}", "sentences": ["x"]} for n in range(500)
            ),
            "intents",
            "at most 500 items",
        ),
    ],
)
def test_bad_definitions_are_refused_naming_the_culprit(edit: Any, where: str, words: str) -> None:
    """Each mistake is reported at its location with a message that names what is wrong."""
    found = problems(changed(edit))
    assert any(loc == where and words in msg for loc, msg in found), found


def test_auto_loops_are_refused() -> None:
    """A loop of auto transitions would never wait for the user."""
    found = problems(
        {
            "initial": "a",
            "states": {
                "a": {"transitions": [{"when": "no_intent_matched", "to": "b"}]},
                "b": {"transitions": [{"when": "auto", "to": "c"}]},
                "c": {"transitions": [{"when": "auto", "to": "b"}]},
            },
        }
    )
    assert found == [
        (
            "states.b.transitions",
            "auto transitions loop through b → c → b: the machine would never wait for the user",
        )
    ]


def test_every_problem_is_reported_at_once() -> None:
    """Cross-reference problems are all listed, so an admin can fix them in one go."""

    def edit(doc: dict[str, Any]) -> None:
        _greeting(doc)[0].update(to="nowhere")
        _greeting(doc)[1].update(intent="nothing")
        doc["states"]["weather"]["set"]["_x"] = "1"

    assert [loc for loc, _ in problems(changed(edit))] == [
        "states.greeting.transitions.0.to",
        "states.greeting.transitions.1.intent",
        "states.weather.set._x",
    ]


def test_a_session_that_never_heard_the_start_is_not_moved_on_by_its_first_message() -> None:
    """An XPARO or RSVP session gets no start event: its first message is handled past the
    initial state's auto transition, not spent taking it (nor answered with an empty reply)."""
    model = MachineModel(
        StateMachine.parse(
            {
                "initial": "greeting",
                "intents": [{"name": "chart", "sentences": ["show me a chart"]}],
                "states": {
                    "greeting": {
                        "body": [{"text": "Welcome"}],
                        "transitions": [{"when": "auto", "to": "ready"}],
                    },
                    "ready": {
                        "transitions": [
                            {"when": "intent_matched", "intent": "chart", "to": "chart"}
                        ]
                    },
                    "chart": {
                        "body": [{"text": "Here it is"}],
                        "transitions": [{"when": "auto", "to": "ready"}],
                    },
                },
            }
        )
    )
    step = say(model, "show me a chart")
    assert step.handled and step.parts == [TextPart(kind="str", text="Here it is")]
    assert not say(model, "hi").handled  # no fallback anywhere: the other engines answer
