"""Conversations as operators read them, in Postgres: lists, transcripts, the export, handoff.

Reads only, except handoff, which changes the session row under its lock: a turn being
answered holds that lock too, so every turn is answered either before the handoff (by the bot)
or after it (by nobody: the operator holds the session).
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from uuid import UUID

from shared.contracts.conversation import (
    ConversationFilter,
    ConversationPosition,
    HandoffTriggers,
)
from shared.db import Database

from ..models import SessionRow, TurnRow
from ..rows import session_row, turn_row
from . import sql
from .queries import INBOX_DAYS, export_query, find_query, like_pattern


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
    """Conversations over the dialog schema: raw asyncpg, each statement built from sql.py
    (the optional filters by queries.py, with bind parameters only), on the dialog's pool."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def find(
        self,
        project_key: UUID,
        where: ConversationFilter,
        *,
        limit: int,
        after: ConversationPosition | None,
    ) -> list[Listed]:
        """One page of sessions, newest activity first (session id breaks ties)."""
        query, params = find_query(project_key, where, limit=limit, after=after)
        return [_listed(r) for r in await self._db.pool.fetch(query, *params)]

    async def listed(self, project_key: UUID, session_id: str) -> Listed | None:
        """One live session as a list shows it."""
        found = await self._db.pool.fetchrow(sql.LISTED, project_key, session_id)
        return None if found is None else _listed(found)

    async def turns(
        self, project_key: UUID, session_id: str, *, limit: int, after: int | None
    ) -> list[TurnRow]:
        """A session's stored turns and messages after row `after`, oldest first."""
        rows = await self._db.pool.fetch(sql.TURNS, project_key, session_id, after or 0, limit)
        return [turn_row(r) for r in rows]

    async def export(
        self, project_key: UUID, where: ConversationFilter, *, limit: int, after: int | None
    ) -> list[tuple[TurnRow, str]]:
        """The project's turns and messages after row `after` in the filter's window, of the
        sessions the filter matches, oldest first, each with its session's protocol."""
        query, params = export_query(project_key, where, limit=limit, after=after)
        found = []
        for record in await self._db.pool.fetch(query, *params):
            columns = dict(record)
            protocol = columns.pop("session_protocol")
            found.append((turn_row(columns), protocol))
        return found

    async def hand_off(
        self, project_key: UUID, session_id: str, operator: str | None
    ) -> Handoff | None:
        """Give a live session to `operator` unless another one holds it; None (no operator)
        gives it back to the bot. None when the session is not live."""
        key = (project_key, session_id)
        async with self._db.pool.acquire() as conn, conn.transaction():
            locked = await conn.fetchrow(sql.LOCK, *key)
            if locked is None:
                return None
            before = locked["handoff"]
            if operator is None or before in (None, operator):
                row = await conn.fetchrow(sql.HAND_OFF, *key, operator)
            else:
                row = await conn.fetchrow(sql.SESSION, *key)
        return Handoff(session_row(row), before)

    async def inbox(
        self, project_key: UUID, triggers: HandoffTriggers, *, limit: int
    ) -> list[Waiting]:
        """Sessions an operator holds, and sessions nobody holds whose machine rests in a
        trigger state or with a user turn raising a trigger after the last row an operator
        said or held (what an operator answered is dealt with), newest activity first."""
        patterns = [like_pattern(word) for word in triggers.keywords]
        rows = await self._db.pool.fetch(
            sql.INBOX,
            project_key,
            patterns,
            list(triggers.intents),
            list(triggers.states),
            INBOX_DAYS,
            limit,
        )
        found = []
        for record in rows:
            columns = dict(record)
            said, intent, state = (columns.pop(c) for c in sql.INBOX_COLUMNS)
            listed = _listed(columns)
            if listed.session.handoff is not None:
                found.append(Waiting(listed))
            elif said is not None:
                found.append(Waiting(listed, said=said, intent=intent))
            else:
                found.append(Waiting(listed, state=state))
        return found


def _listed(record: Mapping[str, Any]) -> Listed:
    """A session row with its list columns (sql.LIST_COLUMNS)."""
    columns = dict(record)
    turns, text = (columns.pop(c) for c in sql.LISTED_COLUMNS)
    return Listed(session_row(columns), int(turns), str(text))
