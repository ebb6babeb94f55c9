"""The gateway's side of what users upload (AIDA's images, BESSER's `user_file` and
`user_voice`): stage the bytes in the media object store under a new id, then ask the media
service to keep them (and transcribe a voice message).

The media service sniffs, records, refuses (deleting the staged bytes) and transcribes; this
module only moves bytes and asks. Both calls raise BridgeError when the service does not answer
in time; the staged bytes are deleted then, as for an image upload.
"""

import logging
from typing import Any
from uuid import UUID, uuid4

from nats.js.object_store import ObjectStore
from pydantic import TypeAdapter

from shared import subjects
from shared.broker import media_bucket
from shared.contracts import (
    FileInfo,
    FileRejected,
    StoreFile,
    StoreFileReply,
    StoreImage,
    TranscribeVoice,
    TranscribeVoiceReply,
    Transcript,
)

from .bridge import Bridge, BridgeError

log = logging.getLogger(__name__)
STORED: TypeAdapter[Any] = TypeAdapter(StoreFileReply)
TRANSCRIBED: TypeAdapter[Any] = TypeAdapter(TranscribeVoiceReply)
# The service may wait for a busy recogniser, then decode up to a minute of audio (~0.2 s of
# work per second of audio); a shorter wait would delete bytes it may still keep.
STORE_TIMEOUT_S = 30.0
TRANSCRIBE_TIMEOUT_S = 45.0


class MediaStore:
    """The media object store, opened on first use (the broker connects in the lifespan) and
    kept."""

    def __init__(self, bridge: Bridge) -> None:
        self._bridge = bridge
        self._store: ObjectStore | None = None

    async def __call__(self) -> ObjectStore:
        if self._store is None:
            self._store = await media_bucket(self._bridge.broker.connection.jetstream())
        return self._store


async def store_file(
    bridge: Bridge,
    store: ObjectStore,
    *,
    project: UUID,
    session: str,
    name: str,
    declared_type: str,
    data: bytes,
    correlation_id: UUID,
) -> FileInfo | FileRejected:
    """Keep a file a user sent in one session: its metadata (type sniffed from the bytes), or
    why it was refused (too_large, unsupported, missing)."""
    media_id = uuid4()
    command = StoreFile(
        media_id=media_id,
        project_key=project,
        session_id=session,
        filename=name[:255],
        declared_type=declared_type[:255],
        correlation_id=correlation_id,
    )
    answer: FileInfo | FileRejected = await stage_and_ask(
        bridge,
        store,
        data,
        subjects.media_file_store(project),
        command,
        STORED,
        timeout_s=STORE_TIMEOUT_S,
    )
    return answer


async def transcribe(
    bridge: Bridge,
    store: ObjectStore,
    *,
    project: UUID,
    session: str,
    wav: bytes,
    correlation_id: UUID,
) -> Transcript | FileRejected:
    """Keep a voice message (WAV bytes) as a file of the session and return its words, or why
    it was refused (unsupported: no WAV; too_large: too long or too big)."""
    media_id = uuid4()
    command = TranscribeVoice(
        media_id=media_id,
        project_key=project,
        session_id=session,
        correlation_id=correlation_id,
    )
    answer: Transcript | FileRejected = await stage_and_ask(
        bridge,
        store,
        wav,
        subjects.media_voice_transcribe(project),
        command,
        TRANSCRIBED,
        timeout_s=TRANSCRIBE_TIMEOUT_S,
    )
    return answer


async def stage_and_ask(
    bridge: Bridge,
    store: ObjectStore,
    data: bytes,
    subject: str,
    command: StoreImage | StoreFile | TranscribeVoice,
    answer: TypeAdapter[Any],
    *,
    timeout_s: float,
) -> Any:
    """Stage `data` under the command's media id, then ask; BridgeError (bytes deleted) when
    staging fails or nobody answers."""
    name = str(command.media_id)
    try:
        await store.put(name, data)
    except Exception as err:
        log.warning("media %s not staged: %r", name, err)
        raise BridgeError("the upload could not be staged, try again") from err
    try:
        return await bridge.ask(subject, command, answer, timeout_s=timeout_s)
    except BridgeError:
        await _forget(store, command.media_id)
        raise


async def _forget(store: ObjectStore, media_id: UUID) -> None:
    try:
        await store.delete(str(media_id))
    except Exception as err:
        log.info("staged media %s not deleted: %r", media_id, err)
