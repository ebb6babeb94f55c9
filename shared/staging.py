"""Bot content too big for one NATS message (max_payload is 1 MB) travels through the `content`
object store bucket: the sender stages the bytes under a new name and sends only the name.

Whoever asked deletes the object once the exchange is over (the gateway, for an upload and for
an answer alike); the bucket's TTL removes what a crash left behind.
"""

import logging
from collections.abc import Callable
from uuid import uuid4

from nats.js import JetStreamContext
from nats.js.api import ObjectStoreConfig, StorageType
from nats.js.object_store import ObjectStore

from .broker import stream_replicas
from .subjects import CONTENT_BUCKET

log = logging.getLogger(__name__)
STAGED_TTL_S = 3600.0  # an exchange takes seconds; an hour outlives any retry


class StagedMissing(Exception):
    """The staged object is gone (expired, or deleted by a finished exchange)."""


async def content_bucket(js: JetStreamContext) -> ObjectStore:
    """The content staging bucket (created on first use; same config every time; as many
    replicas as the streams)."""
    config = ObjectStoreConfig(
        bucket=CONTENT_BUCKET,
        description="Bot content in transit between the gateway and the dialog",
        ttl=STAGED_TTL_S,
        storage=StorageType.FILE,
        replicas=stream_replicas(),
    )
    return await js.create_object_store(CONTENT_BUCKET, config=config)


class ContentBucket:
    """The staging bucket, opened on first use (a broker connects only in its lifespan)."""

    def __init__(self, jetstream: Callable[[], JetStreamContext]) -> None:
        self._jetstream = jetstream
        self._store: ObjectStore | None = None

    async def _bucket(self) -> ObjectStore:
        if self._store is None:
            self._store = await content_bucket(self._jetstream())
        return self._store

    async def stage(self, data: bytes) -> str:
        """Keep `data` under a new name, and return the name."""
        name = f"staged-{uuid4()}"
        await (await self._bucket()).put(name, data)
        return name

    async def read(self, name: str) -> bytes:
        """A staged object's bytes, or StagedMissing."""
        try:
            found = await (await self._bucket()).get(name)
        except Exception as err:  # nats-py raises ObjectNotFoundError, or a JetStream error
            raise StagedMissing(name) from err
        return found.data or b""

    async def discard(self, name: str) -> None:
        """Delete a staged object (already gone is fine: the TTL may have been first)."""
        try:
            await (await self._bucket()).delete(name)
        except Exception as err:
            log.info("staged %s not deleted: %r", name, err)

    async def take(self, name: str) -> bytes:
        """A staged object's bytes, deleting it."""
        try:
            return await self.read(name)
        finally:
            await self.discard(name)
