"""Rate limits and connection caps of one gateway replica.

- Each socket may send `frame_rate` frames a second (a token bucket of `frame_burst`); a frame
  over it is answered with the protocol's own error and not run.
- Each project may send `project_turn_rate` turns a second through this replica, all protocols
  and sockets together (RateLimited, a BridgeError, so every adapter answers it in its shape).
- A replica holds at most `max_connections` sockets (both ports), a project at most
  `max_project_connections` of them (AIDA: sockets joined to its bot); a socket over a cap is
  closed with 1013 "try again later" right after the handshake (an AIDA join is refused).

Every figure is per replica: N gateways behind a balancer admit N times as much.
"""

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol
from uuid import UUID

from starlette.websockets import WebSocket

from ..config import GatewaySettings
from .errors import BridgeError

Clock = Callable[[], float]
IDLE_BUCKETS = 10_000  # forget full (idle) project buckets beyond this many


class RateLimited(BridgeError):
    """A turn over its project's rate: try again in `retry_after_s`."""

    def __init__(self, message: str, *, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


def retry_hint(seconds: float) -> float:
    """A retry delay as clients read it: rounded up to 0.01 s."""
    return math.ceil(seconds * 100) / 100


@dataclass
class TokenBucket:
    """`rate` tokens a second, at most `burst` saved up; each frame or turn takes one."""

    rate: float
    burst: float
    clock: Clock = time.monotonic
    tokens: float = field(init=False)
    stamp: float = field(init=False)

    def __post_init__(self) -> None:
        self.tokens = self.burst
        self.stamp = self.clock()

    def take(self) -> float:
        """Take a token: 0.0 when there was one, else the seconds until there is one."""
        self._refill()
        if self.tokens >= 1 - 1e-9:  # float drift must not refuse a token that has come
            self.tokens = max(0.0, self.tokens - 1)
            return 0.0
        return (1 - self.tokens) / self.rate

    def full(self) -> bool:
        """Nothing taken lately: the bucket can be forgotten."""
        self._refill()
        return self.tokens >= self.burst

    def _refill(self) -> None:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now


@dataclass(frozen=True)
class SendBounds:
    """How much a socket may have waiting to be written, and how long its close may take.

    A socket closed for being too slow waits longer for its close frame to go out (until the
    server's own ping timeout would end it anyway), so a client that reads again learns why.
    """

    frames: int = 1024
    bytes: int = 4 * 1024 * 1024
    close_wait_s: float = 3.0
    overflow_close_wait_s: float = 40.0


class Seat:
    """One socket's place on this replica: released when the socket ends."""

    def __init__(self, limits: "Limits") -> None:
        self._limits = limits
        self.projects: dict[UUID, int] = {}  # joins per project: the socket counts once
        self.frames = limits.frame_bucket()
        self._released = False

    def join(self, project: UUID) -> bool:
        """Count this socket as one of `project`'s; False when the project is at its cap."""
        if project not in self.projects and not self._limits.take_project_seat(project):
            return False
        self.projects[project] = self.projects.get(project, 0) + 1
        return True

    def leave(self, project: UUID) -> None:
        """Undo one `join`; the socket stops counting for `project` with its last one."""
        joins = self.projects.pop(project, 0) - 1
        if joins > 0:
            self.projects[project] = joins
        elif joins == 0:
            self._limits.give_project_seat(project)

    def release(self) -> None:
        """The socket ended: give back its place and its projects' places."""
        if self._released:
            return
        self._released = True
        for project in self.projects:
            self._limits.give_project_seat(project)
        self.projects.clear()
        self._limits.open -= 1


class Limits:
    """The counters and buckets of this replica."""

    def __init__(self, settings: GatewaySettings, *, clock: Clock = time.monotonic) -> None:
        self.settings = settings
        self.send = SendBounds(
            frames=settings.send_queue_frames,
            bytes=settings.send_queue_bytes,
            close_wait_s=settings.send_close_wait_s,
            overflow_close_wait_s=settings.ws_ping_interval_s + settings.ws_ping_timeout_s,
        )
        self._clock = clock
        self._turns: dict[UUID, TokenBucket] = {}
        self.open = 0
        self.per_project: dict[UUID, int] = {}

    def seat(self) -> Seat | None:
        """A seat for a new socket, or None when this replica holds `max_connections`."""
        cap = self.settings.max_connections
        if cap and self.open >= cap:
            return None
        self.open += 1
        return Seat(self)

    def take_project_seat(self, project: UUID) -> bool:
        cap = self.settings.max_project_connections
        held = self.per_project.get(project, 0)
        if cap and held >= cap:
            return False
        self.per_project[project] = held + 1
        return True

    def give_project_seat(self, project: UUID) -> None:
        held = self.per_project.get(project, 0) - 1
        if held > 0:
            self.per_project[project] = held
        else:
            self.per_project.pop(project, None)

    def frame_bucket(self) -> TokenBucket | None:
        """A new socket's frame bucket (None: frames are not limited)."""
        if not self.settings.frame_rate:
            return None
        return TokenBucket(self.settings.frame_rate, self.settings.frame_burst, self._clock)

    def take_turn(self, project: UUID) -> None:
        """Count one turn of `project`, or raise RateLimited."""
        rate = self.settings.project_turn_rate
        if not rate:
            return
        bucket = self._turns.get(project)
        if bucket is None:
            if len(self._turns) >= IDLE_BUCKETS:
                self._turns = {k: b for k, b in self._turns.items() if not b.full()}
            bucket = TokenBucket(rate, self.settings.project_turn_burst, self._clock)
            self._turns[project] = bucket
        wait = bucket.take()
        if wait:
            raise RateLimited(
                f"rate limit: at most {rate:g} messages a second for this bot; "
                f"try again in {retry_hint(wait):g} s",
                retry_after_s=retry_hint(wait),
            )

    def named_project(self, ws: WebSocket) -> UUID | None:
        """The (already authenticated) project a socket named: XPARO's `{project}` path
        segment, BESSER's `?project=`, else the BESSER port's default project."""
        named = ws.path_params.get("project") or ws.query_params.get("project")
        named = named or self.settings.besser_project
        try:
            return UUID(str(named)) if named else None
        except ValueError:
            return None


class ProjectSeats(Protocol):
    """A socket's place among a project's sockets, taken when it names the project later (an
    AIDA join; sockets.Socket is one)."""

    def join_project(self, project: UUID) -> bool: ...
    def leave_project(self, project: UUID) -> None: ...


UNLIMITED = Limits(
    GatewaySettings.model_construct(
        max_connections=0, max_project_connections=0, frame_rate=0.0, project_turn_rate=0.0
    )
)  # for sockets of an app wired without limits (the defaults of the send queue still hold)


def limits_of(ws: WebSocket) -> Limits | None:
    """The limits the app of `ws` was wired with (main.py), if any."""
    app = ws.scope.get("app")
    found = getattr(getattr(app, "state", None), "limits", None)
    return found if isinstance(found, Limits) else None


def frame_refusal(retry_after_s: float) -> str:
    """What a socket over its frame rate is told (each protocol wraps it in its error shape)."""
    wait = retry_hint(retry_after_s)
    return f"rate limit: too many frames on this socket; try again in {wait:g} s"


def peek(frame: str | bytes) -> dict[str, Any] | None:
    """The JSON object a refused frame holds, to name its command in the answer (or None)."""
    try:
        found = json.loads(frame)
    except (ValueError, RecursionError):
        return None
    return found if isinstance(found, dict) else None
