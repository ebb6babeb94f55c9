"""Admin HTTP API for "Try it": an operator chats with the bot as a client would, signed in with
their admin token, so the console never asks them for the project's secret.

The turn is the RSVP route's own (published to the dialog, answered once, kept in the
transcript as an `rsvp` session); the answer comes back whole, with what the console shows
beside it: the engine, the FAQ's candidates and the intent with its confidence.
"""

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field
from starlette.datastructures import QueryParams

from shared.contracts import TurnAnswered
from shared.contracts.conversation import NO_NUL

from ..bus.late_answers import LateAnswers
from ..edge.problems import Problem
from ..protocols.rsvp.routes import ask_turn
from ..protocols.rsvp.wire import RsvpError, parse_query
from .auth import PROJECT_ROUTES, ProjectAdminDep, existing_project
from .deps import BridgeDep, ProjectsDep

TRY_WAIT_S = 30.0


class TryTurn(BaseModel):
    """What the operator says, as which user, to which stage."""

    uid: str = Field(min_length=1, max_length=128, pattern=NO_NUL, description="The user's id")
    q: str = Field(min_length=1, max_length=4096, pattern=NO_NUL, description="What they say")
    stage: Literal["test", "release"] = "test"


router = APIRouter(prefix=PROJECT_ROUTES, tags=["conversations"])


@router.post("/try", response_model=TurnAnswered)
async def try_it(
    body: TryTurn, admin: ProjectAdminDep, projects: ProjectsDep, bridge: BridgeDep
) -> TurnAnswered:
    """Ask the bot `q` as user `uid` (an RSVP session), and get its whole answer: text,
    parts, engine, FAQ candidates, intent and slots."""
    key = admin.project
    project = await existing_project(projects, key)
    params = {"botid": str(key), "token": "-", "uid": body.uid, "q": body.q}
    try:
        query = parse_query(QueryParams({**params, "stage": body.stage}))
        return await ask_turn(bridge, project, query, TRY_WAIT_S, LateAnswers(bridge.resume))
    except RsvpError as err:
        raise Problem(err.status, str(err)) from err
