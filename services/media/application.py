"""The media use cases: keep a staged image or file (or refuse and delete it), keep and
transcribe a voice message, find an image, forget a deleted session's images and files."""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from uuid import UUID

from shared.contracts import (
    FileInfo,
    FileRejected,
    ImageInfo,
    ImageRejected,
    ImageStored,
    SessionDeleted,
    StoreFile,
    StoreImage,
    TranscribeVoice,
    Transcript,
)

from .config import MediaSettings
from .domain import (
    ImageRefused,
    StagedImageMissing,
    UnsupportedImage,
    check_size,
    image_info,
    same_upload,
    sniff,
    stored_event,
)
from .files import (
    FileRefused,
    MediaIdTaken,
    StagedFileMissing,
    check_file_size,
    file_facts,
    file_info,
    same_owner,
    typed_facts,
)
from .store import Blobs, FileStore, ImageStore
from .voice import speech_pcm

log = logging.getLogger(__name__)
Publish = Callable[[ImageStored], Awaitable[None]]
Transcribe = Callable[[bytes], Awaitable[str]]
VOICE_NAME = "voice.wav"
VOICE_TYPE = "audio/wav"


class MediaApp:
    """What the handlers call; storage, bytes, publishing and the clock are passed in."""

    def __init__(
        self,
        images: ImageStore,
        blobs: Blobs,
        publish: Publish,
        settings: MediaSettings,
        *,
        files: FileStore,
        transcribe: Transcribe,
        clock: Callable[[], datetime],
    ) -> None:
        self._images, self._blobs, self._publish = images, blobs, publish
        self._files, self._transcribe = files, transcribe
        self._settings, self._clock = settings, clock
        self._decoding = asyncio.Semaphore(settings.decoders)  # bounds the memory decoding takes

    async def store(self, command: StoreImage) -> ImageInfo | ImageRejected:
        """Keep the image staged under the command's media id and announce it, or delete the
        staged bytes and say why not. A repeated command gets the same answer."""
        kept = await self._images.get(command.media_id)
        if kept is None and await self._files.get(command.media_id) is not None:
            log.warning("upload %s reuses a kept file's id", command.media_id)
            return UnsupportedImage("this media id belongs to another upload").rejection()
        if kept is None:
            try:
                image = await self._check(command)
            except ImageRefused as err:
                await self._blobs.delete(str(command.media_id))
                log.info("refused upload %s of %s: %s", command.media_id, command.project_key, err)
                return err.rejection()
            kept = await self._images.add(image, filename=command.filename)
        if not same_upload(command, kept):
            # Another upload's id: its bytes and metadata stay as they are.
            log.warning("upload %s reuses a kept image's id", command.media_id)
            return UnsupportedImage("this media id belongs to another upload").rejection()
        await self._publish(stored_event(kept, correlation_id=command.correlation_id))
        return kept

    async def _check(self, command: StoreImage) -> ImageInfo:
        """The metadata of the staged bytes, if they are an image this service keeps."""
        name, limit = str(command.media_id), self._settings.max_bytes
        size = await self._blobs.size(name)
        if size is None:
            raise StagedImageMissing(command.media_id)
        check_size(size, limit)  # before reading it: the bytes are not loaded for nothing
        data = await self._blobs.read(name)
        if data is None:
            raise StagedImageMissing(command.media_id)
        check_size(len(data), limit)
        async with self._decoding:
            sniffed = await asyncio.to_thread(
                sniff,
                data,
                allowed=self._settings.allowed_types,
                max_pixels=self._settings.max_pixels,
            )
        return image_info(command, sniffed, created_at=self._clock())

    async def get(self, media_id: UUID) -> ImageInfo | None:
        """The image with this id, if it is kept."""
        return await self._images.get(media_id)

    async def store_file(self, command: StoreFile) -> FileInfo | FileRejected:
        """Keep the file staged under the command's media id, typed by its bytes, or delete the
        staged bytes and say why not. A repeated command gets the same answer."""
        kept = await self._files.get(command.media_id)
        if kept is None:
            try:
                data = await self._staged_file(command)
                facts = await asyncio.to_thread(file_facts, data, declared=command.declared_type)
            except FileRefused as err:
                return await self._refuse(command, err)
            info = file_info(command, facts, name=command.filename, created_at=self._clock())
            kept = await self._files.add(info)
        if not same_owner(command, kept):
            log.warning("file %s reuses a kept file's id", command.media_id)
            return MediaIdTaken(command.media_id).rejection()
        return kept

    async def transcribe(self, command: TranscribeVoice) -> Transcript | FileRejected:
        """Keep the WAV staged under the command's media id as a file of the session and answer
        its words, or delete the staged bytes and say why not (not a WAV, too long, too big).
        A repeated command transcribes the kept file again."""
        kept = await self._files.get(command.media_id)
        if kept is not None and not same_owner(command, kept):
            log.warning("voice %s reuses a kept file's id", command.media_id)
            return MediaIdTaken(command.media_id).rejection()
        try:
            data = await self._staged_file(command)
            speech = await asyncio.to_thread(
                speech_pcm, data, max_seconds=self._settings.max_voice_s
            )
        except FileRefused as err:
            return err.rejection() if kept is not None else await self._refuse(command, err)
        if kept is None:
            facts = typed_facts(data, VOICE_TYPE)  # a WAV: speech_pcm read it
            info = file_info(command, facts, name=VOICE_NAME, created_at=self._clock())
            kept = await self._files.add(info)
            if not same_owner(command, kept):  # another request won the race for this id
                return MediaIdTaken(command.media_id).rejection()
        try:
            text = await self._transcribe(speech.pcm)
        except FileRefused as err:
            return err.rejection()
        return Transcript(media_id=kept.media_id, text=text, seconds=round(speech.seconds, 3))

    async def _staged_file(self, command: StoreFile | TranscribeVoice) -> bytes:
        """The staged bytes of a file, if there are any and not too many. An image's id is
        refused: deleting this file's session must not delete another upload's bytes."""
        name, limit = str(command.media_id), self._settings.max_file_bytes
        if await self._images.get(command.media_id) is not None:
            raise MediaIdTaken(command.media_id)
        size = await self._blobs.size(name)
        if size is None:
            raise StagedFileMissing(command.media_id)
        check_file_size(size, limit)
        data = await self._blobs.read(name)
        if data is None:
            raise StagedFileMissing(command.media_id)
        check_file_size(len(data), limit)
        return data

    async def _refuse(self, command: StoreFile | TranscribeVoice, err: FileRefused) -> FileRejected:
        """Delete the staged bytes of a refused upload (unless they are another upload's)."""
        if not isinstance(err, MediaIdTaken):
            await self._blobs.delete(str(command.media_id))
        log.info("refused file %s of %s: %s", command.media_id, command.project_key, err)
        return err.rejection()

    async def forget_session(self, event: SessionDeleted) -> int:
        """Delete a session's images and files, bytes first: the rows are deleted only when
        every object is gone, so a retry after a failure finds what is left to delete."""
        forgotten = 0
        project, session = event.project_key, event.session_id
        for forgetting in (
            self._images.forgetting(project=project, session=session),
            self._files.forgetting(project=project, session=session),
        ):
            async with forgetting as media_ids:
                for media_id in media_ids:
                    await self._blobs.delete(str(media_id))
            forgotten += len(media_ids)
        return forgotten
