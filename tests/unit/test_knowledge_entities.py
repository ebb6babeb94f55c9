"""Entity extraction: cities in RSVP's value shape, dates and times relative to a given now,
numbers in digits, English and Chinese, custom synonyms, and no input that raises."""

import sys
from datetime import UTC, datetime
from typing import Any

import pytest

from services.dialog.engines.knowledge.entities import CustomEntity, extract
from services.dialog.engines.knowledge.text import Found
from shared.contracts.knowledge import SYSTEM_ENTITIES, Entity, Lang

pytestmark = pytest.mark.unit

NOW = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)  # a Wednesday, at noon
BEIJING = [["1816670", "Beijing", "Beijing", "China", "Asia"]]
DRINK = CustomEntity(
    Entity(
        name="drink",
        values=[
            {"value": "latte", "synonyms": ["café latte", "milky coffee"]},
            {"value": "hot chocolate", "synonyms": ["cocoa"]},
            {"value": "chocolate", "synonyms": []},
            {"value": "拿铁", "synonyms": ["拿铁咖啡"]},
        ],
    )
)


def found(
    text: str, entity: str, *, lang: Lang = "en", asking: str | None = None
) -> list[tuple[str, Any]]:
    """(key, value) of each `entity` value found in `text`."""
    result = extract(
        text, entities={entity}, custom={"drink": DRINK}, lang=lang, now=NOW, asking=asking
    )
    return [(f.key, f.value) for f in result.get(entity, [])]


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("What's the weather in Beijing tomorrow?", "Beijing"),
        ("北京明天天气怎么样", "北京"),
        ("我在北京市出差", "北京市"),
    ],
)
def test_beijing_has_rsvp_location_value(text: str, key: str) -> None:
    """A city's value is [[geonameid, city, province, country, continent]]."""
    assert found(text, "system_location") == [(key, BEIJING)]


def test_cities_keep_their_offsets_and_province() -> None:
    """The span says where the city was; provinces come from the generated admin1 table."""
    result = extract(
        "Flights from Shanghai to Paris",
        entities={"system_location"},
        custom={},
        lang="en",
        now=NOW,
    )
    shanghai, paris = result["system_location"]
    assert (shanghai.start, shanghai.end) == (13, 21)
    assert shanghai.value == [["1796236", "Shanghai", "Shanghai", "China", "Asia"]]
    assert paris.value[0][1:] == ["Paris", "Île-de-France", "France", "Europe"]


def test_ambiguous_names_mean_the_most_populous_city() -> None:
    """London is London, England, not London, Ontario."""
    assert found("I live in London", "system_location")[0][1][0][3] == "United Kingdom"


@pytest.mark.parametrize(
    ("text", "asking", "cities"),
    [
        ("Nice to meet you", None, []),
        ("Reading the menu now", None, []),
        ("I want a nice mobile", None, []),
        ("We flew to Nice last week", None, ["Nice"]),
        ("nice", "system_location", ["Nice"]),
        ("beijing", None, ["Beijing"]),
        ("beijing", "system_location", ["Beijing"]),
        ("weather in New York", None, ["New York City"]),
        ("sao paulo", "system_location", ["São Paulo"]),
    ],
)
def test_english_cities_need_capitals_unless_asked_for_or_big(
    text: str, asking: str | None, cities: list[str]
) -> None:
    """Common words that are small towns only count capitalised mid-sentence or when asked."""
    assert [v[0][1] for _, v in found(text, "system_location", asking=asking)] == cities


@pytest.mark.parametrize(
    ("text", "lang", "dates", "times"),
    [
        ("tomorrow", "en", [("tomorrow", "2026-07-02")], []),
        ("see me the day after tomorrow", "en", [("the day after tomorrow", "2026-07-03")], []),
        ("next friday at 3pm", "en", [("next friday", "2026-07-03")], [("3pm", "15:00:00")]),
        ("on July 5th", "en", [("July 5th", "2026-07-05")], []),
        ("Monday at 10:30", "en", [("Monday", "2026-07-06")], [("10:30", "10:30:00")]),
        ("at noon", "en", [], [("noon", "12:00:00")]),
        ("book it for 9am", "en", [], [("9am", "09:00:00")]),
        ("明天", "cn", [("明天", "2026-07-02")], []),
        ("后天下午三点半", "cn", [("后天", "2026-07-03")], [("下午三点半", "15:30:00")]),
        ("晚上8点", "cn", [], [("晚上8点", "20:00:00")]),
        ("下周三上午十点", "cn", [("下周三", "2026-07-08")], [("上午十点", "10:00:00")]),
        ("7月5日", "cn", [("7月5日", "2026-07-05")], []),
        ("三天后", "en", [("三天后", "2026-07-04")], []),
    ],
)
def test_dates_and_times_are_relative_to_now(
    text: str, lang: Lang, dates: list[tuple[str, str]], times: list[tuple[str, str]]
) -> None:
    """Dates are YYYY-MM-DD and times HH:MM:SS, each keyed by the words said."""
    assert found(text, "system_date", lang=lang) == dates
    assert found(text, "system_time", lang=lang) == times


@pytest.mark.parametrize(
    "text", ["may I have a coffee", "I want a second one", "wait a minute", "room 12 please"]
)
def test_words_that_look_like_dates_are_not(text: str) -> None:
    """Words like "may", "a second" or a bare number are no dates."""
    assert found(text, "system_date") == []
    assert found(text, "system_time") == []


def test_a_bare_hour_is_a_time_only_when_a_time_was_asked_for() -> None:
    """A bare "8" answers "at what time?", but is no time in general."""
    assert found("8", "system_time") == []
    assert found("8", "system_time", asking="system_time") == [("8", "08:00:00")]
    assert found("at 10:15", "system_time", asking="system_time") == [("10:15", "10:15:00")]


@pytest.mark.parametrize(
    ("text", "numbers"),
    [
        ("2 lattes and 3.5 kg", [("2", 2), ("3.5", 3.5)]),
        ("1,000 people", [("1,000", 1000)]),
        ("twenty one guests", [("twenty one", 21)]),
        ("two hundred and five", [("two hundred and five", 205)]),
        ("我要两杯拿铁", [("两", 2)]),
        ("十五个人", [("十五", 15)]),
        ("一百零五", [("一百零五", 105)]),
        ("我找二零三房间", [("二零三", 203)]),
        ("帮我叫一下服务员", []),
        ("v2 at 3pm, 10:30", []),
    ],
)
def test_numbers_in_digits_english_and_chinese(text: str, numbers: list[tuple[str, Any]]) -> None:
    """Numbers are ints or floats; idioms like 一下 and parts of times are not numbers."""
    assert found(text, "system_number") == numbers


@pytest.mark.parametrize(
    ("text", "drinks"),
    [
        ("two lattes please", [("lattes", "latte")]),
        ("A Café-Latte", [("Café-Latte", "latte")]),
        ("some cocoa and a milky coffee", [("cocoa", "hot chocolate"), ("milky coffee", "latte")]),
        ("a hot chocolate", [("hot chocolate", "hot chocolate")]),
        ("我要拿铁咖啡", [("拿铁咖啡", "拿铁")]),
        ("platte chocolatey", []),
    ],
)
def test_custom_synonyms_map_to_canonical_values(text: str, drinks: list[tuple[str, str]]) -> None:
    """Whole words, any case, plurals; Chinese anywhere; the longest match wins."""
    assert found(text, "drink") == drinks


def test_kinds_do_not_overlap_and_only_wanted_entities_come_back() -> None:
    """The 3 of "3pm" is a time, not a number; entities not asked for are not returned."""
    result = extract(
        "table for 4 tomorrow at 3pm in Beijing",
        entities={"system_number", "system_time", "system_date"},
        custom={},
        lang="en",
        now=NOW,
    )
    assert [(f.entity, f.key) for fs in result.values() for f in fs] == [
        ("system_number", "4"),
        ("system_date", "tomorrow"),
        ("system_time", "3pm"),
    ]
    assert all(isinstance(f, Found) for fs in result.values() for f in fs)


@pytest.mark.parametrize(
    "text", ["", "   ", "🙂🙂", "\x00", "x" * 100_000, "北" * 20_000, "31/31/2026", "99:99", "25点"]
)
def test_garbage_never_raises(text: str) -> None:
    """Any text gives some entities or none, never an error."""
    extract(
        text, entities=set(SYSTEM_ENTITIES) | {"drink"}, custom={"drink": DRINK}, lang="en", now=NOW
    )


def test_the_runtime_does_not_load_reverse_geocode() -> None:
    """Provinces come from the committed admin1.json, not from the 190 MB dev dependency."""
    found("Beijing", "system_location")
    assert "reverse_geocode" not in sys.modules
