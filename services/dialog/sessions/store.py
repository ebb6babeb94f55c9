"""Dialog persistence: sessions (state under a row lock, data, tombstones) and the transcript
(content versions are in the content room). Raw asyncpg: each statement is a constant of
sql.py, run on the dialog's pool (services/dialog/db.py)."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

import asyncpg

from shared.contracts.knowledge import Stage
from shared.db import Database

from ..content.versions import stage_version
from ..errors import SessionGone
from ..models import SessionRow, TurnRow
from ..rows import Executor, session_row, turn_row, values
from . import sql

MAX_SAID = 20  # what RSVP returns ahead of an answer: the newest messages said first


class TurnUnit(Protocol):
    """What a turn handler needs inside its transaction."""

    async def previous_turn(self, turn_event_id: UUID) -> TurnRow | None: ...
    async def lock_session(
        self, project_key: UUID, session_id: str, *, protocol: str
    ) -> SessionRow: ...
    async def content_version(self, project_key: UUID, stage: Stage) -> int: ...
    async def said_since(self, project_key: UUID, session_id: str) -> list[str]: ...
    def save(self, session: SessionRow, turn: TurnRow | None) -> None: ...
    async def flush(self) -> None: ...


class PgTurnUnit:
    """TurnUnit over one asyncpg connection inside a transaction: what `save` keeps is written
    by `flush`, or when the unit ends."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn
        self._saved: list[tuple[SessionRow, TurnRow | None]] = []

    async def previous_turn(self, turn_event_id: UUID) -> TurnRow | None:
        found = await self._conn.fetchrow(sql.PREVIOUS_TURN, turn_event_id)
        return None if found is None else turn_row(found)

    async def lock_session(
        self, project_key: UUID, session_id: str, *, protocol: str
    ) -> SessionRow:
        """The session row, created (for `protocol`) if new, locked until the transaction ends.

        Raises SessionGone for a deleted session (which rolls the new row back).
        """
        created = await self._conn.fetchval(sql.OPEN, project_key, session_id, protocol)
        # Only a row made just now can be a deleted one: a deletion removes the row and writes
        # its tombstone in one transaction, so an existing row was never deleted.
        if created is not None and await _deleted(self._conn, project_key, session_id):
            raise SessionGone(project_key=project_key, session_id=session_id)
        return session_row(await self._conn.fetchrow(sql.LOCK, project_key, session_id))

    async def content_version(self, project_key: UUID, stage: Stage) -> int:
        return await stage_version(self._conn, project_key, stage)

    async def said_since(self, project_key: UUID, session_id: str) -> list[str]:
        """What was said first in the session since its last turn (the newest MAX_SAID),
        oldest first."""
        rows = await self._conn.fetch(sql.SAID_SINCE, project_key, session_id, MAX_SAID)
        return [r["answer"] for r in reversed(rows)]

    def save(self, session: SessionRow, turn: TurnRow | None) -> None:
        """Keep the session's new state (its version moves on: the fence of batched turn
        writes) and, unless None, the turn's transcript row."""
        session.version += 1
        self._saved.append((session, turn))

    async def flush(self) -> None:
        """Write what was saved (constraint errors show now), still uncommitted."""
        saved, self._saved = self._saved, []
        for session, turn in saved:
            await _write(self._conn, session, turn)


async def _write(conn: asyncpg.Connection, session: SessionRow, turn: TurnRow | None) -> None:
    """A locked session as it is now and, unless None, a new transcript row (its id drawn)."""
    await conn.execute(sql.SAVE, *values(session, sql.SAVE_COLUMNS))
    if turn is not None:
        turn.id = await conn.fetchval(sql.INSERT_TURN, *values(turn, sql.TURN_COLUMNS))


class TurnStore:
    """Opens one TurnUnit per turn: everything a turn changes commits together."""

    def __init__(self, database: Database) -> None:
        self._db = database

    @asynccontextmanager
    async def unit(self) -> AsyncIterator[PgTurnUnit]:
        async with self._db.pool.acquire() as conn, conn.transaction():
            unit = PgTurnUnit(conn)
            yield unit
            await unit.flush()


class Sessions(Protocol):
    """The sessions of every project, always addressed by (project, session id)."""

    async def create(self, row: SessionRow) -> None: ...
    async def find(self, project_key: UUID, session_id: str) -> SessionRow | None: ...
    async def deleted(self, project_key: UUID, session_id: str) -> bool: ...
    async def merge(
        self,
        project_key: UUID,
        session_id: str,
        *,
        data: dict[str, Any],
        state: dict[str, Any],
        create_as: str | None = None,
    ) -> SessionRow | None: ...
    async def delete(self, project_key: UUID, session_id: str) -> SessionRow | None: ...
    async def say(self, said: TurnRow) -> SessionRow | None: ...
    async def history(
        self, project_key: UUID, session_id: str, *, until: datetime | None, limit: int
    ) -> list[TurnRow] | None: ...


class PgSessions:
    """Sessions in Postgres; deleting one leaves a tombstone so its id stays deleted."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def create(self, row: SessionRow) -> None:
        await self._db.pool.execute(sql.CREATE, *values(row, sql.CREATE_COLUMNS))

    async def find(self, project_key: UUID, session_id: str) -> SessionRow | None:
        found = await self._db.pool.fetchrow(sql.FIND, project_key, session_id)
        return None if found is None else session_row(found)

    async def deleted(self, project_key: UUID, session_id: str) -> bool:
        return await _deleted(self._db.pool, project_key, session_id)

    async def merge(
        self,
        project_key: UUID,
        session_id: str,
        *,
        data: dict[str, Any],
        state: dict[str, Any],
        create_as: str | None = None,
    ) -> SessionRow | None:
        """Merge `data` and `state` (top-level keys) into a live session, or None. With
        `create_as` (a protocol), a session that does not exist yet (and was never deleted) is
        created for it first: clients that choose their own session keys (BESSER).

        One UPDATE with jsonb `||` (sql.MERGE): concurrent merges (and turns) wait for each
        other's row lock and each applies to what the previous one left, so none is lost.
        """
        async with self._db.pool.acquire() as conn, conn.transaction():
            if create_as is not None and not await _deleted(conn, project_key, session_id):
                await conn.execute(sql.OPEN, project_key, session_id, create_as)
            found = await conn.fetchrow(sql.MERGE, project_key, session_id, data, state)
        return None if found is None else session_row(found)

    async def delete(self, project_key: UUID, session_id: str) -> SessionRow | None:
        """Remove a live session and its transcript, and keep its tombstone; None when there
        was no live session. Waits for a turn in progress (the row lock) to finish first."""
        key = (project_key, session_id)
        async with self._db.pool.acquire() as conn, conn.transaction():
            found = await conn.fetchrow(sql.LOCK, *key)
            if found is None:
                return None
            for statement in (sql.DELETE, sql.DELETE_TURNS, sql.TOMBSTONE):
                await conn.execute(statement, *key)
        return session_row(found)

    async def say(self, said: TurnRow) -> SessionRow | None:
        """Keep a message said first in a live session (under its row lock, so it sits between
        the turns it came between), or None when the session is not live."""
        async with self._db.pool.acquire() as conn, conn.transaction():
            found = await conn.fetchrow(sql.LOCK, said.project_key, said.session_id)
            if found is None:
                return None
            row = session_row(found)
            said.protocol, row.last_at = row.protocol, said.answered_at
            row.version += 1  # the partition's owner looks up what was said before its next turn
            await _write(conn, row, said)
        return row

    async def history(
        self, project_key: UUID, session_id: str, *, until: datetime | None, limit: int
    ) -> list[TurnRow] | None:
        """The newest `limit` turns of a live session since its last reset (included), oldest
        first, answered up to `until`; None when the session is not live. A turn being
        answered holds the session row: its answer may be out already, so the share lock waits
        for it to be stored too."""
        async with self._db.pool.acquire() as conn, conn.transaction():
            if await conn.fetchrow(sql.SHARE, project_key, session_id) is None:
                return None
            rows = await conn.fetch(sql.HISTORY, project_key, session_id, until, limit)
        return [turn_row(r) for r in reversed(rows)]


async def _deleted(db: Executor, project_key: UUID, session_id: str) -> bool:
    return bool(await db.fetchval(sql.DELETED, project_key, session_id))
