"""Dialog persistence: content versions, sessions (state under a row lock, data, tombstones),
the transcript."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Protocol
from uuid import UUID

from sqlalchemy import ColumnElement, delete, func, literal, update
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.contracts import BotContent, SaveBotContent
from shared.db import transaction

from .domain import SessionGone
from .models import BotContentRow, DeletedSessionRow, SessionRow, TurnRow

EMPTY = BotContent(version=0, aiml="", maps="", sets="", properties="")


class TurnUnit(Protocol):
    """What a turn handler needs inside its transaction."""

    async def previous_turn(self, turn_event_id: UUID) -> TurnRow | None: ...
    async def lock_session(
        self, project_key: UUID, session_id: str, *, protocol: str
    ) -> SessionRow: ...
    async def content_version(self, project_key: UUID) -> int: ...
    def save(self, session: SessionRow, turn: TurnRow) -> None: ...


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

    async def content_version(self, project_key: UUID) -> int:
        rows = await self._s.exec(
            select(func.coalesce(func.max(BotContentRow.version), 0)).where(
                BotContentRow.project_key == project_key
            )
        )
        return int(rows.one())

    def save(self, session: SessionRow, turn: TurnRow) -> None:
        self._s.add(session)
        self._s.add(turn)


class ContentStore:
    """Versions of each project's bot content."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def current(self, project_key: UUID) -> BotContent:
        """The newest content, or EMPTY when none was saved."""
        async with self._sessions() as session:
            return await self._current_in(session, project_key)

    async def save(self, command: SaveBotContent, categories: int) -> int:
        """Store `command` as the next version; None fields keep the current value."""
        async with transaction(self._sessions) as session:
            await session.exec(
                select(func.pg_advisory_xact_lock(func.hashtext(str(command.project_key))))
            )
            current = await self._current_in(session, command.project_key)
            version = current.version + 1
            session.add(
                BotContentRow(
                    project_key=command.project_key,
                    version=version,
                    aiml=command.aiml,
                    maps=command.maps if command.maps is not None else current.maps,
                    sets=command.sets if command.sets is not None else current.sets,
                    properties=(
                        command.properties if command.properties is not None else current.properties
                    ),
                    categories=categories,
                    correlation_id=command.correlation_id,
                )
            )
        return version

    @staticmethod
    async def _current_in(session: AsyncSession, project_key: UUID) -> BotContent:
        rows = await session.exec(
            select(BotContentRow)
            .where(BotContentRow.project_key == project_key)
            .order_by(col(BotContentRow.version).desc())
            .limit(1)
        )
        row = rows.first()
        if row is None:
            return EMPTY
        return BotContent(
            version=row.version,
            aiml=row.aiml,
            maps=row.maps,
            sets=row.sets,
            properties=row.properties,
        )


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
        self, project_key: UUID, session_id: str, *, data: dict[str, Any], state: dict[str, Any]
    ) -> SessionRow | None: ...
    async def delete(self, project_key: UUID, session_id: str) -> SessionRow | None: ...


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
        self, project_key: UUID, session_id: str, *, data: dict[str, Any], state: dict[str, Any]
    ) -> SessionRow | None:
        """Merge `data` and `state` (top-level keys) into a live session, or None.

        One UPDATE with jsonb `||`: concurrent merges (and turns) wait for each other's row
        lock and each applies to what the previous one left, so none is lost.
        """
        async with transaction(self._sessions) as session:
            rows = await session.exec(
                update(SessionRow)
                .where(*_key(project_key, session_id))
                .values(
                    data=col(SessionRow.data).op("||")(literal(data, JSONB)),
                    state=col(SessionRow.state).op("||")(literal(state, JSONB)),
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


async def _deleted(session: AsyncSession, project_key: UUID, session_id: str) -> bool:
    return await session.get(DeletedSessionRow, (project_key, session_id)) is not None


def _key(project_key: UUID, session_id: str) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    return col(SessionRow.project_key) == project_key, col(SessionRow.session_id) == session_id
