"""What every FastStream service has: /health, /ready, a lifespan, and one way to serve."""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import uvicorn
from faststream.asgi import AsgiFastStream, AsgiResponse, get
from faststream.asgi.types import Scope
from faststream.nats import NatsBroker

from .broker import ensure_streams
from .settings import CommonSettings

ReadyCheck = Callable[[], Awaitable[bool]]


def health_routes(broker: NatsBroker, checks: Sequence[ReadyCheck]) -> list[tuple[str, Any]]:
    """`/health` answers while the process runs; `/ready` only when broker and checks pass."""

    @get(include_in_schema=False)
    async def health(scope: Scope) -> AsgiResponse:
        return AsgiResponse(b'{"status":"ok"}', 200, headers={"content-type": "application/json"})

    @get(include_in_schema=False)
    async def ready(scope: Scope) -> AsgiResponse:
        ok = await broker.ping(timeout=1.0) and all([await check() for check in checks])
        body = b'{"status":"ready"}' if ok else b'{"status":"not ready"}'
        return AsgiResponse(body, 200 if ok else 503, headers={"content-type": "application/json"})

    return [("/health", health), ("/ready", ready)]


def make_service_app(
    broker: NatsBroker,
    *,
    checks: Sequence[ReadyCheck] = (),
    on_shutdown: Sequence[Callable[[], Awaitable[None]]] = (),
    streams_replicas: int = 1,
) -> AsgiFastStream:
    """An ASGI FastStream app with health routes; the streams exist before subscribers start."""

    async def prepare() -> None:
        await broker.connect()
        await ensure_streams(broker.connection.jetstream(), replicas=streams_replicas)

    return AsgiFastStream(
        broker,
        asgi_routes=health_routes(broker, checks),
        on_startup=[prepare],
        on_shutdown=list(on_shutdown),
        logger=logging.getLogger("faststream"),
    )


class _Server(uvicorn.Server):
    """uvicorn, running `before_shutdown` before it closes connections its own way (1012)."""

    def __init__(self, config: uvicorn.Config, before_shutdown: Callable[[], Awaitable[None]]):
        super().__init__(config)
        self._before_shutdown = before_shutdown

    async def shutdown(self, sockets: Any = None) -> None:
        try:
            await asyncio.wait_for(self._before_shutdown(), timeout=5.0)
        except Exception as err:  # never keep the process from stopping
            logging.getLogger(__name__).warning("before shutdown: %r", err)
        await super().shutdown(sockets)


def serve(
    app: Any,
    *,
    port: int,
    host: str | None = None,
    before_shutdown: Callable[[], Awaitable[None]] | None = None,
    **options: Any,
) -> None:
    """Run `app` under uvicorn until SIGINT/SIGTERM (which drain the broker).

    `before_shutdown` runs first on SIGTERM, e.g. to close sockets with a protocol's own code.
    """
    bind = host or CommonSettings().bind_host
    config = uvicorn.Config(app, host=bind, port=port, log_config=None, access_log=False, **options)
    server = _Server(config, before_shutdown) if before_shutdown else uvicorn.Server(config)
    server.run()
