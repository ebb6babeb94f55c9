"""The media service's metadata stores in memory (checked against Postgres by tests/contract):
a repeated add keeps the first row, forgetting a session removes its rows only when the block
ends without an error (as its transaction would)."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from uuid import UUID

from shared.contracts import FileInfo, ImageInfo


class MemoryImages:
    """ImageStore in a dict (with each image's file name, which no read returns)."""

    def __init__(self) -> None:
        self.rows: dict[UUID, tuple[ImageInfo, str]] = {}

    async def get(self, media_id: UUID) -> ImageInfo | None:
        found = self.rows.get(media_id)
        return None if found is None else found[0]

    async def add(self, image: ImageInfo, *, filename: str) -> ImageInfo:
        return self.rows.setdefault(image.media_id, (image, filename))[0]

    @asynccontextmanager
    async def forgetting(self, *, project: UUID, session: str) -> AsyncIterator[list[UUID]]:
        gone = [
            media_id
            for media_id, (image, _) in self.rows.items()
            if (image.project_key, image.session_id) == (project, session)
        ]
        yield gone
        for media_id in gone:
            del self.rows[media_id]


class MemoryFiles:
    """FileStore in a dict."""

    def __init__(self) -> None:
        self.rows: dict[UUID, FileInfo] = {}

    async def get(self, media_id: UUID) -> FileInfo | None:
        return self.rows.get(media_id)

    async def add(self, file: FileInfo) -> FileInfo:
        return self.rows.setdefault(file.media_id, file)

    @asynccontextmanager
    async def forgetting(self, *, project: UUID, session: str) -> AsyncIterator[list[UUID]]:
        gone = [
            media_id
            for media_id, file in self.rows.items()
            if (file.project_key, file.session_id) == (project, session)
        ]
        yield gone
        for media_id in gone:
            del self.rows[media_id]
