"""Dialog persistence: sessions (state under a row lock, data, tombstones) and the transcript
(content versions are in versions.py)."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from sqlalchemy import ColumnElement, delete, func, literal, update
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.contracts.knowledge import Stage
from shared.db import transaction

from ..content.versions import stage_version
from ..errors import SessionGone
from ..models import DeletedSessionRow, SessionRow, TurnRow

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
    """TurnUnit over one SQLModel session (one transaction)."""

    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def previous_turn(self, turn_event_id: UUID) -> TurnRow | None:
        rows = await self._s.exec(select(TurnRow).where(TurnRow.turn_event_id == turn_event_id))
        return rows.first()

    async def lock_session(
        self, project_key: UUID, session_id: str, *, protocol: str
    ) -> SessionRow:
        """The session row, created (for `protocol`) if new, locked until the transaction ends.

        Raises SessionGone for a deleted session (which rolls the new row back).
        """
        created = await self._s.exec(
            insert(SessionRow)
            .values(project_key=project_key, session_id=session_id, protocol=protocol, state={})
            .on_conflict_do_nothing()
            .returning(col(SessionRow.session_id))
        )
        # Only a row made just now can be a deleted one: a deletion removes the row and writes
        # its tombstone in one transaction, so an existing row was never deleted.
        if created.first() is not None and await _deleted(self._s, project_key, session_id):
            raise SessionGone(project_key=project_key, session_id=session_id)
        rows = await self._s.exec(
            select(SessionRow)
            .where(SessionRow.project_key == project_key, SessionRow.session_id == session_id)
            .with_for_update()
        )
        return rows.one()

    async def content_version(self, project_key: UUID, stage: Stage) -> int:
        return await stage_version(self._s, project_key, stage)

    async def said_since(self, project_key: UUID, session_id: str) -> list[str]:
        """What was said first in the session since its last turn (the newest MAX_SAID),
        oldest first."""
        mine = (col(TurnRow.project_key) == project_key, col(TurnRow.session_id) == session_id)
        last_turn = (
            select(func.max(col(TurnRow.id))).where(*mine, col(TurnRow.kind) == "turn")
        ).scalar_subquery()
        rows = await self._s.exec(
            select(col(TurnRow.answer))
            .where(
                *mine, col(TurnRow.kind) == "said", col(TurnRow.id) > func.coalesce(last_turn, 0)
            )
            .order_by(col(TurnRow.id).desc())
            .limit(MAX_SAID)
        )
        return list(reversed(rows.all()))

    def save(self, session: SessionRow, turn: TurnRow | None) -> None:
        """Keep the session's new state (its version moves on: the fence of batched turn
        writes) and, unless None, the turn's transcript row."""
        session.version += 1
        self._s.add(session)
        if turn is not None:
            self._s.add(turn)

    async def flush(self) -> None:
        """Write what was saved (constraint errors show now), still uncommitted."""
        await self._s.flush()


class TurnStore:
    """Opens one TurnUnit per turn: everything a turn changes commits together."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @asynccontextmanager
    async def unit(self) -> AsyncIterator[PgTurnUnit]:
        async with transaction(self._sessions) as session:
            yield PgTurnUnit(session)


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

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def create(self, row: SessionRow) -> None:
        async with transaction(self._sessions) as session:
            session.add(row)

    async def find(self, project_key: UUID, session_id: str) -> SessionRow | None:
        async with self._sessions() as session:
            return await session.get(SessionRow, (project_key, session_id))

    async def deleted(self, project_key: UUID, session_id: str) -> bool:
        async with self._sessions() as session:
            return await _deleted(session, project_key, session_id)

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

        One UPDATE with jsonb `||`: concurrent merges (and turns) wait for each other's row
        lock and each applies to what the previous one left, so none is lost.
        """
        async with transaction(self._sessions) as session:
            if create_as is not None and not await _deleted(session, project_key, session_id):
                await session.exec(
                    insert(SessionRow)
                    .values(
                        project_key=project_key, session_id=session_id, protocol=create_as, state={}
                    )
                    .on_conflict_do_nothing()
                )
            rows = await session.exec(
                update(SessionRow)
                .where(*_key(project_key, session_id))
                .values(
                    data=col(SessionRow.data).op("||")(literal(data, JSONB)),
                    state=col(SessionRow.state).op("||")(literal(state, JSONB)),
                    version=col(SessionRow.version) + 1,  # a batch that read it answers again
                )
                .returning(SessionRow)
            )
            return rows.scalars().first()

    async def delete(self, project_key: UUID, session_id: str) -> SessionRow | None:
        """Remove a live session and its transcript, and keep its tombstone; None when there
        was no live session. Waits for a turn in progress (the row lock) to finish first."""
        where = _key(project_key, session_id)
        async with transaction(self._sessions) as session:
            found = await session.exec(select(SessionRow).where(*where).with_for_update())
            row = found.first()
            if row is None:
                return None
            await session.exec(delete(SessionRow).where(*where))
            await session.exec(
                delete(TurnRow).where(
                    col(TurnRow.project_key) == project_key, col(TurnRow.session_id) == session_id
                )
            )
            await session.exec(
                insert(DeletedSessionRow)
                .values(project_key=project_key, session_id=session_id)
                .on_conflict_do_nothing()
            )
        return row

    async def say(self, said: TurnRow) -> SessionRow | None:
        """Keep a message said first in a live session (under its row lock, so it sits between
        the turns it came between), or None when the session is not live."""
        where = _key(said.project_key, said.session_id)
        async with transaction(self._sessions) as session:
            found = await session.exec(select(SessionRow).where(*where).with_for_update())
            row = found.first()
            if row is None:
                return None
            said.protocol, row.last_at = row.protocol, said.answered_at
            row.version += 1  # the partition's owner looks up what was said before its next turn
            session.add(row)
            session.add(said)
        return row

    async def history(
        self, project_key: UUID, session_id: str, *, until: datetime | None, limit: int
    ) -> list[TurnRow] | None:
        """The newest `limit` turns of a live session since its last reset (included), oldest
        first, answered up to `until`; None when the session is not live. A turn being
        answered holds the session row: its answer may be out already, so the share lock waits
        for it to be stored too."""
        async with transaction(self._sessions) as session:
            live = await session.exec(
                select(SessionRow).where(*_key(project_key, session_id)).with_for_update(read=True)
            )
            if live.first() is None:
                return None
            mine = (
                col(TurnRow.project_key) == project_key,
                col(TurnRow.session_id) == session_id,
                col(TurnRow.kind) == "turn",  # a replay shows turns; HistoryTurn has no "said"
            )
            last_reset = (
                select(func.max(col(TurnRow.id)))
                .where(*mine, col(TurnRow.details)["event"].astext == "reset")
                .scalar_subquery()
            )
            query = select(TurnRow).where(*mine, col(TurnRow.id) >= func.coalesce(last_reset, 0))
            if until is not None:
                query = query.where(col(TurnRow.answered_at) <= until)
            rows = await session.exec(query.order_by(col(TurnRow.id).desc()).limit(limit))
            return list(reversed(rows.all()))


async def _deleted(session: AsyncSession, project_key: UUID, session_id: str) -> bool:
    return await session.get(DeletedSessionRow, (project_key, session_id)) is not None


def _key(project_key: UUID, session_id: str) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    return col(SessionRow.project_key) == project_key, col(SessionRow.session_id) == session_id
