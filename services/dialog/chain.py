"""The fallback chain: a project's state machine first (when it has one and it answers), then
its engines (AIML, FAQ, NLU) asked in its order, each answering only above its threshold, and an
intent that waits for slots taking the next turn first."""

import asyncio
import hashlib
import logging
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from shared.contracts import BotContent
from shared.contracts.chat import FileRef, Part, TurnEvent, plain_text
from shared.contracts.knowledge import Chain, FaqGroup, FaqMatch, IntentMatch, Lang

from .domain import (
    NO_AIML,
    BotProperties,
    CompiledAiml,
    SharedKernel,
    answer,
    build_kernel,
    compile_aiml,
    keep_out_of_gc,
    parse_properties,
    release_kernel,
)
from .knowledge import FaqIndex, NluModel, Understood, warm_up
from .machine import MachineEvent, MachineModel, Step

log = logging.getLogger(__name__)
PENDING = "_nlu"  # session state key of an intent waiting for slots
MACHINE = "_machine"  # session state key of the state machine's own state
VERSIONS_KEPT = 2  # per project: typically the test and the release stage
Engine = Literal["aiml", "faq", "nlu", "machine", "fallback", "none"]


@dataclass(frozen=True)
class Brain:
    """Everything that answers from one content version: the AIML kernel is shared with every
    project and stage whose AIML is the same (see Kernels), `properties` are this one's."""

    version: int
    kernel: SharedKernel
    properties: BotProperties
    faq: FaqIndex | None
    groups: dict[str, FaqGroup]
    nlu: NluModel | None
    machine: MachineModel | None
    chain: Chain


def files_key(digests: list[str]) -> str:
    """What a kernel is keyed by: the digest of its AIML files' digests, in load order (a
    later file's category replaces an earlier one's)."""
    return hashlib.sha256("\n".join(digests).encode()).hexdigest()


def aiml_key(content: BotContent) -> str:
    """The key of a version's AIML kernel (its inline text counts as its one file)."""
    digests = [file.sha256 for file in content.aiml_files]
    if not digests and content.aiml:
        digests = [hashlib.sha256(content.aiml.encode()).hexdigest()]
    return files_key(digests)


class Kernels:
    """The AIML kernels of this process, one per distinct content (`aiml_key`), each built
    once however many projects and stages ask for it at the same time, and forgotten when no
    kept brain uses it any more."""

    def __init__(self) -> None:
        self._kernels: weakref.WeakValueDictionary[str, SharedKernel] = (
            weakref.WeakValueDictionary()
        )
        self._building: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> SharedKernel | None:
        """The kernel of `key`, if one is alive in this process."""
        with self._lock:
            return self._kernels.get(key)

    def get_or_build(self, key: str, compile: Callable[[], CompiledAiml]) -> SharedKernel:
        """The kernel of `key`, built from `compile()` unless it exists (blocking: run it in
        a thread); concurrent callers of one key wait for the one build."""
        with self._lock:
            found = self._kernels.get(key)
            if found is not None:
                return found
            building = self._building.setdefault(key, threading.Lock())
        with building:
            with self._lock:
                found = self._kernels.get(key)
            if found is None:
                compiled = compile()
                found = SharedKernel(
                    kernel=build_kernel(compiled, {}),
                    key=key,
                    categories=compiled.size,
                    counts=compiled.counts,
                )
                del compiled
                weakref.finalize(found, release_kernel, found.kernel)
                keep_out_of_gc()
                with self._lock:
                    self._kernels[key] = found
            with self._lock:
                self._building.pop(key, None)
        return found

    def __len__(self) -> int:
        with self._lock:
            return len(self._kernels)


KERNELS = Kernels()  # one per process: every project's brains share it


def build_brain(
    content: BotContent,
    compiled: CompiledAiml | Callable[[], CompiledAiml] | None = None,
    *,
    key: str | None = None,
    kernels: Kernels = KERNELS,
) -> Brain:
    """Build a version's brain: its AIML kernel (unless one with the same AIML exists), FAQ and
    intents (blocking: run it in a thread).

    Content with intents also loads the gazetteer, dates and jieba here (about 1.5 s, once per
    process) rather than on its first question; AIML-only projects never pay for them.
    `compiled` is the version's AIML when the caller has just compiled it to check it, or how
    to compile it (called only when no kernel of that AIML exists yet); `key` is the kernel's
    key when the caller knows the AIML's texts (else the content's manifest gives it).
    """
    if compiled is None:
        made: Callable[[], CompiledAiml] = lambda: (  # noqa: E731
            compile_aiml(content.aiml) if content.aiml else NO_AIML
        )
    elif isinstance(compiled, CompiledAiml):
        made = lambda: compiled  # noqa: E731
    else:
        made = compiled
    if content.intents.intents or (content.machine and content.machine.intents):
        warm_up()
    return Brain(
        version=content.version,
        kernel=kernels.get_or_build(key or aiml_key(content), made),
        properties=BotProperties.of(parse_properties(content.properties)),
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
        said = answer(
            brain.kernel,
            text=question.text,
            state=state,
            session_id=question.session_id,
            properties=brain.properties,
        )
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
