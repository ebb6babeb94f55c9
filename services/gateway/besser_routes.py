"""BESSER's WebSocket platform on its own port (default 8765), any path, as BESSER serves it.

The connection names its project with `?project=<key>&token=<secret>` (or the secret in an
`X-Project-Token` header); without them, the port's default project answers
(GATEWAY_BESSER_PROJECT), so BESSER's own UIs work unchanged. Refusals happen before the
handshake completes (HTTP 403), as BESSER's `origins` check does.
"""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any
from uuid import UUID, uuid4

import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket

from shared import subjects
from shared.contracts.media import FileRejected
from shared.identity import Project, ProjectStore

from . import connection
from .adapters.besser import BesserSocket, Handshake, Media, UploadedFile
from .adapters.besser_wire import FrameError
from .bridge import Bridge
from .config import GatewaySettings
from .connection import KeepTransport
from .http_limits import HeadLimits, limited_http
from .media_files import MediaStore, store_file, transcribe
from .shapes import problem_refusal

log = logging.getLogger(__name__)
CLOSE_RESTART = 1012  # "service restart": BESSER's clients and our page reconnect
HARD_CAP_FACTOR = 4


class BesserEndpoint:
    """Checks a connection's origin and project, then runs a BesserSocket on it."""

    def __init__(
        self,
        *,
        projects: ProjectStore,
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

    async def serve(self, ws: WebSocket) -> None:
        origins = self._settings.besser_origins
        if origins and ws.headers.get("origin") not in origins:
            await ws.close(code=1008)  # before accept: the handshake is refused with HTTP 403
            return
        project = await self._project(ws)
        if project is None:
            await ws.close(code=1008)
            return
        handshake = _handshake(ws)
        if handshake is None:
            await ws.close(code=1008)
            return
        await ws.accept()
        sock = connection.Socket(ws)
        adapter = BesserSocket(
            sock.send_json,
            sock.close,
            project=project,
            handshake=handshake,
            bridge=self._bridge,
            media=self._media,
        )
        self._sockets.add(sock, CLOSE_RESTART)
        try:
            await connection.serve(ws, adapter, max_bytes=self._settings.besser_max_frame_bytes)
        finally:
            self._sockets.discard(sock)

    async def _project(self, ws: WebSocket) -> Project | None:
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


def _handshake(ws: WebSocket) -> Handshake | None:
    """Session key, user and session name as BAF 4.5 reads them (headers before query)."""
    raw = ws.headers.get("x-session-id") or ws.query_params.get("session_id") or uuid4().hex
    stage = ws.query_params.get("stage", "test")
    if stage not in ("test", "release"):
        return None
    return Handshake(
        session=subjects.session_key(raw, prefix="besser-"),
        user_id=(ws.headers.get("x-user-id") or ws.query_params.get("user_id") or "")[:200] or None,
        session_name=(ws.query_params.get("session_name") or "")[:200] or None,
        stage="release" if stage == "release" else "test",
    )


def besser_app(endpoint: BesserEndpoint) -> Starlette:
    """The ASGI app of the BESSER port: a WebSocket on every path."""
    return Starlette(
        routes=[WebSocketRoute("/{path:path}", endpoint.serve)],
        middleware=[Middleware(KeepTransport)],
    )


class _SideServer(uvicorn.Server):
    """uvicorn inside the gateway's own event loop: the main server owns the signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@contextlib.asynccontextmanager
async def besser_port(
    app: Starlette, settings: GatewaySettings, *, host: str
) -> AsyncIterator[None]:
    """Serve `app` on GATEWAY_BESSER_PORT while the gateway runs (nothing when it is 0)."""
    if not settings.besser_port:
        yield
        return
    options: dict[str, Any] = {
        "http": limited_http(HeadLimits.of(settings), problem_refusal),  # 431 before the upgrade
        "ws": "websockets-sansio",
        "ws_max_size": settings.besser_max_frame_bytes * HARD_CAP_FACTOR,
        "ws_ping_interval": settings.ws_ping_interval_s,
        "ws_ping_timeout": settings.ws_ping_timeout_s,
        "ws_per_message_deflate": settings.ws_per_message_deflate,
    }
    config = uvicorn.Config(
        app,
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
            raise FrameError(f"file refused: {kept.message}")
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
            raise FrameError(f"voice message refused: {heard.message}")
        return heard.text
