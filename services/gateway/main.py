"""Wiring: the FastAPI app, its broker and database, health routes, protocol endpoints."""

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from uuid import uuid4

from fastapi import FastAPI, Response, WebSocket

from shared.broker import ensure_streams, make_broker
from shared.db import database_ready, make_engine, session_factory
from shared.identity import ProjectStore, TokenStore
from shared.settings import CommonSettings

from . import connection, problems
from .adapters.xparo import XparoAdapter
from .adapters.xparo_typed import XparoTypedAdapter
from .admin import admin_router
from .bridge import Bridge
from .config import GatewaySettings
from .robot_api import robot_router

SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def create_app(
    common: CommonSettings | None = None, settings: GatewaySettings | None = None
) -> FastAPI:
    """The gateway: every wire protocol's endpoint on one ASGI app."""
    common = common or CommonSettings()
    settings = settings or GatewaySettings()
    broker = make_broker(common.nats_url, name="gateway")
    engine = make_engine(common.database_url)
    projects = ProjectStore(session_factory(engine))
    tokens = TokenStore(session_factory(engine))
    bridge = Bridge(broker, request_timeout_s=settings.request_timeout_s)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await broker.start()
        await ensure_streams(broker.connection.jetstream())
        yield
        await broker.stop()
        await engine.dispose()

    app = FastAPI(title="Switchboard gateway", lifespan=lifespan)
    problems.install(app)
    app.include_router(admin_router(projects, tokens, bridge))
    app.include_router(robot_router(tokens, bridge))

    @app.get("/health")
    async def health() -> dict[str, str]:
        """Alive: the process answers."""
        return {"status": "ok"}

    @app.get("/ready")
    async def ready(response: Response) -> dict[str, str]:
        """Ready: NATS and Postgres both answer."""
        ok = await broker.ping(timeout=1.0) and await database_ready(engine)
        response.status_code = 200 if ok else 503
        return {"status": "ready" if ok else "not ready"}

    async def xparo(ws: WebSocket, secret: str, project: str) -> None:
        found = await projects.authenticate(project, secret)
        if found is None:
            await ws.close(code=1008)  # before accept: the handshake is refused with HTTP 403
            return
        wanted = ws.query_params.get("session_id", "")
        session_id = wanted if SESSION_ID.match(wanted) else uuid4().hex
        await ws.accept()
        adapter = XparoAdapter(
            connection.Socket(ws),
            project=found,
            bridge=bridge,
            session_id=session_id,
            reply_wait_s=settings.reply_wait_s,
        )
        await connection.serve(ws, adapter, max_bytes=settings.max_frame_bytes)

    async def xparo_typed(ws: WebSocket, secret: str, project: str) -> None:
        found = await projects.authenticate(project, secret)
        robot = ws.query_params.get("robot_id") or None
        if found is None or (robot is not None and not SESSION_ID.match(robot)):
            await ws.close(code=1008)  # before accept: the handshake is refused with HTTP 403
            return
        await ws.accept()
        adapter = XparoTypedAdapter(
            connection.Socket(ws),
            project=found,
            bridge=bridge,
            tokens=tokens,
            robot_id=robot,
            connection=uuid4().hex,
            ping_interval_s=settings.ping_interval_s,
            ack_wait_s=settings.command_ack_wait_s,
            fetch_wait_s=settings.command_fetch_wait_s,
        )
        await connection.serve(ws, adapter, max_bytes=settings.max_frame_bytes)

    app.add_api_websocket_route("/ws/chatbot/{secret}/{project}/", xparo_typed)
    app.add_api_websocket_route("/chatbot_api/{secret}/{project}/", xparo)
    app.add_api_websocket_route("/ws/chatbot_api/{secret}/{project}/", xparo)
    return app
