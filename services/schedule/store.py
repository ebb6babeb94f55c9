"""Schedule persistence behind one Protocol; the Postgres adapter speaks asyncpg directly.

Writers of one robot's schedule hold a per-robot lock (`editing`); the firing loop claims due
rows with `FOR UPDATE SKIP LOCKED` (`due`), so replicas never fire the same entry twice.
"""

import json
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol
from uuid import UUID

import asyncpg

from shared.db import DATABASE_TROUBLE, Database

from . import sql
from .domain import DueEntry, Entry, Firing

XparoSchedule = dict[str, dict[str, str]]
"""Entry name → its XPARO value, as the robot and the API show it."""


class RobotSchedule(Protocol):
    """One robot's schedule while its writer lock is held; each change commits on its own."""

    async def names(self) -> set[str]:
        """The names of the robot's entries."""

    async def upsert(self, entries: Sequence[Entry], *, now: datetime) -> XparoSchedule:
        """Create or replace `entries`; the whole schedule afterwards."""

    async def delete(self, names: Sequence[str] | None) -> XparoSchedule:
        """Remove the named entries (all when None); the whole schedule afterwards."""


@dataclass
class DueBatch:
    """Entries claimed for firing, and what became of each (written when the batch commits)."""

    entries: list[DueEntry]
    settled: list[tuple[UUID, Firing, datetime | None]] = field(default_factory=list)

    def settle(self, entry: DueEntry, firing: Firing, *, fired_at: datetime | None) -> None:
        """Record that `entry` next falls due at `firing.next_due` (fired at `fired_at`)."""
        self.settled.append((entry.id, firing, fired_at))


class ScheduleStore(Protocol):
    """Everything the handlers and the firing loop need from storage."""

    async def schedule(self, project: UUID, robot: str) -> XparoSchedule:
        """A robot's whole schedule."""

    def editing(self, project: UUID, robot: str) -> AbstractAsyncContextManager[RobotSchedule]:
        """Hold the robot's writer lock for the block (other writers of that robot wait)."""

    def due(self, *, now: datetime, limit: int) -> AbstractAsyncContextManager[DueBatch]:
        """Claim up to `limit` entries due by `now` that no other replica holds, in one
        transaction that writes their settlements and commits when the block ends."""


async def _schedule(
    conn: asyncpg.Connection | asyncpg.Pool, project: UUID, robot: str
) -> XparoSchedule:
    rows = await conn.fetch(sql.SCHEDULE, project, robot)
    return {r["name"]: json.loads(r["value"]) for r in rows}


class PgRobotSchedule:
    """RobotSchedule on the connection that holds the robot's lock."""

    def __init__(self, conn: asyncpg.Connection, project: UUID, robot: str) -> None:
        self._conn, self._project, self._robot = conn, project, robot

    async def names(self) -> set[str]:
        return {r["name"] for r in await self._conn.fetch(sql.NAMES, self._project, self._robot)}

    async def upsert(self, entries: Sequence[Entry], *, now: datetime) -> XparoSchedule:
        columns = [
            [e.name for e in entries],
            [json.dumps(e.value) for e in entries],
            [e.timezone for e in entries],
            [e.cron for e in entries],
            [e.due for e in entries],
        ]
        async with self._conn.transaction():
            await self._conn.execute(sql.UPSERT, self._project, self._robot, *columns, now)
            return await _schedule(self._conn, self._project, self._robot)

    async def delete(self, names: Sequence[str] | None) -> XparoSchedule:
        async with self._conn.transaction():
            await self._conn.execute(sql.DELETE, self._project, self._robot, names)
            return await _schedule(self._conn, self._project, self._robot)


def _due_entry(row: asyncpg.Record) -> DueEntry:
    return DueEntry(
        id=row["id"],
        project_key=row["project_key"],
        robot_id=row["robot_id"],
        name=row["name"],
        cron=row["cron"],
        timezone=row["timezone"],
        due=row["next_due_at"],
    )


class PgScheduleStore:
    """ScheduleStore over an asyncpg pool."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def schedule(self, project: UUID, robot: str) -> XparoSchedule:
        return await _schedule(self._db.pool, project, robot)

    @asynccontextmanager
    async def editing(self, project: UUID, robot: str) -> AsyncIterator[RobotSchedule]:
        async with self._db.pool.acquire() as conn:
            await conn.execute(sql.LOCK_ROBOT, project, robot)
            try:
                yield PgRobotSchedule(conn, project, robot)
            finally:
                # A broken connection took the lock with it (and the pool resets a returned one).
                with suppress(*DATABASE_TROUBLE):
                    await conn.execute(sql.UNLOCK_ROBOT, project, robot)

    @asynccontextmanager
    async def due(self, *, now: datetime, limit: int) -> AsyncIterator[DueBatch]:
        async with self._db.pool.acquire() as conn, conn.transaction():
            batch = DueBatch([_due_entry(r) for r in await conn.fetch(sql.DUE, now, limit)])
            yield batch
            if batch.settled:
                ids, firings, fired = zip(*batch.settled, strict=True)
                next_due = [f.next_due for f in firings]
                await conn.execute(sql.ADVANCE, list(ids), next_due, list(fired))
