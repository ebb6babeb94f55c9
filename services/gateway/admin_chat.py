"""Admin HTTP API for conversations: the bot (an operator) speaks first in a session.

The message reaches the session on whatever protocol it speaks (AIDA `btu_msg`, the XPARO
sockets' bot_response, a BESSER reply frame), and waits in the stream for an AIDA client that is
not connected; RSVP, which has no push, returns it with the user's next request. The transcript
keeps it, with the admin token's name as the operator who said it.
"""

from typing import Annotated, Any, Literal
from uuid import UUID, uuid4

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, Field, TypeAdapter

from shared import subjects
from shared.contracts import BotSpoke, SayToSession
from shared.contracts.conversation import NO_NUL
from shared.contracts.session import SessionUnknown
from shared.identity import AdminToken, ProjectStore, TokenStore

from .admin_auth import admin_scope
from .admin_try import admin_try_routes
from .bus.bridge import Bridge, BridgeError
from .edge.problems import Problem

SAID: TypeAdapter[Any] = TypeAdapter(BotSpoke | SessionUnknown)
SessionPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,128}$", description="Session id")]


class SendMessage(BaseModel):
    """What the bot says."""

    text: str = Field(min_length=1, max_length=65536, pattern=NO_NUL)  # kept in Postgres
    source: Literal["operator", "schedule"] = "operator"


class MessageSent(BaseModel):
    """The message is on its way to the session."""

    event_id: UUID
    session_id: str
    protocol: str | None


def admin_chat_router(projects: ProjectStore, tokens: TokenStore, bridge: Bridge) -> APIRouter:
    """The /admin routes for conversations."""
    router = APIRouter(prefix="/admin/projects/{project}", tags=["conversations"])
    Scope = Annotated[tuple[UUID, AdminToken], Depends(admin_scope(projects, tokens))]

    @router.post("/sessions/{session}/messages", status_code=202, response_model=MessageSent)
    @router.post("/conversations/{session}/messages", status_code=202, response_model=MessageSent)
    async def send_message(session: SessionPath, body: SendMessage, scoped: Scope) -> MessageSent:
        """Say `text` to a session as the bot (404 when the session is unknown or deleted)."""
        key, token = scoped
        command = SayToSession(
            project_key=key,
            session_id=session,
            text=body.text,
            source=body.source,
            correlation_id=uuid4(),
            operator=token.name if body.source == "operator" else None,
        )
        try:
            said = await bridge.ask(subjects.dialog_session("say", key), command, SAID)
        except BridgeError as err:
            raise Problem(503, "the dialog service did not answer; try again") from err
        if not isinstance(said, BotSpoke):
            state = "was deleted" if said.deleted else "does not exist"
            raise Problem(404, f"session {session} {state}")
        return MessageSent(event_id=said.event_id, session_id=session, protocol=said.protocol)

    admin_try_routes(router, projects, tokens, bridge)
    return router
