"""RSVP.ai's chat API: one HTTP request is one turn, answered in the same response.

The turn goes through JetStream like every protocol's (so it is answered once, in order per
`uid`, and kept in the transcript); the request waits on the session's reply subject for the
answer to its own turn.

RSVP has no push, so what an operator (or a schedule) says to a `uid`'s session reaches it with
that uid's next request: every response's `stage` starts with one DialogStage per message said
since the previous request (`{"message": ...}`, oldest first, at most the newest 20), then the
bot's answer. While an operator holds the session (human handoff) the bot does not answer:
`stage` holds only what the operator said since the previous request, or is empty when they
have said nothing yet (`status` 0, `topic` "operator"); their answer to this question comes
with the next request. The question is kept in the transcript all the same.
"""

import asyncio
import logging
import math
from uuid import uuid4

from fastapi import APIRouter, Request
from starlette.responses import Response

from shared.contracts import ChatReply, TurnAnswered, TurnReceived
from shared.identity import Project, ProjectLookup
from shared.identity.secrets import secret_matches

from ...bus.bridge import Bridge, BridgeError
from ...bus.late_answers import LateAnswers
from ...config import GatewaySettings
from ...edge.limits import RateLimited
from ...edge.metrics import HttpMeter
from .wire import (
    ChatQuery,
    RsvpError,
    answer_body,
    failure_body,
    parse_query,
    respond,
)

log = logging.getLogger(__name__)
# Each request is a frame in and its answer a frame out; a refused one is counted by status.
REFUSALS = {400: "invalid", 401: "refused", 404: "refused", 429: "rate_limited"}


class Busy(RsvpError):
    """Over the bot's turn rate: HTTP 429 with Retry-After (whole seconds, at least 1)."""

    def __init__(self, err: RateLimited) -> None:
        super().__init__(429, str(err))
        self.retry_after = str(max(1, math.ceil(err.retry_after_s)))


def rsvp_router(projects: ProjectLookup, bridge: Bridge, settings: GatewaySettings) -> APIRouter:
    """`GET /<GATEWAY_RSVP_ENDPOINT>/chat`."""
    router = APIRouter(tags=["rsvp"])
    late = LateAnswers(bridge.resume)
    meter = HttpMeter("rsvp")

    async def chat(request: Request) -> Response:
        """Ask the bot `q` as user `uid` (RSVP.ai's chat API; see the README for the shape).
        During a human handoff the answer is what the operator said since the previous request
        (see the module docstring)."""
        meter.frame_in()
        meter.frame_out()  # every request is answered: with its reply or an error
        try:
            query = parse_query(request.query_params)
            project = await _project(projects, query)
            reply = await ask_turn(bridge, project, query, settings.rsvp_wait_s, late)
        except RsvpError as err:
            meter.error(REFUSALS.get(err.status, "unavailable"))  # 503, 504
            refused = respond(failure_body(str(err)), err.status)
            if isinstance(err, Busy):
                refused.headers["Retry-After"] = err.retry_after
            return refused
        owed = await late.collect(project=project.key, session=query.session_id)
        if owed:  # answers this caller was told 504 for: first, as what was said before
            earlier = [a.text for a in owed if a.text] + list(reply.said_before)
            reply = reply.model_copy(update={"said_before": earlier})
        return respond(answer_body(reply, skillid=query.skillid))

    router.add_api_route(f"/{settings.rsvp_endpoint}/chat", chat, methods=["GET"])
    return router


async def _project(projects: ProjectLookup, query: ChatQuery) -> Project:
    """The bot `botid` names if `token` is its secret; without botid, the bot of `token`."""
    if query.botid is None:
        found = await projects.by_secret(query.token)
        if found is None:
            raise RsvpError(401, "token is not the secret of any bot")
        return found
    found = await projects.get(query.botid)
    if found is None:
        raise RsvpError(404, f"no bot {query.botid}")
    if not secret_matches(query.token, found.secret_hash):
        raise RsvpError(401, "token is not this bot's secret")
    return found


async def ask_turn(
    bridge: Bridge, project: Project, query: ChatQuery, wait_s: float, late: LateAnswers
) -> TurnAnswered:
    """Publish the turn and wait for its own answer (the session's other replies pass by)."""
    turn = TurnReceived.first(
        project_key=project.key,
        session_id=query.session_id,
        protocol="rsvp",
        text=query.q,
        channel=uuid4().hex,  # each request stands alone: nothing to wait for before it
        seq=1,
        stage=query.stage,
        lang=query.lang,
        skill=query.skillid,
    )
    answered: asyncio.Future[TurnAnswered] = asyncio.get_running_loop().create_future()

    async def on_reply(reply: ChatReply) -> None:
        if not isinstance(reply, TurnAnswered) or reply.turn_event_id != turn.event_id:
            return
        if not answered.done():
            answered.set_result(reply)

    try:
        follow = await bridge.follow_replies(
            project=project.key, session=query.session_id, deliver=on_reply
        )
    except Exception as err:
        raise RsvpError(503, "the message bus is unavailable; try again") from err
    try:
        await bridge.publish_turn(turn)
        async with asyncio.timeout(wait_s):
            return await answered
    except RateLimited as err:
        raise Busy(err) from None
    except BridgeError as err:
        # JetStream may have stored it all the same (its ack lost to a node's death): if so,
        # its answer is given with the caller's next question, as a 504's is
        await late.owe(
            project=project.key, session=query.session_id, turn=turn.event_id, at=turn.occurred_at
        )
        raise RsvpError(503, "the question could not be accepted; try again") from err
    except TimeoutError:
        log.warning("turn %s got no answer within %.1f s", turn.event_id, wait_s)
        await late.owe(
            project=project.key, session=query.session_id, turn=turn.event_id, at=turn.occurred_at
        )
        raise RsvpError(504, "the bot did not answer in time; try again") from None
    finally:
        await follow.unsubscribe()
