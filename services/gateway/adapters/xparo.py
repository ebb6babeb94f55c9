"""XPARO command API: a frame is a JSON object whose keys are commands, run in order.

Replies are JSON objects too: `initialize_api` → the project document, `ask_bot` →
`{"message": {"bot_response": ...}}`, `save_aiml` → `{"save_aiml": {"status": true, ...}}`,
`xparo_sync_config` → `{"change_config": {...}}`, and every problem →
`{"error": {"command": ..., "message": ...}}` with the socket left open.
"""

import asyncio
import json
import logging
from typing import Any
from uuid import uuid4

from pydantic import TypeAdapter, ValidationError

from shared import subjects
from shared.contracts import (
    BotContent,
    BotContentSaved,
    GetBotContent,
    SaveBotContent,
    SaveReply,
    TurnAnswered,
)
from shared.identity import Project

from ..bridge import Bridge, BridgeError
from ..connection import Socket
from ..conversations import Conversations

log = logging.getLogger(__name__)
SAVE_REPLY: TypeAdapter[Any] = TypeAdapter(SaveReply)
CONTENT: TypeAdapter[BotContent] = TypeAdapter(BotContent)
ROBOT_CONTENT_KEYS = {
    "aiml": "aiml",
    "maps": "maps",
    "Sets": "sets",
    "sets": "sets",
    "properties": "properties",
}


class CommandError(Exception):
    """A command could not run; the message is for the user."""

    def __init__(self, message: str, **detail: Any) -> None:
        super().__init__(message)
        self.detail = detail


def error_frame(command: str | None, message: str, **detail: Any) -> dict[str, Any]:
    """The XPARO error shape (the real robot client reads `error.message`)."""
    return {"error": {"command": command, "message": message, **detail}}


class XparoAdapter:
    """One XPARO command-API socket."""

    def __init__(
        self,
        socket: Socket,
        *,
        project: Project,
        bridge: Bridge,
        session_id: str,
        reply_wait_s: float,
    ) -> None:
        self.socket = socket
        self.project = project
        self.bridge = bridge
        self.session_id = session_id
        self.reply_wait_s = reply_wait_s
        self._waiting: dict[Any, asyncio.Future[None]] = {}
        self._conversations = Conversations(
            bridge, project=project, protocol="xparo", on_reply=self.deliver
        )
        self._commands = {
            "initialize_api": self.initialize_api,
            "save_aiml": self.save_aiml,
            "ask_bot": self.ask_bot,
            "xparo_sync_config": self.sync_config,
        }

    async def start(self) -> None:
        """Take interest in this session's replies."""
        await self._conversations.follow(self.session_id)

    async def on_close(self) -> None:
        await self._conversations.close()

    async def on_binary_error(self) -> None:
        await self.socket.send_json(error_frame(None, "binary frames must be UTF-8 JSON"))

    async def on_frame(self, text: str) -> None:
        """Run every command of one frame, in order."""
        try:
            frame = json.loads(text)
        except ValueError as err:
            await self.socket.send_json(error_frame(None, f"invalid JSON: {err}"))
            return
        if not isinstance(frame, dict) or not frame:
            await self.socket.send_json(
                error_frame(
                    None, 'a frame must be a JSON object of commands, e.g. {"ask_bot": "hi"}'
                )
            )
            return
        for command, value in frame.items():
            await self._run(command, value)

    async def _run(self, command: str, value: Any) -> None:
        handler = self._commands.get(command)
        if handler is None:
            known = ", ".join(self._commands)
            await self.socket.send_json(error_frame(command, f"unknown command; known: {known}"))
            return
        try:
            reply = await handler(value)
        except CommandError as err:
            await self.socket.send_json(error_frame(command, str(err), **err.detail))
        except BridgeError as err:
            await self.socket.send_json(error_frame(command, str(err)))
        except ValidationError as err:
            problem = err.errors()[0]
            await self.socket.send_json(
                error_frame(command, f"{problem['loc'][-1]}: {problem['msg']}")
            )
        else:
            if reply is not None:
                await self.socket.send_json(reply)

    async def initialize_api(self, _value: Any) -> dict[str, Any]:
        content = await self._content()
        p = self.project
        return {
            "status": True,
            "title": p.title,
            "disc": p.description,
            "goal": p.goal,
            "rules": p.rules,
            "api_key": f"{p.secret_prefix}…",
            "aiml": content.aiml,
            "maps": content.maps,
            "Sets": content.sets,
            "properties": content.properties,
            "System": p.system,
        }

    async def sync_config(self, _value: Any) -> dict[str, Any]:
        p = self.project
        config = {"xparo_name": p.title or p.name, "title": p.title, "goal": p.goal, **p.settings}
        return {"change_config": config}

    async def save_aiml(self, value: Any) -> dict[str, Any]:
        fields = _content_fields(value)
        command = SaveBotContent(project_key=self.project.key, correlation_id=uuid4(), **fields)
        reply = await self.bridge.ask(
            subjects.dialog_content_save(self.project.key), command, SAVE_REPLY
        )
        if not isinstance(reply, BotContentSaved):
            first = reply.problems[0]
            raise CommandError(
                f"invalid AIML at line {first.line}, column {first.column}: {first.message}",
                problems=[p.model_dump() for p in reply.problems],
            )
        return {
            "save_aiml": {"status": True, "version": reply.version, "categories": reply.categories}
        }

    async def ask_bot(self, value: Any) -> None:
        if not isinstance(value, str):
            raise CommandError('ask_bot expects a string, e.g. {"ask_bot": "hello"}')
        turn = self._conversations.turn(self.session_id, value)
        answered = asyncio.get_running_loop().create_future()
        self._waiting[turn.event_id] = answered
        try:
            await self._conversations.say(turn)
            await asyncio.wait_for(asyncio.shield(answered), self.reply_wait_s)
        except TimeoutError:
            log.warning("no answer yet to turn %s; it will be sent when it comes", turn.event_id)
        finally:
            self._waiting.pop(turn.event_id, None)

    async def deliver(self, reply: TurnAnswered) -> None:
        """Send a reply (once, see Conversations) and wake the command it answers."""
        await self.socket.send_json({"message": {"bot_response": reply.text}})
        waiting = self._waiting.get(reply.turn_event_id)
        if waiting is not None and not waiting.done():
            waiting.set_result(None)

    async def _content(self) -> BotContent:
        query = GetBotContent(project_key=self.project.key)
        return await self.bridge.ask(subjects.dialog_content_get(self.project.key), query, CONTENT)


def _content_fields(value: Any) -> dict[str, str]:
    """`save_aiml`'s value: an AIML string, or the robot's {"aiml", "maps", "Sets", ...} object."""
    if isinstance(value, str):
        return {"aiml": value}
    if not isinstance(value, dict):
        raise CommandError('save_aiml expects AIML text or {"aiml": ..., "maps": ..., ...}')
    fields: dict[str, str] = {}
    for key, name in ROBOT_CONTENT_KEYS.items():
        if key in value:
            if not isinstance(value[key], str):
                raise CommandError(f"save_aiml.{key} must be a string")
            fields[name] = value[key]
    if "aiml" not in fields:
        raise CommandError("save_aiml needs an 'aiml' string")
    return fields
