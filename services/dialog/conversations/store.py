"""Conversations as operators read them, in Postgres: lists, transcripts, the export, handoff.

Reads only, except handoff, which changes the session row under its lock: a turn being
answered holds that lock too, so every turn is answered either before the handoff (by the bot)
or after it (by nobody: the operator holds the session).
"""

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol
from uuid import UUID

from sqlalchemy import (
    ColumnElement,
    Float,
    and_,
    case,
    cast,
    exists,
    false,
    func,
    or_,
    true,
    tuple_,
)
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlalchemy.orm import aliased
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import Select

from shared.contracts.conversation import (
    SNIPPET_CHARS,
    ConversationFilter,
    ConversationPosition,
    HandoffTriggers,
)
from shared.db import transaction

from ..models import SessionRow, TurnRow


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


INBOX_DAYS = 7  # how long a request for a human waits in the inbox


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


def like_pattern(text: str) -> str:
    """An ILIKE pattern finding `text` anywhere, its own % _ and \\ taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _same_session(turn: Any = TurnRow) -> ColumnElement[bool]:
    """A turn row (or an alias of the table) belongs to the session row."""
    return and_(
        turn.project_key == col(SessionRow.project_key),
        turn.session_id == col(SessionRow.session_id),
    )


def _in_window(where: ConversationFilter, turn: Any = TurnRow) -> list[ColumnElement[bool]]:
    """Conditions on a turn row: inside the filter's time window."""
    found: list[ColumnElement[bool]] = []
    if where.since is not None:
        found.append(turn.answered_at >= where.since)
    if where.until is not None:
        found.append(turn.answered_at < where.until)
    return found


def _session_matches(project_key: UUID, where: ConversationFilter) -> list[ColumnElement[bool]]:
    """Conditions on a session row: the project, the protocol, and (with a time window or a
    text) a message inside the window that holds the text."""
    found = [col(SessionRow.project_key) == project_key]
    if where.protocol is not None:
        found.append(col(SessionRow.protocol) == where.protocol)
    hit = aliased(TurnRow)  # its own name: the export's outer query reads turns too
    inside = _in_window(where, hit)
    if where.q is not None:
        pattern = like_pattern(where.q)
        inside.append(
            col(hit.question).ilike(pattern, escape="\\")
            | col(hit.answer).ilike(pattern, escape="\\")
        )
    if where.engine is not None:
        inside.append(col(hit.engine) == where.engine)
    if where.below is not None:
        inside.append(_confidence(hit) < where.below)
    if inside:
        found.append(exists().where(_same_session(hit), *inside))
    if where.held is not None:
        held = col(SessionRow.handoff).is_not(None)
        found.append(held if where.held else ~held)
    return found


def _confidence(turn: Any) -> ColumnElement[float]:
    """The best candidate's score of a turn's FAQ or NLU answer (null for other engines)."""

    def score(key: str) -> ColumnElement[Any]:
        path = func.json_extract_path_text(turn.details, key, "candidates", "0", "score")
        return cast(path, Float)

    return func.coalesce(score("faq"), score("intent"))


def _listing() -> Select[SessionRow, Any, Any]:
    """Sessions with their number of turns and their newest message (cut)."""
    turns = (
        select(func.count())
        .where(_same_session(), col(TurnRow.kind) == "turn")
        .correlate(SessionRow)
        .scalar_subquery()
    )
    text = case((col(TurnRow.answer) != "", col(TurnRow.answer)), else_=col(TurnRow.question))
    last_text = (
        select(func.left(text, SNIPPET_CHARS))
        .where(_same_session())
        .order_by(col(TurnRow.id).desc())
        .limit(1)
        .correlate(SessionRow)
        .scalar_subquery()
    )
    return select(SessionRow, turns, func.coalesce(last_text, ""))


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
        query = _listing().where(*_session_matches(project_key, where))
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
        query = _listing().where(
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
            .join(SessionRow, _same_session())
            .where(
                *_session_matches(project_key, where),
                *_in_window(where),
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
        raised = aliased(TurnRow)
        later = aliased(TurnRow)
        intent = func.json_extract_path_text(raised.details, "intent", "name")  # IntentMatch
        matches: list[ColumnElement[bool]] = [
            col(raised.question).ilike(like_pattern(word), escape="\\")
            for word in triggers.keywords
        ]
        if triggers.intents:
            matches.append(intent.in_(triggers.intents))
        operator_after = exists().where(
            _same_session(later),
            col(later.id) > col(raised.id),
            func.json_extract_path_text(later.details, "operator").is_not(None),
        )
        trigger = (
            select(col(raised.question).label("said"), intent.label("intent"))
            .where(
                _same_session(raised),
                col(raised.kind) == "turn",
                or_(*matches) if matches else false(),
                ~operator_after,
            )
            .order_by(col(raised.id).desc())
            .limit(1)
            .correlate(SessionRow)
            .subquery()
            .lateral()
        )
        state = func.jsonb_extract_path_text(col(SessionRow.state), "_machine", "state")
        in_state = state.in_(triggers.states) if triggers.states else false()
        held = col(SessionRow.handoff).is_not(None)
        query = (
            _listing()
            .add_columns(trigger.c.said, trigger.c.intent, state)
            .outerjoin(trigger, true())
            .where(
                col(SessionRow.project_key) == project_key,
                # a request left a week unanswered is stale; this also keeps the trigger
                # search to the sessions active lately, however long the project's history
                held | (col(SessionRow.last_at) >= func.now() - timedelta(days=INBOX_DAYS)),
                held | trigger.c.said.is_not(None) | in_state,
            )
            .order_by(col(SessionRow.last_at).desc(), col(SessionRow.session_id).desc())
            .limit(limit)
        )
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
