"""Wiring: broker, database, health routes. Its subscribers arrive with the media issue."""

from faststream.asgi import AsgiFastStream

from shared.broker import make_broker
from shared.db import database_ready, make_engine
from shared.service import make_service_app
from shared.settings import CommonSettings


def create_app(common: CommonSettings | None = None) -> AsgiFastStream:
    """The media service as an ASGI app: connected to NATS and Postgres, reporting readiness."""
    common = common or CommonSettings()
    broker = make_broker(common.nats_url, name="media")
    engine = make_engine(common.database_url, pool_size=2)

    async def db_ready() -> bool:
        return await database_ready(engine)

    return make_service_app(broker, checks=[db_ready], on_shutdown=[engine.dispose])
