"""Conversations as operators read them, in Postgres: lists, transcripts, the export, handoff.

Reads only, except handoff, which changes the session row under its lock: a turn being
answered holds that lock too, so every turn is answered either before the handoff (by the bot)
or after it (by nobody: the operator holds the session).
"""

from dataclasses import dataclass
from typing import Protocol
from uuid import UUID

from sqlalchemy import (
    tuple_,
)
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.contracts.conversation import (
    ConversationFilter,
    ConversationPosition,
    HandoffTriggers,
)
from shared.db import transaction

from ..models import SessionRow, TurnRow
from .queries import in_window, inbox_query, listing, same_session, session_matches


@dataclass(frozen=True)
class Listed:
    """A session with what its list row shows besides the session itself."""

    session: SessionRow
    turns: int
    last_text: str


@dataclass(frozen=True)
class Handoff:
    """A session after a handoff request, and who held it before."""

    session: SessionRow
    before: str | None


@dataclass(frozen=True)
class Waiting:
    """A session of the inbox: held by an operator, or the trigger that raised it."""

    listed: Listed
    said: str | None = None
    intent: str | None = None
    state: str | None = None


class Conversations(Protocol):
    """What the conversation queries need from storage."""

    async def find(
        self,
        project_key: UUID,
        where: ConversationFilter,
        *,
        limit: int,
        after: ConversationPosition | None,
    ) -> list[Listed]: ...
    async def listed(self, project_key: UUID, session_id: str) -> Listed | None: ...
    async def turns(
        self, project_key: UUID, session_id: str, *, limit: int, after: int | None
    ) -> list[TurnRow]: ...
    async def export(
        self, project_key: UUID, where: ConversationFilter, *, limit: int, after: int | None
    ) -> list[tuple[TurnRow, str]]: ...
    async def hand_off(
        self, project_key: UUID, session_id: str, operator: str | None
    ) -> Handoff | None: ...
    async def inbox(
        self, project_key: UUID, triggers: HandoffTriggers, *, limit: int
    ) -> list[Waiting]: ...


class PgConversations:
    """Conversations over the dialog schema."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def find(
        self,
        project_key: UUID,
        where: ConversationFilter,
        *,
        limit: int,
        after: ConversationPosition | None,
    ) -> list[Listed]:
        """One page of sessions, newest activity first (session id breaks ties)."""
        query = listing().where(*session_matches(project_key, where))
        if after is not None:
            position = tuple_(col(SessionRow.last_at), col(SessionRow.session_id))
            query = query.where(position < tuple_(after.last_at, after.session_id))
        query = query.order_by(
            col(SessionRow.last_at).desc(), col(SessionRow.session_id).desc()
        ).limit(limit)
        async with self._sessions() as session:
            rows = await session.exec(query)
            return [Listed(row, count, text) for row, count, text in rows.all()]

    async def listed(self, project_key: UUID, session_id: str) -> Listed | None:
        """One live session as a list shows it."""
        query = listing().where(
            col(SessionRow.project_key) == project_key, col(SessionRow.session_id) == session_id
        )
        async with self._sessions() as session:
            found = (await session.exec(query)).first()
        return None if found is None else Listed(*found)

    async def turns(
        self, project_key: UUID, session_id: str, *, limit: int, after: int | None
    ) -> list[TurnRow]:
        """A session's stored turns and messages after row `after`, oldest first."""
        query = select(TurnRow).where(
            col(TurnRow.project_key) == project_key,
            col(TurnRow.session_id) == session_id,
            col(TurnRow.id) > (after or 0),
        )
        async with self._sessions() as session:
            rows = await session.exec(query.order_by(col(TurnRow.id)).limit(limit))
            return list(rows.all())

    async def export(
        self, project_key: UUID, where: ConversationFilter, *, limit: int, after: int | None
    ) -> list[tuple[TurnRow, str]]:
        """The project's turns and messages after row `after` in the filter's window, of the
        sessions the filter matches, oldest first, each with its session's protocol."""
        query = (
            select(TurnRow, col(SessionRow.protocol))
            .join(SessionRow, same_session())
            .where(
                *session_matches(project_key, where),
                *in_window(where),
                col(TurnRow.project_key) == project_key,
                col(TurnRow.id) > (after or 0),
            )
        )
        async with self._sessions() as session:
            rows = await session.exec(query.order_by(col(TurnRow.id)).limit(limit))
            return [(row, protocol) for row, protocol in rows.all()]

    async def hand_off(
        self, project_key: UUID, session_id: str, operator: str | None
    ) -> Handoff | None:
        """Give a live session to `operator` unless another one holds it; None (no operator)
        gives it back to the bot. None when the session is not live."""
        async with transaction(self._sessions) as session:
            found = await session.exec(
                select(SessionRow)
                .where(
                    col(SessionRow.project_key) == project_key,
                    col(SessionRow.session_id) == session_id,
                )
                .with_for_update()
            )
            row = found.first()
            if row is None:
                return None
            before = row.handoff
            if operator is None or before in (None, operator):
                row.handoff = operator
                row.version += 1  # a batch of turns that read the row answers them again
                session.add(row)
        return Handoff(row, before)

    async def inbox(
        self, project_key: UUID, triggers: HandoffTriggers, *, limit: int
    ) -> list[Waiting]:
        """Sessions an operator holds, and sessions nobody holds whose machine rests in a
        trigger state or with a user turn raising a trigger after the last row an operator
        said or held (what an operator answered is dealt with), newest activity first."""
        query = inbox_query(project_key, triggers, limit=limit)
        async with self._sessions() as session:
            rows = (await session.execute(query)).all()
        found = []
        for row, turns, text, said, said_intent, at_state in rows:
            listed = Listed(row, turns, text)
            if row.handoff is not None:
                found.append(Waiting(listed))
            elif said is not None:
                found.append(Waiting(listed, said=said, intent=said_intent))
            else:
                found.append(Waiting(listed, state=at_state))
        return found
