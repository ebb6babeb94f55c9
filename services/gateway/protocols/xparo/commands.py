"""XPARO command API: a frame is a JSON object whose keys are commands, run in order.

Replies are JSON objects too: `initialize_api` → the project document, `ask_bot` →
`{"message": {"bot_response": ...}}`, `save_aiml` → `{"save_aiml": {"status": true, ...}}`,
`xparo_sync_config` → `{"change_config": {...}}`, the schedule commands (xparo_schedule.py),
the real robot client's messages (xparo_robot.py), and every problem →
`{"error": {"command": ..., "message": ...}}` with the socket left open.

The same adapter serves the WebSocket (replies written as they come, operators' commands
delivered live) and the REST twin (one request's replies collected into one object).
"""

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from uuid import uuid4

from pydantic import ValidationError

from shared.contracts import (
    DEFAULT_ROBOT,
    ChatReply,
    RestApiToken,
    RobotCommandIssued,
    TurnAnswered,
    robot_id_or_none,
)
from shared.identity import Project, TokenStore

from ...bus.bridge import Bridge, BridgeError
from ...bus.robot_link import RobotLink
from ...bus.turn_numbers import Conversations
from ...edge.limits import frame_refusal, peek, retry_hint
from ...edge.metrics import SocketMeter, frame_refused
from ...edge.outbox import send_written
from . import project_commands, schedule
from .refusals import CommandError, error_frame
from .robot_client import (
    DialectError,
    RobotDialect,
    robot_named,
    xparo_command_frame,
)

log = logging.getLogger(__name__)
Out = Callable[[dict[str, Any]], Awaitable[bool]]
LOG_KEYS = ("ADD_Logs_history_database", "UPDATE_Logs_history_database")


class XparoAdapter:
    """One XPARO command-API socket (or one REST request)."""

    def __init__(
        self,
        out: Out,
        *,
        project: Project,
        bridge: Bridge,
        tokens: TokenStore,
        session_id: str,
        robot_id: str | None,
        reply_wait_s: float,
        link: dict[str, Any],
        live: bool = True,
        meter: SocketMeter | None = None,
    ) -> None:
        self._meter = meter  # its refusals are counted on it (None: not a socket)
        self.out = out
        self.project = project
        self.bridge = bridge
        self.tokens = tokens
        self.session_id = session_id
        self.robot_id = robot_id
        self.reply_wait_s = reply_wait_s
        self._link_options = link
        self._live = live
        self._link: RobotLink | None = None
        self._waiting: dict[Any, asyncio.Future[None]] = {}
        self._conversations = Conversations(
            bridge, project=project, protocol="xparo", on_reply=self.deliver
        )
        self.dialect = RobotDialect(bridge, tokens, project=project.key)
        self._commands = {
            "initialize_api": self.initialize_api,
            "save_aiml": self.save_aiml,
            "ask_bot": self.ask_bot,
            "ask_bot_api": self.ask_bot_api,
            "xparo_sync_config": self.sync_config,
            "xparo_get_schedule": self.get_schedule,
            "xparo_schedule_control": self.set_schedule,
            "xparo_delete_schedule_control": self.delete_schedule,
            "ADD_robots_info": self.robots_info,
            "ROBOT_HEARTBEAT": self.heartbeat,
        }

    @property
    def robot(self) -> str:
        """The robot this socket speaks for (`default` until it says)."""
        return self.robot_id or DEFAULT_ROBOT

    def _from(self, command: str, value: Any) -> str:
        """The robot a report is filed under: the connection's, else the one the message names
        (xparo_robot.robot_named), else `default`."""
        return self.robot_id or robot_named(command, value) or DEFAULT_ROBOT

    async def start(self) -> None:
        """Take interest in this session's replies; a named robot gets its commands."""
        await self._conversations.follow(self.session_id)
        if self.robot_id is not None:
            await self._start_link()

    async def on_close(self) -> None:
        if self._link is not None:
            await self._link.stop()
        await self._conversations.close()

    async def on_binary_error(self) -> None:
        await self.out(error_frame(None, "binary frames must be UTF-8 JSON"))

    async def on_rate_limited(self, frame: str | bytes, retry_after_s: float) -> None:
        """A frame over the socket's rate is not run; its first command gets the error."""
        command = next(iter(peek(frame) or {}), None)
        message = frame_refusal(retry_after_s)
        await self.out(error_frame(command, message, retry_after=retry_hint(retry_after_s)))

    async def on_frame(self, text: str) -> None:
        """Run every command of one frame, in order."""
        try:
            frame = json.loads(text)
        except (ValueError, RecursionError) as err:
            frame_refused(self._meter, "invalid")
            await self.out(error_frame(None, f"invalid JSON: {err}"))
            return
        await self.run_frame(frame)

    async def run_frame(self, frame: Any) -> None:
        """Run a decoded frame: each key is a command."""
        if not isinstance(frame, dict) or not frame:
            frame_refused(self._meter, "invalid")
            await self.out(
                error_frame(
                    None, 'a frame must be a JSON object of commands, e.g. {"ask_bot": "hi"}'
                )
            )
            return
        for command, value in frame.items():
            await self._run(command, value)

    async def _run(self, command: str, value: Any) -> None:
        handler = self._commands.get(command)
        try:
            if handler is not None:
                reply = await handler(value)
            elif command in LOG_KEYS:
                reply = await self.dialect.log_session(self._from(command, value), command, value)
            else:
                reply = await self.dialect.other(self._from(command, value), command, value)
        except CommandError as err:
            frame_refused(self._meter, "refused")
            await self.out(error_frame(command, str(err), **err.detail))
        except schedule.ScheduleRefused as err:
            frame_refused(self._meter, "invalid")
            await self.out(error_frame(command, str(err), problems=err.problems))
        except DialectError as err:
            frame_refused(self._meter, "invalid")
            await self.out(error_frame(command, str(err)))
        except BridgeError as err:
            frame_refused(self._meter, "unavailable")
            await self.out(error_frame(command, str(err)))
        except ValidationError as err:
            frame_refused(self._meter, "invalid")
            problem = err.errors()[0]
            where = problem["loc"][-1] if problem["loc"] else command
            await self.out(error_frame(command, f"{where}: {problem['msg']}"))
        else:
            if reply:
                await self.out(reply)

    async def _start_link(self) -> None:
        if not self._live or self._link is not None:
            return
        self._link = self._robot_link(connection=uuid4().hex)
        await self._link.start()

    def _robot_link(self, *, connection: str) -> RobotLink:
        return RobotLink(
            self.bridge,
            project=self.project.key,
            robot=self.robot,
            connection=connection,
            protocol="xparo",
            deliver=self._send_command,
            **self._link_options,
        )

    async def poll_commands(self, wait_s: float) -> None:
        """REST twin: hand over at most one queued command of the named robot."""
        if self.robot_id is None:
            return
        await self._robot_link(connection="rest").poll(wait_s=wait_s)

    async def _send_command(self, issued: RobotCommandIssued) -> bool:
        token = None
        if isinstance(issued.command, RestApiToken):
            token = await self.tokens.issue_robot_token(
                project=self.project.key, robot_id=self.robot
            )
        return await send_written(self.out, xparo_command_frame(issued, token=token))

    async def robots_info(self, value: Any) -> dict[str, Any]:
        device, reply = await self.dialect.robots_info(value)
        if self.robot_id is None:
            self.robot_id = device
            await self._start_link()
        return reply

    async def heartbeat(self, value: Any) -> None:
        device = value.get("device_id") if isinstance(value, dict) else None
        robot = robot_id_or_none(device) or self.robot
        await self.dialect.heartbeat(robot, value)

    async def get_schedule(self, _value: Any) -> dict[str, Any]:
        return await schedule.get_schedule(self.bridge, project=self.project.key, robot=self.robot)

    async def set_schedule(self, value: Any) -> dict[str, Any]:
        return await schedule.set_schedule(
            self.bridge, project=self.project.key, robot=self.robot, value=value
        )

    async def delete_schedule(self, value: Any) -> dict[str, Any]:
        return await schedule.delete_schedule(
            self.bridge, project=self.project.key, robot=self.robot, value=value
        )

    async def initialize_api(self, _value: Any) -> dict[str, Any]:
        return await project_commands.initialize_api(self.bridge, self.project)

    async def sync_config(self, _value: Any) -> dict[str, Any]:
        return project_commands.sync_config(self.project)

    async def save_aiml(self, value: Any) -> dict[str, Any]:
        return await project_commands.save_aiml(self.bridge, self.project, value)

    async def ask_bot(self, value: Any) -> None:
        if not isinstance(value, str):
            raise CommandError('ask_bot expects a string, e.g. {"ask_bot": "hello"}')
        await self._ask(self.session_id, value)

    async def ask_bot_api(self, value: Any) -> None:
        """The robot client's chat: {unique_id, data, question}; unique_id is the session."""
        question = value.get("question") if isinstance(value, dict) else None
        if not isinstance(question, str) or not question.strip():
            raise CommandError('ask_bot_api needs {"question": "...", "unique_id": "..."}')
        unique = value.get("unique_id")
        session = robot_id_or_none(unique) or self.session_id
        await self._ask(session, question)

    async def _ask(self, session: str, text: str) -> None:
        turn = self._conversations.turn(session, text)
        loop = asyncio.get_running_loop()
        answered: asyncio.Future[None] = loop.create_future()
        self._waiting[turn.event_id] = answered
        timer: asyncio.TimerHandle | None = None
        try:
            await self._conversations.say(turn)
            # one timer that fails `answered`, not asyncio.timeout's (nor wait_for's) objects
            # and cancellations per turn: a timed-out `answered` is dropped anyway (finally)
            timer = loop.call_later(self.reply_wait_s, _too_late, answered)
            await answered
        except TimeoutError:
            log.warning("no answer yet to turn %s; it will be sent when it comes", turn.event_id)
        finally:
            if timer is not None:
                timer.cancel()
            self._waiting.pop(turn.event_id, None)

    async def deliver(self, reply: ChatReply) -> None:
        """Send a reply (once, see Conversations) and wake the command it answers; an answer
        of no engine (an operator holds the session) only wakes it."""
        if not isinstance(reply, TurnAnswered):
            await self.out({"message": {"bot_response": reply.text}})
            return
        if reply.engine != "none":
            await self.out({"message": {"bot_response": reply.text}})
        waiting = self._waiting.get(reply.turn_event_id)
        if waiting is not None and not waiting.done():
            waiting.set_result(None)


def _too_late(answered: asyncio.Future[None]) -> None:
    """No answer within the reply wait: the command stops waiting (its answer is sent later)."""
    if not answered.done():
        answered.set_exception(TimeoutError())
