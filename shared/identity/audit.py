"""The audit log: every change made by an operator, kept after the project it changed is gone."""

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from ..contracts.paging import BadCursor, decode_cursor, encode_cursor
from ..db import transaction
from .models import AuditEntry

_CURSOR = frozenset({"id"})


@dataclass(frozen=True)
class AuditPage:
    """Entries newest first, and the cursor of the next page (None on the last)."""

    entries: list[AuditEntry]
    next: str | None


class AuditStore:
    """Appends audit entries and reads them back a page at a time."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def record(
        self,
        *,
        actor: str,
        action: str,
        target: str,
        status: int,
        project_key: UUID | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        """Append one entry."""
        entry = AuditEntry(
            actor=actor[:220],
            action=action[:200],
            target=target[:2000],
            status=status,
            project_key=project_key,
            details=details or {},
        )
        async with transaction(self._sessions) as session:
            session.add(entry)

    async def page(
        self,
        *,
        projects: list[UUID] | None,
        limit: int,
        cursor: str | None = None,
    ) -> AuditPage:
        """Entries about `projects` (None: every entry, also those about no project, such as
        admin tokens made with the CLI), newest first. BadCursor for a forged cursor."""
        query = select(AuditEntry).order_by(col(AuditEntry.id).desc()).limit(limit + 1)
        if projects is not None:
            query = query.where(col(AuditEntry.project_key).in_(projects))
        if cursor is not None:
            before = decode_cursor(cursor, keys=_CURSOR)["id"]
            if not isinstance(before, int):
                raise BadCursor("cursor is not one this API made")
            query = query.where(col(AuditEntry.id) < before)
        async with self._sessions() as session:
            rows = list((await session.exec(query)).all())
        more = len(rows) > limit
        rows = rows[:limit]
        return AuditPage(rows, encode_cursor({"id": rows[-1].id}) if more and rows else None)
