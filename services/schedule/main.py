"""Wiring: broker, database pool, request/reply subscribers, the firing loop, health routes."""

from functools import partial

from faststream.asgi import AsgiFastStream

from shared.broker import make_broker
from shared.contracts import utcnow
from shared.db import Database
from shared.forget import forget_deleted_projects
from shared.service import make_service_app
from shared.settings import CommonSettings

from .application import ScheduleApp
from .config import ScheduleSettings
from .firing import Firer
from .handlers import publish_command, register
from .store import PgScheduleStore


def create_app(
    common: CommonSettings | None = None, settings: ScheduleSettings | None = None
) -> AsgiFastStream:
    """The schedule service as an ASGI app: answers requests, fires due entries."""
    common = common or CommonSettings()
    settings = settings or ScheduleSettings()
    broker = make_broker(common.nats_url, name="schedule")
    db = Database(common.database_url, max_size=settings.pool_size)
    store = PgScheduleStore(db)
    publish = partial(publish_command, broker)
    register(broker, ScheduleApp(store, publish, clock=utcnow))
    firer = Firer(store, publish, settings, clock=utcnow)
    app = make_service_app(broker, common=common, checks=[db.ready])
    forget_deleted_projects(
        app, broker, service="schedule", schema="schedule", database_url=common.database_url
    )
    app.on_startup(db.open)  # before the broker starts its subscribers
    app.after_startup(firer.start)
    app.on_shutdown(firer.stop)  # the batch being fired commits while the broker still runs
    app.after_shutdown(db.close)
    return app
