"""Admin HTTP API for "Try it": an operator chats with the bot as a client would, signed in with
their admin token, so the console never asks them for the project's secret.

The turn is the RSVP route's own (published to the dialog, answered once, kept in the
transcript as an `rsvp` session); the answer comes back whole, with what the console shows
beside it: the engine, the FAQ's candidates and the intent with its confidence.
"""

from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from starlette.datastructures import QueryParams

from shared.contracts import TurnAnswered
from shared.contracts.conversation import NO_NUL
from shared.identity import AdminToken, ProjectStore, TokenStore

from .admin_auth import admin_scope
from .bus.bridge import Bridge
from .bus.late_answers import LateAnswers
from .edge.problems import Problem
from .protocols.rsvp.routes import ask_turn
from .protocols.rsvp.wire import RsvpError, parse_query

TRY_WAIT_S = 30.0


class TryTurn(BaseModel):
    """What the operator says, as which user, to which stage."""

    uid: str = Field(min_length=1, max_length=128, pattern=NO_NUL, description="The user's id")
    q: str = Field(min_length=1, max_length=4096, pattern=NO_NUL, description="What they say")
    stage: Literal["test", "release"] = "test"


def admin_try_routes(
    router: APIRouter, projects: ProjectStore, tokens: TokenStore, bridge: Bridge
) -> None:
    """Add POST /try to admin_chat's router (under /admin/projects/{project})."""
    Scope = Annotated[tuple[UUID, AdminToken], Depends(admin_scope(projects, tokens))]
    late = LateAnswers(bridge.resume)

    @router.post("/try", response_model=TurnAnswered)
    async def try_it(body: TryTurn, scoped: Scope) -> TurnAnswered:
        """Ask the bot `q` as user `uid` (an RSVP session), and get its whole answer: text,
        parts, engine, FAQ candidates, intent and slots."""
        key = scoped[0]
        project = await projects.get(key)
        if project is None:
            raise Problem(404, f"no project {key}")
        params = {"botid": str(key), "token": "-", "uid": body.uid, "q": body.q}
        try:
            query = parse_query(QueryParams({**params, "stage": body.stage}))
            return await ask_turn(bridge, project, query, TRY_WAIT_S, late)
        except RsvpError as err:
            raise Problem(err.status, str(err)) from err
