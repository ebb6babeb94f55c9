"""Media persistence behind small Protocols: image and file metadata (Postgres, asyncpg
directly) and their bytes (the NATS object store, where the gateway stages uploads).

Every query is scoped by the ids it is given: one image by its id, or one project's session.
"""

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from typing import Protocol
from uuid import UUID

import asyncpg
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.errors import ObjectNotFoundError
from nats.js.object_store import ObjectStore

from shared.broker import media_bucket
from shared.contracts import FileInfo, ImageInfo
from shared.db import DATABASE_TROUBLE, Database

from . import sql

# What a call can fail with while the database or NATS is away or busy: worth a retry.
TROUBLE: tuple[type[BaseException], ...] = (*DATABASE_TROUBLE, NatsError)


class ImageStore(Protocol):
    """The metadata of kept images."""

    async def get(self, media_id: UUID) -> ImageInfo | None:
        """The image with this id, if it is kept."""

    async def add(self, image: ImageInfo, *, filename: str) -> ImageInfo:
        """Keep `image` unless its id is already kept; the image kept under that id either way."""

    def forgetting(self, *, project: UUID, session: str) -> AbstractAsyncContextManager[list[UUID]]:
        """Delete the session's images in a transaction that commits when the block ends
        (and rolls back if it raises); the block gets the ids deleted."""


class FileStore(Protocol):
    """The metadata of kept files (voice messages included)."""

    async def get(self, media_id: UUID) -> FileInfo | None:
        """The file with this id, if it is kept."""

    async def add(self, file: FileInfo) -> FileInfo:
        """Keep `file` unless its id is already kept; the file kept under that id either way."""

    def forgetting(self, *, project: UUID, session: str) -> AbstractAsyncContextManager[list[UUID]]:
        """As ImageStore.forgetting, for the session's files."""


class Blobs(Protocol):
    """The bytes of images and files, by object name."""

    async def size(self, name: str) -> int | None:
        """Bytes of the object, or None when there is none (a link counts as none)."""

    async def read(self, name: str) -> bytes | None:
        """The object's bytes, or None when there is none."""

    async def delete(self, name: str) -> None:
        """Remove the object; nothing happens when there is none."""


def _info(row: asyncpg.Record) -> ImageInfo:
    return ImageInfo(**dict(row))


class PgImageStore:
    """ImageStore over an asyncpg pool."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, media_id: UUID) -> ImageInfo | None:
        row = await self._db.pool.fetchrow(sql.GET, media_id)
        return None if row is None else _info(row)

    async def add(self, image: ImageInfo, *, filename: str) -> ImageInfo:
        async with self._db.pool.acquire() as conn:
            await conn.execute(
                sql.INSERT,
                image.media_id,
                image.project_key,
                image.session_id,
                image.content_type,
                image.size,
                image.sha256,
                image.width,
                image.height,
                filename,
                image.created_at,
            )
            # A statement of its own: it sees a row that a racing insert committed meanwhile.
            return _info(await conn.fetchrow(sql.GET, image.media_id))

    @asynccontextmanager
    async def forgetting(self, *, project: UUID, session: str) -> AsyncIterator[list[UUID]]:
        async with self._db.pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(sql.DELETE_SESSION, project, session)
            yield [r["media_id"] for r in rows]


class PgFileStore:
    """FileStore over an asyncpg pool."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, media_id: UUID) -> FileInfo | None:
        row = await self._db.pool.fetchrow(sql.FILE_GET, media_id)
        return None if row is None else FileInfo(**dict(row))

    async def add(self, file: FileInfo) -> FileInfo:
        async with self._db.pool.acquire() as conn:
            await conn.execute(
                sql.FILE_INSERT,
                file.media_id,
                file.project_key,
                file.session_id,
                file.name,
                file.content_type,
                file.size,
                file.sha256,
                file.created_at,
            )
            # A statement of its own: it sees a row that a racing insert committed meanwhile.
            return FileInfo(**dict(await conn.fetchrow(sql.FILE_GET, file.media_id)))

    @asynccontextmanager
    async def forgetting(self, *, project: UUID, session: str) -> AsyncIterator[list[UUID]]:
        async with self._db.pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(sql.FILE_DELETE_SESSION, project, session)
            yield [r["media_id"] for r in rows]


class NatsBlobs:
    """Blobs in the `media` object store, opened when the service starts."""

    def __init__(self) -> None:
        self._bucket: ObjectStore | None = None

    async def open(self, js: JetStreamContext) -> None:
        """Create the bucket if this is the first service to need it."""
        self._bucket = await media_bucket(js)

    @property
    def bucket(self) -> ObjectStore:
        if self._bucket is None:
            raise RuntimeError("media bucket used before the service started")
        return self._bucket

    async def size(self, name: str) -> int | None:
        try:
            info = await self.bucket.get_info(name)
        except ObjectNotFoundError:
            return None
        return None if info.is_link() else int(info.size or 0)

    async def read(self, name: str) -> bytes | None:
        try:
            return bytes((await self.bucket.get(name)).data or b"")
        except ObjectNotFoundError:
            return None

    async def delete(self, name: str) -> None:
        with suppress(ObjectNotFoundError):
            await self.bucket.delete(name)
