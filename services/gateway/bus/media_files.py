"""The gateway's side of what users upload (AIDA's images, BESSER's `user_file` and
`user_voice`): stage the bytes in the media object store under a new id, then ask the media
service to keep them (and transcribe a voice message).

The media service sniffs, records, refuses (deleting the staged bytes) and transcribes; this
module only moves bytes and asks. Both calls raise BridgeError when the service does not answer
in time; the staged bytes are deleted then, as for an image upload.
"""

import base64
import io
import logging
import wave
from typing import Any
from uuid import UUID, uuid4

import numpy as np
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
from shared.contracts.chat import AudioPart
from shared.contracts.media import MAX_SPOKEN_CHARS, SpeakText

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


SPEAK_TIMEOUT_S = 10.0


async def speak(bridge: Bridge, *, project: UUID, text: str) -> AudioPart | None:
    """`text` said by the media service, as BESSER's reply_speech sends audio (float32 mono);
    None when it cannot be said (no media service, no speech engine): the text still goes."""
    command = SpeakText(project_key=project, text=text[:MAX_SPOKEN_CHARS], correlation_id=uuid4())
    subject = subjects.media_voice_speak(project)
    try:
        msg = await bridge.broker.request(command, subject, timeout=SPEAK_TIMEOUT_S)
    except Exception as err:
        log.warning("no speech for %s: %r", project, err)
        return None
    if msg.body[:4] != b"RIFF":
        log.warning("no speech for %s: %s", project, msg.body[:200].decode(errors="replace"))
        return None
    try:
        with wave.open(io.BytesIO(msg.body), "rb") as wav:
            rate, frames = wav.getframerate(), wav.readframes(wav.getnframes())
    except (wave.Error, EOFError) as err:
        log.warning("unreadable speech for %s: %r", project, err)
        return None
    samples = np.frombuffer(frames, dtype="<i2").astype("<f4") / np.float32(32768.0)
    data = base64.b64encode(samples.astype("<f4").tobytes()).decode("ascii")
    return AudioPart(base64=data, sample_rate=rate, text=text)
