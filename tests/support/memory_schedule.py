"""Schedules in memory (the component tests' fake, checked against Postgres by tests/contract)."""

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any
from uuid import UUID

from services.schedule.domain import DueEntry, Entry
from services.schedule.store import DueBatch, XparoSchedule


class MemoryRobot:
    """One robot's entries in a dict."""

    def __init__(self, entries: dict[str, Entry]) -> None:
        self.entries = entries

    async def names(self) -> set[str]:
        return set(self.entries)

    async def upsert(self, entries: Sequence[Entry], *, now: datetime) -> XparoSchedule:
        self.entries.update({e.name: e for e in entries})
        return {name: e.value for name, e in sorted(self.entries.items())}

    async def delete(self, names: Sequence[str] | None) -> XparoSchedule:
        for name in list(self.entries) if names is None else names:
            self.entries.pop(name, None)
        return {name: e.value for name, e in sorted(self.entries.items())}


class MemorySchedules:
    """Schedules by (project, robot); `due_rows` is what the firing loop will claim, and
    `crash_before_commit` makes a claim end like a replica dying before its commit."""

    def __init__(self) -> None:
        self.robots: dict[tuple[UUID, str], dict[str, Entry]] = {}
        self.due_rows: list[DueEntry] = []
        self.settled: list[tuple[UUID, Any, datetime | None]] = []
        self.crash_before_commit = False

    async def schedule(self, project: UUID, robot: str) -> XparoSchedule:
        return {n: e.value for n, e in sorted(self.robots.get((project, robot), {}).items())}

    @asynccontextmanager
    async def editing(self, project: UUID, robot: str) -> AsyncIterator[MemoryRobot]:
        yield MemoryRobot(self.robots.setdefault((project, robot), {}))

    @asynccontextmanager
    async def due(self, *, now: datetime, limit: int) -> AsyncIterator[DueBatch]:
        batch = DueBatch([row for row in self.due_rows if row.due <= now][:limit])
        yield batch
        if self.crash_before_commit:
            raise ConnectionResetError("the replica died before its commit")
        self.settled += batch.settled
        done = {entry_id for entry_id, _, _ in batch.settled}
        self.due_rows = [row for row in self.due_rows if row.id not in done]
