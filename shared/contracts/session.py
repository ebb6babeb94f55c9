"""Conversation sessions the protocols open and close explicitly (AIDA's new_session & co.).

Sessions belong to one project: the dialog service owns them. A session that was deleted
stays deleted (its id is never reused); another project's session id is simply unknown.
"""

import json
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import AfterValidator, Field

from .base import Contract, Event
from .chat import FileRef, Part, Protocol, TurnEvent

MAX_DATA_BYTES = 16 * 1024
MAX_DATA_KEYS = 64
SessionId = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_-]+$")]


def _bounded(data: dict[str, Any]) -> dict[str, Any]:
    if len(data) > MAX_DATA_KEYS:
        raise ValueError(f"at most {MAX_DATA_KEYS} keys of session data")
    for key in data:
        if not key or len(key) > 64 or key.startswith("_"):
            raise ValueError(f"session data key {key[:64]!r} must be 1-64 chars, not start with _")
    if len(json.dumps(data, ensure_ascii=False).encode()) > MAX_DATA_BYTES:
        raise ValueError(f"session data over {MAX_DATA_BYTES} bytes")
    return data


SessionData = Annotated[dict[str, Any], AfterValidator(_bounded)]


class OpenSession(Contract):
    """Command: start a new session of `project_key`; `data` seeds the session data."""

    project_key: UUID
    protocol: Protocol = Field(description="Wire protocol that opened it")
    data: SessionData = Field(default_factory=dict, description="Initial session data")
    correlation_id: UUID


class UpdateSession(Contract):
    """Command: merge `data` into a session's data (string values become AIML predicates)."""

    project_key: UUID
    session_id: SessionId
    data: SessionData
    correlation_id: UUID
    create_as: Protocol | None = Field(
        None,
        description="Create the session for this protocol if it does not exist yet (clients "
        "that choose their own session keys, as BESSER's)",
    )


class GetSession(Contract):
    """Query: does this session exist in this project (and what does it hold)?"""

    project_key: UUID
    session_id: SessionId


class DeleteSession(Contract):
    """Command: forget everything about a session; its id can never be used again."""

    project_key: UUID
    session_id: SessionId
    correlation_id: UUID


class GetHistory(Contract):
    """Query: a session's transcript since it last started over (reset), oldest first."""

    project_key: UUID
    session_id: SessionId
    until: datetime | None = Field(None, description="Only turns answered up to then")
    limit: int = Field(200, ge=1, le=1000, description="At most this many (the newest)")


class HistoryTurn(Contract):
    """One answered turn: what the user did and what the bot answered."""

    event: TurnEvent
    question: str = Field(description="What the user said (empty for start and reset)")
    file: FileRef | None = None
    received_at: datetime
    answer: str
    parts: list[Part] = Field(default_factory=list)
    answered_at: datetime
    engine: str
    reply_event_id: UUID


class History(Contract):
    """Answer: the transcript of a live session."""

    kind: Literal["history"] = "history"
    session_id: str
    turns: list[HistoryTurn]


class SessionInfo(Contract):
    """Answer: the session exists."""

    kind: Literal["session"] = "session"
    session_id: str
    protocol: str = Field(description="Protocol that opened it (or spoke first in it)")
    data: dict[str, Any] = Field(description="Merged session data")


class SessionUnknown(Contract):
    """Answer: no such session in this project, or it was deleted."""

    kind: Literal["unknown"] = "unknown"
    session_id: str
    deleted: bool = Field(False, description="True when the session existed and was deleted")


SessionReply = Annotated[SessionInfo | SessionUnknown, Field(discriminator="kind")]
HistoryReply = Annotated[History | SessionUnknown, Field(discriminator="kind")]


class SessionDeleted(Event):
    """A session was deleted: every service forgets what it holds about it (media too)."""

    project_key: UUID
    session_id: str
