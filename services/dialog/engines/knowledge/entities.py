"""Entities found in what a user said: cities (gazetteer.py), dates and times (dates.py),
numbers and custom vocabularies (here), and `extract`, which asks them all.

Each finder returns spans of the original text. Where spans of different kinds overlap, the kind
found first wins, in this order: custom entities, cities, dates and times ("tomorrow at 3pm" is
both a date and a time), numbers.
"""

import re
from collections.abc import Collection, Mapping
from datetime import datetime

from shared.contracts.knowledge import Entity, Lang

from .dates import DATE, TIME, find_dates
from .gazetteer import LOCATION, find_cities, gazetteer
from .text import CJK, CN_DIGITS, CN_UNITS, MAX_CHARS, Found, cn_number, is_cjk, normalise
from .text import warm_up as warm_up_text

NUMBER = "system_number"
_NOT_WORDS = re.compile(r"[\W_]+")


# --- Numbers -----------------------------------------------------------------------------

_EN_UNITS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen"
    " fifteen sixteen seventeen eighteen nineteen"
)
_EN_NUMBERS = {w: n for n, w in enumerate(_EN_UNITS.split())}
_EN_NUMBERS |= {w: 10 * n for n, w in enumerate(["twenty", "thirty", "forty", "fifty"], 2)}
_EN_NUMBERS |= {w: 10 * n for n, w in enumerate(["sixty", "seventy", "eighty", "ninety"], 6)}
_EN_SCALES = {"hundred": 100, "thousand": 1000}
_EN_WORD = "|".join(sorted([*_EN_NUMBERS, *_EN_SCALES], key=len, reverse=True))
_EN_NUMBER = re.compile(rf"\b(?:{_EN_WORD})(?:(?:[\s-]+|\s+and\s+)(?:{_EN_WORD}))*\b", re.I)
_DIGITS = re.compile(
    r"(?<![A-Za-z0-9.,:/-])(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?![A-Za-z0-9:/]|[.,]\d)"
)
_CN_NUMBER = re.compile(f"[{''.join(CN_DIGITS)}{''.join(CN_UNITS)}]+")
_CN_NOT_NUMBERS = re.compile("一下|一些|一起|一样|一定|一般|一直|一会|一切|万一|唯一|统一|十分")


def _digits(said: str) -> int | float:
    plain = said.replace(",", "")
    return float(plain) if "." in plain else int(plain)


def _en_number(words: str) -> int:
    total = current = 0
    for word in re.findall(r"[a-z]+", words.casefold()):
        if word in _EN_SCALES:
            current = max(current, 1) * _EN_SCALES[word]
            if word == "thousand":
                total, current = total + current, 0
        elif word in _EN_NUMBERS:
            current += _EN_NUMBERS[word]
    return total + current


def find_numbers(text: str) -> list[Found]:
    """Numbers in `text`: digits (2, 3.5), English words (twenty one), Chinese numerals (两)."""
    found = [
        Found(NUMBER, m.group(), _digits(m.group()), m.start(), m.end())
        for m in _DIGITS.finditer(text)
    ]
    found += [
        Found(NUMBER, m.group(), _en_number(m.group()), m.start(), m.end())
        for m in _EN_NUMBER.finditer(text)
    ]
    idioms = [m.span() for m in _CN_NOT_NUMBERS.finditer(text)]
    for m in _CN_NUMBER.finditer(text):
        if not any(start < m.end() and m.start() < end for start, end in idioms):
            found.append(Found(NUMBER, m.group(), cn_number(m.group()), m.start(), m.end()))
    return sorted(found, key=lambda f: f.start)


# --- Custom entities ---------------------------------------------------------------------


def _surface(said: str) -> str:
    return " ".join(w for w in _NOT_WORDS.split(normalise(said)) if w)


class CustomEntity:
    """A custom entity compiled for matching: values and synonyms → the canonical value.

    Latin words match whole words, case- and punctuation-insensitive, with an optional plural
    s/es ("2 lattes"); Chinese matches anywhere. The longest match wins.
    """

    def __init__(self, entity: Entity) -> None:
        """Compile the values and synonyms of `entity`."""
        self.name = entity.name
        self._canonical: dict[str, str] = {}
        for item in entity.values:
            for said in (item.value, *item.synonyms):
                self._canonical.setdefault(_surface(said), item.value)
        surfaces = sorted((s for s in self._canonical if s), key=len, reverse=True)
        latin = [r"[\W_]+".join(map(re.escape, s.split())) for s in surfaces if not is_cjk(s)]
        han = [r"[\W_]*".join(map(re.escape, s.split())) for s in surfaces if is_cjk(s)]
        # Latin words are whole when no other Latin letter or digit touches them (我要latte).
        letter = f"[^\\W_{CJK}]"
        self._patterns = [
            re.compile(f"(?<!{letter})({'|'.join(latin)})(?:e?s)?(?!{letter})", re.I)
            if latin
            else None,
            re.compile(f"({'|'.join(han)})", re.I) if han else None,
        ]

    def find(self, text: str) -> list[Found]:
        """The values named in `text`, in text order."""
        found: list[Found] = []
        matches = (m for pattern in self._patterns if pattern for m in pattern.finditer(text))
        for m in sorted(matches, key=lambda m: (m.start(), -m.end())):
            value = self._canonical.get(_surface(m.group(1)))
            if value is not None and (not found or m.start() >= found[-1].end):
                found.append(Found(self.name, m.group(), value, m.start(), m.end()))
        return found


# --- All together ------------------------------------------------------------------------


def _overlap(a: Found, b: Found) -> bool:
    return a.start < b.end and b.start < a.end


def extract(
    text: str,
    *,
    entities: Collection[str],
    custom: Mapping[str, CustomEntity],
    lang: Lang,
    now: datetime,
    asking: str | None = None,
) -> dict[str, list[Found]]:
    """The values of `entities` found in `text`, by entity, each list in text order.

    Args:
        text: What the user said (only the start is read).
        entities: The entities wanted: system ones and names of `custom`.
        custom: The project's custom entities by name.
        lang: The caller's language (Chinese text is read as Chinese whatever it says).
        now: The user's current time: "tomorrow" is the day after now's date.
        asking: The entity the bot has just asked for, so that bare answers count ("beijing",
            "8" for a time).
    """
    text = text[:MAX_CHARS]
    kinds = [[f for name in sorted(entities) if name in custom for f in custom[name].find(text)]]
    if LOCATION in entities:
        kinds.append(find_cities(text, asking=asking == LOCATION))
    if DATE in entities or TIME in entities:
        kinds.append(find_dates(text, lang=lang, now=now, asking=asking == TIME))
    if NUMBER in entities:
        kinds.append(find_numbers(text))
    kept: list[Found] = []
    for kind in kinds:
        # Checked against the earlier kinds only: a date and a time may share "tomorrow 3pm".
        kept += [f for f in kind if not any(_overlap(f, k) for k in kept)]
    result: dict[str, list[Found]] = {}
    for f in sorted(kept, key=lambda f: f.start):
        if f.entity in entities:
            result.setdefault(f.entity, []).append(f)
    return result


def warm_up() -> None:
    """Load the gazetteer, jieba's dictionary and dateparser's languages now (takes ~1 s)."""
    warm_up_text()
    gazetteer()
    find_dates("tomorrow at 3pm, 明天", lang="cn", now=datetime(2000, 1, 1))
