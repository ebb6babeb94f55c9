"""The Conversations port in memory, over MemoryTurns' sessions and transcript (checked
against Postgres by tests/contract): what services/dialog/conversations/queries.py asks of
the tables, in Python."""

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from services.dialog.conversations.queries import INBOX_DAYS
from services.dialog.conversations.store import Handoff, Listed, Waiting
from services.dialog.models import SessionRow, TurnRow
from shared.contracts.conversation import (
    SNIPPET_CHARS,
    ConversationFilter,
    ConversationPosition,
    HandoffTriggers,
)

from .memory_dialog import MemoryTurns


def _path(details: Any, *keys: str) -> Any:
    """json_extract_path_text: the value at `keys`, or None."""
    for key in keys:
        if isinstance(details, list) and key.isdigit() and int(key) < len(details):
            details = details[int(key)]
        elif isinstance(details, dict):
            details = details.get(key)
        else:
            return None
    return details


def _confidence(row: TurnRow) -> float | None:
    for engine in ("faq", "intent"):
        score = _path(row.details, engine, "candidates", "0", "score")
        if score is not None:
            return float(score)
    return None


def _has(text: str, part: str) -> bool:
    return part.casefold() in text.casefold()


class MemoryConversations:
    """Conversations over the rows a MemoryTurns keeps."""

    def __init__(self, turns: MemoryTurns) -> None:
        self.store = turns

    def _rows(self, session: SessionRow) -> list[TurnRow]:
        rows = self.store.transcript(session.project_key, session.session_id)
        return sorted(rows, key=lambda t: t.id or 0)

    def _listed(self, session: SessionRow) -> Listed:
        rows = self._rows(session)
        last = rows[-1] if rows else None
        text = (last.answer or last.question)[:SNIPPET_CHARS] if last else ""
        return Listed(SessionRow(**session.model_dump()), sum(t.kind == "turn" for t in rows), text)

    def _in_window(self, row: TurnRow, where: ConversationFilter) -> bool:
        return (where.since is None or row.answered_at >= where.since) and (
            where.until is None or row.answered_at < where.until
        )

    def _matches(self, session: SessionRow, project_key: UUID, where: ConversationFilter) -> bool:
        if session.project_key != project_key:
            return False
        if where.protocol is not None and session.protocol != where.protocol:
            return False
        if where.held is not None and (session.handoff is not None) != where.held:
            return False
        asks = (where.since, where.until, where.q, where.engine, where.below)
        if all(a is None for a in asks):
            return True
        return any(self._hit(row, where) for row in self._rows(session))

    def _hit(self, row: TurnRow, where: ConversationFilter) -> bool:
        if not self._in_window(row, where):
            return False
        if where.q is not None and not (_has(row.question, where.q) or _has(row.answer, where.q)):
            return False
        if where.engine is not None and row.engine != where.engine:
            return False
        if where.below is not None:
            score = _confidence(row)
            return score is not None and score < where.below
        return True

    async def find(
        self,
        project_key: UUID,
        where: ConversationFilter,
        *,
        limit: int,
        after: ConversationPosition | None,
    ) -> list[Listed]:
        found = [s for s in self.store.sessions.values() if self._matches(s, project_key, where)]
        if after is not None:
            found = [
                s for s in found if (s.last_at, s.session_id) < (after.last_at, after.session_id)
            ]
        found.sort(key=lambda s: (s.last_at, s.session_id), reverse=True)
        return [self._listed(s) for s in found[:limit]]

    async def listed(self, project_key: UUID, session_id: str) -> Listed | None:
        session = self.store.sessions.get((project_key, session_id))
        return None if session is None else self._listed(session)

    async def turns(
        self, project_key: UUID, session_id: str, *, limit: int, after: int | None
    ) -> list[TurnRow]:
        rows = sorted(self.store.transcript(project_key, session_id), key=lambda t: t.id or 0)
        return [t for t in rows if (t.id or 0) > (after or 0)][:limit]

    async def export(
        self, project_key: UUID, where: ConversationFilter, *, limit: int, after: int | None
    ) -> list[tuple[TurnRow, str]]:
        found: list[tuple[TurnRow, str]] = []
        for row in sorted(self.store.rows.values(), key=lambda t: t.id or 0):
            session = self.store.sessions.get((row.project_key, row.session_id))
            if (
                session is not None
                and (row.id or 0) > (after or 0)
                and self._in_window(row, where)
                and self._matches(session, project_key, where)
            ):
                found.append((row, session.protocol))
        return found[:limit]

    async def hand_off(
        self, project_key: UUID, session_id: str, operator: str | None
    ) -> Handoff | None:
        row = self.store.sessions.get((project_key, session_id))
        if row is None:
            return None
        before = row.handoff
        if operator is None or before in (None, operator):
            row.handoff = operator
            row.version += 1
        return Handoff(SessionRow(**row.model_dump()), before)

    def _trigger(self, session: SessionRow, triggers: HandoffTriggers) -> TurnRow | None:
        """The newest user turn raising a trigger with no operator's row after it."""
        rows = self._rows(session)
        for n in range(len(rows) - 1, -1, -1):
            row = rows[n]
            intent = _path(row.details, "intent", "name")
            raised = any(_has(row.question, word) for word in triggers.keywords) or (
                intent is not None and intent in triggers.intents
            )
            if row.kind == "turn" and raised:
                return row
            if _path(row.details, "operator") is not None:
                return None  # every turn before it was dealt with
        return None

    async def inbox(
        self, project_key: UUID, triggers: HandoffTriggers, *, limit: int
    ) -> list[Waiting]:
        lately = datetime.now(UTC) - timedelta(days=INBOX_DAYS)
        found: list[tuple[SessionRow, Waiting]] = []
        for session in self.store.sessions.values():
            if session.project_key != project_key:
                continue
            held = session.handoff is not None
            state = _path(session.state, "_machine", "state")
            raised = self._trigger(session, triggers)
            recent = session.last_at is not None and session.last_at >= lately
            if not (held or (recent and (raised is not None or state in triggers.states))):
                continue
            listed = self._listed(session)
            if held:
                waiting = Waiting(listed)
            elif raised is not None:
                intent = _path(raised.details, "intent", "name")
                waiting = Waiting(listed, said=raised.question, intent=intent)
            else:
                waiting = Waiting(listed, state=state)
            found.append((session, waiting))
        found.sort(key=lambda item: (item[0].last_at, item[0].session_id), reverse=True)
        return [waiting for _, waiting in found[:limit]]
