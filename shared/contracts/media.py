"""Uploaded images, owned by the media service.

The gateway stages the uploaded bytes in the media object store under the new id and asks the
media service to keep them (`StoreImage`); the service checks the bytes really are an image of
an allowed type, records the metadata and announces `ImageStored`, or deletes the staged object
and answers `ImageRejected`.
"""

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import Field

from .base import Contract, Event
from .session import SessionId


class StoreImage(Contract):
    """Command: keep the image staged under `media_id` for this project's session."""

    media_id: UUID = Field(description="Id of the new image; also its object name")
    project_key: UUID
    session_id: SessionId
    filename: str = Field("", max_length=255, description="Name the client gave (informative)")
    correlation_id: UUID


class GetImage(Contract):
    """Query: the metadata of one image."""

    media_id: UUID


class ImageInfo(Contract):
    """Answer: an image that is stored (its bytes are the object named `media_id`)."""

    kind: Literal["image"] = "image"
    media_id: UUID
    project_key: UUID
    session_id: str
    content_type: str = Field(description="Sniffed from the bytes, e.g. image/png")
    size: int = Field(ge=0, description="Bytes")
    sha256: str = Field(description="Hex digest of the bytes")
    width: int
    height: int
    created_at: datetime


class ImageRejected(Contract):
    """Answer: the upload was not kept (nothing stays stored)."""

    kind: Literal["rejected"] = "rejected"
    reason: Literal["unsupported", "too_large", "missing"]
    message: str


class ImageMissing(Contract):
    """Answer: no image with that id (never stored, or its session was deleted)."""

    kind: Literal["missing"] = "missing"
    media_id: UUID


StoreImageReply = Annotated[ImageInfo | ImageRejected, Field(discriminator="kind")]
GetImageReply = Annotated[ImageInfo | ImageMissing, Field(discriminator="kind")]


class ImageStored(Event):
    """An uploaded image was checked and kept."""

    image: ImageInfo
