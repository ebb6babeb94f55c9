"""The dialog use cases: answer a turn exactly once and in order, save bot content."""

import asyncio
import time
from dataclasses import dataclass
from typing import Literal
from uuid import UUID

from aiml import Kernel

from shared.contracts import (
    BotContentRejected,
    BotContentSaved,
    SaveBotContent,
    TurnAnswered,
    TurnReceived,
)
from shared.identity import DEFAULT_FALLBACK, ProjectStore

from .domain import (
    NO_AIML,
    InvalidAiml,
    KernelCache,
    answer,
    build_kernel,
    compile_aiml,
    parse_properties,
    waits_for_predecessor,
)
from .models import TurnRow
from .store import ContentStore, TurnStore


@dataclass(frozen=True)
class TurnOutcome:
    """What became of a turn: answered now, answered before, or early (retry later)."""

    kind: Literal["answered", "duplicate", "early"]
    reply: TurnAnswered | None = None


def reply_of(row: TurnRow) -> TurnAnswered:
    """The reply stored for a turn, rebuilt with its original ids."""
    return TurnAnswered(
        event_id=row.reply_event_id,
        occurred_at=row.answered_at,
        correlation_id=row.correlation_id,
        causation_id=row.turn_event_id,
        project_key=row.project_key,
        session_id=row.session_id,
        turn_event_id=row.turn_event_id,
        text=row.answer,
        engine="fallback" if row.engine == "fallback" else "aiml",
        content_version=row.content_version,
    )


class DialogApp:
    """Answers turns from each project's AIML, with state in Postgres."""

    def __init__(self, *, content: ContentStore, turns: TurnStore, projects: ProjectStore) -> None:
        self.content = content
        self.turns = turns
        self.projects = projects
        self.kernels = KernelCache()

    async def handle_turn(self, turn: TurnReceived, *, force: bool = False) -> TurnOutcome:
        """Answer `turn` unless it was answered already or an earlier turn is still pending."""
        async with self.turns.unit() as unit:
            session = await unit.lock_session(turn.project_key, turn.session_id)
            previous = await unit.previous_turn(turn.event_id)
            if previous is not None:
                return TurnOutcome("duplicate", reply_of(previous))
            early = waits_for_predecessor(
                channel=turn.channel,
                seq=turn.seq,
                last_channel=session.channel,
                last_seq=session.seq,
            )
            if early and not force:
                return TurnOutcome("early")
            version = await unit.content_version(turn.project_key)
            kernel = await self._kernel(turn.project_key, version)
            started = time.perf_counter()
            result = answer(kernel, text=turn.text, state=session.state, session_id=turn.session_id)
            engine_ms = (time.perf_counter() - started) * 1000
            text = result.text if result.matched else await self._fallback(turn.project_key)
            reply = TurnAnswered(
                **turn.caused(),
                project_key=turn.project_key,
                session_id=turn.session_id,
                turn_event_id=turn.event_id,
                text=text,
                engine="aiml" if result.matched else "fallback",
                content_version=version or None,
            )
            session.state, session.channel, session.seq = result.state, turn.channel, turn.seq
            unit.save(session, self._row(turn, reply, engine_ms))
        return TurnOutcome("answered", reply)

    async def save_content(self, command: SaveBotContent) -> BotContentSaved | BotContentRejected:
        """Validate and store new content; the new kernel is ready before the reply."""
        try:
            compiled = await asyncio.to_thread(compile_aiml, command.aiml)
        except InvalidAiml as err:
            return BotContentRejected(problems=err.problems)
        version = await self.content.save(command, len(compiled.categories))
        stored = await self.content.current(command.project_key)
        kernel = build_kernel(compiled, parse_properties(stored.properties))
        self.kernels.put(command.project_key, stored.version, kernel)
        return BotContentSaved(version=version, categories=len(compiled.categories))

    async def _kernel(self, project: UUID, version: int) -> Kernel:
        kernel = self.kernels.get(project, version)
        if kernel is None:
            stored = await self.content.current(project)
            compiled = (
                await asyncio.to_thread(compile_aiml, stored.aiml) if stored.aiml else NO_AIML
            )
            kernel = build_kernel(compiled, parse_properties(stored.properties))
            self.kernels.put(project, stored.version, kernel)
        return kernel

    async def _fallback(self, project: UUID) -> str:
        found = await self.projects.get(project)
        return found.fallback if found and found.fallback else DEFAULT_FALLBACK

    @staticmethod
    def _row(turn: TurnReceived, reply: TurnAnswered, engine_ms: float) -> TurnRow:
        return TurnRow(
            turn_event_id=turn.event_id,
            reply_event_id=reply.event_id,
            correlation_id=turn.correlation_id,
            project_key=turn.project_key,
            session_id=turn.session_id,
            protocol=turn.protocol,
            question=turn.text,
            answer=reply.text,
            engine=reply.engine,
            content_version=reply.content_version,
            received_at=turn.occurred_at,
            answered_at=reply.occurred_at,
            engine_ms=engine_ms,
        )
