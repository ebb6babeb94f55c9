"""Thin subscribers: keep and find images, keep files, transcribe voice messages by
request/reply (queue group); forget the images and files of deleted sessions from a durable
JetStream consumer."""

import logging
from collections.abc import Callable
from typing import TypeVar
from uuid import UUID

from faststream import AckPolicy
from faststream.exceptions import NackMessage, RejectMessage
from faststream.nats import JStream, NatsBroker, NatsMessage, PullSub
from nats.js import JetStreamContext, api
from pydantic import ValidationError

from shared import subjects
from shared.broker import misaddressed, publish_event, undecoded
from shared.contracts import (
    FileInfo,
    FileRejected,
    GetImage,
    ImageInfo,
    ImageMissing,
    ImageRejected,
    ImageStored,
    SessionDeleted,
    SpeakText,
    SpeechRefused,
    StoreFile,
    StoreImage,
    TranscribeVoice,
    Transcript,
)

from .application import MediaApp
from .config import MediaSettings
from .domain import UnsupportedImage
from .files import UnsupportedFile
from .speech import SpeechFailed, synthesise, voice_for
from .store import TROUBLE

log = logging.getLogger(__name__)
MAX_DELIVER = 100
Command = TypeVar("Command", StoreImage, StoreFile, TranscribeVoice)


class MalformedRequest(Exception):
    """A request that is refused before it is read further (the message says why)."""


async def publish_stored(broker: NatsBroker, event: ImageStored) -> None:
    """Announce a kept image in MEDIA; its event id makes a repeated announcement a no-op."""
    subject = subjects.media_stored(event.image.project_key)
    await publish_event(broker, event, subject, stream=subjects.MEDIA_STREAM)


def decode_request(
    msg: NatsMessage, model: type[Command], subject_of: Callable[[UUID], str]
) -> Command:
    """The `model` command in `msg`, if it is well formed and names the project of its own
    subject (a request naming another project changes nothing of that project)."""
    try:
        command = model.model_validate_json(msg.body)
    except ValidationError as err:
        # Locations and pydantic's messages only: the input itself is not echoed.
        what = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in err.errors()[:3]
        )
        raise MalformedRequest(f"malformed {model.__name__}: {what}") from err
    project = command.project_key
    if misaddressed(msg, subject_of(project), project, what=model.__name__, log=log):
        raise MalformedRequest("the request names another project than its subject")
    return command


def decode_store(msg: NatsMessage) -> StoreImage:
    """The StoreImage in `msg` (see decode_request); UnsupportedImage if there is none."""
    try:
        return decode_request(msg, StoreImage, subjects.media_store)
    except MalformedRequest as err:
        raise UnsupportedImage(str(err)) from err


def decode_file_request(
    msg: NatsMessage, model: type[Command], subject_of: Callable[[UUID], str]
) -> Command | FileRejected:
    """The StoreFile or TranscribeVoice in `msg` (see decode_request), or the answer refusing
    it."""
    try:
        return decode_request(msg, model, subject_of)
    except MalformedRequest as err:
        return UnsupportedFile(str(err)).rejection()


def deleted_consumer(settings: MediaSettings) -> api.ConsumerConfig:
    """The session-deletions consumer, shared by every replica."""
    return api.ConsumerConfig(
        name=subjects.MEDIA_DURABLE,
        durable_name=subjects.MEDIA_DURABLE,
        filter_subject=subjects.CHAT_DELETED_ALL,
        ack_policy=api.AckPolicy.EXPLICIT,
        ack_wait=settings.ack_wait_s,
        max_deliver=MAX_DELIVER,
    )


async def ensure_consumer(js: JetStreamContext, settings: MediaSettings) -> None:
    """Create the durable consumer, or bring an existing one's config up to date (JetStream
    creates-or-updates; the subscriber then only binds)."""
    await js.add_consumer(subjects.CHAT_STREAM, config=deleted_consumer(settings))


def register(broker: NatsBroker, app: MediaApp, settings: MediaSettings) -> None:
    """Attach the media subscribers to `broker`."""
    queue = subjects.MEDIA_QUEUE

    @broker.subscriber(subjects.MEDIA_STORE_ALL, queue=queue, decoder=undecoded)
    async def on_store(msg: NatsMessage) -> ImageInfo | ImageRejected:
        try:
            command = decode_store(msg)
        except UnsupportedImage as err:
            return err.rejection()
        return await app.store(command)

    @broker.subscriber(subjects.MEDIA_GET, queue=queue)
    async def on_get(query: GetImage) -> ImageInfo | ImageMissing:
        return await app.get(query.media_id) or ImageMissing(media_id=query.media_id)

    register_files(broker, app, settings)
    register_speech(broker, settings)
    register_deletions(broker, app, settings)


def register_files(broker: NatsBroker, app: MediaApp, settings: MediaSettings) -> None:
    """Files and voice messages, by request/reply in the media queue group."""
    queue = subjects.MEDIA_QUEUE

    @broker.subscriber(subjects.MEDIA_FILE_STORE_ALL, queue=queue, decoder=undecoded)
    async def on_store_file(msg: NatsMessage) -> FileInfo | FileRejected:
        command = decode_file_request(msg, StoreFile, subjects.media_file_store)
        if isinstance(command, FileRejected):
            return command
        return await app.store_file(command)

    # As many at once as there are recognisers: a long message does not hold up short ones.
    @broker.subscriber(
        subjects.MEDIA_VOICE_TRANSCRIBE_ALL,
        queue=queue,
        decoder=undecoded,
        max_workers=settings.transcribers,
    )
    async def on_transcribe(msg: NatsMessage) -> Transcript | FileRejected:
        command = decode_file_request(msg, TranscribeVoice, subjects.media_voice_transcribe)
        if isinstance(command, FileRejected):
            return command
        return await app.transcribe(command)


def register_speech(broker: NatsBroker, settings: MediaSettings) -> None:
    """Text to speech by request/reply: the reply is the WAV itself (raw bytes, no base64),
    or a JSON SpeechRefused."""

    @broker.subscriber(
        subjects.MEDIA_VOICE_SPEAK_ALL, queue=subjects.MEDIA_QUEUE, max_workers=settings.speakers
    )
    async def on_speak(command: SpeakText) -> bytes | SpeechRefused:
        voice = voice_for(command.text, english=settings.voice_en, chinese=settings.voice_cn)
        try:
            return await synthesise(
                command.text,
                voice=voice,
                words_per_minute=settings.words_per_minute,
                max_seconds=settings.max_spoken_s,
            )
        except SpeechFailed as err:
            log.warning("speech for %s refused: %s", command.project_key, err)
            return SpeechRefused(message=str(err))


def register_deletions(broker: NatsBroker, app: MediaApp, settings: MediaSettings) -> None:
    """A deleted session's images and files go, once its deletion commits the message is
    acked."""

    @broker.subscriber(
        subjects.CHAT_DELETED_ALL,
        stream=JStream(name=subjects.CHAT_STREAM, declare=False),
        durable=subjects.MEDIA_DURABLE,
        pull_sub=PullSub(batch_size=16, timeout=1.0),
        config=deleted_consumer(settings),
        ack_policy=AckPolicy.NACK_ON_ERROR,
        decoder=undecoded,
        description="Delete the images and files of deleted sessions",
    )
    async def on_session_deleted(msg: NatsMessage) -> None:
        try:
            event = SessionDeleted.model_validate_json(msg.body)
        except ValidationError as err:
            log.error("terminating malformed SessionDeleted %s: %s", msg.message_id, err)
            raise RejectMessage from err
        try:
            forgotten = await app.forget_session(event)
        except TROUBLE as err:
            log.warning("media of %s not deleted, retrying: %r", event.session_id, err)
            raise NackMessage(delay=settings.retry_delay_s) from err
        log.info("deleted %d media of %s/%s", forgotten, event.project_key, event.session_id)
