"""Admin HTTP API for conversations: the bot (an operator) speaks first in a session.

The message reaches the session on whatever protocol it speaks (AIDA `btu_msg`, the XPARO
sockets' bot_response, a BESSER reply frame), and waits in the stream for an AIDA client that is
not connected; RSVP, which has no push, returns it with the user's next request. The transcript
keeps it, with the admin token's name as the operator who said it.
"""

from typing import Any, Literal
from uuid import UUID, uuid4

from fastapi import APIRouter
from pydantic import BaseModel, Field, TypeAdapter

from shared import subjects
from shared.contracts import BotSpoke, SayToSession
from shared.contracts.conversation import NO_NUL
from shared.contracts.session import SessionUnknown

from .asking import ask, session_missing
from .auth import PROJECT_ROUTES, ProjectAdminDep
from .deps import BridgeDep
from .params import SessionPath

SAID: TypeAdapter[Any] = TypeAdapter(BotSpoke | SessionUnknown)


class SendMessage(BaseModel):
    """What the bot says."""

    text: str = Field(min_length=1, max_length=65536, pattern=NO_NUL)  # kept in Postgres
    source: Literal["operator", "schedule"] = "operator"


class MessageSent(BaseModel):
    """The message is on its way to the session."""

    event_id: UUID
    session_id: str
    protocol: str | None


router = APIRouter(prefix=PROJECT_ROUTES, tags=["conversations"])


@router.post("/sessions/{session}/messages", status_code=202, response_model=MessageSent)
@router.post("/conversations/{session}/messages", status_code=202, response_model=MessageSent)
async def send_message(
    session: SessionPath, body: SendMessage, admin: ProjectAdminDep, bridge: BridgeDep
) -> MessageSent:
    """Say `text` to a session as the bot (404 when the session is unknown or deleted)."""
    key = admin.project
    command = SayToSession(
        project_key=key,
        session_id=session,
        text=body.text,
        source=body.source,
        correlation_id=uuid4(),
        operator=admin.token.name if body.source == "operator" else None,
    )
    said = await ask(bridge, subjects.dialog_session("say", key), command, SAID, service="dialog")
    if not isinstance(said, BotSpoke):
        raise session_missing(session, deleted=said.deleted)
    return MessageSent(event_id=said.event_id, session_id=session, protocol=said.protocol)
