"""Schedules in memory (the component tests' fake, checked against Postgres by tests/contract)."""

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from services.schedule.domain import DueEntry, Entry
from services.schedule.store import DueBatch, XparoSchedule


class MemoryRobot:
    """One robot's entries in a dict; each change also updates what falls due."""

    def __init__(self, store: "MemorySchedules", project: UUID, robot: str) -> None:
        self.store, self.key = store, (project, robot)
        self.entries = store.robots.setdefault(self.key, {})

    async def names(self) -> set[str]:
        return set(self.entries)

    async def upsert(self, entries: Sequence[Entry], *, now: datetime) -> XparoSchedule:
        self.entries.update({e.name: e for e in entries})
        for entry in entries:  # an updated entry keeps its id (as in Postgres)
            old = self.store.ids.setdefault((*self.key, entry.name), uuid4())
            self.store.due_rows = [row for row in self.store.due_rows if row.id != old]
            self.store.due_rows.append(
                DueEntry(old, *self.key, entry.name, entry.cron, entry.timezone, entry.due)
            )
        return await self.store.schedule(*self.key)

    async def delete(self, names: Sequence[str] | None) -> XparoSchedule:
        for name in list(self.entries) if names is None else names:
            self.entries.pop(name, None)
            gone = self.store.ids.pop((*self.key, name), None)
            self.store.due_rows = [row for row in self.store.due_rows if row.id != gone]
        return await self.store.schedule(*self.key)


class MemorySchedules:
    """Schedules by (project, robot); `due_rows` is what the firing loop will claim (a test may
    plant rows there directly), and `crash_before_commit` makes a claim end like a replica dying
    before its commit."""

    def __init__(self) -> None:
        self.robots: dict[tuple[UUID, str], dict[str, Entry]] = {}
        self.ids: dict[tuple[UUID, str, str], UUID] = {}
        self.due_rows: list[DueEntry] = []
        self.settled: list[tuple[UUID, Any, datetime | None]] = []
        self.crash_before_commit = False
        self._locks: dict[tuple[UUID, str], asyncio.Lock] = {}

    async def schedule(self, project: UUID, robot: str) -> XparoSchedule:
        return {n: e.value for n, e in sorted(self.robots.get((project, robot), {}).items())}

    @asynccontextmanager
    async def editing(self, project: UUID, robot: str) -> AsyncIterator[MemoryRobot]:
        async with self._locks.setdefault((project, robot), asyncio.Lock()):
            yield MemoryRobot(self, project, robot)

    @asynccontextmanager
    async def due(self, *, now: datetime, limit: int) -> AsyncIterator[DueBatch]:
        """The rows due by `now`, soonest first; a settled row falls due again at its next due
        time, or never (None: it stays in its schedule, as in Postgres)."""
        due = sorted((row for row in self.due_rows if row.due <= now), key=lambda row: row.due)
        batch = DueBatch(due[:limit])
        yield batch
        if self.crash_before_commit:
            raise ConnectionResetError("the replica died before its commit")
        self.settled += batch.settled
        moved = {entry_id: firing.next_due for entry_id, firing, _ in batch.settled}
        kept: list[DueEntry] = []
        for row in self.due_rows:
            if row.id not in moved:
                kept.append(row)
            elif (next_due := moved[row.id]) is not None:
                kept.append(replace(row, due=next_due))
        self.due_rows = kept
