"""Slots of the NLU (nlu.py): entity values as markers in sentences and questions, slots
filled from the entities found, and responses rendered with what filled them."""

import re
from collections.abc import Iterable

from shared.contracts.knowledge import PLACEHOLDER, Intent, SlotValue

from .dates import DATE, TIME
from .entities import NUMBER
from .gazetteer import LOCATION
from .text import Found, is_cjk

_SAID = frozenset((DATE, TIME, NUMBER))
_SPACE_BEFORE_PUNCTUATION = re.compile(r"\s+([.,!?;:\u3002\uff0c\uff01\uff1f\uff1b\uff1a])")
_SPACES = re.compile(r"[ \t]{2,}")

Slots = dict[str, list[SlotValue]]


def marker(entity: str) -> str:
    return f" __{entity.casefold()}__ "


def marked_text(text: str, found: Iterable[Found]) -> str:
    """`text` with each entity value replaced by its entity's marker."""
    out, end = [], 0
    for f in sorted(found, key=lambda f: f.start):
        if f.start >= end:
            out += [text[end : f.start], marker(f.entity)]
            end = f.end
    return "".join([*out, text[end:]])


def with_markers(intent: Intent, sentence: str) -> str:
    """A training sentence with each {slot} replaced by its entity's marker."""
    entity_of = {slot.name: slot.entity for slot in intent.slots}
    return PLACEHOLDER.sub(lambda m: marker(entity_of[m[1]]), sentence)


def _rendered(value: SlotValue) -> str:
    if value.slot_type in _SAID or (value.slot_type == LOCATION and is_cjk(value.key)):
        return value.key
    if value.slot_type == LOCATION:
        try:
            return str(value.value[0][1])
        except (TypeError, IndexError, KeyError):
            return value.key
    return str(value.value)


def render(template: str, slots: Slots) -> str:
    """`template` with each {slot} replaced by what it was filled with ("" when empty).

    A custom entity renders as its canonical value, a city as its name (or as said when said in
    Chinese: 北京, not Beijing), a date, time or number as the words said ("tomorrow").
    """
    text = PLACEHOLDER.sub(lambda m: _rendered(slots[m[1]][0]) if slots.get(m[1]) else "", template)
    return _SPACE_BEFORE_PUNCTUATION.sub(r"\1", _SPACES.sub(" ", text)).strip()


def fill(intent: Intent, slots: Slots, found: dict[str, list[Found]]) -> Slots:
    """`slots` with each empty slot given the next value found for its entity, in text order."""
    unused = {entity: list(values) for entity, values in found.items()}
    filled = dict(slots)
    for slot in intent.slots:
        if not filled.get(slot.name) and unused.get(slot.entity):
            f = unused[slot.entity].pop(0)
            filled[slot.name] = [SlotValue(slot_type=slot.entity, key=f.key, value=f.value)]
    return filled


def missing_slots(intent: Intent, slots: Slots) -> list[str]:
    return [slot.name for slot in intent.slots if slot.required and not slots.get(slot.name)]
