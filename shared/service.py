"""What every FastStream service has: /health, /ready, a lifespan, and one way to serve.

A service starts serving /health at once and connects in the background: it waits for NATS and
Postgres with backoff (`shared.retry`), saying why on every attempt, and /ready answers 503 until
they answered and the subscribers run. A dependency that comes later needs no restart.
"""

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import uvicorn
from faststream.asgi import AsgiFastStream, AsgiResponse, get
from faststream.asgi.types import Receive, Scope, Send
from faststream.nats import NatsBroker

from .broker import ensure_streams, nats_dependency
from .db import postgres_dependency
from .observability.lag import ConsumerLag
from .observability.metrics import render
from .retry import Dependency, reason, wait_for, with_backoff
from .settings import CommonSettings

ReadyCheck = Callable[[], Awaitable[bool]]
Step = Callable[[], Awaitable[Any]]
log = logging.getLogger(__name__)


def dependencies_of(common: CommonSettings) -> list[Dependency]:
    """What every service waits for before it starts: NATS (with JetStream), then Postgres."""
    return [nats_dependency(common.nats_url), postgres_dependency(common.database_url)]


class Startup:
    """Waits for the dependencies, then runs the startup steps (each retried with backoff while
    it fails), in a background task, so the process serves /health meanwhile."""

    def __init__(self, dependencies: Sequence[Dependency]) -> None:
        self.dependencies = list(dependencies)
        self.done = False

    async def wait(self) -> None:
        """Return once every dependency answered (each waited for with backoff)."""
        for dependency in self.dependencies:
            await wait_for(dependency)

    async def run(self, *steps: Step) -> None:
        """Wait for the dependencies, run `steps`, and mark the startup done."""
        await self.wait()
        for step in steps:
            await with_backoff(f"starting ({_name(step)})", step)
        self.done = True

    @contextlib.asynccontextmanager
    async def running(self, *steps: Step) -> AsyncIterator["Startup"]:
        """Run the startup in the background while the body runs; cancel it if unfinished."""
        task = asyncio.create_task(self.run(*steps), name="startup")
        try:
            yield self
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _name(step: Callable[..., Any]) -> str:
    return str(getattr(step, "__name__", None) or type(step).__name__)


def health_routes(
    broker: NatsBroker, checks: Sequence[ReadyCheck], startup: Startup | None = None
) -> list[tuple[str, Any]]:
    """`/health` answers while the process runs; `/ready` only once started and when broker and
    checks pass; `/metrics` in Prometheus' text format (with the broker's consumer lag)."""

    @get(include_in_schema=False)
    async def health(scope: Scope) -> AsgiResponse:
        return AsgiResponse(b'{"status":"ok"}', 200, headers={"content-type": "application/json"})

    @get(include_in_schema=False)
    async def ready(scope: Scope) -> AsgiResponse:
        if startup is not None and not startup.done:
            return AsgiResponse(
                b'{"status":"starting"}', 503, headers={"content-type": "application/json"}
            )
        ok = await broker.ping(timeout=1.0) and all([await check() for check in checks])
        body = b'{"status":"ready"}' if ok else b'{"status":"not ready"}'
        return AsgiResponse(body, 200 if ok else 503, headers={"content-type": "application/json"})

    @get(include_in_schema=False)
    async def metrics(scope: Scope) -> AsgiResponse:
        body, content_type = await render([ConsumerLag(broker).refresh])
        return AsgiResponse(body, 200, headers={"content-type": content_type})

    return [("/health", health), ("/ready", ready), ("/metrics", metrics)]


class ServiceApp(AsgiFastStream):
    """An AsgiFastStream whose startup runs in the background: uvicorn listens (and /health
    answers) at once, while the app waits for its dependencies, runs its startup hooks (each
    retried with backoff) and starts the broker. If starting fails anyway, the process stops
    with a non-zero code (see `serve`) rather than idle unready."""

    def __init__(self, broker: NatsBroker, *, startup: Startup, **options: Any) -> None:
        super().__init__(broker, **options)
        self.startup = startup
        self.failed: BaseException | None = None
        self._stopping = asyncio.Event()

    async def lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        await receive()  # lifespan.startup
        runner = asyncio.create_task(self._run(), name="startup")
        await send({"type": "lifespan.startup.complete"})
        await receive()  # lifespan.shutdown
        self._stopping.set()
        if not self.startup.done:
            runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner
        await send({"type": "lifespan.shutdown.complete"})

    async def _run(self) -> None:
        await self.startup.wait()
        hooks = self._on_startup_calling
        self._on_startup_calling = [_retried(hook) for hook in hooks]
        self._after_startup_calling.insert(0, self._started)
        try:
            async with self.start_lifespan_context():
                await self._stopping.wait()
        except Exception as err:
            if self._stopping.is_set():
                log.error("stopping failed: %s", reason(err))
                return
            self.failed = err
            log.error("startup failed, stopping this replica: %s", reason(err))
            signal.raise_signal(signal.SIGTERM)

    async def _started(self) -> None:
        self.startup.done = True


def _retried(hook: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """A startup hook tried again with backoff while it raises (every hook is idempotent)."""

    async def call(**options: Any) -> Any:
        return await with_backoff(f"starting ({_name(hook)})", lambda: hook(**options))

    return call


def make_service_app(
    broker: NatsBroker,
    *,
    common: CommonSettings | None = None,
    checks: Sequence[ReadyCheck] = (),
    on_shutdown: Sequence[Callable[[], Awaitable[None]]] = (),
) -> ServiceApp:
    """An ASGI FastStream app with health routes that waits for NATS and Postgres; the streams
    exist (with NATS_STREAM_REPLICAS replicas) before subscribers start."""
    common = common or CommonSettings()
    startup = Startup(dependencies_of(common))

    async def prepare() -> None:
        await broker.connect()
        await ensure_streams(broker.connection.jetstream(), replicas=common.nats_stream_replicas)

    return ServiceApp(
        broker,
        startup=startup,
        asgi_routes=health_routes(broker, checks, startup),
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
    if getattr(app, "failed", None) is not None:
        raise SystemExit(1)  # a supervisor (make run, compose) starts the replica again
