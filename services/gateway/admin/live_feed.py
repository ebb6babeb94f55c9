"""The admin live feed: what happens in a project now, as Server-Sent Events.

`GET /admin/projects/{p}/events` subscribes (core NATS, nothing durable) to the project's
subjects and sends one SSE event per message, summarised for a person to read: `turn`, `reply`,
`session`, `handoff`, `command`, `robot`, `telemetry`, `content`, `project`. Telemetry is thinned
to one sample per robot per second, each text is cut to 500 characters, and a reader that falls
behind loses the oldest events (told by a `dropped` event), so a slow browser never holds the
gateway's memory. A `: ping` comment every 15 s keeps proxies from closing the stream.
"""

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends
from fastapi.responses import StreamingResponse
from nats.aio.msg import Msg

from shared import subjects
from shared.identity import AdminToken, ProjectStore, TokenStore

from ..bus.bridge import Bridge
from .auth import admin_scope

log = logging.getLogger(__name__)
QUEUE = 256
TEXT_CHARS = 500
TELEMETRY_EVERY_S = 1.0
PING_S = 15.0
Summary = tuple[str, dict[str, Any]]
STOP = "stop"  # not a feed event: the stream ends


def _cut(value: Any) -> Any:
    return value[:TEXT_CHARS] if isinstance(value, str) else value


def summarise(subject: str, data: bytes) -> Summary | None:
    """The feed event for one message (None for what the feed does not show)."""
    try:
        body = json.loads(data)
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    area, _, rest = subject.partition(".")
    kind = rest.partition(".")[0]
    at = body.get("occurred_at")
    if area == "chat" and kind == "turn":
        fields = ("session_id", "protocol", "text", "event")
        return "turn", {"at": at, **{f: _cut(body.get(f)) for f in fields}}
    if area == "chat" and kind == "reply":
        source = body.get("source") or "bot"
        return "reply", {
            "at": at,
            "session_id": body.get("session_id"),
            "text": _cut(body.get("text")),
            "engine": body.get("engine"),
            "source": source,
        }
    if area == "chat" and kind == "deleted":
        return "session", {"at": at, "session_id": body.get("session_id"), "state": "deleted"}
    if area == "chat" and kind == "handoff":
        return "handoff", {"session_id": body.get("session_id"), "operator": body.get("operator")}
    if area == "robot":
        return _robot(kind, body, at)
    if area == "telemetry":
        return "telemetry", {
            "at": body.get("received_at"),
            "robot_id": body.get("robot_id"),
            "metrics": body.get("metrics"),
        }
    if area == "config" and kind == "changed":
        return "content", {"at": at, "version": body.get("version")}
    if area == "config" and kind == "deleted":
        return "project", {"at": at, "state": "deleted"}
    return None


def _robot(kind: str, body: dict[str, Any], at: Any) -> Summary | None:
    robot = body.get("robot_id")
    if kind == "command":
        sent = body.get("command")
        command: dict[str, Any] = sent if isinstance(sent, dict) else {}
        return "command", {
            "at": at,
            "robot_id": robot,
            "command_id": body.get("event_id"),
            "type": command.get("type"),
            "status": "queued",
            "by": body.get("issued_by"),
        }
    what = body.get("kind")
    if isinstance(what, str) and what.startswith("command_"):
        status = what.removeprefix("command_")
        return "command", {
            "at": at,
            "robot_id": robot,
            "command_id": body.get("command_id"),
            "status": status,
        }
    if what == "presence":
        return "robot", {"at": at, "robot_id": robot, "state": body.get("state")}
    if what == "reported":
        return "robot", {"at": at, "robot_id": robot, "state": "reported", "key": body.get("key")}
    return None


class Feed:
    """One reader's events: a bounded queue that drops the oldest when the reader lags."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[Summary] = asyncio.Queue(QUEUE)
        self.dropped = 0
        self._last_sample: dict[Any, float] = {}

    def offer(self, subject: str, data: bytes) -> None:
        summary = summarise(subject, data)
        if summary is None:
            return
        if summary[0] == "telemetry":
            robot, now = summary[1]["robot_id"], time.monotonic()
            if now - self._last_sample.get(robot, -TELEMETRY_EVERY_S) < TELEMETRY_EVERY_S:
                return
            self._last_sample[robot] = now
        self._put(summary)

    def stop(self) -> None:
        """Tell the reader's stream to end (it reads this after what is queued)."""
        self._put((STOP, {}))

    def _put(self, summary: Summary) -> None:
        if self.queue.full():
            self.queue.get_nowait()
            self.dropped += 1
        self.queue.put_nowait(summary)


def frame(kind: str, body: dict[str, Any]) -> bytes:
    """One SSE event (JSON has no raw newlines, so `data:` is a single line)."""
    return f"event: {kind}\ndata: {json.dumps(body, default=str)}\n\n".encode()


class LiveFeeds:
    """The gateway's open feeds, ended together when it stops (so shutdown is not held up)."""

    def __init__(self, bridge: Bridge) -> None:
        self._bridge = bridge
        self._open: set[Feed] = set()
        self._stopping = False

    async def close_all(self) -> None:
        """End every open feed now (each reader's stream closes; browsers reconnect)."""
        self._stopping = True
        for feed in self._open:
            feed.stop()

    async def stream(self, project: UUID) -> AsyncIterator[bytes]:
        """The SSE body for one reader of `project`, until it goes or the gateway stops."""
        feed = Feed()

        async def on_msg(msg: Msg) -> None:
            feed.offer(msg.subject, msg.data)

        connection = self._bridge.broker.connection
        subscriptions = [
            await connection.subscribe(subject, cb=on_msg)
            for subject in subjects.project_activity(project)
        ]
        self._open.add(feed)
        try:
            yield b": connected\n\n"
            while not self._stopping:
                try:
                    kind, body = await asyncio.wait_for(feed.queue.get(), timeout=PING_S)
                except TimeoutError:
                    yield b": ping\n\n"
                    continue
                if kind == STOP:
                    return
                if feed.dropped:
                    yield frame("dropped", {"count": feed.dropped})
                    feed.dropped = 0
                yield frame(kind, body)
                if kind == "project":  # deleted: nothing more will happen here
                    return
        finally:
            self._open.discard(feed)
            for subscription in subscriptions:
                try:
                    await subscription.unsubscribe()
                except Exception as err:  # the connection may be closing already
                    log.debug("unsubscribe failed: %r", err)


def events_router(projects: ProjectStore, tokens: TokenStore, feeds: LiveFeeds) -> APIRouter:
    """`GET /admin/projects/{project}/events`."""
    router = APIRouter(tags=["events"])
    Scope = Annotated[tuple[UUID, AdminToken], Depends(admin_scope(projects, tokens))]

    @router.get(
        "/admin/projects/{project}/events",
        response_class=StreamingResponse,
        responses={200: {"content": {"text/event-stream": {}}}},
    )
    async def events(scoped: Scope) -> StreamingResponse:
        """What happens in the project now, as Server-Sent Events (`event: <kind>`, `data:
        <json>`). Read it with fetch() and the Authorization header (EventSource cannot send
        one)."""
        return StreamingResponse(
            feeds.stream(scoped[0]),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    return router
