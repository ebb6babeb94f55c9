"""BESSER's WebSocket platform on its own port (default 8765), any path, as BESSER serves it.

The connection names its project with `?project=<key>&token=<secret>` (or the secret in an
`X-Project-Token` header); without them, the port's default project answers
(GATEWAY_BESSER_PROJECT), so BESSER's own UIs work unchanged. Refusals happen before the
handshake completes (HTTP 403), as BESSER's `origins` check does.

The port is served like the main one: uvicorn reads requests (head limits, 431 in the
problem shape; HTTP requests get 404), and WebSockets run on the gateway's own socket layer
(wsserver.py) rather than an ASGI app, at the same cost per idle socket.
"""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any
from uuid import UUID, uuid4

import uvicorn
from starlette.applications import Starlette

from shared import subjects
from shared.contracts.chat import AudioPart
from shared.contracts.media import FileRejected
from shared.identity import Project, ProjectLookup

from ...bus.bridge import Bridge
from ...bus.media_files import MediaStore, speak, store_file, transcribe
from ...config import GatewaySettings
from ...edge import connection
from ...edge.http_limits import HeadLimits, limited_http
from ...edge.limits import Limits
from ...edge.wsserver import Handshake, SocketPort
from ..shapes import problem_refusal
from .channel import BesserSocket, Media, UploadedFile
from .channel import Handshake as BesserHandshake
from .wire import BesserFrameError

log = logging.getLogger(__name__)
CLOSE_RESTART = 1012  # "service restart": BESSER's clients and our page reconnect
HARD_CAP_FACTOR = 4


class BesserEndpoint:
    """Checks a connection's origin and project, then runs a BesserSocket on it."""

    def __init__(
        self,
        *,
        projects: ProjectLookup,
        bridge: Bridge,
        media: Media,
        settings: GatewaySettings,
        sockets: connection.OpenSockets,
    ) -> None:
        self._projects = projects
        self._bridge = bridge
        self._media = media
        self._settings = settings
        self._sockets = sockets

    async def serve(self, ws: Handshake) -> None:
        origins = self._settings.besser_origins
        if origins and ws.headers.get("origin") not in origins:
            ws.refuse()  # before the handshake completes: HTTP 403
            return
        project = await self._project(ws)
        if project is None:
            ws.refuse()
            return
        handshake = _handshake(ws)
        if handshake is None:
            ws.refuse()
            return
        sock = ws.accept(self._settings.besser_max_frame_bytes)
        adapter = BesserSocket(
            sock.send_json,
            sock.close,
            project=project,
            handshake=handshake,
            bridge=self._bridge,
            media=self._media,
            meter=sock.meter,
        )
        await connection.serve(
            sock, adapter, project=project.key, sockets=self._sockets, restart=CLOSE_RESTART
        )

    async def _project(self, ws: Handshake) -> Project | None:
        """The project the socket names (its secret checked), or the port's default."""
        key = ws.query_params.get("project")
        secret = ws.query_params.get("token") or ws.headers.get("x-project-token")
        if key is not None or secret is not None:
            return await self._projects.authenticate(key or "", secret or "")
        default = self._settings.besser_project
        if not default:
            return None
        try:
            return await self._projects.get(UUID(default))
        except ValueError:
            log.error("GATEWAY_BESSER_PROJECT %r is not a project key", default)
            return None


def _handshake(ws: Handshake) -> BesserHandshake | None:
    """Session key, user and session name as BAF 4.5 reads them (headers before query)."""
    raw = ws.headers.get("x-session-id") or ws.query_params.get("session_id") or uuid4().hex
    stage = ws.query_params.get("stage", "test")
    if stage not in ("test", "release"):
        return None
    return BesserHandshake(
        session=subjects.session_key(raw, prefix="besser-"),
        user_id=(ws.headers.get("x-user-id") or ws.query_params.get("user_id") or "")[:200] or None,
        session_name=(ws.query_params.get("session_name") or "")[:200] or None,
        stage="release" if stage == "release" else "test",
    )


def besser_sockets(
    endpoint: BesserEndpoint, settings: GatewaySettings, limits: Limits
) -> SocketPort:
    """The BESSER port's WebSockets: one on every path."""
    port = SocketPort(
        limits=limits,
        max_size=settings.besser_max_frame_bytes * HARD_CAP_FACTOR,
        deflate=settings.ws_per_message_deflate,
        ping_interval_s=settings.ws_ping_interval_s,
        ping_timeout_s=settings.ws_ping_timeout_s,
    )
    port.route("/{path:path}", endpoint.serve, protocol="besser")
    return port


class _SideServer(uvicorn.Server):
    """uvicorn inside the gateway's own event loop: the main server owns the signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@contextlib.asynccontextmanager
async def besser_port(
    sockets: SocketPort, settings: GatewaySettings, *, host: str
) -> AsyncIterator[None]:
    """Serve `sockets` on GATEWAY_BESSER_PORT while the gateway runs (nothing when it is 0)."""
    if not settings.besser_port:
        yield
        return
    options: dict[str, Any] = {
        "http": limited_http(HeadLimits.of(settings), problem_refusal),  # 431 before the upgrade
        "ws": sockets.protocol,
    }
    config = uvicorn.Config(
        Starlette(),  # HTTP on this port: 404
        host=host,
        port=settings.besser_port,
        lifespan="off",
        log_config=None,
        access_log=False,
        **options,
    )
    server = _SideServer(config)
    task = asyncio.create_task(server.serve())
    while not server.started and not task.done():  # noqa: ASYNC110 (uvicorn has only a flag)
        await asyncio.sleep(0.02)
    if task.done():
        task.result()  # it could not bind: fail the gateway's start, loudly
    try:
        yield
    finally:
        server.should_exit = True
        await task


class BesserMedia:
    """Files and voice of BESSER sockets, kept and transcribed by the media service."""

    def __init__(self, bridge: Bridge) -> None:
        self._bridge = bridge
        self._objects = MediaStore(bridge)

    async def store_file(
        self, *, project: UUID, session: str, name: str, declared_type: str, data: bytes
    ) -> UploadedFile:
        kept = await store_file(
            self._bridge,
            await self._objects(),
            project=project,
            session=session,
            name=name,
            declared_type=declared_type,
            data=data,
            correlation_id=uuid4(),
        )
        if isinstance(kept, FileRejected):
            raise BesserFrameError(f"file refused: {kept.message}")
        return UploadedFile(kept.media_id, kept.name, kept.content_type, kept.size)

    async def transcribe(self, *, project: UUID, session: str, wav: bytes) -> str:
        heard = await transcribe(
            self._bridge,
            await self._objects(),
            project=project,
            session=session,
            wav=wav,
            correlation_id=uuid4(),
        )
        if isinstance(heard, FileRejected):
            raise BesserFrameError(f"voice message refused: {heard.message}")
        return heard.text

    async def speak(self, *, project: UUID, text: str) -> AudioPart | None:
        return await speak(self._bridge, project=project, text=text)
