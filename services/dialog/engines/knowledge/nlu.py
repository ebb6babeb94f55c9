"""Intent classification and slot filling over a project's NLU content (RSVP's NLU engine).

An utterance is classified by the project's own classifier (classifier.py), trained on every
intent's sentences, its score 0.5 at the threshold calibrated on them. Entity values are first
replaced by a marker of their entity on both sides ("weather in {city}" and "weather in Paris"
both become "weather in __system_location__"), so that any city, date or drink matches.
Slots are then filled from the entities found; a required slot still empty is asked for, and
the intent waits in `pending` (the session's JSON state) for the next turn.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydantic import ValidationError

from shared.contracts.knowledge import (
    PLACEHOLDER,
    SYSTEM_ENTITIES,
    Intent,
    IntentCandidate,
    IntentMatch,
    Intents,
    Lang,
    SlotValue,
)

from .classifier import TextClassifier
from .entities import CustomEntity, extract
from .faq import script_classes
from .slots import Slots, fill, marked_text, missing_slots, render, with_markers
from .text import MAX_CHARS, NEAR, Found, is_cjk, normalise, tokenise

INTENT_NAMESPACE = uuid.UUID("6f1c3a52-8e0b-5d7a-9c41-2b7e0d9f4a11")
"""intent_id = uuid5(INTENT_NAMESPACE, name): stable across uploads and replicas."""

TOP = 5
_DEFAULT_PROMPTS: dict[Lang, str] = {"en": "What {slot} do you mean?", "cn": "请告诉我{slot}"}


@dataclass(frozen=True)
class Understood:
    """What the NLU made of a turn, and what the bot says.

    Attributes:
        match: The chosen intent (first of match.candidates) and its slots so far.
        message: The response rendered with the slot values when done, else the prompt of the
            first missing required slot.
        pending: JSON state to keep in the session while slots are missing (None when done).
        continued: This turn filled slots of the pending intent.
        url: The intent's media URL, only when done.
        image: The intent's image URL, only when done.
        action: The intent's instruction for a robot, only when done.
    """

    match: IntentMatch
    message: str
    pending: dict[str, Any] | None
    continued: bool
    url: str | None = None
    image: str | None = None
    action: str | None = None


# An intent none of whose sentences shares a word or custom-entity marker with the question
# (only a city, a date or a number) keeps this much of its score: below the default threshold.
WEAK_EVIDENCE = 0.5
_SYSTEM_MARKERS = frozenset(f"__{entity}__" for entity in SYSTEM_ENTITIES)


def intent_id(name: str) -> str:
    """The stable id of the intent called `name` (hex)."""
    return uuid.uuid5(INTENT_NAMESPACE, name).hex


def _evidence(marked: str) -> frozenset[str]:
    """The tokens that can tell intents apart: words and custom-entity markers. A city, a date
    or a number alone says little ("my name is Ada" is not about the weather in Ada, OK)."""
    return frozenset(t for t in tokenise(marked) if t not in _SYSTEM_MARKERS)


def _candidate(intent: Intent, score: float, sentence: str, slots: Slots) -> IntentCandidate:
    done = not missing_slots(intent, slots)
    return IntentCandidate(
        name=intent.name,
        intent_id=intent_id(intent.name),
        skill=intent.skill,
        score=min(max(score, 0.0), 1.0),
        sentence=sentence,
        slots=slots,
        done=done,
        fulfillment=done and intent.action is not None,
    )


def _understood(
    intent: Intent, candidates: list[IntentCandidate], lang: Lang, *, continued: bool
) -> Understood:
    """The chosen intent (first candidate) answered, or its first missing slot asked for."""
    slots = candidates[0].slots
    missing = missing_slots(intent, slots)
    match = IntentMatch(
        name=intent.name,
        intent_id=intent_id(intent.name),
        skill=intent.skill,
        slots=slots,
        missing=missing,
        done=not missing,
        candidates=candidates,
    )
    if not missing:
        message = render(intent.response, slots)
        return Understood(match, message, None, continued, intent.url, intent.image, intent.action)
    slot = next(s for s in intent.slots if s.name == missing[0])
    prompt = slot.prompt or _DEFAULT_PROMPTS[lang].format(slot=slot.name)
    kept = {name: [v.model_dump(mode="json") for v in vs] for name, vs in slots.items() if vs}
    state = {"intent": intent.name, "lang": lang, "slots": kept}
    return Understood(match, render(prompt, slots), state, continued)


class NluModel:
    """A project's intents and entities, indexed once for many turns."""

    def __init__(self, intents: Intents) -> None:
        """Train on every sentence of `intents`, its {slot} marks as entity markers (blocking:
        run it in a thread)."""
        self._intents = {intent.name: intent for intent in intents.intents}
        self._names = [intent.name for intent in intents.intents]
        self._custom = {entity.name: CustomEntity(entity) for entity in intents.entities}
        self._sentences: list[str] = []
        labels: list[int] = []
        marked: list[str] = []
        for n, intent in enumerate(intents.intents):
            for sentence in intent.sentences:
                self._sentences.append(sentence)
                labels.append(n)
                marked.append(with_markers(intent, sentence))
        self._label = np.asarray(labels, dtype=np.int64)
        self._skill = np.array([intent.skill for intent in intents.intents], dtype=object)
        self._model = TextClassifier(marked, labels)
        chinese = np.array([is_cjk(s) for s in self._sentences], dtype=bool)
        self._script = script_classes(self._label, chinese, len(self._names))
        self._evidence = [_evidence(sentence) for sentence in marked]
        self._exact: dict[str, list[int]] = {}
        for n, sentence in enumerate(marked):
            self._exact.setdefault(normalise(sentence), []).append(n)
        # A sentence without marks must also match itself when its words are entities too
        # ("will it rain tomorrow" is "will it rain __system_date__" once "tomorrow" is found).
        self._literal: dict[str, list[int]] = {}
        for n, sentence in enumerate(self._sentences):
            if not PLACEHOLDER.search(sentence):
                self._literal.setdefault(normalise(sentence), []).append(n)

    @property
    def threshold(self) -> float:
        """The calibrated raw threshold (what scores 0.5)."""
        return self._model.calibration.threshold

    def understand(
        self,
        text: str,
        *,
        lang: Lang,
        now: datetime,
        pending: dict[str, Any] | None = None,
        skill: str | None = None,
    ) -> Understood | None:
        """Classify `text`, or fill the slots of the pending intent with it.

        Args:
            text: What the user said.
            lang: The user's language (default prompts, dates).
            now: The user's current time (relative dates).
            pending: The state returned by the previous turn, if it was waiting for slots.
                Anything malformed, or naming an intent that is gone, is ignored.
            skill: Only intents of this skill, when given.

        Returns:
            The intent and the bot's message, or None when no intent scores above 0.
        """
        text = text[:MAX_CHARS]
        waiting = self._restore(pending, skill)
        if waiting is not None:
            intent, slots = waiting
            empty = [s for s in intent.slots if not slots.get(s.name)]
            missing = [s for s in empty if s.required]
            asking = missing[0].entity if missing else None
            wanted = {s.entity for s in empty}
            found = extract(
                text, entities=wanted, custom=self._custom, lang=lang, now=now, asking=asking
            )
            filled = fill(intent, slots, found)
            if filled != slots:
                sentence = self._closest(text, found, intent.name)
                candidate = _candidate(intent, 1.0, sentence, filled)
                return _understood(intent, [candidate], lang, continued=True)
        return self._classify(text, lang=lang, now=now, skill=skill)

    def reprompt(self, pending: dict[str, Any]) -> Understood | None:
        """Ask again for the first missing slot of `pending` (None if its intent is gone)."""
        waiting = self._restore(pending, None)
        if waiting is None:
            return None
        intent, slots = waiting
        lang: Lang = "cn" if pending.get("lang") == "cn" else "en"
        candidate = _candidate(intent, 1.0, intent.sentences[0], slots)
        return _understood(intent, [candidate], lang, continued=False)

    def _classify(
        self, text: str, *, lang: Lang, now: datetime, skill: str | None
    ) -> Understood | None:
        intents = [i for i in self._intents.values() if skill is None or i.skill == skill]
        wanted = {slot.entity for intent in intents for slot in intent.slots}
        found = extract(text, entities=wanted, custom=self._custom, lang=lang, now=now)
        scores, allowed, closeness = self._scores(text, found)
        if skill is not None:
            allowed &= self._skill == skill
        candidates: list[IntentCandidate] = []
        order = np.argsort(-scores, kind="stable")
        for n in order[allowed[order] & (scores[order] > 0)][:TOP]:
            intent = self._intents[self._names[n]]
            slots = fill(intent, {}, found)
            sentence = self._sentence(int(n), closeness)
            candidates.append(_candidate(intent, float(scores[n]), sentence, slots))
        if not candidates:
            return None
        return _understood(self._intents[candidates[0].name], candidates, lang, continued=False)

    def _scores(
        self, text: str, found: dict[str, list[Found]]
    ) -> tuple[NDArray[np.float64], NDArray[np.bool_], NDArray[np.float64]]:
        """Each intent's score (0..1), whether it may answer (it shares something with the
        question, in the question's script), and how close each sentence is to the question."""
        marked = marked_text(text, (f for fs in found.values() for f in fs))
        similar = self._model.similarities(marked)
        scores = self._model.confidence(self._model.decisions(similar))
        np.minimum(scores, NEAR, out=scores)
        allowed = np.zeros(len(self._names), dtype=bool)
        allowed[self._label[similar > 0]] = True
        allowed &= self._script[int(is_cjk(text))]
        evidence = _evidence(marked)
        backed = np.zeros(len(self._names), dtype=bool)
        for n in np.flatnonzero(similar > 0):
            if evidence & self._evidence[n]:
                backed[self._label[n]] = True
        scores[~backed] *= WEAK_EVIDENCE
        exact = self._exact.get(normalise(marked), []) + self._literal.get(normalise(text), [])
        scores[self._label[exact]] = 1.0
        allowed[self._label[exact]] = True
        # Each intent's sentence closest to the question: an exact one, else the most similar.
        closeness = similar.copy()
        closeness[exact] = 2.0
        return scores, allowed, closeness

    def _sentence(self, intent: int, closeness: NDArray[np.float64]) -> str:
        rows = np.flatnonzero(self._label == intent)
        return self._sentences[int(rows[np.argmax(closeness[rows])])]

    def _closest(self, text: str, found: dict[str, list[Found]], name: str) -> str:
        _, _, closeness = self._scores(text, found)
        return self._sentence(self._names.index(name), closeness)

    def _restore(self, pending: Any, skill: str | None) -> tuple[Intent, Slots] | None:
        """The intent and slots kept in `pending`, or None if it names no current intent."""
        if not isinstance(pending, dict) or not isinstance(pending.get("intent"), str):
            return None
        intent = self._intents.get(pending["intent"])
        if intent is None or (skill is not None and intent.skill != skill):
            return None
        kept = pending.get("slots")
        slots: Slots = {}
        for slot in intent.slots:
            values = kept.get(slot.name) if isinstance(kept, dict) else None
            try:
                parsed = [SlotValue.model_validate(v) for v in values or []]
            except (ValidationError, TypeError):
                continue
            if parsed and all(v.slot_type == slot.entity for v in parsed):
                slots[slot.name] = parsed
        return intent, slots
