"""Wiring: broker, database pool, the media bucket, subscribers, health routes."""

from functools import partial

from faststream.asgi import AsgiFastStream

from shared.broker import make_broker
from shared.contracts import utcnow
from shared.db import Database
from shared.forget import forget_deleted_projects
from shared.service import make_service_app
from shared.settings import CommonSettings

from .application import MediaApp
from .config import MediaSettings
from .handlers import ensure_consumer, publish_stored, register
from .store import NatsBlobs, PgFileStore, PgImageStore
from .transcriber import Transcriber


def create_app(
    common: CommonSettings | None = None, settings: MediaSettings | None = None
) -> AsgiFastStream:
    """The media service as an ASGI app: keeps, finds and forgets images and files, and
    transcribes voice messages."""
    common = common or CommonSettings()
    settings = settings or MediaSettings()
    broker = make_broker(common.nats_url, name="media")
    db = Database(common.database_url, max_size=settings.pool_size)
    blobs = NatsBlobs()
    transcriber = Transcriber(settings.transcribers)
    app = MediaApp(
        PgImageStore(db),
        blobs,
        partial(publish_stored, broker),
        settings,
        files=PgFileStore(db),
        transcribe=transcriber.transcribe,
        clock=utcnow,
    )
    register(broker, app, settings)
    service = make_service_app(broker, common=common, checks=[db.ready])
    forget_deleted_projects(
        service, broker, service="media", schema="media", database_url=common.database_url
    )

    @service.on_startup  # after the streams exist, before the broker starts its subscribers
    async def prepare() -> None:
        js = broker.connection.jetstream()
        await ensure_consumer(js, settings)
        await blobs.open(js)
        await db.open()

    @service.after_shutdown  # after the broker stopped: no deletion or transcription is cut off
    async def close() -> None:
        await transcriber.close()
        await db.close()

    return service
