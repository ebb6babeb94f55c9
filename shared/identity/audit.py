"""The audit log: every change made by an operator, kept after the project it changed is gone.
Raw asyncpg: each statement is a constant of sql.py."""

import json
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from ..contracts.paging import BadCursor, decode_cursor, encode_cursor
from ..db import Database
from . import sql
from .models import AuditEntry

_CURSOR = frozenset({"id"})
BIGINT = 2**63  # an entry's id is a bigint: a cursor past it was not made here


@dataclass(frozen=True)
class AuditPage:
    """Entries newest first, and the cursor of the next page (None on the last)."""

    entries: list[AuditEntry]
    next: str | None


class AuditStore:
    """Appends audit entries and reads them back a page at a time."""

    def __init__(self, database: Database) -> None:
        self._db = database

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
        await self._db.pool.execute(
            sql.RECORD,
            actor[:220],
            action[:200],
            target[:2000],
            status,
            project_key,
            json.dumps(details or {}),
        )

    async def page(
        self,
        *,
        projects: list[UUID] | None,
        limit: int,
        cursor: str | None = None,
    ) -> AuditPage:
        """Entries about `projects` (None: every entry, also those about no project, such as
        admin tokens made with the CLI), newest first. BadCursor for a forged cursor."""
        before = None
        if cursor is not None:
            before = decode_cursor(cursor, keys=_CURSOR)["id"]
            if not isinstance(before, int) or not -BIGINT <= before < BIGINT:
                raise BadCursor("cursor is not one this API made")
        rows = await self._db.pool.fetch(sql.AUDIT_PAGE, projects, before, limit + 1)
        entries = [AuditEntry(**{**r, "details": json.loads(r["details"])}) for r in rows[:limit]]
        more = len(rows) > limit
        return AuditPage(
            entries, encode_cursor({"id": entries[-1].id}) if more and entries else None
        )
