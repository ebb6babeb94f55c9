"""The media service as a process on real NATS and Postgres: staged uploads kept, recorded and
announced once, everything that is no image (or too big, or not staged) refused and its bytes
deleted, images found by id, and a deleted session's images gone while others stay."""

import io
from collections.abc import Iterator
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import pytest
from nats.aio.client import Client as NatsClient
from nats.js.errors import ObjectNotFoundError
from PIL import Image
from pydantic import TypeAdapter

from shared import subjects
from shared.broker import media_bucket
from shared.contracts import (
    GetImage,
    GetImageReply,
    ImageInfo,
    ImageMissing,
    ImageRejected,
    ImageStored,
    SessionDeleted,
    StoreImage,
    StoreImageReply,
)
from tests.support.backends import Backends
from tests.support.plugin import TestProject
from tests.support.services import Service
from tests.support.telemetry import consumer_drained, publish_event
from tests.support.waits import wait_until

pytestmark = pytest.mark.integration

MAX_BYTES = 64 * 1024
STORED: TypeAdapter[Any] = TypeAdapter(StoreImageReply)
FOUND: TypeAdapter[Any] = TypeAdapter(GetImageReply)


@pytest.fixture(scope="module")
def media(backends: Backends, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """One media replica that keeps at most 64 KiB, so an oversized upload stays small."""
    env = backends.env(
        MEDIA_MAX_BYTES=str(MAX_BYTES),
    )
    service = Service("media", env, tmp_path_factory.mktemp("media-logs"))
    yield service.start()
    service.stop()


def png(size: tuple[int, int] = (32, 24)) -> bytes:
    """A real PNG drawn in memory."""
    out = io.BytesIO()
    Image.new("RGB", size, (10, 120, 200)).save(out, "PNG")
    return out.getvalue()


async def stage(nc: NatsClient, data: bytes) -> UUID:
    """Put `data` into the media bucket under a new id, as the gateway does with an upload."""
    media_id = uuid4()
    await (await media_bucket(nc.jetstream())).put(str(media_id), data)
    return media_id


async def staged(nc: NatsClient, media_id: UUID) -> bool:
    """True while the bucket holds an object named `media_id`."""
    try:
        await (await media_bucket(nc.jetstream())).get_info(str(media_id))
    except ObjectNotFoundError:
        return False
    return True


async def store(
    nc: NatsClient, command: StoreImage, *, on: UUID | None = None
) -> ImageInfo | ImageRejected:
    """Ask to keep a staged upload on project `on`'s subject (the command's own unless given)."""
    subject = subjects.media_store(on or command.project_key)
    reply = await nc.request(subject, command.model_dump_json().encode(), timeout=10)
    answer: ImageInfo | ImageRejected = STORED.validate_json(reply.data)
    return answer


def store_command(media_id: UUID, project: UUID, session: str = "s-1") -> StoreImage:
    return StoreImage(
        media_id=media_id,
        project_key=project,
        session_id=session,
        filename="cat.png",
        correlation_id=media_id,
    )


async def kept(nc: NatsClient, data: bytes, project: UUID, session: str) -> ImageInfo:
    """Stage and keep `data`; the kept image."""
    answer = await store(nc, store_command(await stage(nc, data), project, session))
    assert isinstance(answer, ImageInfo), answer
    return answer


async def find(nc: NatsClient, media_id: UUID) -> ImageInfo | ImageMissing:
    reply = await nc.request(
        subjects.MEDIA_GET, GetImage(media_id=media_id).model_dump_json().encode(), timeout=10
    )
    answer: ImageInfo | ImageMissing = FOUND.validate_json(reply.data)
    return answer


async def row(pg: asyncpg.Connection, media_id: UUID) -> asyncpg.Record | None:
    return await pg.fetchrow("SELECT * FROM media.images WHERE media_id = $1", media_id)


async def announced(nc: NatsClient, project: UUID) -> int:
    """How many ImageStored events of `project` the MEDIA stream holds."""
    subject = subjects.media_stored(project)
    info = await nc.jetstream().stream_info(subjects.MEDIA_STREAM, subjects_filter=subject)
    return (info.state.subjects or {}).get(subject, 0)


async def test_an_image_is_kept_recorded_and_announced_once(
    media: Service, nc: NatsClient, pg: asyncpg.Connection, project: TestProject
) -> None:
    """A staged PNG is answered with its sniffed metadata, has its row in media.images, is
    announced in MEDIA under its event id, and a repeated request changes nothing."""
    data = png((32, 24))
    command = store_command(await stage(nc, data), project.key)
    info = await store(nc, command)
    assert isinstance(info, ImageInfo)
    assert (info.media_id, info.project_key, info.session_id) == (
        command.media_id,
        project.key,
        "s-1",
    )
    assert (info.content_type, info.size, info.width, info.height) == (
        "image/png",
        len(data),
        32,
        24,
    )
    stored = await row(pg, command.media_id)
    assert stored is not None
    assert (stored["sha256"], stored["filename"], stored["size"]) == (
        info.sha256,
        "cat.png",
        len(data),
    )

    sub = await nc.jetstream().subscribe(
        subjects.media_stored(project.key), stream=subjects.MEDIA_STREAM, ordered_consumer=True
    )
    msg = await sub.next_msg(timeout=10)
    event = ImageStored.model_validate_json(msg.data)
    assert (event.image, event.correlation_id) == (info, command.correlation_id)
    assert msg.headers is not None
    assert msg.headers["Nats-Msg-Id"] == str(event.event_id)
    await sub.unsubscribe()

    assert await store(nc, command) == info
    assert await announced(nc, project.key) == 1
    assert await staged(nc, command.media_id)


@pytest.mark.parametrize(
    "data",
    [
        b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        b"<html><body><script>alert(1)</script></body></html>",
        b"%PDF-1.7\n",
        png((64, 64))[:60],
    ],
    ids=["svg", "html", "pdf", "truncated-png"],
)
async def test_what_is_no_image_is_refused_and_its_bytes_deleted(
    media: Service, nc: NatsClient, pg: asyncpg.Connection, project: TestProject, data: bytes
) -> None:
    """Bytes that are no whole image of an allowed type, named cat.png, are refused as
    unsupported; the staged object is deleted and nothing is recorded or announced."""
    media_id = await stage(nc, data)
    answer = await store(nc, store_command(media_id, project.key))
    assert isinstance(answer, ImageRejected)
    assert answer.reason == "unsupported"
    assert not await staged(nc, media_id)
    assert await row(pg, media_id) is None
    assert await announced(nc, project.key) == 0


async def test_an_upload_over_the_size_limit_is_refused_and_deleted(
    media: Service, nc: NatsClient, pg: asyncpg.Connection, project: TestProject
) -> None:
    """One byte over MEDIA_MAX_BYTES is refused as too_large and its object deleted."""
    media_id = await stage(nc, b"\0" * (MAX_BYTES + 1))
    answer = await store(nc, store_command(media_id, project.key))
    assert answer == ImageRejected(
        reason="too_large", message=f"{MAX_BYTES + 1} bytes, over the {MAX_BYTES} bytes allowed"
    )
    assert not await staged(nc, media_id)
    assert await row(pg, media_id) is None


async def test_a_request_without_staged_bytes_is_refused_as_missing(
    media: Service, nc: NatsClient, project: TestProject
) -> None:
    """Asking to keep an id that names no staged object is refused as missing."""
    answer = await store(nc, store_command(uuid4(), project.key))
    assert isinstance(answer, ImageRejected)
    assert answer.reason == "missing"


async def test_a_request_on_another_projects_subject_changes_nothing(
    media: Service,
    nc: NatsClient,
    pg: asyncpg.Connection,
    project: TestProject,
    other_project: TestProject,
) -> None:
    """A command naming one project sent on another's subject is refused; its staged bytes
    stay as they were and nothing is recorded."""
    media_id = await stage(nc, png())
    answer = await store(nc, store_command(media_id, project.key), on=other_project.key)
    assert isinstance(answer, ImageRejected)
    assert answer.reason == "unsupported"
    assert await staged(nc, media_id)
    assert await row(pg, media_id) is None


async def test_a_kept_images_id_cannot_be_taken_by_another_session(
    media: Service, nc: NatsClient, project: TestProject
) -> None:
    """Keeping a kept image's id again for another session is refused; the image stays its
    own session's, bytes and all."""
    info = await kept(nc, png(), project.key, "s-1")
    answer = await store(nc, store_command(info.media_id, project.key, "s-2"))
    assert isinstance(answer, ImageRejected)
    assert await find(nc, info.media_id) == info
    assert await staged(nc, info.media_id)


async def test_images_are_found_by_id_and_unknown_ids_are_missing(
    media: Service, nc: NatsClient, project: TestProject
) -> None:
    """GetImage answers a kept image's metadata, and ImageMissing for an id never kept."""
    info = await kept(nc, png(), project.key, "s-1")
    assert await find(nc, info.media_id) == info
    unknown = uuid4()
    assert await find(nc, unknown) == ImageMissing(media_id=unknown)


async def test_a_deleted_sessions_images_go_and_other_sessions_images_stay(
    media: Service,
    nc: NatsClient,
    pg: asyncpg.Connection,
    project: TestProject,
    other_project: TestProject,
) -> None:
    """SessionDeleted in CHAT deletes that session's rows and objects; another session of the
    same project and the same session id in another project keep theirs; a repeat of the
    event (past the stream's dedupe) is acked and changes nothing."""
    gone = [await kept(nc, png(), project.key, "doomed") for _ in range(2)]
    stays = [
        await kept(nc, png(), project.key, "other"),
        await kept(nc, png(), other_project.key, "doomed"),
    ]
    deleted = SessionDeleted.first(project_key=project.key, session_id="doomed")
    await publish_event(nc.jetstream(), subjects.chat_deleted(project.key), deleted)

    async def rows_gone() -> bool:
        ids = [image.media_id for image in gone]
        count = await pg.fetchval("SELECT count(*) FROM media.images WHERE media_id = ANY($1)", ids)
        return bool(count == 0)

    await wait_until(rows_gone, within_s=15, what="the deleted session's rows deleted")
    for image in gone:
        assert not await staged(nc, image.media_id)
        assert await find(nc, image.media_id) == ImageMissing(media_id=image.media_id)
    for image in stays:
        assert await staged(nc, image.media_id)
        assert await find(nc, image.media_id) == image

    js = nc.jetstream()
    subject = subjects.chat_deleted(project.key)
    await js.publish(
        subject, deleted.model_dump_json().encode(), headers={"Nats-Msg-Id": str(uuid4())}
    )

    async def drained() -> bool:
        return await consumer_drained(js, subjects.CHAT_STREAM, subjects.MEDIA_DURABLE)

    await wait_until(drained, within_s=15, what="the repeated deletion acked")
    assert [await find(nc, image.media_id) for image in stays] == stays
