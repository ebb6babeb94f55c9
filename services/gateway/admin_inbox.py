"""Admin HTTP API for the operators' handoff inbox: the sessions waiting for a human, and what
puts a session there (the project's handoff triggers).

The triggers are kept in the project's settings (`handoff`); the dialog service answers the
inbox from its transcripts, so a request on any protocol shows up, and nothing on the turn path
has to know about the inbox.
"""

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends
from pydantic import TypeAdapter

from shared import subjects
from shared.contracts.conversation import FindInbox, HandoffTriggers, InboxPage
from shared.identity import AdminToken, ProjectStore, TokenStore

from .admin_auth import admin_scope
from .bus.bridge import Bridge, BridgeError
from .edge.problems import Problem

SETTING = "handoff"
INBOX: TypeAdapter[InboxPage] = TypeAdapter(InboxPage)


def stored_triggers(settings: dict[str, Any]) -> HandoffTriggers:
    """The triggers kept in a project's settings (the defaults when never set)."""
    return HandoffTriggers.model_validate(settings.get(SETTING) or {})


def admin_inbox_routes(
    router: APIRouter, projects: ProjectStore, tokens: TokenStore, bridge: Bridge
) -> None:
    """Add GET /inbox, GET and PUT /handoff-triggers to admin.py's router (under
    /admin/projects/{project}: the audit log names their full route)."""
    Scope = Annotated[tuple[UUID, AdminToken], Depends(admin_scope(projects, tokens))]

    async def triggers_of(key: UUID) -> HandoffTriggers:
        project = await projects.get(key)
        return stored_triggers(project.settings) if project is not None else HandoffTriggers()

    @router.get("/handoff-triggers", response_model=HandoffTriggers, tags=["conversations"])
    async def read_triggers(scoped: Scope) -> HandoffTriggers:
        """What puts a session in the inbox: keywords in a user's turn, intents, machine
        states."""
        return await triggers_of(scoped[0])

    @router.put("/handoff-triggers", response_model=HandoffTriggers, tags=["conversations"])
    async def change_triggers(body: HandoffTriggers, scoped: Scope) -> HandoffTriggers:
        """Replace the project's handoff triggers."""
        await projects.set_setting(scoped[0], SETTING, body.model_dump(mode="json"))
        return body

    @router.get("/inbox", response_model=InboxPage, tags=["conversations"])
    async def inbox(scoped: Scope) -> InboxPage:
        """Sessions waiting for a human (a trigger raised since an operator last spoke or held
        it) and sessions operators hold, newest activity first."""
        key = scoped[0]
        query = FindInbox(project_key=key, triggers=await triggers_of(key))
        try:
            return await bridge.ask(subjects.dialog_conversation("inbox", key), query, INBOX)
        except BridgeError as err:
            raise Problem(503, "the dialog service did not answer; try again") from err
