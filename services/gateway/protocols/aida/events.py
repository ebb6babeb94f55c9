"""AIDA's session events on a joined bot: `new_session`, `put_data`, `delete_session`, `utb_msg`
and `utb_img`, each asking the dialog (sessions) or the media service (images) over the bridge.

Each returns the reply's payload (None: AIDA sends no reply) or raises EventRefused, which the
channel answers as a `phx_reply` error with a `reason`.
"""

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID, uuid4

from pydantic import TypeAdapter

from shared import subjects
from shared.contracts import (
    DeleteSession,
    GetImage,
    GetImageReply,
    GetSession,
    ImageInfo,
    OpenSession,
    SessionInfo,
    SessionReply,
    UpdateSession,
)

from ...bus.bridge import Bridge
from ...bus.turn_numbers import TurnNumbers
from ...edge.errors import GatewayError
from . import wire
from .delivery import BotDelivery

SESSION: TypeAdapter[Any] = TypeAdapter(SessionReply)
IMAGE: TypeAdapter[Any] = TypeAdapter(GetImageReply)
MAX_TEXT = 65536


class EventRefused(GatewayError):
    """A client event that is answered with an error reply `{"reason": ...}`."""

    def __init__(self, reason: str, **extra: Any) -> None:
        super().__init__(reason)
        self.response = {"reason": reason, **extra}


@dataclass
class Join:
    """One joined `bot:` topic of this socket."""

    topic: str
    join_ref: wire.Ref
    project: UUID
    numbers: TurnNumbers
    delivery: BotDelivery
    sessions: set[str] = field(default_factory=set)
    spoke: bool = False  # some event other than the join was handled


async def new_session(bridge: Bridge, join: Join, payload: dict[str, Any]) -> dict[str, Any]:
    data = payload.get("data") or {}
    if not isinstance(data, dict):
        raise EventRefused("data must be an object")
    command = OpenSession(
        project_key=join.project, protocol="aida", data=data, correlation_id=uuid4()
    )
    info = await ask_session(bridge, "open", join, command)
    join.sessions.add(info.session_id)
    return {"session": info.session_id}


async def put_data(bridge: Bridge, join: Join, payload: dict[str, Any]) -> dict[str, Any]:
    session = session_id(payload)
    data = payload.get("data")
    if not isinstance(data, dict):
        raise EventRefused("data must be an object")
    command = UpdateSession(
        project_key=join.project, session_id=session, data=data, correlation_id=uuid4()
    )
    await ask_session(bridge, "update", join, command)
    join.sessions.add(session)
    return {}


async def delete_session(bridge: Bridge, join: Join, payload: dict[str, Any]) -> dict[str, Any]:
    session = session_id(payload)
    command = DeleteSession(project_key=join.project, session_id=session, correlation_id=uuid4())
    await ask_session(bridge, "delete", join, command)
    join.sessions.discard(session)
    return {}


async def utb_msg(bridge: Bridge, join: Join, payload: dict[str, Any]) -> None:
    session, text = session_id(payload), payload.get("text")
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_TEXT:
        raise EventRefused(f"text must be a non-empty string of at most {MAX_TEXT} characters")
    await check_known(bridge, join, session)
    await say_turn(bridge, join, session, text)


async def utb_img(bridge: Bridge, join: Join, payload: dict[str, Any]) -> None:
    session, image = session_id(payload), payload.get("image")
    await check_known(bridge, join, session)
    try:
        media_id = UUID(str(image))
    except ValueError:
        raise EventRefused("invalid image", image=str(image)[:64]) from None
    found = await bridge.ask(subjects.MEDIA_GET, GetImage(media_id=media_id), IMAGE)
    if not isinstance(found, ImageInfo) or (found.project_key, found.session_id) != (
        join.project,
        session,
    ):
        raise EventRefused("invalid image", image=str(media_id))
    await say_turn(bridge, join, session, "", image=media_id)


async def say_turn(
    bridge: Bridge, join: Join, session: str, text: str, *, image: UUID | None = None
) -> None:
    turn = join.numbers.next(session, text, image=image)
    await bridge.publish_turn(turn)
    join.numbers.taken(turn)


async def check_known(bridge: Bridge, join: Join, session: str) -> None:
    """Refuse a session that is not this bot's (unknown, another bot's, or deleted)."""
    if session not in join.sessions:
        await ask_session(
            bridge, "get", join, GetSession(project_key=join.project, session_id=session)
        )
        join.sessions.add(session)


async def ask_session(bridge: Bridge, kind: str, join: Join, command: Any) -> SessionInfo:
    answer = await bridge.ask(subjects.dialog_session(kind, join.project), command, SESSION)
    if not isinstance(answer, SessionInfo):
        join.sessions.discard(answer.session_id)
        raise EventRefused("deleted session" if answer.deleted else "unknown session")
    return answer


def session_id(payload: dict[str, Any]) -> str:
    session = payload.get("session")
    if not isinstance(session, str) or not re.fullmatch(r"[A-Za-z0-9_-]{1,128}", session):
        raise EventRefused("session must be a session id from new_session")
    return session


Event = Callable[[Bridge, Join, dict[str, Any]], Awaitable[dict[str, Any] | None]]
EVENTS: dict[str, Event] = {
    "new_session": new_session,
    "put_data": put_data,
    "delete_session": delete_session,
    "utb_msg": utb_msg,
    "utb_img": utb_img,
}
