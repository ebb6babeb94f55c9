"""Wiring: the FastAPI app, its broker and database, health routes, protocol endpoints."""

import asyncio
import gc
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass

from fastapi import FastAPI, Response
from faststream.nats import NatsBroker

from shared import subjects
from shared.broker import ensure_streams, make_broker
from shared.db import Database
from shared.identity import AuditStore, TokenStore
from shared.observability.metrics import render
from shared.service import Startup, dependencies_of
from shared.settings import CommonSettings

from .admin.audit import AuditMiddleware
from .admin.audit import router as audit_router
from .admin.chat import router as admin_chat_router
from .admin.cluster import router as admin_cluster_router
from .admin.content import router as admin_content_router
from .admin.conversations import router as admin_conversations_router
from .admin.deps import AdminServices
from .admin.fleet import router as admin_fleet_router
from .admin.inbox import router as admin_inbox_router
from .admin.live_feed import LiveFeeds, events_router
from .admin.projects import router as admin_projects_router
from .admin.robots import router as admin_robots_router
from .admin.try_it import router as admin_try_router
from .bus.bridge import ConnectionWatch, LimitedBridge
from .bus.identity_cache import CachedProjects
from .config import GatewaySettings
from .edge import connection, problems
from .edge.limits import Limits
from .edge.nul_guard import NulGuard
from .edge.wsserver import SocketPort
from .protocols.aida.feed import BotFeeds
from .protocols.aida.images import content_app
from .protocols.aida.routes import aida_sockets
from .protocols.besser.routes import BesserEndpoint, BesserMedia, besser_port, besser_sockets
from .protocols.rsvp.routes import rsvp_router
from .protocols.shapes import ShapedRefusals, Shapes
from .protocols.xparo.robot_api import robot_router
from .protocols.xparo.routes import xparo_router
from .web.chat_page import chat_page_router
from .web.console_page import console_page_router
from .web.docs_page import docs_router
from .web.home_page import home_page_router

# uvicorn drops frames above this at once; frames between the limit and this get a clean 1009.
HARD_CAP_FACTOR = 4
DB_POOL_SIZE = 10  # requests waiting for a project, a token or an audit row share these


@dataclass(frozen=True)
class Wiring:
    """What the gateway's routes, lifespan and shutdown share: made once per app."""

    common: CommonSettings
    settings: GatewaySettings
    broker: NatsBroker
    db: Database  # identity: projects, tokens, the audit log
    projects: CachedProjects
    tokens: TokenStore
    audit: AuditStore
    limits: Limits
    bridge: LimitedBridge
    feeds: BotFeeds
    sockets: connection.OpenSockets
    live: LiveFeeds
    port: SocketPort  # the main port's WebSockets (XPARO, AIDA)
    besser: SocketPort  # the BESSER port's
    startup: Startup


def create_app(
    common: CommonSettings | None = None, settings: GatewaySettings | None = None
) -> FastAPI:
    """The gateway: every HTTP route on one ASGI app, every WebSocket on its port's socket
    layer (`app.state.sockets`, uvicorn's `ws=`; wsserver.py)."""
    w = wire(common or CommonSettings(), settings or GatewaySettings())
    # /docs is served from local files (docs_page.py): FastAPI's own loads Swagger UI from a CDN.
    app = FastAPI(title="Switchboard gateway", lifespan=lifespan(w), docs_url=None, redoc_url=None)
    app.state.sockets = w.port
    problems.install(app)
    app.add_middleware(AuditMiddleware, store=w.audit)
    app.add_middleware(NulGuard)  # nothing with a NUL reaches a route
    app.add_middleware(ShapedRefusals, shapes=Shapes(w.settings))  # outermost: every refusal
    admin_routes(app, w)
    health_routes(app, w)
    app.include_router(xparo_router(w.projects, w.tokens, w.bridge, w.settings, w.sockets, w.port))
    app.state.before_shutdown = shutdown(w)
    aida_sockets(w.port, w.projects, w.bridge, w.feeds, w.settings, w.sockets)
    app.include_router(rsvp_router(w.projects, w.bridge, w.settings))
    page_routes(app, w)
    app.mount("/content", content_app(w.bridge, w.settings))
    return app


def wire(common: CommonSettings, settings: GatewaySettings) -> Wiring:
    """The broker, the database's stores, the bridge with this replica's limits, and the two
    ports' sockets."""
    watch = ConnectionWatch()  # replies published while NATS was away are fetched again
    broker = make_broker(
        common.nats_url,
        name="gateway",
        disconnected_cb=watch.disconnected,
        reconnected_cb=watch.reconnected,
    )
    db = Database(common.database_url, max_size=DB_POOL_SIZE)
    projects = CachedProjects(  # looked up once, dropped when a change is announced
        db,
        keep_s=settings.identity_cache_s,
        announce=lambda change: broker.publish(
            change, subjects.project_changed(change.project_key)
        ),
    )
    limits = Limits(settings)  # rate limits and connection caps of this replica
    bridge = LimitedBridge(
        broker,
        limits=limits,
        request_timeout_s=settings.request_timeout_s,
        partitions=common.chat_partitions,  # every gateway and dialog agree on them
        stream_replicas=common.nats_stream_replicas,  # the resume bucket, like the streams
    )
    watch.on_reconnected(bridge.recover)
    sockets = connection.OpenSockets()
    return Wiring(
        common=common,
        settings=settings,
        broker=broker,
        db=db,
        projects=projects,
        tokens=TokenStore(db),
        audit=AuditStore(db),
        limits=limits,
        bridge=bridge,
        feeds=bot_feeds(bridge, settings),
        sockets=sockets,
        live=LiveFeeds(bridge),
        port=main_port(settings, limits),
        besser=besser_sockets(
            BesserEndpoint(
                projects=projects,
                bridge=bridge,
                media=BesserMedia(bridge),
                settings=settings,
                sockets=sockets,
            ),
            settings,
            limits,
        ),
        startup=Startup(dependencies_of(common)),  # NATS and Postgres, waited for with backoff
    )


def bot_feeds(bridge: LimitedBridge, settings: GatewaySettings) -> BotFeeds:
    """AIDA's bot feeds: every reply of a bot to every socket joined to it."""
    return BotFeeds(
        bridge,
        keep_s=settings.aida_backlog_keep_s,
        ack_wait_s=settings.command_ack_wait_s,
        fetch_s=settings.aida_fetch_wait_s,
    )


def main_port(settings: GatewaySettings, limits: Limits) -> SocketPort:
    """The main port's WebSockets (XPARO, AIDA)."""
    return SocketPort(
        limits=limits,
        max_size=settings.max_frame_bytes * HARD_CAP_FACTOR,
        deflate=settings.ws_per_message_deflate,
        ping_interval_s=settings.ws_ping_interval_s,
        ping_timeout_s=settings.ws_ping_timeout_s,
    )


def lifespan(w: Wiring) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """Start the broker (streams, the identity cache's listener) and the BESSER port once NATS
    and Postgres answer; stop them when the app stops."""
    broker, common = w.broker, w.common

    async def streams() -> None:
        await ensure_streams(broker.connection.jetstream(), replicas=common.nats_stream_replicas)

    async def identity_cache() -> None:
        await w.projects.listen(broker.connection)

    async def out_of_gc() -> None:
        # Every object alive once started (modules, the app, the broker) lives as long as the
        # process: out of the collector's sight, its full collections stop walking them. They
        # were a quarter of the gateway's CPU per XPARO turn (bench/gateway_path.py: 38-44 of
        # 160-176 µs, 0.2 with this), as in the telemetry service (services/telemetry/main.py).
        gc.collect()
        gc.freeze()
        gc.set_threshold(20_000, 20, 20)  # a turn allocates dozens of objects: not every 700

    @asynccontextmanager
    async def running(_app: FastAPI) -> AsyncIterator[None]:
        await w.db.open()  # connects on first use (min_size 0): requests reach it at once
        async with (
            w.startup.running(broker.start, streams, identity_cache, out_of_gc),
            besser_port(w.besser, w.settings, host=common.bind_host),
        ):
            yield
        await broker.stop()
        await w.db.close()

    return running


def admin_routes(app: FastAPI, w: Wiring) -> None:
    """The admin API's routers, and the robots' REST routes."""
    app.state.admin = AdminServices(w.projects, w.tokens, w.bridge, w.audit)  # admin routes' deps
    app.include_router(admin_projects_router)
    app.include_router(admin_cluster_router)
    app.include_router(audit_router)
    app.include_router(events_router(w.projects, w.tokens, w.live))
    app.include_router(admin_robots_router)
    app.include_router(admin_fleet_router)
    app.include_router(admin_inbox_router)
    app.include_router(admin_chat_router)
    app.include_router(admin_try_router)
    app.include_router(admin_conversations_router)
    app.include_router(admin_content_router)
    app.include_router(robot_router(w.tokens, w.bridge))


def health_routes(app: FastAPI, w: Wiring) -> None:
    """`/health`, `/ready` and `/metrics`."""

    @app.get("/health")
    async def health() -> dict[str, str]:
        """Alive: the process answers."""
        return {"status": "ok"}

    @app.get("/ready")
    async def ready(response: Response) -> dict[str, str]:
        """Ready: NATS and Postgres both answer."""
        ok = w.startup.done and await w.broker.ping(timeout=1.0) and await w.db.ready()
        response.status_code = 200 if ok else 503
        return {"status": "ready" if ok else "not ready"}

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        """Prometheus metrics of this replica (text format)."""
        body, content_type = await render()
        return Response(body, media_type=content_type)


def shutdown(w: Wiring) -> Callable[[], Awaitable[None]]:
    """What runs on SIGTERM before uvicorn closes connections its own way."""

    async def before_shutdown() -> None:
        # Marks first: a client told to reconnect must find where its session stopped.
        await w.bridge.resume.suspend_all()
        await asyncio.gather(w.sockets.close_all(), w.live.close_all())

    return before_shutdown


def page_routes(app: FastAPI, w: Wiring) -> None:
    """The built-in pages: chat, console, API docs, front page."""
    app.include_router(chat_page_router(w.settings))
    app.include_router(console_page_router(w.settings))
    app.include_router(docs_router())
    app.include_router(home_page_router(w.settings))
