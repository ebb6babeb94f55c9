"""The media service's ImageStore and FileStore ports, the same on the in-memory fakes and on
Postgres."""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID, uuid4

import pytest

from services.media.store import FileStore, ImageStore, PgFileStore, PgImageStore
from shared.contracts import FileInfo, ImageInfo
from shared.db import Database
from tests.support.backends import Backends
from tests.support.memory_media import MemoryFiles, MemoryImages

from .stores import BACKENDS, open_database

T0 = datetime(2026, 4, 1, 12, 0, tzinfo=UTC)


@dataclass
class MediaStores:
    images: ImageStore
    files: FileStore


@pytest.fixture(scope="module")
async def media_db(backends: Backends) -> AsyncIterator[Database]:
    db = await open_database(backends)
    yield db
    await db.close()


@pytest.fixture(params=BACKENDS)
def media(request: pytest.FixtureRequest) -> MediaStores:
    """The media metadata stores, in memory or on Postgres."""
    if request.param == "memory":
        return MediaStores(MemoryImages(), MemoryFiles())
    db: Database = request.getfixturevalue("media_db")
    return MediaStores(PgImageStore(db), PgFileStore(db))


def image(project: UUID, session: str = "s", *, size: int = 10) -> ImageInfo:
    return ImageInfo(
        media_id=uuid4(),
        project_key=project,
        session_id=session,
        content_type="image/png",
        size=size,
        sha256="a" * 64,
        width=2,
        height=3,
        created_at=T0,
    )


def file(project: UUID, session: str = "s", *, name: str = "a.pdf") -> FileInfo:
    return FileInfo(
        media_id=uuid4(),
        project_key=project,
        session_id=session,
        name=name,
        content_type="application/pdf",
        size=5,
        sha256="b" * 64,
        created_at=T0,
    )


async def test_what_is_added_reads_back_and_a_missing_id_is_none(media: MediaStores) -> None:
    """An added image or file reads back as it was added (and as add answered); an unknown
    media id is None."""
    project = uuid4()
    kept_image, kept_file = image(project), file(project)
    assert await media.images.add(kept_image, filename="cat.png") == kept_image
    assert await media.files.add(kept_file) == kept_file
    assert await media.images.get(kept_image.media_id) == kept_image
    assert await media.files.get(kept_file.media_id) == kept_file
    assert await media.images.get(uuid4()) is None
    assert await media.files.get(uuid4()) is None


async def test_a_repeated_add_keeps_the_first_row(media: MediaStores) -> None:
    """Adding a media id again (a repeated request, or two replicas racing) changes nothing
    and answers the row kept first."""
    project = uuid4()
    first = image(project, size=10)
    again = first.model_copy(update={"size": 99})
    await media.images.add(first, filename="a.png")
    assert await media.images.add(again, filename="b.png") == first
    first_file = file(project, name="a.pdf")
    await media.files.add(first_file)
    assert await media.files.add(first_file.model_copy(update={"name": "b.pdf"})) == first_file


async def test_forgetting_a_session_removes_its_media_and_no_one_elses(
    media: MediaStores,
) -> None:
    """Forgetting a session answers its media ids and removes them once the block ends; the
    same session id in another project, and other sessions, keep theirs."""
    mine, theirs = uuid4(), uuid4()
    gone_image, gone_file = image(mine), file(mine)
    kept = [image(theirs), image(mine, "other")]
    for info in (gone_image, *kept):
        await media.images.add(info, filename="x.png")
    await media.files.add(gone_file)
    await media.files.add(file(theirs))
    async with media.images.forgetting(project=mine, session="s") as ids:
        assert ids == [gone_image.media_id]
    async with media.files.forgetting(project=mine, session="s") as ids:
        assert ids == [gone_file.media_id]
    assert await media.images.get(gone_image.media_id) is None
    assert await media.files.get(gone_file.media_id) is None
    assert [await media.images.get(i.media_id) for i in kept] == kept


async def test_forgetting_that_fails_keeps_the_media(media: MediaStores) -> None:
    """A forgetting whose block fails (the bytes could not be removed) removes nothing: the
    rows stay for the next attempt."""
    project = uuid4()
    kept = image(project)
    await media.images.add(kept, filename="x.png")
    with pytest.raises(RuntimeError):
        async with media.images.forgetting(project=project, session="s") as ids:
            assert ids == [kept.media_id]
            raise RuntimeError("the object store is away")
    assert await media.images.get(kept.media_id) == kept
