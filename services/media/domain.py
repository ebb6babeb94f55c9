"""Media's pure logic: what the uploaded bytes really are, the metadata kept for them, the event
announcing them, and the reasons an upload is refused.

No I/O here: the clock is passed in. Pillow parses untrusted bytes, so callers run `sniff` in a
thread and bound how many run at once (decoding takes memory in proportion to the pixels).
"""

import hashlib
import io
from collections.abc import Collection
from datetime import datetime
from typing import Literal, NamedTuple
from uuid import UUID, uuid5

from PIL import Image

from shared.contracts import ImageInfo, ImageRejected, ImageStored, StoreImage

ContentType = Literal["image/jpeg", "image/png", "image/gif", "image/webp"]
RejectReason = Literal["unsupported", "too_large", "missing"]

# Content type → Pillow's format name. Only these decoders ever see an upload.
FORMATS: dict[ContentType, str] = {
    "image/jpeg": "JPEG",
    "image/png": "PNG",
    "image/gif": "GIF",
    "image/webp": "WEBP",
}
_CONTENT_TYPES: dict[str, ContentType] = {fmt: ct for ct, fmt in FORMATS.items()}

# Seeds the ImageStored event id: one image, one event id, so a repeated announcement
# (a redelivered request) is dropped by the stream's duplicate window.
_EVENT_NAMESPACE = UUID("0b8f1f7e-6a0c-4d55-9d6e-2f3c8a9b5e41")


class MediaError(Exception):
    """Root of the media service's errors."""


class ImageRefused(MediaError):
    """An upload that is not kept; `reason` is what the gateway turns into its answer."""

    reason: RejectReason = "unsupported"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def rejection(self) -> ImageRejected:
        """The answer to the StoreImage request."""
        return ImageRejected(reason=self.reason, message=self.message)


class UnsupportedImage(ImageRefused):
    """The bytes are no image of an allowed type: another format, corrupt, or too many pixels."""

    reason: RejectReason = "unsupported"


class ImageTooLarge(ImageRefused):
    """The staged object is larger than the service keeps."""

    reason: RejectReason = "too_large"

    def __init__(self, *, size: int, limit: int) -> None:
        super().__init__(f"{size} bytes, over the {limit} bytes allowed")
        self.size, self.limit = size, limit


class StagedImageMissing(ImageRefused):
    """Nothing is staged under the media id (never put, or already deleted)."""

    reason: RejectReason = "missing"

    def __init__(self, media_id: UUID) -> None:
        super().__init__(f"no staged upload named {media_id}")
        self.media_id = media_id


class Sniffed(NamedTuple):
    """What the bytes of an accepted image are."""

    content_type: ContentType
    width: int
    height: int
    size: int
    sha256: str


def check_size(size: int, limit: int) -> None:
    """Refuse an upload of more than `limit` bytes."""
    if size > limit:
        raise ImageTooLarge(size=size, limit=limit)


def _header(data: bytes, *, allowed: Collection[ContentType]) -> tuple[str, int, int]:
    """Format and dimensions from the header, read by the allowed decoders only (the declared
    type and the file name play no part)."""
    try:
        with Image.open(io.BytesIO(data), formats=[FORMATS[ct] for ct in allowed]) as img:
            return str(img.format), img.width, img.height
    except Image.DecompressionBombError as err:  # Pillow's own limit, far above ours by default
        raise UnsupportedImage("too many pixels (a decompression bomb?)") from err
    except Exception as err:  # Pillow raises many types on bytes it cannot identify
        kinds = ", ".join(sorted(allowed))
        raise UnsupportedImage(f"not an image of an allowed type ({kinds})") from err


def _decode(data: bytes, fmt: str) -> None:
    """Check the whole image decodes: `verify` catches bad checksums (PNG), `load` truncated
    data (every format). JPEGs are decoded at 1/8 scale: every byte is read, less memory."""
    with Image.open(io.BytesIO(data), formats=[fmt]) as img:
        img.verify()
    with Image.open(io.BytesIO(data), formats=[fmt]) as img:
        if fmt == "JPEG":
            img.draft(img.mode, (1, 1))
        img.load()


def sniff(data: bytes, *, allowed: Collection[ContentType], max_pixels: int) -> Sniffed:
    """What `data` is, if it is a whole image of an allowed type with at most `max_pixels`
    pixels; UnsupportedImage otherwise (SVG, HTML, PDF, text, corrupt data, bombs)."""
    fmt, width, height = _header(data, allowed=allowed)
    if width * height > max_pixels:
        raise UnsupportedImage(
            f"{width}x{height} pixels, over the {max_pixels} allowed (a decompression bomb?)"
        )
    content_type = _CONTENT_TYPES[fmt]
    try:
        _decode(data, fmt)
    except Exception as err:  # Pillow raises many types on bad data
        raise UnsupportedImage(f"corrupt or truncated {content_type} data") from err
    return Sniffed(content_type, width, height, len(data), hashlib.sha256(data).hexdigest())


def image_info(command: StoreImage, sniffed: Sniffed, *, created_at: datetime) -> ImageInfo:
    """The metadata of an accepted image."""
    return ImageInfo(
        media_id=command.media_id,
        project_key=command.project_key,
        session_id=command.session_id,
        content_type=sniffed.content_type,
        size=sniffed.size,
        sha256=sniffed.sha256,
        width=sniffed.width,
        height=sniffed.height,
        created_at=created_at,
    )


def same_upload(command: StoreImage, kept: ImageInfo) -> bool:
    """True when `kept` is what `command` asked to keep (a repeat), not another upload's id."""
    return (kept.project_key, kept.session_id) == (command.project_key, command.session_id)


def stored_event(image: ImageInfo, *, correlation_id: UUID) -> ImageStored:
    """The announcement of a kept image; the same for every repeat of one upload."""
    return ImageStored(
        event_id=uuid5(_EVENT_NAMESPACE, str(image.media_id)),
        occurred_at=image.created_at,
        correlation_id=correlation_id,
        image=image,
    )
