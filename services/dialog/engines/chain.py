"""The fallback chain: a project's state machine first (when it has one and it answers), then
its engines (AIML, FAQ, NLU) asked in its order, each answering only above its threshold, and an
intent that waits for slots taking the next turn first."""

import asyncio
import dataclasses
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from shared.contracts.chat import AudioPart, FileRef, Part, RagPart, TextPart, TurnEvent, plain_text
from shared.contracts.knowledge import ChainStep, FaqMatch, IntentMatch, Lang, Stage
from shared.contracts.media import MAX_SPOKEN_CHARS

from .aiml_kernel import answer
from .brain import Brain
from .knowledge import Understood
from .llm import WRITER, fallback_messages, rag_messages
from .machine import MachineModel, Step
from .machine_context import MachineEvent
from .rag import rag_answer, written_answer

log = logging.getLogger(__name__)
PENDING = "_nlu"  # session state key of an intent waiting for slots
MACHINE = "_machine"  # session state key of the state machine's own state
WATCH = "watch"  # in MACHINE: the stage whose machine's conditions the clock checks
Engine = Literal["aiml", "faq", "nlu", "rag", "llm", "machine", "fallback", "none"]
LLM_TURNS = "_llm"  # session state key of the recent turns the llm engine is given


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
    payload: dict[str, Any] | None = None
    stage: Stage = "test"


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
    return _from_machine(step, state, brain.machine, question.stage)


async def respond(brain: Brain, question: Question, state: dict[str, Any]) -> Said | None:
    """The first answer of the chain (None: nobody answered, say the fallback). GUI events and
    the clock's ticks are the state machine's alone: unanswered, they say nothing."""
    if brain.machine is not None:
        said = await _machine(brain.machine, question, state)
        if said is not None:
            return await answered_from_documents(brain, said)
    if question.event in ("gui", "tick"):
        return Said("", "none", state)
    pending = state.get(PENDING)
    # the engines answer from the state without an intent's wait (none: no copy)
    base = state if PENDING not in state else {k: v for k, v in state.items() if k != PENDING}
    understood: Understood | None = None
    if (
        brain.nlu is not None
        and not question.image
        and (isinstance(pending, dict) or any(step.engine == "nlu" for step in brain.chain.steps))
    ):
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
        if step.engine == "aiml":  # never waits: asked without a coroutine of its own
            said = _aiml(brain, question, base)
        elif not _can_answer(brain, step, understood):
            continue  # nothing to ask: no coroutine made and awaited for it
        else:
            said = await _ask(brain, step, question, base, understood)
        if said is not None:
            return _remembered(brain, question, said)
    if isinstance(pending, dict) and brain.nlu is not None:
        again = brain.nlu.reprompt(pending)
        if again is not None:
            return _from_nlu(again, base)
    return None


def _can_answer(brain: Brain, step: ChainStep, understood: Understood | None) -> bool:
    """False for a step whose engine has nothing to answer from in this brain (a FAQ, NLU or
    RAG step without its content); _ask checks the rest."""
    engine = step.engine
    if engine == "faq":
        return brain.faq is not None
    if engine == "nlu":
        return understood is not None
    if engine == "rag":
        return brain.documents is not None
    return True


async def _ask(
    brain: Brain,
    step: ChainStep,
    question: Question,
    state: dict[str, Any],
    understood: Understood | None,
) -> Said | None:
    """One engine's answer (None: it does not answer); Pending while a model writes it."""
    engine, threshold = step.engine, step.threshold
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
    if engine == "rag" and brain.documents is not None and not question.image:
        hits = await asyncio.to_thread(brain.documents.search, question.text)
        if not hits or hits[0].score < threshold:
            return None
        rag = rag_answer(question.text, hits)
        written = WRITER.write(
            ("rag", *_turn_key(question)),
            rag_messages(question.text, [(d.source, d.content) for d in rag.docs]),
        )
        if written is not None:
            rag = written_answer(rag, written)
        return Said(rag.answer, "rag", state, parts=[rag])
    if engine == "llm" and WRITER.enabled and question.text.strip():
        recent = state.get(LLM_TURNS)
        messages = fallback_messages(
            step.prompt, recent if isinstance(recent, list) else [], question.text
        )
        text = WRITER.write(("llm", *_turn_key(question)), messages)
        return Said(text, "llm", state) if text else None
    if engine == "aiml":
        return _aiml(brain, question, state)
    return None


def _aiml(brain: Brain, question: Question, state: dict[str, Any]) -> Said | None:
    """The AIML's answer (None: it matched nothing)."""
    said = answer(
        brain.kernel,
        text=question.text,
        state=state,
        session_id=question.session_id,
        properties=brain.properties,
    )
    return Said(said.text, "aiml", said.state) if said.matched else None


async def _machine(machine: MachineModel, question: Question, state: dict[str, Any]) -> Said | None:
    """The state machine's answer to a text, JSON or file event (None: no transition and no
    fallback body: the other engines answer)."""
    kind = question.event
    if kind not in ("text", "json", "file", "gui", "tick"):
        return None
    current = state.get(MACHINE)
    event = MachineEvent(
        kind=kind, text=question.text, file=question.file, payload=question.payload
    )
    step = await asyncio.to_thread(
        machine.step,
        event,
        state=current if isinstance(current, dict) else None,
        variables=question.variables,
        lang=question.lang,
        now=question.now,
    )
    return _from_machine(step, state, machine, question.stage) if step.handled else None


def _from_machine(step: Step, state: dict[str, Any], machine: MachineModel, stage: Stage) -> Said:
    """The machine's answer; a session left waiting on conditions is marked for the clock
    (with the stage it talks to)."""
    kept = dict(step.state)
    if machine.watching(kept):
        kept[WATCH] = stage
    return Said(
        plain_text(step.parts),
        "machine",
        {**state, MACHINE: kept},
        parts=step.parts,
        variables=step.variables,
    )


def _from_nlu(understood: Understood, state: dict[str, Any]) -> Said:
    new_state = dict(state)
    if understood.pending is not None:
        new_state[PENDING] = understood.pending
    extras = {"url": understood.url, "image": understood.image, "action": understood.action}
    return Said(understood.message, "nlu", new_state, intent=understood.match, extras=extras)


async def answered_from_documents(brain: Brain, said: Said) -> Said:
    """A state machine's reply with each of its rag parts answered from the documents (a
    part no passage answers is left out)."""
    if not any(isinstance(part, RagPart) and not part.docs for part in said.parts):
        return said
    parts: list[Part] = []
    for part in said.parts:
        if not isinstance(part, RagPart) or part.docs:
            parts.append(part)
            continue
        index = brain.documents
        hits = await asyncio.to_thread(index.search, part.question) if index else []
        if hits:
            parts.append(rag_answer(part.question, hits))
    return dataclasses.replace(said, text=plain_text(parts), parts=parts)


SPEAK_REPLIES = "speak_replies"  # the bot property that has every reply spoken too
_YES = {"true", "yes", "on", "1"}


def spoken(brain: Brain, said: Said) -> Said:
    """`said` with its text spoken too (an audio part after its parts) when the project's
    bot property speak_replies is true and it says something and speaks nothing yet."""
    if brain.properties.values.get(SPEAK_REPLIES, "").strip().lower() not in _YES:
        return said
    if not said.text.strip() or any(isinstance(part, AudioPart) for part in said.parts):
        return said
    shown: list[Part] = list(said.parts) or [TextPart(kind="str", text=said.text)]
    return dataclasses.replace(said, parts=[*shown, AudioPart(text=said.text[:MAX_SPOKEN_CHARS])])


def _turn_key(question: Question) -> tuple[str, str, str]:
    """What names one turn to the model's writer (it is asked again when the turn returns)."""
    return (question.session_id, question.now.isoformat(), question.text)


def _remembered(brain: Brain, question: Question, said: Said) -> Said:
    """`said`, with this turn added to the recent turns the llm engine is given, when the
    project's chain has one (the last few only)."""
    if WRITER.config is None or brain.chain.steps[-1].engine != "llm":
        return said
    kept = said.state.get(LLM_TURNS)
    recent = list(kept) if isinstance(kept, list) else []
    recent = [*recent, [question.text, said.text]][-WRITER.config.history_turns :]
    return dataclasses.replace(said, state={**said.state, LLM_TURNS: recent})
