"""Bot knowledge beyond AIML: FAQ groups, NLU intents and entities, the engine chain, and what
those engines found for a question.

The models are the content formats users upload (JSON; the gateway also reads CSV and YAML into
them). Cross-references are checked here, so a bad upload is refused before it is stored and its
errors name the item.
"""

import re
from typing import Any, Literal

from pydantic import Field, model_validator

from .base import Contract

Lang = Literal["en", "cn"]
Stage = Literal["test", "release"]
EngineName = Literal["aiml", "faq", "nlu", "rag", "llm"]
SYSTEM_ENTITIES = ("system_location", "system_date", "system_time", "system_number")
PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
MAX_FAQ_GROUPS = 20_000
MAX_INTENTS = 2_000

_Text = Field(min_length=1, max_length=10_000)
_Name = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")


class FaqGroup(Contract):
    """One answer and the paraphrases of the question it answers (RSVP's "Paired-Corpus")."""

    gid: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    questions: list[str] = Field(min_length=1, max_length=500)
    answer: str = _Text
    labels: list[str] = Field(default_factory=list, max_length=50)
    skillname: str = Field("faq", min_length=1, max_length=100)
    url: str | None = Field(None, max_length=2048, description="Media URL (clients show it)")
    image: str | None = Field(None, max_length=2048, description="Image URL")
    action: str | None = Field(None, max_length=1000, description="Instruction for a robot")

    @model_validator(mode="after")
    def _questions_not_blank(self) -> "FaqGroup":
        for n, question in enumerate(self.questions, 1):
            if not question.strip() or len(question) > 1000:
                raise ValueError(f"question {n} must have 1 to 1000 characters")
        return self


class Faq(Contract):
    """A project's FAQ: groups with unique ids."""

    groups: list[FaqGroup] = Field(default_factory=list, max_length=MAX_FAQ_GROUPS)

    @model_validator(mode="after")
    def _unique_gids(self) -> "Faq":
        seen: set[str] = set()
        for n, group in enumerate(self.groups):
            if group.gid in seen:
                raise ValueError(f"groups[{n}]: gid {group.gid!r} is used by an earlier group")
            seen.add(group.gid)
        return self


class EntityValue(Contract):
    """A value of a custom entity and the other words users say for it."""

    value: str = Field(min_length=1, max_length=200)
    synonyms: list[str] = Field(default_factory=list, max_length=200)


class Entity(Contract):
    """A custom entity: a closed list of values with synonyms."""

    name: str = _Name
    values: list[EntityValue] = Field(min_length=1, max_length=10_000)

    @model_validator(mode="after")
    def _not_system(self) -> "Entity":
        if self.name.startswith("system_"):
            raise ValueError(f"entity {self.name!r}: names starting system_ are built in")
        return self


class Slot(Contract):
    """A parameter of an intent, filled from the user's words by its entity."""

    name: str = _Name
    entity: str = Field(min_length=1, max_length=64)
    required: bool = True
    prompt: str | None = Field(
        None, max_length=1000, description="Asked when the slot is missing (required slots)"
    )


class Intent(Contract):
    """Something users want, how they say it, what it needs and what the bot answers."""

    name: str = Field(min_length=1, max_length=100)
    skill: str = Field("nlu", min_length=1, max_length=100)
    sentences: list[str] = Field(min_length=1, max_length=1000, description="With {slot} marks")
    slots: list[Slot] = Field(default_factory=list, max_length=20)
    response: str = Field(min_length=1, max_length=10_000, description="With {slot} marks")
    url: str | None = Field(None, max_length=2048)
    image: str | None = Field(None, max_length=2048)
    action: str | None = Field(None, max_length=1000, description="Instruction for a robot")

    @model_validator(mode="after")
    def _references(self) -> "Intent":
        names = [slot.name for slot in self.slots]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f"intent {self.name!r}: slot {name!r} is declared twice")
        for n, sentence in enumerate(self.sentences, 1):
            if not sentence.strip() or len(sentence) > 1000:
                raise ValueError(f"intent {self.name!r}: sentence {n} must have 1 to 1000 chars")
            for mark in PLACEHOLDER.findall(sentence):
                if mark not in names:
                    raise ValueError(
                        f"intent {self.name!r}: sentence {n} names {{{mark}}}, which is no slot"
                    )
        for mark in PLACEHOLDER.findall(self.response):
            if mark not in names:
                raise ValueError(f"intent {self.name!r}: response names {{{mark}}}, no slot")
        return self


class Intents(Contract):
    """A project's NLU content: custom entities and intents."""

    entities: list[Entity] = Field(default_factory=list, max_length=500)
    intents: list[Intent] = Field(default_factory=list, max_length=MAX_INTENTS)

    @model_validator(mode="after")
    def _references(self) -> "Intents":
        entities = [entity.name for entity in self.entities]
        for name in entities:
            if entities.count(name) > 1:
                raise ValueError(f"entity {name!r} is declared twice")
        seen: set[str] = set()
        for intent in self.intents:
            if intent.name in seen:
                raise ValueError(f"intent {intent.name!r} is declared twice")
            seen.add(intent.name)
            for slot in intent.slots:
                if slot.entity not in SYSTEM_ENTITIES and slot.entity not in entities:
                    raise ValueError(
                        f"intent {intent.name!r}: slot {slot.name!r} has entity {slot.entity!r},"
                        f" which is neither built in ({', '.join(SYSTEM_ENTITIES)}) nor declared"
                    )
        return self


SCORED = ("faq", "nlu", "rag")
CALIBRATED = 0.5  # a score of 0.5 is the project's own calibrated threshold (FAQ, NLU)


class ChainStep(Contract):
    """One engine of the fallback chain and the score it must reach to answer."""

    engine: EngineName
    threshold: float = Field(
        0.0,
        ge=0.0,
        le=1.0,
        description="FAQ/NLU/RAG: lowest score that answers (AIML, LLM: unused; RAG: the share "
        "of the question's word weight the best passage holds); left out, FAQ, NLU and RAG take "
        "0.5 (FAQ/NLU: the threshold calibrated on the project's own examples)",
    )
    prompt: str | None = Field(
        None,
        min_length=1,
        max_length=8000,
        description="llm only: the system prompt the model gets (a default one when not given)",
    )

    @model_validator(mode="before")
    @classmethod
    def _scored_steps_default_to_calibrated(cls, data: Any) -> Any:
        """A scoring step saved without a threshold answers as calibrated (0.5), not at any
        score: 0.0 would let it answer every question and hide every engine after it."""
        if isinstance(data, dict) and "threshold" not in data and data.get("engine") in SCORED:
            return {**data, "threshold": CALIBRATED}
        return data

    @model_validator(mode="after")
    def _prompt_of_llm(self) -> "ChainStep":
        if self.prompt is not None and self.engine != "llm":
            raise ValueError(f"only the llm engine takes a prompt, not {self.engine}")
        return self


class Chain(Contract):
    """The engines a project asks, in order; the first that answers wins, else the fallback."""

    steps: list[ChainStep] = Field(min_length=1, max_length=5)

    @model_validator(mode="after")
    def _unique(self) -> "Chain":
        engines = [step.engine for step in self.steps]
        if len(set(engines)) != len(engines):
            raise ValueError("each engine may appear once in the chain")
        if "llm" in engines[:-1]:
            raise ValueError("the llm engine answers anything: it must be the last of the chain")
        return self


DEFAULT_CHAIN = Chain(
    steps=[
        ChainStep(engine="faq", threshold=0.5),
        ChainStep(engine="nlu", threshold=0.5),
        ChainStep(engine="aiml"),
    ]
)


# --- What the engines found (carried by TurnAnswered; the RSVP adapter renders it) ---------
class FaqCandidate(Contract):
    """A group that could answer, and how likely (0..1; an exact paraphrase scores 1)."""

    score: float = Field(ge=0.0, le=1.0)
    gid: str
    question: str = Field(description="The group's paraphrase closest to what was asked")
    answer: str
    skillname: str
    labels: list[str]


class FaqMatch(Contract):
    """The FAQ's answer: the best group, and every candidate (best first, the best included)."""

    gid: str
    skillname: str
    labels: list[str]
    candidates: list[FaqCandidate] = Field(min_length=1)

    @property
    def score(self) -> float:
        """The best candidate's score."""
        return self.candidates[0].score


class SlotValue(Contract):
    """One value found for a slot: the words said (`key`) and what they mean (`value`).

    `value` by entity: system_location `[[id, city, province, country, continent]]`,
    system_date `"YYYY-MM-DD"`, system_time `"HH:MM:SS"`, system_number a number, a custom
    entity its canonical value.
    """

    slot_type: str = Field(description="The slot's entity")
    key: str
    value: Any


class IntentCandidate(Contract):
    """An intent that could be meant, with the slots it would get."""

    name: str
    intent_id: str = Field(description="Stable id of the intent (derived from its name)")
    skill: str
    score: float = Field(ge=0.0, le=1.0)
    sentence: str = Field(description="The training sentence closest to what was said")
    slots: dict[str, list[SlotValue]] = Field(default_factory=dict)
    done: bool = Field(description="Every required slot is filled")
    fulfillment: bool = Field(description="Done, and the answer carries an action for a robot")


class IntentMatch(Contract):
    """The NLU's answer: the intent, its slots so far, and the other candidates."""

    name: str
    intent_id: str
    skill: str
    slots: dict[str, list[SlotValue]] = Field(default_factory=dict)
    missing: list[str] = Field(default_factory=list, description="Required slots still empty")
    done: bool
    candidates: list[IntentCandidate] = Field(min_length=1)

    @property
    def score(self) -> float:
        """The chosen intent's score."""
        return self.candidates[0].score
