"""The NATS side every service shares: the broker, and the streams it expects."""

import functools
import logging
from typing import Any

from faststream.message import StreamMessage
from faststream.nats import NatsBroker
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js.api import ObjectStoreConfig, StorageType
from nats.js.errors import BadRequestError
from nats.js.object_store import ObjectStore

from .subjects import MEDIA_BUCKET, stream_configs

log = logging.getLogger(__name__)


def _fetch_times_out_as_nats(fetch: Any) -> Any:
    """nats-py 2.16 raises a bare asyncio.TimeoutError from `fetch` when the deadline is spent
    before its second pull request, where it otherwise raises nats.errors.TimeoutError. FastStream
    0.7.8's pull loops (and ours) catch only the latter, so an idle consumer's task crashed and
    was restarted with a back-off, stalling consumption for seconds. Raise the nats one always
    (it subclasses asyncio.TimeoutError, so nothing that caught the bare one breaks)."""

    @functools.wraps(fetch)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return await fetch(*args, **kwargs)
        except NatsTimeout:
            raise
        except TimeoutError as err:
            raise NatsTimeout from err

    wrapper.__switchboard_patched__ = True  # type: ignore[attr-defined]
    return wrapper


_PullSubscription = JetStreamContext.PullSubscription
if not getattr(_PullSubscription.fetch, "__switchboard_patched__", False):
    _PullSubscription.fetch = _fetch_times_out_as_nats(_PullSubscription.fetch)  # type: ignore[method-assign]


async def undecoded(msg: StreamMessage[Any]) -> None:
    """A FastStream `decoder` that decodes nothing: the handler reads `msg.body` itself, so a
    malformed message is answered or terminated by the handler, never failing a whole batch
    or dropped without a reply."""


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


async def media_bucket(js: JetStreamContext, *, replicas: int = 1) -> ObjectStore:
    """The object store holding uploaded media (created on first use; same config every time)."""
    config = ObjectStoreConfig(
        bucket=MEDIA_BUCKET,
        description="Uploaded images; the media service owns the metadata",
        storage=StorageType.FILE,
        replicas=replicas,
    )
    return await js.create_object_store(MEDIA_BUCKET, config=config)
