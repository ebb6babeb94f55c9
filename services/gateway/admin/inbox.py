"""Admin HTTP API for the operators' handoff inbox: the sessions waiting for a human, and what
puts a session there (the project's handoff triggers).

The triggers are kept in the project's settings (`handoff`); the dialog service answers the
inbox from its transcripts, so a request on any protocol shows up, and nothing on the turn path
has to know about the inbox.
"""

from uuid import UUID

from fastapi import APIRouter
from pydantic import TypeAdapter

from shared import subjects
from shared.contracts.conversation import FindInbox, HandoffTriggers, InboxPage
from shared.identity import ProjectStore

from .asking import ask
from .auth import PROJECT_ROUTES, ProjectAdminDep
from .deps import BridgeDep, ProjectsDep
from .project_settings import read_setting, replace_setting

SETTING = "handoff"
INBOX: TypeAdapter[InboxPage] = TypeAdapter(InboxPage)


# Tagged robots too, as when these routes were added to the robots' router.
router = APIRouter(prefix=PROJECT_ROUTES, tags=["robots", "conversations"])


async def stored_triggers(projects: ProjectStore, key: UUID) -> HandoffTriggers:
    """The triggers kept in a project's settings (the defaults when never set)."""
    return HandoffTriggers.model_validate(await read_setting(projects, key, SETTING) or {})


@router.get("/handoff-triggers", response_model=HandoffTriggers)
async def read_triggers(admin: ProjectAdminDep, projects: ProjectsDep) -> HandoffTriggers:
    """What puts a session in the inbox: keywords in a user's turn, intents, machine
    states."""
    return await stored_triggers(projects, admin.project)


@router.put("/handoff-triggers", response_model=HandoffTriggers)
async def change_triggers(
    body: HandoffTriggers, admin: ProjectAdminDep, projects: ProjectsDep
) -> HandoffTriggers:
    """Replace the project's handoff triggers."""
    await replace_setting(projects, admin.project, SETTING, body)
    return body


@router.get("/inbox", response_model=InboxPage)
async def inbox(admin: ProjectAdminDep, projects: ProjectsDep, bridge: BridgeDep) -> InboxPage:
    """Sessions waiting for a human (a trigger raised since an operator last spoke or held
    it) and sessions operators hold, newest activity first."""
    key = admin.project
    query = FindInbox(project_key=key, triggers=await stored_triggers(projects, key))
    subject = subjects.dialog_conversation("inbox", key)
    return await ask(bridge, subject, query, INBOX, service="dialog")
