"""XPARO typed API: every frame is `{"type": ..., "data": {...}}`.

Robot → server: `chat` {message, robot_id?} → `chat_response` {response}; `telemetry` {metric:
number, ...} (no reply); `pong`; `ack` {command_id}. Server → robot: `ping`, and the operators'
commands `behavior_update`, `remote_command`, `log_updated`, `REST_API_TOKEN`, each with its
`command_id` added to `data`. Problems → `{"type": "error", "data": {"message", ...}}`, and the
socket stays open.
"""

import asyncio
import contextlib
import json
import logging
import math
import re
from typing import Any
from uuid import UUID

from pydantic import ValidationError

from shared import subjects
from shared.contracts import (
    DEFAULT_ROBOT,
    ChatReply,
    RestApiToken,
    RobotCommandAcknowledged,
    RobotCommandIssued,
    TelemetrySampled,
    TurnAnswered,
    robot_id_or_none,
    utcnow,
)
from shared.contracts.telemetry import MAX_METRICS
from shared.identity import Project, TokenStore

from ...bus.bridge import Bridge, BridgeError
from ...bus.robot_link import RobotLink
from ...bus.turn_numbers import Conversations
from ...edge.errors import BadFrame
from ...edge.limits import frame_refusal, peek, retry_hint
from ...edge.metrics import SocketMeter, frame_refused
from ...edge.sockets import Socket

log = logging.getLogger(__name__)
METRIC = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
PERCENT_SUFFIXES = ("_usage", "_percent")
ROBOT_KEYS = ("robot_id",)


class TypedFrameError(BadFrame):
    """A frame could not be used; the message is for the robot."""

    def __init__(self, message: str, **detail: Any) -> None:
        super().__init__(message)
        self.detail = detail


def error_frame(message: str, **detail: Any) -> dict[str, Any]:
    """The typed API's error shape (echoed strings without lone surrogates: a client may send
    "\\ud800", and no UTF-8 frame can hold it)."""
    echoed = {k: _sendable(v) if isinstance(v, str) else v for k, v in detail.items()}
    return {"type": "error", "data": {"message": _sendable(message), **echoed}}


def _sendable(text: str) -> str:
    return text.encode("utf-8", "backslashreplace").decode()


def sample_metrics(data: dict[str, Any]) -> dict[str, float]:
    """The numeric metrics of a telemetry frame, or TypedFrameError naming the first bad one.

    Any metric name is kept (robots send more than the documented three); `*_usage` and
    `*_percent` metrics are percentages and must lie in 0..100.
    """
    metrics = {k: v for k, v in data.items() if k not in ROBOT_KEYS}
    if not metrics:
        raise TypedFrameError('telemetry needs at least one metric, e.g. {"cpu_usage": 42}')
    if len(metrics) > MAX_METRICS:
        raise TypedFrameError(f"at most {MAX_METRICS} metrics per sample")
    for name, value in metrics.items():
        if not METRIC.match(name):
            raise TypedFrameError(f"metric names are 1-64 of A-Z a-z 0-9 _ . - (got {name[:70]!r})")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypedFrameError(f"{name} must be a number", field=name)
        if not math.isfinite(value) or abs(value) > 1e15:
            raise TypedFrameError(f"{name} must be a finite number", field=name)
        if name.endswith(PERCENT_SUFFIXES) and not 0 <= value <= 100:
            raise TypedFrameError(f"{name} is a percentage: 0 to 100 (got {value})", field=name)
    return {name: float(value) for name, value in metrics.items()}


def command_frame(issued: RobotCommandIssued, *, token: str | None = None) -> dict[str, Any]:
    """What the robot receives for a command: its fields as `data`, plus `command_id`."""
    data = issued.command.model_dump(exclude={"type"})
    if token is not None:
        data["token"] = token
    data["command_id"] = str(issued.event_id)
    return {"type": issued.command.type, "data": data}


class XparoTypedAdapter:
    """One robot (or client) on the typed API."""

    def __init__(
        self,
        socket: Socket,
        *,
        project: Project,
        bridge: Bridge,
        tokens: TokenStore,
        robot_id: str | None,
        connection: str,
        ping_interval_s: float,
        ack_wait_s: float,
        fetch_wait_s: float,
        meter: SocketMeter | None = None,
    ) -> None:
        self._meter = meter  # its refusals are counted on it (None: not a socket)
        self.socket = socket
        self.project = project
        self.bridge = bridge
        self.tokens = tokens
        self.robot_id = robot_id
        self.connection = connection
        self.ping_interval_s = ping_interval_s
        self._conversations = Conversations(
            bridge, project=project, protocol="xparo-typed", on_reply=self._reply
        )
        self.link = RobotLink(
            bridge,
            project=project.key,
            robot=self.robot,
            connection=connection,
            protocol="xparo-typed",
            deliver=self._send_command,
            ack_wait_s=ack_wait_s,
            fetch_wait_s=fetch_wait_s,
        )
        self._heartbeat: asyncio.Task[None] | None = None
        self._types = {
            "chat": self.chat,
            "telemetry": self.telemetry,
            "pong": self.pong,
            "ack": self.ack,
        }

    @property
    def robot(self) -> str:
        """The robot on this socket: the one it named, else the project's `default` robot."""
        return self.robot_id or DEFAULT_ROBOT

    async def start(self) -> None:
        """Announce the robot, deliver what is queued for it and what it was told while away
        (a named robot is its own chat session), start the heartbeat."""
        if self.robot_id is not None:
            await self._conversations.follow(self.robot_id)
        await self.link.start()
        self._heartbeat = asyncio.create_task(self._beat())

    async def on_close(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
        await self.link.stop()
        await self._conversations.close()

    async def on_binary_error(self) -> None:
        await self.socket.send_json(error_frame("binary frames must be UTF-8 JSON"))

    async def on_rate_limited(self, frame: str | bytes, retry_after_s: float) -> None:
        """A frame over the socket's rate is not run: an error frame names its type."""
        kind = (peek(frame) or {}).get("type")
        hint = retry_hint(retry_after_s)
        refusal = error_frame(frame_refusal(retry_after_s), type=kind, retry_after=hint)
        await self.socket.send_json(refusal)

    async def on_frame(self, text: str) -> None:
        """Decode one frame and run it; every problem becomes an error frame."""
        kind: Any = None
        try:
            kind, data = _decode(text)
            handler = self._types.get(kind)
            if handler is None:
                known = ", ".join(self._types)
                raise TypedFrameError(f"unknown type {str(kind)[:64]!r}; known: {known}")
            await handler(data)
        except TypedFrameError as err:
            frame_refused(self._meter, "invalid")
            await self.socket.send_json(error_frame(str(err), type=kind, **err.detail))
        except BridgeError as err:
            frame_refused(self._meter, "unavailable")
            await self.socket.send_json(error_frame(str(err), type=kind))

    async def chat(self, data: dict[str, Any]) -> None:
        message = data.get("message")
        if not isinstance(message, str) or not message.strip():
            raise TypedFrameError('chat needs data.message, e.g. {"message": "Hello robot"}')
        session = _robot_field(data) or self.robot_id or self.connection
        try:
            turn = self._conversations.turn(session, message)
        except ValidationError as err:
            raise TypedFrameError(err.errors()[0]["msg"]) from err
        await self._conversations.say(turn)

    async def telemetry(self, data: dict[str, Any]) -> None:
        robot = _robot_field(data) or self.robot
        sample = TelemetrySampled.first(
            project_key=self.project.key,
            robot_id=robot,
            received_at=utcnow(),
            metrics=sample_metrics(data),
        )
        subject = subjects.telemetry_sample(project=self.project.key, robot=robot)
        await self.bridge.publish(sample, subject, subjects.TELEMETRY_STREAM)

    async def pong(self, _data: dict[str, Any]) -> None:
        """Welcome but not required: real XPARO robots never answer pings."""

    async def ack(self, data: dict[str, Any]) -> None:
        try:
            command_id = UUID(str(data.get("command_id")))
        except ValueError as err:
            raise TypedFrameError(
                "ack needs data.command_id (the id a command arrived with)"
            ) from err
        event = RobotCommandAcknowledged.first(
            project_key=self.project.key, robot_id=self.robot, command_id=command_id
        )
        await self.link.acknowledged(event)

    async def _reply(self, reply: ChatReply) -> None:
        if isinstance(reply, TurnAnswered) and reply.engine == "none":
            return  # no engine answered: an operator holds the session
        await self.socket.send_json({"type": "chat_response", "data": {"response": reply.text}})

    async def _send_command(self, issued: RobotCommandIssued) -> bool:
        token = None
        if isinstance(issued.command, RestApiToken):
            token = await self.tokens.issue_robot_token(
                project=self.project.key, robot_id=self.robot
            )
        # acknowledged only once written: a command dropped with a full queue is redelivered
        return await self.socket.send_json(command_frame(issued, token=token), written=True)

    async def _beat(self) -> None:
        """App-level ping (answer optional) and a presence 'seen' every interval."""
        while True:
            await asyncio.sleep(self.ping_interval_s)
            if not await self.socket.send_json({"type": "ping"}):
                return
            with contextlib.suppress(BridgeError):
                await self.link.presence("seen")


def _decode(text: str) -> tuple[Any, dict[str, Any]]:
    try:
        frame = json.loads(text)
    except (ValueError, RecursionError) as err:
        raise TypedFrameError(f"invalid JSON: {err}") from err
    if not isinstance(frame, dict) or "type" not in frame:
        raise TypedFrameError('a frame is {"type": ..., "data": {...}}')
    kind, data = frame["type"], frame.get("data", {} if frame["type"] in ("pong", "ping") else None)
    if not isinstance(kind, str):
        raise TypedFrameError("type must be a string")
    if not isinstance(data, dict):
        raise TypedFrameError(f"{kind} needs a data object")
    return kind, data


def _robot_field(data: dict[str, Any]) -> str | None:
    value = data.get("robot_id")
    if value is None:
        return None
    robot = robot_id_or_none(value)
    if robot is None:
        raise TypedFrameError("robot_id is 1-64 of A-Z a-z 0-9 _ -")
    return robot
