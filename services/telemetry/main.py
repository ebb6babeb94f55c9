"""Wiring: broker, database pool, the samples pull loop, subscribers, the retention task,
health routes."""

import asyncio
import contextlib
import gc
import logging
from datetime import timedelta

from faststream.asgi import AsgiFastStream

from shared.broker import make_broker
from shared.contracts import utcnow
from shared.db import DATABASE_TROUBLE, Database
from shared.forget import forget_deleted_projects
from shared.service import make_service_app
from shared.settings import CommonSettings

from .config import TelemetrySettings
from .handlers import ensure_consumers, register
from .ingest import Ingestor, SampleLoop
from .store import PgTelemetryStore, TelemetryStore, prepare_connection

log = logging.getLogger(__name__)


async def purge_once(store: TelemetryStore, settings: TelemetrySettings) -> int | None:
    """Delete what is older than the retention; None when another replica holds the lock."""
    cutoff = utcnow() - timedelta(seconds=settings.retention_s)
    try:
        deleted = await store.purge(older_than=cutoff, chunk=settings.retention_chunk)
    except DATABASE_TROUBLE as err:
        log.warning("retention failed, next try in %.0f s: %r", settings.retention_every_s, err)
        return None
    if deleted:
        log.info("retention deleted %d rows older than %s", deleted, cutoff.isoformat())
    return deleted


class Retention:
    """The background task that runs `purge_once` every `retention_every_s`."""

    def __init__(self, store: TelemetryStore, settings: TelemetrySettings) -> None:
        self._store, self._settings = store, settings
        self._task: asyncio.Task[None] | None = None

    async def _loop(self) -> None:
        while True:
            await purge_once(self._store, self._settings)
            await asyncio.sleep(self._settings.retention_every_s)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="telemetry-retention")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


def create_app(
    common: CommonSettings | None = None, settings: TelemetrySettings | None = None
) -> AsgiFastStream:
    """The telemetry service as an ASGI app (subscribers start with its lifespan)."""
    common = common or CommonSettings()
    settings = settings or TelemetrySettings()
    broker = make_broker(common.nats_url, name="telemetry")
    db = Database(
        common.database_url,
        max_size=settings.pool_size + settings.writers,
        init=prepare_connection,
    )
    store = PgTelemetryStore(db)
    register(broker, store, settings)
    ingestor = Ingestor(store, writers=settings.writers, retry_delay_s=settings.retry_delay_s)
    samples = SampleLoop(ingestor, settings)
    retention = Retention(store, settings)
    app = make_service_app(broker, common=common, checks=[db.ready])
    forget_deleted_projects(
        app, broker, service="telemetry", schema="telemetry", database_url=common.database_url
    )

    @app.on_startup  # after the streams exist, before the broker starts its subscribers
    async def prepare() -> None:
        await ensure_consumers(broker.connection.jetstream(), settings)
        await db.open()

    @app.after_startup
    async def pull_samples() -> None:
        # Every object alive now (modules, the app, the broker) lives as long as the process:
        # out of the collector's sight, its collections stop walking them at each batch of
        # samples (half of the CPU of decoding a sample, measured with the service's heap).
        gc.collect()
        gc.freeze()
        gc.set_threshold(20_000, 20, 20)  # a batch allocates thousands: not every 700
        await samples.start(broker.connection)

    app.after_startup(retention.start)
    app.on_shutdown(retention.stop)
    app.on_shutdown(samples.stop)  # no more fetches; the batch fetched last goes to a writer
    app.on_shutdown(ingestor.drain)  # batches being written are acked before the broker stops
    app.after_shutdown(db.close)  # after the broker stopped: no batch is cut off mid-write
    return app
