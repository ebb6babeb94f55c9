"""Stand-ins for NATS, the identity stores and the media service, faithful where it matters:
messages are serialised as the real bridge serialises them (a failure is a BridgeError, as the
real one reports it), secrets are checked with the real hash, and every frame an adapter sends is
encoded to UTF-8 JSON as the real socket does (so a frame that could not be sent raises here).
sockets.py builds each protocol's adapter on them."""

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar
from uuid import UUID, uuid4

from pydantic import BaseModel, TypeAdapter, ValidationError

from services.gateway.bus.bridge import BridgeError
from services.gateway.protocols.besser.channel import UploadedFile
from services.gateway.protocols.besser.wire import BesserFrameError
from shared.contracts import BotContent, BotContentSaved, ChatReply, TurnAnswered, TurnReceived
from shared.contracts.chat import AudioPart
from shared.contracts.schedule import (
    DeleteSchedule,
    GetSchedule,
    Schedule,
    ScheduleProblem,
    ScheduleRejected,
    SetSchedule,
)
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
    """Takes every message; answers session, content, save and schedule requests plausibly,
    others not. A published turn is answered at once (an echo bot), so reply paths run too."""

    published: list[BaseModel] = field(default_factory=list)
    followers: dict[tuple[UUID, str], Callable[[ChatReply], Awaitable[None]]] = field(
        default_factory=dict
    )
    resume: FakeResume = field(default_factory=FakeResume)
    schedules: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)
    feeds: "FakeFeeds" = field(default_factory=lambda: FakeFeeds())

    @property
    def broker(self) -> Any:
        raise BridgeError("no broker in the fuzz harness")

    async def publish_turn(self, turn: TurnReceived) -> None:
        """Publish, then answer: to the session's follower and to the bot's feed (AIDA)."""
        await self.publish(turn, "chat.turn", "CHAT")
        answer = TurnAnswered.first(
            project_key=turn.project_key,
            session_id=turn.session_id,
            turn_event_id=turn.event_id,
            text=turn.text[:100] or "ok",
            engine="fallback",
        )
        deliver = self.followers.get((turn.project_key, turn.session_id))
        if deliver is not None:
            await deliver(answer)
        for listener in list(self.feeds.listeners.get(turn.project_key, [])):
            await listener(answer)

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
        if isinstance(request, GetSchedule | SetSchedule | DeleteSchedule):
            return answer.validate_python(self.schedule(request).model_dump())
        session = str(getattr(request, "session_id", "") or uuid4())  # a new one: the dialog's
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

    def schedule(self, request: GetSchedule | SetSchedule | DeleteSchedule) -> BaseModel:
        """The robot's schedule as the schedule service keeps it (entries it cannot read are
        refused, naming the first one, and change nothing)."""
        kept = self.schedules.setdefault(request.robot_id, {})
        if isinstance(request, SetSchedule):
            try:
                changed = Schedule(robot_id=request.robot_id, schedule_control=request.entries)
            except ValidationError:
                problem = ScheduleProblem(entry=next(iter(request.entries)), message="not a date")
                return ScheduleRejected(problems=[problem])
            kept.update(changed.schedule_control)
        elif isinstance(request, DeleteSchedule):
            for name in request.names if request.names is not None else list(kept):
                kept.pop(name, None)
        return Schedule(robot_id=request.robot_id, schedule_control=kept)

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


@dataclass
class FakeFeeds:
    """Each bot's reply feed: the listeners (AIDA joins) the bridge's answers go to."""

    listeners: dict[UUID, list[Any]] = field(default_factory=dict)

    async def attach(self, project: UUID, listener: Any) -> None:
        self.listeners.setdefault(project, []).append(listener)

    async def detach(self, project: UUID, listener: Any) -> None:
        if listener in self.listeners.get(project, []):
            self.listeners[project].remove(listener)


class FakeMedia:
    """Keeps small files, refuses the rest as the media service would (BesserFrameError)."""

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
