"""NLU: intents classified by their nearest training sentence (entity values as markers), slots
filled over several turns with a JSON pending state, responses rendered, and no input that
raises."""

import json
import uuid
from datetime import datetime
from typing import Any

import pytest

from services.dialog.engines.knowledge import NluModel, Understood, intent_id
from services.dialog.engines.knowledge.nlu import INTENT_NAMESPACE
from shared.contracts.knowledge import Intents, Lang

pytestmark = pytest.mark.unit

NOW = datetime(2026, 7, 1, 12, 0)  # a Wednesday, at noon
BEIJING = [["1816670", "Beijing", "Beijing", "China", "Asia"]]
INTENTS = Intents.model_validate(
    {
        "entities": [
            {
                "name": "drink",
                "values": [
                    {"value": "latte", "synonyms": ["milky coffee"]},
                    {"value": "americano", "synonyms": ["black coffee"]},
                ],
            },
            {"name": "place", "values": [{"value": "restroom", "synonyms": ["loo", "toilet"]}]},
        ],
        "intents": [
            {
                "name": "weather",
                "skill": "assistant",
                "sentences": ["what's the weather in {city}", "will it rain in {city} {day}"],
                "slots": [
                    {"name": "city", "entity": "system_location"},
                    {"name": "day", "entity": "system_date", "required": False},
                ],
                "response": "Here is the forecast for {city} {day}.",
            },
            {
                "name": "order_drink",
                "skill": "cafe",
                "sentences": ["I'd like a {drink}", "can I get {quantity} {drink}"],
                "slots": [
                    {"name": "drink", "entity": "drink", "prompt": "What would you like?"},
                    {"name": "quantity", "entity": "system_number", "required": False},
                ],
                "response": "Coming up: {quantity} {drink}.",
            },
            {
                "name": "navigate",
                "skill": "robot",
                "sentences": ["take me to the {place}", "guide me to {place}"],
                "slots": [{"name": "place", "entity": "place", "prompt": "Where to?"}],
                "response": "Follow me to the {place}.",
                "action": "navigate",
                "url": "https://example.com/map",
            },
            {
                "name": "book",
                "skill": "robot",
                "sentences": ["book a visit on {date} at {time}", "I need a booking"],
                "slots": [
                    {"name": "date", "entity": "system_date"},
                    {"name": "time", "entity": "system_time"},
                ],
                "response": "Booked for {date} at {time}.",
            },
            {
                "name": "weather_cn",
                "skill": "assistant",
                "sentences": ["{city}{day}天气怎么样", "查一下{city}的天气"],
                "slots": [
                    {"name": "city", "entity": "system_location", "prompt": "哪个城市"},
                    {"name": "day", "entity": "system_date", "required": False},
                ],
                "response": "{city}{day}的天气如下。",
            },
        ],
    }
)


@pytest.fixture(scope="module")
def model() -> NluModel:
    return NluModel(INTENTS)


def turn(model: NluModel, text: str, pending: dict[str, Any] | None = None) -> Understood:
    """One turn, in Chinese when the text is."""
    lang: Lang = "en" if text.isascii() else "cn"
    understood = model.understand(text, lang=lang, now=NOW, pending=pending)
    assert understood is not None
    return understood


@pytest.mark.parametrize(
    "text", ["What's the weather in Paris?", "what's the weather in beijing", "I'd like a latte"]
)
def test_a_training_sentence_with_any_value_scores_1(model: NluModel, text: str) -> None:
    """A training sentence, its {slot} filled with any value of the entity, is a perfect match."""
    understood = turn(model, text)
    assert understood.match.score == 1.0
    assert understood.match.candidates[0].name == understood.match.name


def test_other_wordings_score_below_1_and_candidates_are_ranked(model: NluModel) -> None:
    """A new wording finds its intent below 1; at most 5 candidates, best first."""
    match = turn(model, "is it going to rain tomorrow in London").match
    assert match.name == "weather"
    assert 0 < match.score < 1
    scores = [c.score for c in match.candidates]
    assert scores == sorted(scores, reverse=True)
    assert len(scores) <= 5


def test_a_city_or_date_alone_is_weak_evidence_a_custom_value_is_not(model: NluModel) -> None:
    """Sharing only a city marker with a sentence scores below the default threshold (0.5):
    "my name is Ada" is not about the weather in Ada (Oklahoma). A drink alone is an order."""
    assert turn(model, "my name is Ada").match.score < 0.5
    assert turn(model, "Tokyo").match.score < 0.5
    assert turn(model, "weather in Tokyo").match.score > 0.5
    assert turn(model, "two black coffees").match.score > 0.5


def test_a_missing_location_is_asked_for_then_filled_next_turn(model: NluModel) -> None:
    """First turn: prompt and JSON pending state; second turn "beijing" completes the intent."""
    first = turn(model, "will it rain tomorrow")
    assert (first.match.name, first.match.done, first.match.missing) == ("weather", False, ["city"])
    assert first.message == "What city do you mean?"
    assert first.pending is not None and not first.continued
    stored = json.loads(json.dumps(first.pending))  # as kept in Postgres jsonb
    second = turn(model, "beijing", stored)
    assert second.continued and second.match.done and second.pending is None
    assert second.match.score == 1.0
    assert second.message == "Here is the forecast for Beijing tomorrow."
    city = second.match.slots["city"][0]
    assert (city.slot_type, city.key, city.value) == ("system_location", "beijing", BEIJING)
    assert second.match.slots["day"][0].value == "2026-07-02"


def test_chinese_turns_fill_the_city_in_chinese(model: NluModel) -> None:
    """明天天气怎么样 asks for the city; 北京 completes it and is said back as 北京."""
    first = turn(model, "明天天气怎么样")
    assert (first.match.name, first.message) == ("weather_cn", "哪个城市")
    second = turn(model, "北京", first.pending)
    assert second.match.done and second.message == "北京明天的天气如下。"
    assert second.match.slots["city"][0].value == BEIJING


def test_the_default_prompt_follows_the_language(model: NluModel) -> None:
    """A required slot without a prompt is asked for in the user's language."""
    english = model.reprompt({"intent": "weather", "slots": {}, "lang": "en"})
    chinese = model.reprompt({"intent": "weather", "slots": {}, "lang": "cn"})
    assert english is not None and english.message == "What city do you mean?"
    assert chinese is not None and chinese.message == "请告诉我city"


def test_slots_said_in_one_go_are_kept_and_rendered(model: NluModel) -> None:
    """Custom values render canonical, numbers as said; the action comes when done."""
    understood = turn(model, "can I get two black coffees")
    assert understood.match.name == "order_drink" and understood.match.done
    assert understood.message == "Coming up: two americano."
    assert understood.action is None  # order_drink has no action
    assert understood.match.candidates[0].fulfillment is False


def test_an_empty_optional_slot_renders_as_nothing(model: NluModel) -> None:
    """No quantity: no double space, no space before the full stop."""
    assert turn(model, "I'd like a milky coffee").message == "Coming up: latte."


def test_action_and_url_only_when_done(model: NluModel) -> None:
    """A robot instruction is sent once every required slot is filled."""
    asking = turn(model, "guide me somewhere")
    assert asking.match.name == "navigate" and asking.message == "Where to?"
    assert (asking.action, asking.url) == (None, None)
    assert asking.match.candidates[0].fulfillment is False
    done = turn(model, "the loo", asking.pending)
    assert (done.action, done.url, done.message) == (
        "navigate",
        "https://example.com/map",
        "Follow me to the restroom.",
    )
    assert done.match.candidates[0].fulfillment is True


def test_slots_fill_over_several_turns(model: NluModel) -> None:
    """Each turn fills what it says; the first missing slot is asked next ("8" is a time)."""
    first = turn(model, "I need a booking")
    assert first.match.missing == ["date", "time"]
    second = turn(model, "tomorrow", first.pending)
    assert second.continued and second.match.missing == ["time"]
    third = turn(model, "8", second.pending)
    assert third.match.done and third.message == "Booked for tomorrow at 8."


def test_a_turn_that_fills_nothing_is_classified_afresh(model: NluModel) -> None:
    """Changing the subject while a slot is awaited starts the new intent."""
    pending = turn(model, "I need a booking").pending
    understood = turn(model, "what's the weather in Paris", pending)
    assert understood.match.name == "weather" and not understood.continued


@pytest.mark.parametrize(
    "pending",
    [
        {"intent": "gone", "slots": {}},
        {"intent": ["weather"]},
        {"slots": {}},
        {"intent": "weather", "slots": "garbage"},
        {"intent": "weather", "slots": {"city": [{"slot_type": "system_location"}], "day": 5}},
    ],
)
def test_malformed_pending_state_is_ignored(model: NluModel, pending: dict[str, Any]) -> None:
    """Whatever is stored, understanding goes on (an unknown intent counts as no pending)."""
    understood = turn(model, "what's the weather in Paris", pending)
    assert understood.match.name == "weather" and understood.match.done


def test_reprompt_asks_the_first_missing_slot_again(model: NluModel) -> None:
    """reprompt repeats the prompt; an intent that is gone gives None."""
    pending = turn(model, "I'd like to order").pending
    assert pending is not None
    again = model.reprompt(pending)
    assert again is not None and again.message == "What would you like?"
    assert model.reprompt({"intent": "gone"}) is None


def test_skill_restricts_the_intents(model: NluModel) -> None:
    """With a skill, only its intents are candidates."""
    understood = model.understand("what's the weather in Paris", lang="en", now=NOW, skill="cafe")
    assert understood is None or all(c.skill == "cafe" for c in understood.match.candidates)


def test_intent_ids_are_stable_uuid5_hex() -> None:
    """The id is derived from the name alone."""
    assert intent_id("weather") == uuid.uuid5(INTENT_NAMESPACE, "weather").hex
    assert intent_id("weather") != intent_id("weather_cn")


@pytest.mark.parametrize("text", ["", "  ", "🙂🙂", "\x00", "x" * 100_000, "?" * 5000, "{city}"])
def test_garbage_never_raises(model: NluModel, text: str) -> None:
    """Any text gives an intent or None; symbol-only text gives None."""
    understood = model.understand(text, lang="en", now=NOW)
    assert understood is None or 0 < understood.match.score <= 1
    if text.strip() in ("", "🙂🙂", "\x00") or set(text) == {"?"}:
        assert understood is None


def test_an_empty_model_understands_nothing() -> None:
    """No intents, no match."""
    assert NluModel(Intents()).understand("hello", lang="en", now=NOW) is None
