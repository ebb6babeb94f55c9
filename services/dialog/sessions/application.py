"""The session use cases: open a session, merge data into it, read it and its history, say
something first in it, delete it for good."""

from dataclasses import dataclass
from typing import cast
from uuid import UUID, uuid4, uuid5

from shared.contracts import (
    BotSpoke,
    DeleteSession,
    GetSession,
    OpenSession,
    SayToSession,
    SessionDeleted,
    SessionInfo,
    SessionReply,
    SessionUnknown,
    UpdateSession,
)
from shared.contracts.chat import Protocol as WireProtocol
from shared.contracts.session import GetHistory, History, HistoryTurn

from ..engines.aiml import data_predicates
from ..models import SessionRow, TurnRow
from .store import Sessions

_DELETED_IDS = UUID("6f1c2b57-3f0e-4d55-9a43-1d5b2f7c9e10")  # namespace of SessionDeleted ids


@dataclass(frozen=True)
class Deletion:
    """The answer to a DeleteSession, and the event to announce (again, if deleted before)."""

    reply: SessionReply
    event: SessionDeleted | None


def wire_protocol(value: str) -> WireProtocol | None:
    """A stored protocol name as the contracts type it ("" for none)."""
    return cast("WireProtocol | None", value or None)


def info_of(row: SessionRow) -> SessionInfo:
    """What a session holds, as the protocols read it."""
    return SessionInfo(session_id=row.session_id, protocol=row.protocol, data=row.data)


def history_turn(row: TurnRow) -> HistoryTurn:
    """A transcript row as a history replay shows it."""
    details = row.details or {}
    return HistoryTurn.model_validate(
        {
            "event": details.get("event", "text"),
            "question": row.question,
            "file": details.get("file"),
            "received_at": row.received_at,
            "answer": row.answer,
            "parts": details.get("parts", []),
            "answered_at": row.answered_at,
            "engine": row.engine,
            "reply_event_id": row.reply_event_id,
        }
    )


def deleted_event_id(*, project_key: UUID, session_id: str) -> UUID:
    """The one event id of a session's deletion, so announcing it again is a duplicate."""
    return uuid5(_DELETED_IDS, f"{project_key}/{session_id}")


def said_row(spoke: BotSpoke, *, operator: str | None) -> TurnRow:
    """The transcript row of a message said first (its protocol is the session's, filled in
    when it is stored)."""
    return TurnRow(
        turn_event_id=spoke.event_id,
        reply_event_id=spoke.event_id,
        correlation_id=spoke.correlation_id,
        project_key=spoke.project_key,
        session_id=spoke.session_id,
        protocol="",
        question="",
        answer=spoke.text,
        engine=spoke.source,
        received_at=spoke.occurred_at,
        answered_at=spoke.occurred_at,
        engine_ms=0.0,
        details={"event": "say", "source": spoke.source, "operator": operator},
        kind="said",
    )


class SessionApp:
    """The sessions of every project, as the protocols open, read, change and delete them. A
    part of DialogApp (application.py), which holds what is declared here."""

    sessions: Sessions

    async def open_session(self, command: OpenSession) -> SessionInfo:
        """A new session (a plain UUID, as AIDA's); its data's scalars become predicates."""
        row = SessionRow(
            project_key=command.project_key,
            session_id=str(uuid4()),
            protocol=command.protocol,
            data=dict(command.data),
            state=data_predicates(command.data),
        )
        await self.sessions.create(row)
        return info_of(row)

    async def update_session(self, command: UpdateSession) -> SessionReply:
        """Merge data (and predicates) into a live session."""
        row = await self.sessions.merge(
            command.project_key,
            command.session_id,
            data=dict(command.data),
            state=data_predicates(command.data),
            create_as=command.create_as,
        )
        return info_of(row) if row else await self._unknown(command.project_key, command.session_id)

    async def history(self, query: GetHistory) -> History | SessionUnknown:
        """A live session's transcript since it last started over, oldest first."""
        rows = await self.sessions.history(
            query.project_key, query.session_id, until=query.until, limit=query.limit
        )
        if rows is None:
            return await self._unknown(query.project_key, query.session_id)
        return History(session_id=query.session_id, turns=[history_turn(row) for row in rows])

    async def get_session(self, query: GetSession) -> SessionReply:
        """What a live session holds, or why it is unknown."""
        row = await self.sessions.find(query.project_key, query.session_id)
        return info_of(row) if row else await self._unknown(query.project_key, query.session_id)

    async def delete_session(self, command: DeleteSession) -> Deletion:
        """Forget a session and its transcript for good; a deletion (even a repeated one) is
        announced under the session's one deletion event id."""
        project, session_id = command.project_key, command.session_id
        row = await self.sessions.delete(project, session_id)
        reply = info_of(row) if row else await self._unknown(project, session_id)
        if isinstance(reply, SessionUnknown) and not reply.deleted:
            return Deletion(reply, None)
        event = SessionDeleted(
            event_id=deleted_event_id(project_key=project, session_id=session_id),
            correlation_id=command.correlation_id,
            project_key=project,
            session_id=session_id,
        )
        return Deletion(reply, event)

    async def say(self, command: SayToSession) -> BotSpoke | SessionUnknown:
        """What the bot (an operator, a schedule) says first in a live session, kept in its
        transcript; shown by the session's protocol."""
        spoke = BotSpoke(
            correlation_id=command.correlation_id,
            project_key=command.project_key,
            session_id=command.session_id,
            text=command.text,
            source=command.source,
        )
        row = await self.sessions.say(said_row(spoke, operator=command.operator))
        if row is None:
            return await self._unknown(command.project_key, command.session_id)
        return spoke.model_copy(update={"protocol": wire_protocol(row.protocol)})

    async def _unknown(self, project: UUID, session_id: str) -> SessionUnknown:
        deleted = await self.sessions.deleted(project, session_id)
        return SessionUnknown(session_id=session_id, deleted=deleted)
