"""BESSER's WebSocket platform (seeds/004, reference/besser.md): `{"action", "message", ...}`.

A socket is one session (its key from `X-Session-ID` / `?session_id=`, else a new one). A new
session is greeted at once (a `start` turn: a state machine runs its initial state); a known one
is not. Client actions become turns (text, JSON, files, voice transcripts, reset) or session
requests (variables, history); every reply part goes out as BESSER encodes it: options, tables
and charts as JSON *strings*, files and locations as objects, images as bare base64 JPEG.

Unlike BESSER, a frame without `message` or with an unknown action is answered and the socket
stays open: every refusal is an `agent_reply_str` starting "Error: " (what BAF's UIs render) with
the reason again under an `error` key.
"""

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from uuid import UUID, uuid4

from pydantic import TypeAdapter, ValidationError

from shared import subjects
from shared.contracts import ChatReply, TurnAnswered, UpdateSession
from shared.contracts.chat import AudioPart, FileRef, Part, TurnReceived
from shared.contracts.knowledge import Stage
from shared.contracts.session import GetHistory, History, HistoryReply, SessionReply
from shared.identity import Project

from ...bus.bridge import Bridge, BridgeError
from ...bus.turn_numbers import Conversations
from ...edge.limits import frame_refusal
from ...edge.metrics import SocketMeter, frame_refused
from .wire import (
    BesserFrameError,
    decode_base64,
    envelope,
    error_frame,
    file_message,
    gui_event,
    history_frames,
    json_object,
    parse_frame,
    reply_frames,
)

log = logging.getLogger(__name__)
SESSION: TypeAdapter[Any] = TypeAdapter(SessionReply)
HISTORY: TypeAdapter[Any] = TypeAdapter(HistoryReply)
MAX_TEXT = 65536
CLOSE_POLICY = 1008


@dataclass(frozen=True)
class UploadedFile:
    """A file the media service kept for this session (its type sniffed from the bytes)."""

    media_id: UUID
    name: str
    type: str
    size: int


class Media(Protocol):
    """What the socket needs of the media service: keep a file, transcribe a voice message.
    Both raise BesserFrameError with a reason the user can read when the media service refuses."""

    async def store_file(
        self, *, project: UUID, session: str, name: str, declared_type: str, data: bytes
    ) -> UploadedFile: ...

    async def transcribe(self, *, project: UUID, session: str, wav: bytes) -> str: ...

    async def speak(self, *, project: UUID, text: str) -> AudioPart | None:
        """`text` said (None when it cannot be: the reply goes out without its audio)."""


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
        meter: SocketMeter | None = None,
    ) -> None:
        self._meter = meter  # its refusals are counted on it (None: not a socket)
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
            "user_gui_event": self._user_gui_event,
        }

    async def start(self) -> None:
        """Follow the session's replies, then send its `start` turn (BridgeError: try later),
        without asking the dialog anything: a busy dialog cannot time a connect out.

        The turn carries who the user is (user_id, session_name), which the dialog keeps in the
        session; it greets a new session, and answers a known one with nothing (engine none).
        A deleted one is refused with the answer (`TurnAnswered.refused`): the socket gets
        BESSER's error frame and is closed (`_on_reply`)."""
        await self._talk.follow(self._session)
        user = {
            key: value
            for key, value in (
                ("user_id", self._hello.user_id),
                ("session_name", self._hello.session_name),
            )
            if value
        }
        await self._turn("", event="start", payload=user or None)

    async def _refuse_deleted(self) -> None:
        frame_refused(self._meter, "refused")
        await self._error("this session was deleted; connect without its session_id")
        await self._close(CLOSE_POLICY, "session deleted")

    async def on_frame(self, text: str) -> None:
        try:
            action, message = parse_frame(text)
            await self._actions[action](message)
        except BesserFrameError as err:
            frame_refused(self._meter, "invalid")
            await self._error(str(err))
        except BridgeError as err:
            frame_refused(self._meter, "unavailable")
            await self._error(str(err))
        except ValidationError as err:  # e.g. text holding a lone surrogate ("\ud800")
            frame_refused(self._meter, "invalid")
            problem = err.errors()[0]
            where = problem["loc"][-1] if problem["loc"] else "message"
            await self._error(f"{where}: {problem['msg']}")

    async def on_binary_error(self) -> None:
        await self._error("frames are JSON text")

    async def on_rate_limited(self, frame: str | bytes, retry_after_s: float) -> None:
        """A frame over the socket's rate is not run: an error frame says when to retry."""
        await self._error(frame_refusal(retry_after_s))

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
            raise BesserFrameError("user_message needs text, or a JSON object")

    async def _user_voice(self, message: Any) -> None:
        wav = decode_base64(message, "user_voice")
        said = await self._media.transcribe(
            project=self._project.key, session=self._session, wav=wav
        )
        if not said.strip():
            raise BesserFrameError("no speech was recognised in the voice message")
        echo = envelope("user_message", said, at=datetime.now(UTC), history=True, message_id=None)
        await self._send(echo)
        await self._turn(said)

    async def _user_file(self, message: Any) -> None:
        try:
            name, declared, data = file_message(message)
        except (ValueError, RecursionError) as err:  # the JSON string itself is broken
            raise BesserFrameError(f"user_file: the message is not JSON: {err}") from err
        kept = await self._media.store_file(
            project=self._project.key,
            session=self._session,
            name=name,
            declared_type=declared,
            data=data,
        )
        ref = FileRef(media_id=kept.media_id, name=kept.name, type=kept.type, size=kept.size)
        await self._turn(kept.name, event="file", file=ref)

    async def _user_gui_event(self, message: Any) -> None:
        """A button or form of a custom UI: an event for the state machine, with its payload."""
        await self._turn("", event="gui", payload=gui_event(message))

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
            raise BesserFrameError("user_set_variable needs a non-empty JSON object")
        await self._update(message)

    # --- helpers -------------------------------------------------------------------------------

    async def _turn(self, text: str, **fields: Any) -> None:
        if len(text) > MAX_TEXT:
            raise BesserFrameError(f"a message is at most {MAX_TEXT} characters")
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
        except ValidationError as err:
            raise BesserFrameError(f"variables refused: {err.errors()[0]['msg']}") from err
        await self._bridge.ask(
            subjects.dialog_session("update", self._project.key), command, SESSION
        )

    async def _error(self, message: str) -> None:
        await self._send(error_frame(message, at=datetime.now(UTC)))

    async def _voiced(self, part: Part) -> Part | None:
        """An audio part still to be said, said by the media service (None: it could not
        be, and is left out); every other part as it is."""
        if not isinstance(part, AudioPart) or part.base64:
            return part
        return await self._media.speak(project=self._project.key, text=part.text)

    async def _on_reply(self, reply: ChatReply) -> None:
        if isinstance(reply, TurnAnswered):
            if reply.refused == "session_deleted":
                await self._refuse_deleted()
                return
            if reply.engine == "none":
                return
            parts = [await self._voiced(part) for part in reply.parts]
            frames = reply_frames(
                [p for p in parts if p is not None],
                reply.text,
                at=reply.occurred_at,
                reply_id=reply.event_id,
            )
        else:  # an operator or a schedule speaks first
            frame = envelope(
                "agent_reply_str", reply.text, at=reply.occurred_at, message_id=str(reply.event_id)
            )
            frame["source"] = reply.source  # ignored by BAF's UIs; the chat page marks a person
            frames = [frame]
        for frame in frames:
            await self._send(frame)
