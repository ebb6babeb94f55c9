"""Files and voice messages through the gateway's client (`store_file`, `transcribe`) against a
media service process on real NATS and Postgres: files are typed by their bytes and recorded,
oversized ones and what is no WAV are refused with nothing left behind, the espeak-ng fixture
is transcribed, another project's subject changes nothing, and a deleted session's files go."""

import asyncio
import base64
import hashlib
import io
import os
import wave
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import pytest
from nats.aio.client import Client as NatsClient
from nats.js.errors import NotFoundError, ObjectNotFoundError
from nats.js.object_store import ObjectStore
from pydantic import BaseModel, TypeAdapter

from services.gateway.bus.bridge import Bridge
from services.gateway.bus.media_files import MediaStore, store_file, transcribe
from shared import subjects
from shared.broker import make_broker
from shared.contracts import (
    FileInfo,
    FileRejected,
    ImageInfo,
    SessionDeleted,
    StoreFile,
    StoreFileReply,
    StoreImage,
    StoreImageReply,
    TranscribeVoice,
    TranscribeVoiceReply,
    Transcript,
)
from tests.support.backends import Backends
from tests.support.plugin import Stack, TestProject
from tests.support.telemetry import publish_event
from tests.support.waits import wait_until

pytestmark = pytest.mark.integration

MAX_BYTES = 128 * 1024  # the fixture (75 KB) fits; a test's oversized file stays small
MAX_VOICE_S = 5
FIXTURE = Path(__file__).parent.parent / "fixtures" / "voice" / "weather.wav"
PDF = b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
STORED: TypeAdapter[Any] = TypeAdapter(StoreFileReply)
TRANSCRIBED: TypeAdapter[Any] = TypeAdapter(TranscribeVoiceReply)
IMAGE_STORED: TypeAdapter[Any] = TypeAdapter(StoreImageReply)


@pytest.fixture(scope="module")
def media(backends: Backends, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """One media replica keeping files of at most 128 KiB and voice of at most 5 s."""
    env = {"MEDIA_MAX_FILE_BYTES": str(MAX_BYTES), "MEDIA_MAX_VOICE_S": str(MAX_VOICE_S)}
    stack = Stack(backends, tmp_path_factory.mktemp("media-files-logs"), service_env=env)
    yield stack.start(dialogs=0, gateways=0, media=1)
    stack.stop()


@pytest.fixture
async def bridge(backends: Backends) -> AsyncIterator[Bridge]:
    """The gateway's bridge on its own connected broker."""
    broker = make_broker(backends.nats_url, name="test-media-files")
    await broker.connect()
    yield Bridge(broker, request_timeout_s=10, partitions=8)  # it publishes no turns
    await broker.stop()


@pytest.fixture
async def objects(bridge: Bridge) -> ObjectStore:
    """The media object store, opened as the gateway opens it."""
    return await MediaStore(bridge)()


def digest(data: bytes) -> str:
    """The object store's digest of `data`."""
    return "SHA-256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).decode()


async def staged_with(objects: ObjectStore, data: bytes) -> bool:
    """True while some object in the bucket holds exactly `data` (random bytes: this test's)."""
    try:
        infos = await objects.list(ignore_deletes=True)
    except NotFoundError:
        return False
    return any(info.digest == digest(data) for info in infos if not info.deleted)


async def staged(objects: ObjectStore, media_id: UUID) -> bool:
    try:
        await objects.get_info(str(media_id))
    except ObjectNotFoundError:
        return False
    return True


async def rows(pg: asyncpg.Connection, project: UUID) -> list[asyncpg.Record]:
    return list(await pg.fetch("SELECT * FROM media.files WHERE project_key = $1", project))


async def keep(bridge: Bridge, objects: ObjectStore, project: UUID, session: str) -> FileInfo:
    """Keep a small random text file; its metadata."""
    data = os.urandom(8).hex().encode()
    answer = await store_file(
        bridge,
        objects,
        project=project,
        session=session,
        name="a.txt",
        declared_type="text/plain",
        data=data,
        correlation_id=uuid4(),
    )
    assert isinstance(answer, FileInfo), answer
    return answer


def wav(frames: bytes, *, rate: int, width: int = 2) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as file:
        file.setnchannels(1)
        file.setsampwidth(width)
        file.setframerate(rate)
        file.writeframes(frames)
    return out.getvalue()


async def test_a_pdf_is_kept_as_a_pdf_whatever_was_declared(
    media: Stack, bridge: Bridge, objects: ObjectStore, pg: asyncpg.Connection, project: TestProject
) -> None:
    """A PDF declared text/plain is answered as application/pdf with its size and digest, under
    the name without its directories; its row is in media.files and its bytes stay staged."""
    answer = await store_file(
        bridge,
        objects,
        project=project.key,
        session="s-1",
        name="../report.txt",
        declared_type="text/plain",
        data=PDF,
        correlation_id=uuid4(),
    )
    assert isinstance(answer, FileInfo), answer
    assert (answer.project_key, answer.session_id, answer.name) == (
        project.key,
        "s-1",
        "report.txt",
    )
    assert (answer.content_type, answer.size) == ("application/pdf", len(PDF))
    assert answer.sha256 == hashlib.sha256(PDF).hexdigest()
    [row] = await rows(pg, project.key)
    assert FileInfo(**dict(row)) == answer
    assert (await objects.get(str(answer.media_id))).data == PDF


async def test_text_keeps_its_declared_type_and_unknown_bytes_are_octet_stream(
    media: Stack, bridge: Bridge, objects: ObjectStore, project: TestProject
) -> None:
    """UTF-8 declared text/plain (with a charset) is text/plain; bytes that no signature names
    and are no UTF-8 are application/octet-stream though declared text/plain."""
    sent = {"notes.txt": "héllo, wörld\n".encode(), "blob.txt": bytes(range(256))}
    kept = {}
    for name, data in sent.items():
        answer = await store_file(
            bridge,
            objects,
            project=project.key,
            session="s-1",
            name=name,
            declared_type="text/plain; charset=utf-8",
            data=data,
            correlation_id=uuid4(),
        )
        assert isinstance(answer, FileInfo), answer
        kept[name] = answer.content_type
    assert kept == {"notes.txt": "text/plain", "blob.txt": "application/octet-stream"}


async def test_a_file_over_the_limit_is_refused_and_nothing_stays(
    media: Stack, bridge: Bridge, objects: ObjectStore, pg: asyncpg.Connection, project: TestProject
) -> None:
    """One byte over MEDIA_MAX_FILE_BYTES is refused as too_large; the staged bytes are deleted
    and nothing is recorded."""
    data = os.urandom(MAX_BYTES + 1)
    answer = await store_file(
        bridge,
        objects,
        project=project.key,
        session="s-1",
        name="big.bin",
        declared_type="application/octet-stream",
        data=data,
        correlation_id=uuid4(),
    )
    assert answer == FileRejected(
        reason="too_large", message=f"{MAX_BYTES + 1} bytes, over the {MAX_BYTES} bytes allowed"
    )
    assert not await staged_with(objects, data)
    assert await rows(pg, project.key) == []


async def test_the_fixture_is_transcribed_and_kept_as_a_wav_file(
    media: Stack, bridge: Bridge, objects: ObjectStore, pg: asyncpg.Connection, project: TestProject
) -> None:
    """The espeak-ng WAV is heard with its key word, its duration is answered, and it is kept
    as an audio/wav file of the session."""
    data = FIXTURE.read_bytes()
    answer = await transcribe(
        bridge, objects, project=project.key, session="s-1", wav=data, correlation_id=uuid4()
    )
    assert isinstance(answer, Transcript), answer
    assert "weather" in answer.text.split()
    assert answer.seconds == pytest.approx(1.703, abs=0.001)
    [row] = await rows(pg, project.key)
    assert (row["media_id"], row["session_id"], row["name"]) == (
        answer.media_id,
        "s-1",
        "voice.wav",
    )
    assert (row["content_type"], row["size"]) == ("audio/wav", len(data))
    assert (await objects.get(str(answer.media_id))).data == data


async def test_voice_messages_are_transcribed_side_by_side(
    media: Stack, bridge: Bridge, objects: ObjectStore, project: TestProject
) -> None:
    """Three voice messages at once are all answered (the recognisers work in parallel)."""
    answers = await asyncio.gather(
        *(
            transcribe(
                bridge,
                objects,
                project=project.key,
                session=f"s-{n}",
                wav=FIXTURE.read_bytes(),
                correlation_id=uuid4(),
            )
            for n in range(3)
        )
    )
    assert all(isinstance(a, Transcript) and "weather" in a.text for a in answers), answers


@pytest.mark.parametrize(
    "data",
    [
        b"ID3\x04\x00\x00" + os.urandom(2048),
        PDF + os.urandom(16),
        b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x11\x00" + os.urandom(64),
        wav(b"", rate=16_000),
    ],
    ids=["mp3-like", "pdf", "adpcm-wav", "empty-wav"],
)
async def test_what_is_no_usable_wav_is_refused_and_nothing_stays(
    media: Stack,
    bridge: Bridge,
    objects: ObjectStore,
    pg: asyncpg.Connection,
    project: TestProject,
    data: bytes,
) -> None:
    """Garbage, another format, a compressed WAV and a WAV without audio are refused as
    unsupported; nothing is recorded and the staged bytes are deleted."""
    answer = await transcribe(
        bridge, objects, project=project.key, session="s-1", wav=data, correlation_id=uuid4()
    )
    assert isinstance(answer, FileRejected), answer
    assert answer.reason == "unsupported"
    assert await rows(pg, project.key) == []
    assert not await staged_with(objects, data)


async def test_a_voice_message_over_the_duration_limit_is_too_large(
    media: Stack, bridge: Bridge, objects: ObjectStore, pg: asyncpg.Connection, project: TestProject
) -> None:
    """Six seconds of 8 kHz audio, past MEDIA_MAX_VOICE_S (5 s), are refused as too_large."""
    data = wav(os.urandom(6 * 8000), rate=8000, width=1)
    answer = await transcribe(
        bridge, objects, project=project.key, session="s-1", wav=data, correlation_id=uuid4()
    )
    assert answer == FileRejected(
        reason="too_large", message="6.0 s of audio, over the 5 s allowed"
    )
    assert await rows(pg, project.key) == []
    assert not await staged_with(objects, data)


def store_command(media_id: UUID, project: UUID) -> StoreFile:
    return StoreFile(
        media_id=media_id,
        project_key=project,
        session_id="s-1",
        filename="a.pdf",
        correlation_id=uuid4(),
    )


def voice_command(media_id: UUID, project: UUID) -> TranscribeVoice:
    return TranscribeVoice(
        media_id=media_id, project_key=project, session_id="s-1", correlation_id=uuid4()
    )


async def ask_on(bridge: Bridge, subject: str, command: BaseModel, answer: TypeAdapter[Any]) -> Any:
    return await bridge.ask(subject, command, answer, timeout_s=30)


async def test_requests_on_another_projects_subject_change_nothing(
    media: Stack,
    bridge: Bridge,
    objects: ObjectStore,
    pg: asyncpg.Connection,
    project: TestProject,
    other_project: TestProject,
) -> None:
    """A StoreFile or TranscribeVoice naming one project sent on another's subject is refused;
    the staged bytes stay as they were and nothing is recorded for either project."""
    file_id, voice_id = uuid4(), uuid4()
    await objects.put(str(file_id), PDF)
    await objects.put(str(voice_id), FIXTURE.read_bytes())
    stored = await ask_on(
        bridge,
        subjects.media_file_store(other_project.key),
        store_command(file_id, project.key),
        STORED,
    )
    heard = await ask_on(
        bridge,
        subjects.media_voice_transcribe(other_project.key),
        voice_command(voice_id, project.key),
        TRANSCRIBED,
    )
    for answer in (stored, heard):
        assert isinstance(answer, FileRejected), answer
        assert (answer.reason, answer.message) == (
            "unsupported",
            "the request names another project than its subject",
        )
    assert await staged(objects, file_id) and await staged(objects, voice_id)
    assert await rows(pg, project.key) == [] and await rows(pg, other_project.key) == []


async def test_malformed_requests_are_answered_not_dropped(
    media: Stack, nc: NatsClient, project: TestProject
) -> None:
    """A body that is no StoreFile or TranscribeVoice gets an unsupported answer naming the
    fields at fault (not a timeout)."""
    for subject, model in (
        (subjects.media_file_store(project.key), "StoreFile"),
        (subjects.media_voice_transcribe(project.key), "TranscribeVoice"),
    ):
        reply = await nc.request(subject, b'{"media_id": "not a uuid"}', timeout=10)
        answer = FileRejected.model_validate_json(reply.data)
        assert answer.reason == "unsupported"
        assert answer.message.startswith(f"malformed {model}: media_id: ")


async def test_an_images_id_is_not_taken_for_a_file(
    media: Stack, bridge: Bridge, objects: ObjectStore, nc: NatsClient, project: TestProject
) -> None:
    """Asking to keep a kept image's id as a file (or a voice message) is refused and leaves
    the image's bytes alone (deleting the file's session must not delete them)."""
    image_id = uuid4()
    png = base64.b64decode(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC"
    )
    await objects.put(str(image_id), png)
    image = await ask_on(
        bridge,
        subjects.media_store(project.key),
        StoreImage(
            media_id=image_id, project_key=project.key, session_id="s-1", correlation_id=uuid4()
        ),
        IMAGE_STORED,
    )
    assert isinstance(image, ImageInfo), image
    stored = await ask_on(
        bridge, subjects.media_file_store(project.key), store_command(image_id, project.key), STORED
    )
    heard = await ask_on(
        bridge,
        subjects.media_voice_transcribe(project.key),
        voice_command(image_id, project.key),
        TRANSCRIBED,
    )
    for answer in (stored, heard):
        assert answer == FileRejected(
            reason="unsupported", message="this media id belongs to another upload"
        )
    assert (await objects.get(str(image_id))).data == png


async def test_a_deleted_sessions_files_go_and_other_sessions_files_stay(
    media: Stack,
    bridge: Bridge,
    objects: ObjectStore,
    nc: NatsClient,
    pg: asyncpg.Connection,
    project: TestProject,
    other_project: TestProject,
) -> None:
    """SessionDeleted in CHAT deletes that session's files and voice messages, rows and bytes;
    another session of the project and the same session id in another project keep theirs."""
    gone = [await keep(bridge, objects, project.key, "doomed") for _ in range(2)]
    voice = await transcribe(
        bridge,
        objects,
        project=project.key,
        session="doomed",
        wav=FIXTURE.read_bytes(),
        correlation_id=uuid4(),
    )
    assert isinstance(voice, Transcript), voice
    gone_ids = [f.media_id for f in gone] + [voice.media_id]
    stays = [
        await keep(bridge, objects, project.key, "other"),
        await keep(bridge, objects, other_project.key, "doomed"),
    ]
    deleted = SessionDeleted.first(project_key=project.key, session_id="doomed")
    await publish_event(nc.jetstream(), subjects.chat_deleted(project.key), deleted)

    async def rows_gone() -> bool:
        count = await pg.fetchval(
            "SELECT count(*) FROM media.files WHERE media_id = ANY($1)", gone_ids
        )
        return bool(count == 0)

    await wait_until(rows_gone, within_s=15, what="the deleted session's file rows deleted")
    for media_id in gone_ids:
        assert not await staged(objects, media_id)
    for file in stays:
        assert await staged(objects, file.media_id)
        [row] = await pg.fetch("SELECT * FROM media.files WHERE media_id = $1", file.media_id)
        assert FileInfo(**dict(row)) == file
