"""BESSER's WebSocket platform (seeds/004, reference/besser.md): `{"action", "message", ...}`.

A socket is one session (its key from `X-Session-ID` / `?session_id=`, else a new one). A new
session is greeted at once (a `start` turn: a state machine runs its initial state); a known one
is not. Client actions become turns (text, JSON, files, voice transcripts, reset) or session
requests (variables, history); every reply part goes out as BESSER encodes it: options, tables
and charts as JSON *strings*, files and locations as objects, images as bare base64 JPEG.

Unlike BESSER, a frame without `message` or with an unknown action gets an `error` frame and the
socket stays open.
"""

import base64
import binascii
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from uuid import UUID, uuid4

from pydantic import TypeAdapter

from shared import subjects
from shared.contracts import ChatReply, GetSession, SessionUnknown, TurnAnswered, UpdateSession
from shared.contracts.chat import (
    ChartPart,
    FilePart,
    FileRef,
    ImagePart,
    LocationPart,
    OptionsPart,
    Part,
    TablePart,
    TextPart,
    TurnReceived,
)
from shared.contracts.knowledge import Stage
from shared.contracts.session import GetHistory, History, HistoryReply, HistoryTurn, SessionReply
from shared.identity import Project

from ..bridge import Bridge, BridgeError
from ..conversations import Conversations

log = logging.getLogger(__name__)
SESSION: TypeAdapter[Any] = TypeAdapter(SessionReply)
HISTORY: TypeAdapter[Any] = TypeAdapter(HistoryReply)
MAX_TEXT = 65536
CLOSE_POLICY = 1008
ACTIONS = (
    "user_message",
    "user_voice",
    "user_file",
    "reset",
    "fetch_user_messages",
    "user_set_variable",
    "agent_reply_str",
)


class FrameError(Exception):
    """A client frame that is answered with an `error` frame (the socket stays open)."""


@dataclass(frozen=True)
class UploadedFile:
    """A file the media service kept for this session (its type sniffed from the bytes)."""

    media_id: UUID
    name: str
    type: str
    size: int


class Media(Protocol):
    """What the socket needs of the media service: keep a file, transcribe a voice message.
    Both raise FrameError with a reason the user can read when the media service refuses."""

    async def store_file(
        self, *, project: UUID, session: str, name: str, declared_type: str, data: bytes
    ) -> UploadedFile: ...

    async def transcribe(self, *, project: UUID, session: str, wav: bytes) -> str: ...


def timestamp(at: datetime) -> str:
    """BESSER's timestamp: the server's local time, `YYYY-MM-DD HH:MM:SS`."""
    return at.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def envelope(
    action: str, message: Any, *, at: datetime, history: bool = False, message_id: str | None
) -> dict[str, Any]:
    """One server frame, with BAF 4.5's five keys."""
    return {
        "action": action,
        "message": message,
        "history": history,
        "timestamp": timestamp(at),
        "message_id": message_id,
    }


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def encode_part(part: Part) -> tuple[str, Any]:
    """The action and message of one reply part, as BESSER's reply_* methods encode them."""
    if isinstance(part, TextPart):
        return f"agent_reply_{part.kind}", part.text
    if isinstance(part, OptionsPart):  # json.dumps({i: option}): a JSON string, keys "0", "1"...
        return "agent_reply_options", json.dumps({str(n): o for n, o in enumerate(part.options)})
    if isinstance(part, TablePart):  # df.to_json(): orient=columns, row labels "0", "1"...
        table = {c: {str(n): v for n, v in enumerate(vs)} for c, vs in part.columns.items()}
        return "agent_reply_dataframe", _compact(table)
    if isinstance(part, ChartPart):  # plotly.io.to_json(fig)
        return "agent_reply_plotly", _compact(part.figure)
    if isinstance(part, ImagePart):
        return "agent_reply_image", part.base64
    if isinstance(part, FilePart):
        return "agent_reply_file", {"name": part.name, "type": part.type, "base64": part.base64}
    if isinstance(part, LocationPart):
        return "agent_reply_location", {"latitude": part.latitude, "longitude": part.longitude}
    raise TypeError(f"no BESSER encoding for {part!r}")


def reply_frames(
    parts: list[Part], text: str, *, at: datetime, reply_id: UUID, history: bool = False
) -> list[dict[str, Any]]:
    """The frames of one answer: one per part, or its text alone (an AIML/FAQ/NLU answer)."""
    if not parts:
        parts = [TextPart(kind="str", text=text)] if text else []
    frames = []
    for n, part in enumerate(parts):
        action, message = encode_part(part)
        message_id = f"{reply_id}" if n == 0 else f"{reply_id}.{n}"
        frames.append(envelope(action, message, at=at, history=history, message_id=message_id))
    return frames


def history_frames(turn: HistoryTurn) -> list[dict[str, Any]]:
    """A stored turn replayed: the user's side (as the client sent it), then the bot's."""
    frames = []
    if turn.event in ("text", "json"):
        frames.append(
            envelope(
                "user_message", turn.question, at=turn.received_at, history=True, message_id=None
            )
        )
    elif turn.event == "file" and turn.file is not None:
        message = json.dumps({"name": turn.file.name, "type": turn.file.type})
        frames.append(
            envelope("user_file", message, at=turn.received_at, history=True, message_id=None)
        )
    if turn.engine != "none":
        frames += reply_frames(
            turn.parts, turn.answer, at=turn.answered_at, reply_id=turn.reply_event_id, history=True
        )
    return frames


def parse_frame(text: str) -> tuple[str, Any]:
    """The action and message of a client frame; FrameError says what is wrong with it."""
    try:
        frame = json.loads(text)
    except ValueError as err:
        raise FrameError(f"a frame is a JSON object: {err}") from err
    if not isinstance(frame, dict) or not isinstance(frame.get("action"), str):
        raise FrameError('a frame is a JSON object with an "action"')
    action = frame["action"]
    if action not in ACTIONS:
        raise FrameError(f"unknown action {action[:64]!r}; known: {', '.join(ACTIONS)}")
    if "message" not in frame:
        raise FrameError(f'{action} needs a "message" (null is fine)')
    return action, frame["message"]


def json_object(message: Any) -> dict[str, Any] | None:
    """The JSON object a user_message carries (an object, or a string holding one), else None."""
    if isinstance(message, dict):
        return message
    if isinstance(message, str) and message.lstrip().startswith("{"):
        try:
            found = json.loads(message)
        except ValueError:
            return None
        return found if isinstance(found, dict) else None
    return None


def decode_base64(value: Any, what: str) -> bytes:
    """Bytes of a base64 string (a `data:...;base64,` prefix is allowed); FrameError if not."""
    if not isinstance(value, str) or not value:
        raise FrameError(f"{what} must be a non-empty base64 string")
    if value.startswith("data:") and "," in value:
        value = value.split(",", 1)[1]
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as err:
        raise FrameError(f"{what} is not valid base64") from err


def file_message(message: Any) -> tuple[str, str, bytes]:
    """Name, declared type and bytes of a user_file (a JSON string, or an object)."""
    found = json.loads(message) if isinstance(message, str) and message.strip() else message
    if not isinstance(found, dict):
        raise FrameError('user_file needs {"name", "type", "base64"} (a JSON string)')
    name, kind = found.get("name"), found.get("type")
    if not isinstance(name, str) or not name or not isinstance(kind, str) or not kind:
        raise FrameError('user_file needs a non-empty "name" and "type"')
    return name[:255], kind[:255], decode_base64(found.get("base64"), "the file's base64")


Send = Callable[[dict[str, Any]], Awaitable[bool]]
Close = Callable[[int, str], Awaitable[None]]


@dataclass(frozen=True)
class Handshake:
    """What the client said when it connected."""

    session: str
    user_id: str | None
    session_name: str | None
    stage: Stage


class BesserSocket:
    """One BESSER WebSocket connection: one session of one project."""

    def __init__(
        self,
        send: Send,
        close: Close,
        *,
        project: Project,
        handshake: Handshake,
        bridge: Bridge,
        media: Media,
    ) -> None:
        self._send = send
        self._close = close
        self._project = project
        self._hello = handshake
        self._session = handshake.session
        self._bridge = bridge
        self._media = media
        self._opened = datetime.now(UTC)
        self._talk = Conversations(
            bridge, project=project, protocol="besser", on_reply=self._on_reply
        )
        self._actions: dict[str, Callable[[Any], Awaitable[None]]] = {
            "user_message": self._user_message,
            "agent_reply_str": self._user_message,
            "user_voice": self._user_voice,
            "user_file": self._user_file,
            "reset": self._reset,
            "fetch_user_messages": self._fetch_user_messages,
            "user_set_variable": self._user_set_variable,
        }

    async def start(self) -> None:
        """Follow the session's replies, then greet it if it is new (BridgeError: try later)."""
        await self._talk.follow(self._session)
        found = await self._bridge.ask(
            subjects.dialog_session("get", self._project.key),
            GetSession(project_key=self._project.key, session_id=self._session),
            SESSION,
        )
        user = {
            key: value
            for key, value in (
                ("user_id", self._hello.user_id),
                ("session_name", self._hello.session_name),
            )
            if value
        }
        if isinstance(found, SessionUnknown) and found.deleted:
            await self._error("this session was deleted; connect without its session_id")
            await self._close(CLOSE_POLICY, "session deleted")
        elif isinstance(found, SessionUnknown):
            await self._turn("", event="start", payload=user or None)
        elif user:
            await self._update(user)

    async def on_frame(self, text: str) -> None:
        try:
            action, message = parse_frame(text)
            await self._actions[action](message)
        except (FrameError, BridgeError) as err:
            await self._error(str(err))

    async def on_binary_error(self) -> None:
        await self._error("frames are JSON text")

    async def on_close(self) -> None:
        await self._talk.close()

    # --- client actions ------------------------------------------------------------------------

    async def _user_message(self, message: Any) -> None:
        payload = json_object(message)
        if payload is not None:
            said = payload.get("message")
            await self._turn(said if isinstance(said, str) else "", event="json", payload=payload)
        elif isinstance(message, str) and message.strip():
            await self._turn(message)
        else:
            raise FrameError("user_message needs text, or a JSON object")

    async def _user_voice(self, message: Any) -> None:
        wav = decode_base64(message, "user_voice")
        said = await self._media.transcribe(
            project=self._project.key, session=self._session, wav=wav
        )
        if not said.strip():
            raise FrameError("no speech was recognised in the voice message")
        echo = envelope("user_message", said, at=datetime.now(UTC), history=True, message_id=None)
        await self._send(echo)
        await self._turn(said)

    async def _user_file(self, message: Any) -> None:
        try:
            name, declared, data = file_message(message)
        except ValueError as err:  # the JSON string itself is broken
            raise FrameError(f"user_file: the message is not JSON: {err}") from err
        kept = await self._media.store_file(
            project=self._project.key,
            session=self._session,
            name=name,
            declared_type=declared,
            data=data,
        )
        ref = FileRef(media_id=kept.media_id, name=kept.name, type=kept.type, size=kept.size)
        await self._turn(kept.name, event="file", file=ref)

    async def _reset(self, _message: Any) -> None:
        await self._turn("", event="reset")

    async def _fetch_user_messages(self, _message: Any) -> None:
        query = GetHistory(
            project_key=self._project.key, session_id=self._session, until=self._opened
        )
        found = await self._bridge.ask(
            subjects.dialog_session("history", self._project.key), query, HISTORY
        )
        if isinstance(found, History):
            for turn in found.turns:
                for frame in history_frames(turn):
                    await self._send(frame)

    async def _user_set_variable(self, message: Any) -> None:
        if not isinstance(message, dict) or not message:
            raise FrameError("user_set_variable needs a non-empty JSON object")
        await self._update(message)

    # --- helpers -------------------------------------------------------------------------------

    async def _turn(self, text: str, **fields: Any) -> None:
        if len(text) > MAX_TEXT:
            raise FrameError(f"a message is at most {MAX_TEXT} characters")
        turn: TurnReceived = self._talk.turn(self._session, text, stage=self._hello.stage, **fields)
        await self._talk.say(turn)

    async def _update(self, data: dict[str, Any]) -> None:
        try:
            command = UpdateSession(
                project_key=self._project.key,
                session_id=self._session,
                data=data,
                correlation_id=uuid4(),
                create_as="besser",
            )
        except ValueError as err:
            raise FrameError(f"variables refused: {_first_error(err)}") from err
        await self._bridge.ask(
            subjects.dialog_session("update", self._project.key), command, SESSION
        )

    async def _error(self, message: str) -> None:
        await self._send(envelope("error", message, at=datetime.now(UTC), message_id=None))

    async def _on_reply(self, reply: ChatReply) -> None:
        if isinstance(reply, TurnAnswered):
            if reply.engine == "none":
                return
            frames = reply_frames(
                reply.parts, reply.text, at=reply.occurred_at, reply_id=reply.event_id
            )
        else:  # an operator or a schedule speaks first
            frames = [
                envelope(
                    "agent_reply_str",
                    reply.text,
                    at=reply.occurred_at,
                    message_id=str(reply.event_id),
                )
            ]
        for frame in frames:
            await self._send(frame)


def _first_error(err: ValueError) -> str:
    errors = getattr(err, "errors", None)
    if callable(errors):
        found = errors()
        if found:
            return str(found[0].get("msg", err))
    return str(err)
