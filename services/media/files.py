"""Media's pure logic for files: what type the bytes are, the metadata kept for a file, and the
reasons a file or voice message is refused.

The type comes from the bytes' signature (the `filetype` library), never from the name; the
type the client declared is believed only for UTF-8 text, which has no signature. Whatever
serves a kept file back must still send it as an attachment with `nosniff`: text/html and
image/svg+xml are kept as such.
"""

import hashlib
import re
from datetime import datetime
from typing import Literal, NamedTuple
from uuid import UUID

import filetype  # type: ignore[import-untyped]

from shared.contracts import FileInfo, FileRejected, StoreFile, TranscribeVoice

from .domain import MediaError

RejectReason = Literal["unsupported", "too_large", "missing"]
OCTET_STREAM = "application/octet-stream"
# filetype's legacy names → the registered ones.
_ALIASES = {"audio/x-wav": "audio/wav", "audio/x-flac": "audio/flac"}
# Text without a `text/` prefix; `+json`/`+xml` types count too.
TEXT_TYPES = frozenset(
    {
        "application/csv",
        "application/javascript",
        "application/json",
        "application/ld+json",
        "application/sql",
        "application/toml",
        "application/x-ndjson",
        "application/x-sh",
        "application/x-yaml",
        "application/xml",
        "application/yaml",
    }
)
_MIME = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$")
_SEPARATORS = re.compile(r"[\\/]")


class FileRefused(MediaError):
    """A file or voice message that is not kept (or not transcribed); `reason` is what the
    gateway turns into its answer."""

    reason: RejectReason = "unsupported"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def rejection(self) -> FileRejected:
        """The answer to the StoreFile or TranscribeVoice request."""
        return FileRejected(reason=self.reason, message=self.message)


class UnsupportedFile(FileRefused):
    """The request cannot be served: malformed, on another project's subject, or naming a
    media id that belongs to another upload."""

    reason: RejectReason = "unsupported"


class MediaIdTaken(UnsupportedFile):
    """The media id names another upload (an image, or another session's file); its bytes
    stay as they are."""

    def __init__(self, media_id: UUID) -> None:
        super().__init__("this media id belongs to another upload")
        self.media_id = media_id


class FileTooLarge(FileRefused):
    """The staged object is larger than the service keeps."""

    reason: RejectReason = "too_large"

    def __init__(self, *, size: int, limit: int) -> None:
        super().__init__(f"{size} bytes, over the {limit} bytes allowed")
        self.size, self.limit = size, limit


class StagedFileMissing(FileRefused):
    """Nothing is staged under the media id (never put, or already deleted)."""

    reason: RejectReason = "missing"

    def __init__(self, media_id: UUID) -> None:
        super().__init__(f"no staged upload named {media_id}")
        self.media_id = media_id


class FileFacts(NamedTuple):
    """What the bytes of a kept file are."""

    content_type: str
    size: int
    sha256: str


def check_file_size(size: int, limit: int) -> None:
    """Refuse a file of more than `limit` bytes."""
    if size > limit:
        raise FileTooLarge(size=size, limit=limit)


def declared_text_type(declared: str) -> str | None:
    """The declared type without parameters, lower case, if it is a text type (`text/*`, JSON,
    CSV, XML, YAML, ...); None for any other type and for what is no MIME type at all."""
    bare = declared.split(";", 1)[0].strip().lower()
    if not _MIME.match(bare):
        return None
    if bare.startswith("text/") or bare in TEXT_TYPES or bare.endswith(("+json", "+xml")):
        return bare
    return None


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def content_type(data: bytes, *, declared: str) -> str:
    """The type the bytes' signature shows; else the declared type when it is text and the bytes
    are UTF-8; else application/octet-stream."""
    sniffed = filetype.guess_mime(data)
    if isinstance(sniffed, str) and sniffed != OCTET_STREAM:
        return _ALIASES.get(sniffed, sniffed)
    text = declared_text_type(declared)
    return text if text is not None and _is_utf8(data) else OCTET_STREAM


def file_facts(data: bytes, *, declared: str) -> FileFacts:
    """Type, size and digest of `data` (run in a thread: it reads every byte)."""
    return typed_facts(data, content_type(data, declared=declared))


def typed_facts(data: bytes, kind: str) -> FileFacts:
    """Size and digest of `data`, whose type is known to be `kind`."""
    return FileFacts(kind, len(data), hashlib.sha256(data).hexdigest())


def clean_name(name: str) -> str:
    """The client's file name without directories or control characters, at most 255 long."""
    base = _SEPARATORS.split(name)[-1]
    return "".join(ch for ch in base if ch.isprintable()).strip()[:255]


def file_info(
    command: StoreFile | TranscribeVoice, facts: FileFacts, *, name: str, created_at: datetime
) -> FileInfo:
    """The metadata of a kept file."""
    return FileInfo(
        media_id=command.media_id,
        project_key=command.project_key,
        session_id=command.session_id,
        name=clean_name(name),
        content_type=facts.content_type,
        size=facts.size,
        sha256=facts.sha256,
        created_at=created_at,
    )


def same_owner(command: StoreFile | TranscribeVoice, kept: FileInfo) -> bool:
    """True when `kept` is what `command` asked to keep (a repeat), not another upload's id."""
    return (kept.project_key, kept.session_id) == (command.project_key, command.session_id)
