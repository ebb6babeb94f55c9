"""The fallback chain: a project's state machine first (when it has one and it answers), then
its engines (AIML, FAQ, NLU) asked in its order, each answering only above its threshold, and an
intent that waits for slots taking the next turn first."""

import asyncio
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from aiml import Kernel

from shared.contracts import BotContent
from shared.contracts.chat import FileRef, Part, TurnEvent, plain_text
from shared.contracts.knowledge import Chain, FaqGroup, FaqMatch, IntentMatch, Lang

from .domain import NO_AIML, CompiledAiml, answer, build_kernel, compile_aiml, parse_properties
from .knowledge import FaqIndex, NluModel, Understood, warm_up
from .machine import MachineEvent, MachineModel, Step

PENDING = "_nlu"  # session state key of an intent waiting for slots
MACHINE = "_machine"  # session state key of the state machine's own state
VERSIONS_KEPT = 2  # per project: typically the test and the release stage
Engine = Literal["aiml", "faq", "nlu", "machine", "fallback", "none"]


@dataclass(frozen=True)
class Brain:
    """Everything that answers from one content version."""

    version: int
    kernel: Kernel
    faq: FaqIndex | None
    groups: dict[str, FaqGroup]
    nlu: NluModel | None
    machine: MachineModel | None
    chain: Chain


def build_brain(content: BotContent, compiled: CompiledAiml | None = None) -> Brain:
    """Compile a version's AIML, FAQ and intents (blocking: run it in a thread).

    Content with intents also loads the gazetteer, dates and jieba here (about 1.5 s, once per
    process) rather than on its first question; AIML-only projects never pay for them.
    `compiled` is the version's AIML when the caller has just compiled it to check it.
    """
    if compiled is None:
        compiled = compile_aiml(content.aiml) if content.aiml else NO_AIML
    if content.intents.intents or (content.machine and content.machine.intents):
        warm_up()
    return Brain(
        version=content.version,
        kernel=build_kernel(compiled, parse_properties(content.properties)),
        faq=FaqIndex(content.faq) if content.faq.groups else None,
        groups={group.gid: group for group in content.faq.groups},
        nlu=NluModel(content.intents) if content.intents.intents else None,
        machine=MachineModel(content.machine) if content.machine else None,
        chain=content.chain,
    )


class Brains:
    """The brains of the versions each project answers from (the last few used)."""

    def __init__(self) -> None:
        self._brains: dict[UUID, OrderedDict[int, Brain]] = {}

    def get(self, project: UUID, version: int) -> Brain | None:
        kept = self._brains.get(project)
        if kept is None or version not in kept:
            return None
        kept.move_to_end(version)
        return kept[version]

    def put(self, project: UUID, brain: Brain) -> None:
        kept = self._brains.setdefault(project, OrderedDict())
        kept[brain.version] = brain
        kept.move_to_end(brain.version)
        while len(kept) > VERSIONS_KEPT:
            kept.popitem(last=False)

    def versions(self, project: UUID) -> list[int]:
        """The versions kept for `project`."""
        return list(self._brains.get(project, {}))


@dataclass(frozen=True)
class Said:
    """What the chain answered, who answered, and the session state (and, when a state
    machine changed them, variables) after it."""

    text: str
    engine: Engine
    state: dict[str, Any]
    faq: FaqMatch | None = None
    intent: IntentMatch | None = None
    extras: dict[str, str | None] = field(default_factory=dict)  # url, image, action
    parts: list[Part] = field(default_factory=list)
    variables: dict[str, Any] | None = None


@dataclass(frozen=True)
class Question:
    """A turn as the chain hears it."""

    text: str
    lang: Lang
    skill: str | None
    now: datetime
    session_id: str
    image: bool = False
    event: TurnEvent = "text"
    file: FileRef | None = None
    variables: dict[str, Any] = field(default_factory=dict)


def greet(brain: Brain, question: Question, state: dict[str, Any]) -> Said:
    """What a new (or reset) session hears first: the state machine's initial state, or
    nothing (engine none) for a bot without one."""
    if brain.machine is None:
        return Said("", "none", state)
    step = brain.machine.step(
        MachineEvent(kind="start"),
        state=None,
        variables=question.variables,
        lang=question.lang,
        now=question.now,
    )
    return _from_machine(step, state)


async def respond(brain: Brain, question: Question, state: dict[str, Any]) -> Said | None:
    """The first answer of the chain (None: nobody answered, say the fallback)."""
    if brain.machine is not None:
        said = await _machine(brain.machine, question, state)
        if said is not None:
            return said
    pending = state.get(PENDING)
    base = {k: v for k, v in state.items() if k != PENDING}
    understood: Understood | None = None
    asked = any(step.engine == "nlu" for step in brain.chain.steps) or isinstance(pending, dict)
    if brain.nlu is not None and asked and not question.image:
        understood = await asyncio.to_thread(
            brain.nlu.understand,
            question.text,
            lang=question.lang,
            now=question.now,
            pending=pending if isinstance(pending, dict) else None,
            skill=question.skill,
        )
        if understood is not None and understood.continued:
            return _from_nlu(understood, base)
    for step in brain.chain.steps:
        said = await _ask(brain, step.engine, step.threshold, question, base, understood)
        if said is not None:
            return said
    if isinstance(pending, dict) and brain.nlu is not None:
        again = brain.nlu.reprompt(pending)
        if again is not None:
            return _from_nlu(again, base)
    return None


async def _ask(
    brain: Brain,
    engine: str,
    threshold: float,
    question: Question,
    state: dict[str, Any],
    understood: Understood | None,
) -> Said | None:
    if engine == "faq" and brain.faq is not None and not question.image:
        match = await asyncio.to_thread(
            brain.faq.search, question.text, lang=question.lang, skill=question.skill
        )
        if match is None or match.score < threshold:
            return None
        group = brain.groups[match.gid]
        extras = {"url": group.url, "image": group.image, "action": group.action}
        return Said(match.candidates[0].answer, "faq", state, faq=match, extras=extras)
    if engine == "nlu" and understood is not None:
        if understood.match.score < threshold:
            return None
        return _from_nlu(understood, state)
    if engine == "aiml":
        said = answer(brain.kernel, text=question.text, state=state, session_id=question.session_id)
        if said.matched:
            return Said(said.text, "aiml", said.state)
    return None


async def _machine(machine: MachineModel, question: Question, state: dict[str, Any]) -> Said | None:
    """The state machine's answer to a text, JSON or file event (None: no transition and no
    fallback body: the other engines answer)."""
    kind = question.event
    if kind not in ("text", "json", "file"):
        return None
    current = state.get(MACHINE)
    step = await asyncio.to_thread(
        machine.step,
        MachineEvent(kind=kind, text=question.text, file=question.file),
        state=current if isinstance(current, dict) else None,
        variables=question.variables,
        lang=question.lang,
        now=question.now,
    )
    return _from_machine(step, state) if step.handled else None


def _from_machine(step: Step, state: dict[str, Any]) -> Said:
    return Said(
        plain_text(step.parts),
        "machine",
        {**state, MACHINE: step.state},
        parts=step.parts,
        variables=step.variables,
    )


def _from_nlu(understood: Understood, state: dict[str, Any]) -> Said:
    new_state = dict(state)
    if understood.pending is not None:
        new_state[PENDING] = understood.pending
    extras = {"url": understood.url, "image": understood.image, "action": understood.action}
    return Said(understood.message, "nlu", new_state, intent=understood.match, extras=extras)
