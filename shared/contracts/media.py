"""Uploaded images, files and voice messages, owned by the media service.

The gateway stages the uploaded bytes in the media object store under the new id and asks the
media service to keep them (`StoreImage`); the service checks the bytes really are an image of
an allowed type, records the metadata and announces `ImageStored`, or deletes the staged object
and answers `ImageRejected`. Files (`StoreFile`) and voice messages (`TranscribeVoice`) go the
same way: any file is kept with the type its bytes show; a voice message must be a WAV, is kept
as a file, and is answered with its transcript.
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


# Files and voice: a user's file (any type) or voice message, staged the same way as an image.


class StoreFile(Contract):
    """Command: keep the file staged under `media_id` for this project's session."""

    media_id: UUID = Field(description="Id of the new file; also its object name")
    project_key: UUID
    session_id: SessionId
    filename: str = Field("", max_length=255, description="Name the client gave (informative)")
    declared_type: str = Field(
        "",
        max_length=255,
        description="MIME type the client declared; used only for UTF-8 text that no signature "
        "identifies",
    )
    correlation_id: UUID


class FileInfo(Contract):
    """Answer: a file that is stored (its bytes are the object named `media_id`)."""

    kind: Literal["file"] = "file"
    media_id: UUID
    project_key: UUID
    session_id: str
    name: str = Field(max_length=255, description="The client's file name, without directories")
    content_type: str = Field(
        description="Sniffed from the bytes (application/pdf, audio/wav, ...); text keeps its "
        "declared type; application/octet-stream when unknown"
    )
    size: int = Field(ge=0, description="Bytes")
    sha256: str = Field(description="Hex digest of the bytes")
    created_at: datetime


class FileRejected(Contract):
    """Answer: the file or voice message was not kept (nothing of it stays stored), or a kept
    voice message could not be transcribed (it stays stored with its session)."""

    kind: Literal["rejected"] = "rejected"
    reason: Literal["too_large", "missing", "unsupported"]
    message: str


class TranscribeVoice(Contract):
    """Command: keep the WAV staged under `media_id` as a file of this project's session, and
    transcribe it."""

    media_id: UUID = Field(description="Id of the new file; also its object name")
    project_key: UUID
    session_id: SessionId
    correlation_id: UUID


class Transcript(Contract):
    """Answer: what the voice message says (English, offline speech recognition)."""

    kind: Literal["transcript"] = "transcript"
    media_id: UUID = Field(description="The voice message, kept as an audio/wav file")
    text: str = Field(description="The words recognised, lower case; empty when none")
    seconds: float = Field(ge=0, description="Duration of the audio")


MAX_SPOKEN_CHARS = 2000


class SpeakText(Contract):
    """Command: say `text` (offline speech synthesis). The reply's body is a WAV (16 kHz mono
    16-bit) when it was said, else a JSON SpeechRefused."""

    project_key: UUID
    text: str = Field(min_length=1, max_length=MAX_SPOKEN_CHARS)
    correlation_id: UUID


class SpeechRefused(Contract):
    """Answer: the text could not be said, and why (no speech engine, nothing to say)."""

    kind: Literal["speech_refused"] = "speech_refused"
    message: str


StoreFileReply = Annotated[FileInfo | FileRejected, Field(discriminator="kind")]
TranscribeVoiceReply = Annotated[Transcript | FileRejected, Field(discriminator="kind")]
