"""The dialog's stores in memory: content versions, the turn path's batches and the sessions
over the same rows (the component tests' fakes, checked against Postgres by tests/contract)."""

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any
from uuid import UUID

from services.dialog.content.versions import EMPTY, content_of
from services.dialog.models import BotContentRow, SessionRow, TurnRow
from services.dialog.sessions.store import MAX_SAID
from services.dialog.turns.store import AlreadyStored, Changed, TurnRecord
from shared.contracts import BotContent, SaveBotContent
from shared.contracts.content import AimlFile


class MemoryContent:
    def __init__(self) -> None:
        self.versions: dict[UUID, list[BotContent]] = {}
        self.aiml: dict[tuple[UUID, int], str] = {}

    async def current(self, project: UUID) -> BotContent:
        return (self.versions.get(project) or [EMPTY])[-1]

    async def get(
        self, project: UUID, *, stage: str = "test", version: int | None = None
    ) -> BotContent:
        history = self.versions.get(project) or [EMPTY]
        return history[-1] if version is None else history[version - 1]

    async def save(self, command: SaveBotContent, categories: int) -> BotContentRow:
        history = self.versions.setdefault(command.project_key, [])
        row = BotContentRow(
            project_key=command.project_key,
            version=len(history) + 1,
            maps="",
            sets="",
            properties=command.properties or "",
            categories=categories,
            correlation_id=command.correlation_id,
        )
        history.append(content_of(row))
        self.aiml[(command.project_key, row.version)] = command.aiml
        return row

    async def aiml_files(self, project: UUID, version: int) -> list[AimlFile]:
        return [AimlFile(name="bot.aiml", text=self.aiml[(project, version)])]


class MemoryTurns:
    """The turn path's store in memory: a batch's write refuses a session changed since read."""

    def __init__(self, content: MemoryContent) -> None:
        self.content = content
        self.sessions: dict[tuple[UUID, str], SessionRow] = {}
        self.deleted: set[tuple[UUID, str]] = set()
        self.rows: dict[UUID, TurnRow] = {}

    async def stored(self, turn_event_ids: Sequence[UUID]) -> dict[UUID, TurnRow]:
        return {i: self.rows[i] for i in turn_event_ids if i in self.rows}

    async def read_sessions(
        self, keys: Sequence[tuple[UUID, str]]
    ) -> dict[tuple[UUID, str], SessionRow | None]:
        found: dict[tuple[UUID, str], SessionRow | None] = {}
        for key in keys:
            if key in self.deleted:
                found[key] = None
            elif key in self.sessions:
                found[key] = SessionRow(**self.sessions[key].model_dump())  # a copy, as read
        return found

    async def content_version(self, project_key: UUID, stage: str) -> int:
        return (await self.content.current(project_key)).version

    def transcript(self, project_key: UUID, session_id: str) -> list[TurnRow]:
        """One session's rows, in the order they were stored."""
        return [
            t
            for t in self.rows.values()
            if (t.project_key, t.session_id) == (project_key, session_id)
        ]

    async def said_since(self, project_key: UUID, session_id: str) -> list[str]:
        """What was said first (or by a state machine's tick) since the user's last turn, the
        newest MAX_SAID, oldest first (as SAID_SINCE)."""
        mine = self.transcript(project_key, session_id)
        turns = [i for i, t in enumerate(mine) if t.kind == "turn" and _event(t) != "tick"]
        since = mine[turns[-1] + 1 if turns else 0 :]
        said = [t.answer for t in since if t.kind == "said" or _ticked(t)]
        return said[-MAX_SAID:]

    async def last_row(self, project_key: UUID, session_id: str) -> TurnRow | None:
        mine = self.transcript(project_key, session_id)
        return mine[-1] if mine else None

    @asynccontextmanager
    async def write(self, claim: object = None) -> AsyncIterator["MemoryTurns"]:
        yield self

    async def save(
        self, sessions: Sequence[Changed], turns: Sequence[TurnRecord]
    ) -> set[tuple[UUID, str]]:
        refused: set[tuple[UUID, str]] = set()
        for changed in sessions:
            key = (changed.row.project_key, changed.row.session_id)
            now = self.sessions.get(key)
            if key in self.deleted or (now.version if now else None) != changed.read:
                refused.add(key)
        kept = [row for row in turns if (row.project_key, row.session_id) not in refused]
        repeats = sum(1 for row in kept if row.turn_event_id in self.rows)
        if repeats:  # the turns' unique key, as in Postgres: nothing of the batch is written
            raise AlreadyStored(repeats)
        for changed in sessions:
            key = (changed.row.project_key, changed.row.session_id)
            if key not in refused:
                changed.row.version = (changed.read or 0) + 1
                self.sessions[key] = changed.row
        for row in kept:
            self.rows[row.turn_event_id] = row.as_row()
        return refused


class MemorySessions:
    """The Sessions port over MemoryTurns' rows, so turns and session requests share them.
    Like Postgres, it hands out copies: a row read is not changed by a later write."""

    def __init__(self, turns: MemoryTurns) -> None:
        self.turns = turns

    async def create(self, row: SessionRow) -> None:
        self.turns.sessions[(row.project_key, row.session_id)] = _copy(row)

    async def find(self, project_key: UUID, session_id: str) -> SessionRow | None:
        row = self.turns.sessions.get((project_key, session_id))
        return None if row is None else _copy(row)

    async def deleted(self, project_key: UUID, session_id: str) -> bool:
        return (project_key, session_id) in self.turns.deleted

    async def merge(
        self,
        project_key: UUID,
        session_id: str,
        *,
        data: dict[str, Any],
        state: dict[str, Any],
        create_as: str | None = None,
    ) -> SessionRow | None:
        key = (project_key, session_id)
        if create_as is not None and key not in self.turns.deleted:
            new = SessionRow(project_key=project_key, session_id=session_id, protocol=create_as)
            self.turns.sessions.setdefault(key, new)
        row = self.turns.sessions.get(key)
        if row is None:
            return None
        row.data, row.state = {**row.data, **data}, {**row.state, **state}
        row.version += 1
        return _copy(row)

    async def say(self, said: TurnRow) -> SessionRow | None:
        row = self.turns.sessions.get((said.project_key, said.session_id))
        if row is None:
            return None
        said.protocol, row.last_at = row.protocol, said.answered_at
        row.version += 1
        self.turns.rows[said.turn_event_id] = said
        return _copy(row)

    async def history(
        self, project_key: UUID, session_id: str, *, until: datetime | None, limit: int
    ) -> list[TurnRow] | None:
        """The newest `limit` turns since the last reset (included), oldest first."""
        if (project_key, session_id) not in self.turns.sessions:
            return None
        mine = [t for t in self.turns.transcript(project_key, session_id) if t.kind == "turn"]
        resets = [i for i, t in enumerate(mine) if _event(t) == "reset"]
        mine = mine[resets[-1] if resets else 0 :]
        found = [t for t in mine if until is None or t.answered_at <= until]
        return found[-limit:] if limit > 0 else []

    async def delete(self, project_key: UUID, session_id: str) -> SessionRow | None:
        row = self.turns.sessions.pop((project_key, session_id), None)
        if row is not None:
            self.turns.deleted.add((project_key, session_id))
            for gone in self.turns.transcript(project_key, session_id):
                del self.turns.rows[gone.turn_event_id]
        return row


def _copy(row: SessionRow) -> SessionRow:
    return SessionRow(**row.model_dump())


def _event(row: TurnRow) -> str | None:
    return (row.details or {}).get("event")


def _ticked(row: TurnRow) -> bool:
    """A state machine's answer on a clock tick (said first, as far as the user is concerned)."""
    return _event(row) == "tick" and row.engine != "none"
