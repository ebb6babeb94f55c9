"""Dialog persistence: content versions, session state under a row lock, the transcript."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Protocol
from uuid import UUID

from sqlalchemy import func
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.contracts import BotContent, SaveBotContent
from shared.db import transaction

from .models import BotContentRow, SessionRow, TurnRow

EMPTY = BotContent(version=0, aiml="", maps="", sets="", properties="")


class TurnUnit(Protocol):
    """What a turn handler needs inside its transaction."""

    async def previous_turn(self, turn_event_id: UUID) -> TurnRow | None: ...
    async def lock_session(self, project_key: UUID, session_id: str) -> SessionRow: ...
    async def content_version(self, project_key: UUID) -> int: ...
    def save(self, session: SessionRow, turn: TurnRow) -> None: ...


class PgTurnUnit:
    """TurnUnit over one SQLModel session (one transaction)."""

    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def previous_turn(self, turn_event_id: UUID) -> TurnRow | None:
        rows = await self._s.exec(select(TurnRow).where(TurnRow.turn_event_id == turn_event_id))
        return rows.first()

    async def lock_session(self, project_key: UUID, session_id: str) -> SessionRow:
        """The session row, created if new, locked until the transaction ends."""
        await self._s.exec(
            insert(SessionRow)
            .values(project_key=project_key, session_id=session_id, state={})
            .on_conflict_do_nothing()
        )
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
