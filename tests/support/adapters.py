"""The gateway's protocol adapters in process, on stand-ins for NATS, the identity stores and the
media service (the fuzz tier and the golden-frame component tests drive them).

The stand-ins are faithful where it matters: messages are serialised as the real bridge
serialises them (a failure is a BridgeError, as the real one reports it), secrets are checked
with the real hash, and every frame an adapter sends is encoded to UTF-8 JSON as the real socket
does (so a frame that could not be sent raises here). `Wire` is the client's side of one socket;
`xparo()`, `typed()`, `aida()`, `besser()` and `rsvp_app()` build each adapter on the fakes.
"""

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast
from uuid import UUID, uuid4

from fastapi import FastAPI
from pydantic import BaseModel, TypeAdapter, ValidationError

from services.gateway.adapters.aida import AidaSocket
from services.gateway.adapters.besser import BesserSocket, Handshake, UploadedFile
from services.gateway.adapters.besser_wire import FrameError as BesserFrameError
from services.gateway.adapters.xparo import XparoAdapter
from services.gateway.adapters.xparo_typed import XparoTypedAdapter
from services.gateway.bridge import BridgeError
from services.gateway.config import GatewaySettings
from services.gateway.nul_guard import NulGuard
from services.gateway.phoenix import wire
from services.gateway.rsvp_routes import rsvp_router
from shared.contracts import BotContent, BotContentSaved, ChatReply, TurnAnswered, TurnReceived
from shared.contracts.chat import AudioPart
from shared.contracts.session import SessionInfo, SessionUnknown
from shared.identity import Project
from shared.identity.secrets import hash_secret, secret_matches

T = TypeVar("T")
SECRET = "5" * 64
OTHER_PROJECT = UUID("00000000-0000-4000-8000-00000000beef")


def project() -> Project:
    """A project whose secret is SECRET."""
    return Project(key=uuid4(), name="fuzz", secret_hash=hash_secret(SECRET), secret_prefix="5555")


def wire_text(frame: Any) -> str:
    """What connection.Socket.send_json puts on the wire (raises if it cannot: UTF-8 only)."""
    text = json.dumps(frame, ensure_ascii=False)
    text.encode("utf-8")
    return text


class Subscription:
    async def unsubscribe(self) -> None:
        return None


class FakeResume:
    """Nothing to resume: no gateway stopped before this one."""

    def hold(self, _conversations: object) -> None:
        return None

    def release(self, _conversations: object) -> None:
        return None

    async def take(self, _name: str) -> None:
        return None

    async def claim(self, _name: str) -> None:
        return None

    async def give_back(self, _name: str, _marks: object) -> None:
        return None

    async def change_list(self, _name: str, _change: object) -> list[object]:
        return []


@dataclass
class FakeBridge:
    """Takes every message; answers session, content and save requests plausibly, others not.
    A published turn is answered at once (an echo bot), so reply paths run too."""

    published: list[BaseModel] = field(default_factory=list)
    followers: dict[tuple[UUID, str], Callable[[ChatReply], Awaitable[None]]] = field(
        default_factory=dict
    )
    resume: FakeResume = field(default_factory=FakeResume)

    @property
    def broker(self) -> Any:
        raise BridgeError("no broker in the fuzz harness")

    async def publish_turn(self, turn: TurnReceived) -> None:
        await self.publish(turn, "chat.turn", "CHAT")
        deliver = self.followers.get((turn.project_key, turn.session_id))
        if deliver is not None:
            answer = TurnAnswered.first(
                project_key=turn.project_key,
                session_id=turn.session_id,
                turn_event_id=turn.event_id,
                text=turn.text[:100] or "ok",
                engine="fallback",
            )
            await deliver(answer)

    async def publish(self, event: BaseModel, subject: str, stream: str, **_: Any) -> None:
        try:
            event.model_dump_json().encode()
        except Exception as err:  # the real broker fails the same way: Bridge says try again
            raise BridgeError("the message could not be accepted, try again") from err
        self.published.append(event)
        del self.published[:-100]

    async def ask(self, subject: str, request: BaseModel, answer: TypeAdapter[T], **_: Any) -> T:
        try:
            request.model_dump_json().encode()
        except Exception as err:
            raise BridgeError("the service did not answer, try again") from err
        session = str(getattr(request, "session_id", "") or "s")
        candidates: list[BaseModel] = [
            SessionInfo(session_id=session, protocol="aida", data={}),
            BotContentSaved(version=2, categories=1),
            BotContent(version=1, aiml="", maps="", sets="", properties=""),
            SessionUnknown(session_id=session),
        ]
        for candidate in candidates:
            try:
                return answer.validate_python(candidate.model_dump())
            except ValidationError:
                continue
        raise BridgeError("the service did not answer, try again")

    async def follow_replies(
        self, *, project: UUID, session: str, deliver: Callable[[ChatReply], Awaitable[None]]
    ) -> Subscription:
        self.followers[(project, session)] = deliver
        return Subscription()


class FakeTokens:
    """Robot credentials and tokens: issued, never stored."""

    async def issue_credential(self, *, project: UUID, robot_id: str) -> str | None:
        return "c" * 64

    async def issue_robot_token(self, *, project: UUID, robot_id: str) -> str:
        return "t" * 64

    async def credential(self, project: UUID, secret: str) -> None:
        hash_secret(secret)


@dataclass
class FakeProjects:
    """One project, authenticated with the real constant-time check."""

    only: Project

    async def authenticate(self, key: str, secret: str) -> Project | None:
        stored = self.only.secret_hash if key == str(self.only.key) else None
        return self.only if secret_matches(secret, stored) else None

    async def get(self, key: UUID) -> Project | None:
        return self.only if key == self.only.key else None

    async def by_secret(self, secret: str) -> Project | None:
        return self.only if secret_matches(secret, self.only.secret_hash) else None


class FakeFeeds:
    async def attach(self, project: UUID, listener: Any) -> None:
        return None

    async def detach(self, project: UUID, listener: Any) -> None:
        return None


class FakeMedia:
    """Keeps small files, refuses the rest as the media service would (FrameError)."""

    async def store_file(
        self, *, project: UUID, session: str, name: str, declared_type: str, data: bytes
    ) -> UploadedFile:
        if len(data) > 32:
            raise BesserFrameError("file refused: too large")
        return UploadedFile(uuid4(), name, "application/octet-stream", len(data))

    async def transcribe(self, *, project: UUID, session: str, wav: bytes) -> str:
        raise BesserFrameError("voice message refused: not a WAV file")

    async def speak(self, *, project: UUID, text: str) -> AudioPart | None:
        return None  # as without a speech engine: replies go out without their audio


BOT = project()


@dataclass
class Wire:
    """The client's side of one socket: decoded frames and close codes, in order."""

    frames: list[Any] = field(default_factory=list)
    closes: list[int] = field(default_factory=list)

    async def send_json(self, frame: Any) -> bool:
        self.frames.append(json.loads(wire_text(frame)))
        return True

    async def send_text(self, text: str) -> bool:
        text.encode("utf-8")
        self.frames.append(json.loads(text))
        return True

    async def close(self, code: int, reason: str = "") -> None:
        self.closes.append(code)


async def feed(adapter: Any, frame: str | bytes) -> None:
    """Hand `frame` over as connection.run does (binary frames must be UTF-8, or on_bytes)."""
    if isinstance(frame, bytes):
        if hasattr(adapter, "on_bytes"):
            await adapter.on_bytes(frame)
            return
        try:
            frame = frame.decode("utf-8")
        except UnicodeDecodeError:
            await adapter.on_binary_error()
            return
    await adapter.on_frame(frame)


def xparo(out: Wire, bot: Project = BOT) -> XparoAdapter:
    """The XPARO command API's adapter on one socket (session "fuzz", no robot)."""
    return XparoAdapter(
        out.send_json,
        project=bot,
        bridge=cast(Any, FakeBridge()),
        tokens=cast(Any, FakeTokens()),
        session_id="fuzz",
        robot_id=None,
        reply_wait_s=0.05,
        link={},
        live=False,
    )


def typed(out: Wire, bot: Project = BOT) -> XparoTypedAdapter:
    """The XPARO typed API's adapter on one socket (no robot named in the URL)."""
    return XparoTypedAdapter(
        cast(Any, out),
        project=bot,
        bridge=cast(Any, FakeBridge()),
        tokens=cast(Any, FakeTokens()),
        robot_id=None,
        connection="fuzz",
        ping_interval_s=60,
        ack_wait_s=1,
        fetch_wait_s=1,
    )


def besser(out: Wire, bot: Project = BOT) -> BesserSocket:
    """The BESSER platform's adapter on one socket (session "fuzz", stage test)."""
    return BesserSocket(
        out.send_json,
        out.close,
        project=bot,
        handshake=Handshake(session="fuzz", user_id=None, session_name=None, stage="test"),
        bridge=cast(Any, FakeBridge()),
        media=FakeMedia(),
    )


def aida(out: Wire, version: int, bot: Project = BOT) -> AidaSocket:
    """AIDA's Phoenix socket speaking serializer `version` (1: objects, 2: arrays)."""
    return AidaSocket(
        out.send_text,
        out.close,
        serializer=wire.Serializer(version),  # type: ignore[arg-type]
        projects=cast(Any, FakeProjects(bot)),
        bridge=cast(Any, FakeBridge()),
        feeds=cast(Any, FakeFeeds()),
        idle_s=60,
    )


def rsvp_app(bot: Project = BOT) -> FastAPI:
    """RSVP.ai's HTTP API as the gateway mounts it (NUL guard first), on the fakes."""
    app = FastAPI()
    app.add_middleware(NulGuard)
    settings = GatewaySettings(rsvp_wait_s=1)
    app.include_router(rsvp_router(cast(Any, FakeProjects(bot)), cast(Any, FakeBridge()), settings))
    return app
