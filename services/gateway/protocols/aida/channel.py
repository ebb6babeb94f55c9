"""AIDA's chatbot API over Phoenix channels (seeds/002, reference/phoenix.md).

A socket joins `bot:<project key>` with `{"access_token": <project secret>}`, then opens sessions
(`new_session`), sends user messages (`utb_msg`, `utb_img`), merges session data (`put_data`) and
deletes sessions (`delete_session`). The bot answers with `btu_msg` pushes; like AIDA, every
socket joined to a bot gets every message of that bot and filters by session.

Success of `utb_msg` / `utb_img` has no reply (AIDA sends none); every refusal is a `phx_reply`
error with a `reason`, and the socket stays open.
"""

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from shared.contracts import (
    ChatReply,
    TurnAnswered,
)
from shared.identity import ProjectLookup

from ...bus import resume
from ...bus.bridge import Bridge, BridgeError
from ...bus.turn_numbers import TurnNumbers
from ...edge.limits import ProjectSeats, RateLimited, retry_hint
from ...edge.metrics import SocketMeter, frame_refused
from . import wire
from .delivery import BotDelivery
from .events import EVENTS, EventRefused, Join
from .feed import BotFeeds

log = logging.getLogger(__name__)
TOPIC = re.compile(r"^bot:(?P<key>[0-9a-fA-F-]{32,36})$")
MAX_JOINS = 32
CLOSE_GOING_AWAY = 1001
Send = Callable[[str], Awaitable[bool]]
Close = Callable[[int, str], Awaitable[None]]


class AidaSocket:
    """One Phoenix socket speaking AIDA's events (any number of joined bots)."""

    def __init__(
        self,
        send: Send,
        close: Close,
        *,
        serializer: wire.Serializer,
        projects: ProjectLookup,
        bridge: Bridge,
        feeds: BotFeeds,
        idle_s: float,
        seats: ProjectSeats | None = None,
        meter: SocketMeter | None = None,
    ) -> None:
        self._meter = meter  # its refusals are counted on it (None: not a socket)
        self._seats = seats  # its place among each joined bot's sockets (None: no caps)
        self._send = send
        self._close = close
        self.serializer = serializer
        self._projects = projects
        self._bridge = bridge
        self._feeds = feeds
        self._idle_s = idle_s
        self._joins: dict[str, Join] = {}
        self._heard = time.monotonic()
        self._watchdog: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Close the socket (1001) when the client stays silent for the idle timeout."""
        self._watchdog = asyncio.create_task(self._watch())

    async def on_frame(self, text: str) -> None:
        self._heard = time.monotonic()
        try:
            msg = self.serializer.decode(text)
        except wire.PhoenixFrameError as err:
            await self._refuse_frame(err)
            return
        await self.handle(msg)

    async def on_bytes(self, data: bytes) -> None:
        self._heard = time.monotonic()
        try:
            msg = self.serializer.decode_binary(data)
        except wire.PhoenixFrameError as err:
            frame_refused(self._meter, "invalid")
            await self._close(1003, str(err))
            return
        await self.handle(msg)

    async def on_binary_error(self) -> None:  # binary frames go to on_bytes
        return None

    async def on_rate_limited(self, frame: str | bytes, retry_after_s: float) -> None:
        """A message over the socket's rate is not run: an error reply (heartbeats still
        answered, so the client does not take the socket for dead)."""
        self._heard = time.monotonic()
        try:
            msg = (
                self.serializer.decode(frame)
                if isinstance(frame, str)
                else self.serializer.decode_binary(frame)
            )
        except wire.PhoenixFrameError:
            return
        if msg.topic == "phoenix" and msg.event == "heartbeat":
            await self.handle(msg)
            return
        await self._out(wire.reply(msg, "error", _rate_limited(retry_after_s)))

    async def on_close(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
        self._bridge.resume.release(self)
        for join in list(self._joins.values()):
            await self._drop(join)

    def suspend(self) -> Iterable[tuple[str, resume.Mark]]:
        """Stop writing bot messages (the gateway is stopping): one mark per joined bot."""
        stopped = datetime.now(UTC)
        return [(resume.bot_key(j.project), j.delivery.mark(stopped)) for j in self._joins.values()]

    async def handle(self, msg: wire.Message) -> None:
        """Answer one decoded message."""
        if msg.topic == "phoenix" and msg.event == "heartbeat":
            await self._out(wire.reply(msg, "ok", {}))
        elif msg.event == "phx_join":
            await self._join(msg)
        elif msg.topic not in self._joins:
            frame_refused(self._meter, "invalid")
            await self._out(wire.unmatched(msg))
        elif msg.event == "phx_leave":
            join = self._joins[msg.topic]
            await self._out(wire.reply(msg, "ok", {}))
            await self._drop(join)
            await self._out(wire.close(join.topic, join.join_ref))
        else:
            await self._event(self._joins[msg.topic], msg)

    async def _event(self, join: Join, msg: wire.Message) -> None:
        handler = EVENTS.get(msg.event)
        first, join.spoke = not join.spoke, True
        if first and msg.event == "new_session" and join.delivery.claimed is not None:
            await self._give_back(join)  # a new client: the mark was meant for one coming back
        try:
            if not isinstance(msg.payload, dict):
                raise EventRefused("binary payloads are not supported")
            if handler is None:
                raise EventRefused(f"unknown event {msg.event[:64]!r}")
            response = await handler(self._bridge, join, msg.payload)
        except EventRefused as err:
            frame_refused(self._meter, "invalid")
            await self._out(wire.reply(msg, "error", err.response))
        except RateLimited as err:
            frame_refused(self._meter, "refused")
            await self._out(wire.reply(msg, "error", _rate_limited(err.retry_after_s)))
        except ValidationError as err:
            frame_refused(self._meter, "invalid")
            problem = err.errors()[0]
            where = ".".join(str(part) for part in problem["loc"][1:]) or "payload"
            await self._out(wire.reply(msg, "error", {"reason": f"{where}: {problem['msg']}"}))
        except BridgeError:
            frame_refused(self._meter, "unavailable")
            await self._out(wire.reply(msg, "error", {"reason": "unavailable", "retry": True}))
        else:
            if response is not None:
                await self._out(wire.reply(msg, "ok", response))

    async def _join(self, msg: wire.Message) -> None:
        found = TOPIC.match(msg.topic)
        if found is None:
            frame_refused(self._meter, "invalid")
            await self._out(wire.unmatched(msg))
            return
        old = self._joins.get(msg.topic)
        if old is not None:  # a duplicate join replaces the old one
            await self._drop(old)
            await self._out(wire.close(old.topic, old.join_ref))
        token = msg.payload.get("access_token") if isinstance(msg.payload, dict) else None
        project = None
        if isinstance(token, str) and 0 < len(token) <= 256 and token.isascii():
            project = await self._projects.authenticate(found["key"], token)
        if project is None:
            frame_refused(self._meter, "refused")
            await self._out(wire.reply(msg, "error", {"reason": "unauthorized"}))
            return
        if len(self._joins) >= MAX_JOINS:
            frame_refused(self._meter, "refused")
            await self._out(wire.reply(msg, "error", {"reason": "too many channels joined"}))
            return
        try:
            self._bridge.resume.hold(self)
        except resume.Stopping:  # its marks are left: reconnect to another replica
            frame_refused(self._meter, "unavailable")
            await self._out(wire.reply(msg, "error", {"reason": "unavailable", "retry": True}))
            await self._close(CLOSE_GOING_AWAY, "server restarting")
            return
        if self._seats is not None and not self._seats.join_project(project.key):
            frame_refused(self._meter, "refused")
            reason = {"reason": "too many connections to this bot, try again later"}
            await self._out(wire.reply(msg, "error", reason))
            return
        numbers = TurnNumbers(project=project.key, protocol="aida")
        join = Join(
            msg.topic, msg.join_ref, project.key, numbers, BotDelivery(self._pusher(msg.topic))
        )
        try:
            await self._feeds.attach(project.key, join.delivery.offer)
        except Exception as err:
            log.warning("bot feed of %s not started: %r", project.key, err)
            if self._seats is not None:
                self._seats.leave_project(project.key)
            frame_refused(self._meter, "unavailable")
            await self._out(wire.reply(msg, "error", {"reason": "unavailable", "retry": True}))
            return
        self._joins[msg.topic] = join
        await self._out(wire.reply(msg, "ok", {}))
        await join.delivery.resume(self._bridge.resume, project.key)

    async def _drop(self, join: Join) -> None:
        if self._joins.get(join.topic) is join:
            del self._joins[join.topic]
            if self._seats is not None:
                self._seats.leave_project(join.project)
        await self._feeds.detach(join.project, join.delivery.offer)

    def _pusher(self, topic: str) -> Callable[[ChatReply], Awaitable[bool]]:
        async def push(reply: ChatReply) -> bool:
            """Send one bot message to this socket as `btu_msg` (the client filters by session);
            an answer of no engine (an operator holds the session) says nothing."""
            if isinstance(reply, TurnAnswered) and reply.engine == "none":
                return True
            body = {"session": reply.session_id, "text": reply.text}
            return await self._out(wire.push(topic, "btu_msg", body))

        return push

    async def _give_back(self, join: Join) -> None:
        claimed, join.delivery.claimed = join.delivery.claimed, None
        if claimed is None:
            return
        try:
            await self._bridge.resume.give_back(resume.bot_key(join.project), [claimed])
        except Exception as err:
            log.warning("resume mark of bot %s not handed back: %r", join.project, err)

    async def _out(self, msg: wire.Message) -> bool:
        return await self._send(self.serializer.encode(msg))

    async def _refuse_frame(self, err: wire.PhoenixFrameError) -> None:
        frame_refused(self._meter, "invalid")
        if err.ref is None and err.topic is None:  # nothing to answer to
            await self._close(1007, f"malformed frame: {err.reason}"[:120])
        else:
            await self._out(wire.refusal(err))

    async def _watch(self) -> None:
        while True:
            silent = time.monotonic() - self._heard
            if silent >= self._idle_s:
                await self._close(CLOSE_GOING_AWAY, "idle")
                return
            await asyncio.sleep(self._idle_s - silent)


def _rate_limited(retry_after_s: float) -> dict[str, Any]:
    return {"reason": "rate limited", "retry_after": retry_hint(retry_after_s)}
