"""The media use cases: keep a staged upload (or refuse and delete it), find an image, forget a
deleted session's images."""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from uuid import UUID

from shared.contracts import ImageInfo, ImageRejected, ImageStored, SessionDeleted, StoreImage

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
from .store import Blobs, ImageStore

log = logging.getLogger(__name__)
Publish = Callable[[ImageStored], Awaitable[None]]


class MediaApp:
    """What the handlers call; storage, bytes, publishing and the clock are passed in."""

    def __init__(
        self,
        images: ImageStore,
        blobs: Blobs,
        publish: Publish,
        settings: MediaSettings,
        *,
        clock: Callable[[], datetime],
    ) -> None:
        self._images, self._blobs, self._publish = images, blobs, publish
        self._settings, self._clock = settings, clock
        self._decoding = asyncio.Semaphore(settings.decoders)  # bounds the memory decoding takes

    async def store(self, command: StoreImage) -> ImageInfo | ImageRejected:
        """Keep the image staged under the command's media id and announce it, or delete the
        staged bytes and say why not. A repeated command gets the same answer."""
        kept = await self._images.get(command.media_id)
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

    async def forget_session(self, event: SessionDeleted) -> int:
        """Delete a session's images, bytes first: the rows are deleted only when every object
        is gone, so a retry after a failure finds what is left to delete."""
        forgetting = self._images.forgetting(project=event.project_key, session=event.session_id)
        async with forgetting as media_ids:
            for media_id in media_ids:
                await self._blobs.delete(str(media_id))
        return len(media_ids)
