"""The NATS side every service shares: the broker, and the streams it expects."""

import logging

from faststream.nats import NatsBroker
from nats.js import JetStreamContext
from nats.js.errors import BadRequestError

from .subjects import stream_configs

log = logging.getLogger(__name__)


def make_broker(nats_url: str, *, name: str) -> NatsBroker:
    """A broker that reconnects forever (a restarted NATS must not end the service)."""
    servers = [s.strip() for s in nats_url.split(",") if s.strip()]
    return NatsBroker(
        servers,
        name=name,
        max_reconnect_attempts=-1,
        reconnect_time_wait=1,
        logger=log,
        log_level=logging.DEBUG,  # one line per message is for debugging, not for INFO logs
    )


async def ensure_streams(js: JetStreamContext, *, replicas: int = 1) -> None:
    """Create the streams, or bring their config up to date; safe from any number of starters."""
    for config in stream_configs(replicas):
        try:
            await js.add_stream(config)
        except BadRequestError:
            await js.update_stream(config)
