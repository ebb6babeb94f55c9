"""Thin subscribers of the bot content's requests: save, knowledge, publish, restore, get,
versions, and the content files (AIML uploads, behaviour trees, documents, exports, diffs); any
replica answers (queue group)."""

import logging
from collections.abc import Awaitable, Callable
from uuid import UUID

from faststream.nats import NatsBroker
from pydantic import BaseModel, ValidationError

from shared import subjects
from shared.contracts import (
    BotContent,
    BotContentRejected,
    BotContentSaved,
    ConfigChanged,
    GetBotContent,
    SaveBotContent,
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
from shared.staging import ContentBucket, StagedMissing

from .application import ContentApp

log = logging.getLogger(__name__)


def register_content(broker: NatsBroker, app: ContentApp) -> None:
    """Request/reply subscribers of the bot content; every new version and every publication
    is announced on config.changed.<project>."""
    queue = subjects.DIALOG_QUEUE

    async def announce(project: UUID, version: int) -> None:
        app.cache.forget(project)  # this replica's next turn answers from it, heard or not
        changed = ConfigChanged.first(project_key=project, version=version)
        await broker.publish(
            changed,
            subjects.config_changed(project),
            stream=subjects.CONFIG_STREAM,
            headers={"Nats-Msg-Id": str(changed.event_id)},
        )

    @broker.subscriber(subjects.dialog_content_all("save"), queue=queue)
    async def on_save(command: SaveBotContent) -> BotContentSaved | BotContentRejected:
        result = await app.save_content(command)
        if isinstance(result, BotContentSaved):
            await announce(command.project_key, result.version)
        return result

    @broker.subscriber(subjects.dialog_content_all("knowledge"), queue=queue)
    async def on_knowledge(command: SaveKnowledge) -> BotContentSaved:
        result = await app.save_knowledge(command)
        await announce(command.project_key, result.version)
        return result

    @broker.subscriber(subjects.dialog_content_all("publish"), queue=queue)
    async def on_publish(command: PublishContent) -> ContentPublished | ContentMissing:
        result = await app.publish(command)
        if isinstance(result, ContentPublished):
            await announce(command.project_key, result.version)
        return result

    @broker.subscriber(subjects.dialog_content_all("restore"), queue=queue)
    async def on_restore(command: RestoreContent) -> BotContentSaved | ContentMissing:
        result = await app.restore(command)
        if isinstance(result, BotContentSaved):
            await announce(command.project_key, result.version)
        return result

    @broker.subscriber(subjects.dialog_content_all("get"), queue=queue)
    async def on_get(query: GetBotContent) -> BotContent:
        return await app.content.get(query.project_key, stage=query.stage, version=query.version)

    @broker.subscriber(subjects.dialog_content_all("versions"), queue=queue)
    async def on_versions(query: ListVersions) -> VersionList:
        return await app.content.versions(query.project_key, query.limit)

    _register_files(broker, app, announce)


def _register_files(
    broker: NatsBroker, app: ContentApp, announce: Callable[[UUID, int], Awaitable[None]]
) -> None:
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
        result = await app.files.save_aiml(command, files)
        if isinstance(result, BotContentSaved):
            await announce(command.project_key, result.version)
        return result

    @broker.subscriber(subjects.dialog_content_all("behavior"), queue=queue)
    async def on_behavior(command: SaveBehavior) -> BotContentSaved | ContentMissing:
        result = await app.files.save_behavior(command)
        if isinstance(result, BotContentSaved):
            await announce(command.project_key, result.version)
        return result

    @broker.subscriber(subjects.dialog_content_all("document"), queue=queue)
    async def on_document(command: SaveDocument) -> BotContentSaved | ContentMissing:
        text = None
        if command.staged is not None:
            try:
                text = (await bucket.read(command.staged)).decode("utf-8")
            except (StagedMissing, UnicodeDecodeError) as err:
                log.warning("staged document %s unreadable: %r", command.staged, err)
                return ContentMissing(reason="the upload was lost on its way; send it again")
        result = await app.files.save_document(command, text)
        if isinstance(result, BotContentSaved):
            await announce(command.project_key, result.version)
        return result

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
