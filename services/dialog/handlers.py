"""Thin subscribers: decode → application → publish."""

import logging
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar
from uuid import UUID

from faststream.nats import NatsBroker, NatsMessage
from faststream.nats.annotations import NatsMessage as Message
from pydantic import BaseModel, ValidationError

from shared import subjects
from shared.broker import misaddressed, publish_event
from shared.contracts import (
    BotContent,
    BotContentRejected,
    BotContentSaved,
    BotSpoke,
    ConfigChanged,
    DeleteSession,
    GetBotContent,
    GetSession,
    OpenSession,
    SaveBotContent,
    SayToSession,
    SessionDeleted,
    SessionReply,
    SessionUnknown,
    TurnAnswered,
    UpdateSession,
)
from shared.contracts.content import (
    AimlChecked,
    AimlFiles,
    ContentMissing,
    ContentPublished,
    ContentStaged,
    DiffContent,
    ExportContent,
    ListVersions,
    PublishContent,
    RestoreContent,
    SaveAiml,
    SaveBehavior,
    SaveDocument,
    SaveKnowledge,
    VersionList,
)
from shared.contracts.session import GetHistory, History
from shared.staging import ContentBucket, StagedMissing

from .application import DialogApp
from .config import DialogSettings

log = logging.getLogger(__name__)
MAX_DELIVER = 100
PurgeReplies = Callable[[UUID, str], Awaitable[None]]
Answer = TypeVar("Answer")


class Announced(Protocol):
    """Return a content answer once the version it made is announced."""

    async def __call__(self, project: UUID, result: Answer, /) -> Answer: ...


async def publish_reply(broker: NatsBroker, reply: TurnAnswered | BotSpoke) -> None:
    """Publish a reply into CHAT; its event id makes a re-publish a no-op in the stream."""
    subject = subjects.chat_reply(project=reply.project_key, session=reply.session_id)
    await publish_event(broker, reply, subject, stream=subjects.CHAT_STREAM)


def jetstream_purge(broker: NatsBroker) -> PurgeReplies:
    """Remove a session's replies from CHAT (where they wait for AIDA clients to come back)."""

    async def purge(project: UUID, session: str) -> None:
        js = broker.connection.jetstream()
        subject = subjects.chat_reply(project=project, session=session)
        await js.purge_stream(subjects.CHAT_STREAM, subject=subject)

    return purge


def _misaddressed(msg: NatsMessage, kind: str, project: UUID) -> bool:
    """True when a request names another project than its subject (it gets nothing of it)."""
    return misaddressed(msg, subjects.dialog_session(kind, project), project, what=kind, log=log)


def register(
    broker: NatsBroker,
    app: DialogApp,
    settings: DialogSettings,
    *,
    purge: PurgeReplies | None = None,
) -> None:
    """Attach the dialog's request/reply subscribers to `broker` (`purge` empties a session's
    replies from CHAT; JetStream's own by default). Turns have their own pull loop
    (turn_loop.py)."""
    _register_sessions(broker, app, purge or jetstream_purge(broker))
    _register_content(broker, app)


def _register_content(broker: NatsBroker, app: DialogApp) -> None:
    """Request/reply subscribers of the bot content; every new version and every publication
    is announced on config.changed.<project>."""
    queue = subjects.DIALOG_QUEUE

    async def announce(project: UUID, version: int) -> None:
        app.cache.forget(project)  # this replica's next turn answers from it, heard or not
        changed = ConfigChanged.first(project_key=project, version=version)
        await publish_event(
            broker, changed, subjects.config_changed(project), stream=subjects.CONFIG_STREAM
        )

    async def announced(project: UUID, result: Answer) -> Answer:
        """`result`, once the version it made (saved or published) is announced."""
        if isinstance(result, BotContentSaved | ContentPublished):
            await announce(project, result.version)
        return result

    @broker.subscriber(subjects.dialog_content_all("save"), queue=queue)
    async def on_save(command: SaveBotContent) -> BotContentSaved | BotContentRejected:
        return await announced(command.project_key, await app.save_content(command))

    @broker.subscriber(subjects.dialog_content_all("knowledge"), queue=queue)
    async def on_knowledge(command: SaveKnowledge) -> BotContentSaved:
        return await announced(command.project_key, await app.save_knowledge(command))

    @broker.subscriber(subjects.dialog_content_all("publish"), queue=queue)
    async def on_publish(command: PublishContent) -> ContentPublished | ContentMissing:
        return await announced(command.project_key, await app.publish(command))

    @broker.subscriber(subjects.dialog_content_all("restore"), queue=queue)
    async def on_restore(command: RestoreContent) -> BotContentSaved | ContentMissing:
        return await announced(command.project_key, await app.restore(command))

    @broker.subscriber(subjects.dialog_content_all("get"), queue=queue)
    async def on_get(query: GetBotContent) -> BotContent:
        return await app.content.get(query.project_key, stage=query.stage, version=query.version)

    @broker.subscriber(subjects.dialog_content_all("versions"), queue=queue)
    async def on_versions(query: ListVersions) -> VersionList:
        return await app.content.versions(query.project_key, query.limit)

    _register_files(broker, app, announced)


def _register_files(broker: NatsBroker, app: DialogApp, announced: Announced) -> None:
    """Request/reply subscribers of content files; what is too big for one message (AIML
    uploads, exports, diffs) travels through the content bucket."""
    queue = subjects.DIALOG_QUEUE
    bucket = ContentBucket(lambda: broker.connection.jetstream())

    @broker.subscriber(subjects.dialog_content_all("aiml"), queue=queue)
    async def on_aiml(
        command: SaveAiml,
    ) -> BotContentSaved | BotContentRejected | AimlChecked | ContentMissing:
        try:
            files = AimlFiles.model_validate_json(await bucket.read(command.staged)).files
        except (StagedMissing, ValidationError) as err:
            log.warning("staged AIML %s unreadable: %r", command.staged, err)
            return ContentMissing(reason="the upload was lost on its way; send it again")
        return await announced(command.project_key, await app.files.save_aiml(command, files))

    @broker.subscriber(subjects.dialog_content_all("behavior"), queue=queue)
    async def on_behavior(command: SaveBehavior) -> BotContentSaved | ContentMissing:
        return await announced(command.project_key, await app.files.save_behavior(command))

    @broker.subscriber(subjects.dialog_content_all("document"), queue=queue)
    async def on_document(command: SaveDocument) -> BotContentSaved | ContentMissing:
        text = None
        if command.staged is not None:
            try:
                text = (await bucket.read(command.staged)).decode("utf-8")
            except (StagedMissing, UnicodeDecodeError) as err:
                log.warning("staged document %s unreadable: %r", command.staged, err)
                return ContentMissing(reason="the upload was lost on its way; send it again")
        return await announced(command.project_key, await app.files.save_document(command, text))

    @broker.subscriber(subjects.dialog_content_all("export"), queue=queue)
    async def on_export(query: ExportContent) -> ContentStaged | ContentMissing:
        found = await app.files.export(query)
        if isinstance(found, ContentMissing):
            return found
        version, files = found
        return ContentStaged(version=version, object=await bucket.stage(_json(files)))

    @broker.subscriber(subjects.dialog_content_all("diff"), queue=queue)
    async def on_diff(query: DiffContent) -> ContentStaged | ContentMissing:
        found = await app.files.diff(query)
        if isinstance(found, ContentMissing):
            return found
        return ContentStaged(version=found.new, object=await bucket.stage(_json(found)))


def _json(model: BaseModel) -> bytes:
    return model.model_dump_json().encode()


def _register_sessions(broker: NatsBroker, app: DialogApp, purge: PurgeReplies) -> None:
    """Request/reply subscribers of the sessions; any replica answers (queue group)."""
    queue = subjects.DIALOG_QUEUE

    @broker.subscriber(subjects.dialog_session_all("open"), queue=queue)
    async def on_open(command: OpenSession, msg: Message) -> SessionReply:
        if _misaddressed(msg, "open", command.project_key):
            return SessionUnknown(session_id="")
        return await app.open_session(command)

    @broker.subscriber(subjects.dialog_session_all("update"), queue=queue)
    async def on_update(command: UpdateSession, msg: Message) -> SessionReply:
        if _misaddressed(msg, "update", command.project_key):
            return SessionUnknown(session_id=command.session_id)
        return await app.update_session(command)

    @broker.subscriber(subjects.dialog_session_all("get"), queue=queue)
    async def on_get(query: GetSession, msg: Message) -> SessionReply:
        if _misaddressed(msg, "get", query.project_key):
            return SessionUnknown(session_id=query.session_id)
        return await app.get_session(query)

    @broker.subscriber(subjects.dialog_session_all("delete"), queue=queue)
    async def on_delete(command: DeleteSession, msg: Message) -> SessionReply:
        if _misaddressed(msg, "delete", command.project_key):
            return SessionUnknown(session_id=command.session_id)
        deletion = await app.delete_session(command)
        if deletion.event is not None:
            await _announce(broker, deletion.event)
            await purge(command.project_key, command.session_id)
        return deletion.reply

    @broker.subscriber(subjects.dialog_session_all("history"), queue=queue)
    async def on_history(query: GetHistory, msg: Message) -> History | SessionUnknown:
        if _misaddressed(msg, "history", query.project_key):
            return SessionUnknown(session_id=query.session_id)
        return await app.history(query)

    @broker.subscriber(subjects.dialog_session_all("say"), queue=queue)
    async def on_say(command: SayToSession, msg: Message) -> BotSpoke | SessionUnknown:
        if _misaddressed(msg, "say", command.project_key):
            return SessionUnknown(session_id=command.session_id)
        said = await app.say(command)
        if isinstance(said, BotSpoke):
            await publish_reply(broker, said)
        return said


async def _announce(broker: NatsBroker, event: SessionDeleted) -> None:
    """Tell every service that a session is gone (its one event id dedupes a repeat)."""
    subject = subjects.chat_deleted(event.project_key)
    await publish_event(broker, event, subject, stream=subjects.CHAT_STREAM)
