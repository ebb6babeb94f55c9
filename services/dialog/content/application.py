"""The content use cases of whole versions: save AIML as one text, save knowledge (FAQ,
intents, state machine, chain, maps, sets, properties), publish a version, restore an old one.
Saving files (many AIML files, behaviour trees, documents), exports and diffs are in files.py."""

import asyncio

from shared.contracts import BotContentRejected, BotContentSaved, SaveBotContent
from shared.contracts.content import (
    AimlFile,
    ContentMissing,
    ContentPublished,
    PublishContent,
    RestoreContent,
    SaveKnowledge,
)

from ..engines.aiml import InvalidAiml, compile_aiml
from ..engines.brain import Brains
from .files import ContentFiles, build_version, saved_of, texts_key
from .port import SINGLE_FILE, Content
from .project_cache import ProjectCache
from .versions import content_of


class ContentApp:
    """Saves, publishes and restores bot content versions, each new version's brain ready
    before the reply. A part of DialogApp (application.py), which holds what is declared here."""

    content: Content
    files: ContentFiles
    brains: Brains
    cache: ProjectCache

    async def save_content(self, command: SaveBotContent) -> BotContentSaved | BotContentRejected:
        """Validate and store new AIML; the new version's brain is ready before the reply."""
        try:
            compiled = await asyncio.to_thread(compile_aiml, command.aiml)
        except InvalidAiml as err:
            return BotContentRejected(problems=err.problems)
        row = await self.content.save(command, len(compiled.categories))
        key = texts_key([AimlFile(name=SINGLE_FILE, text=command.aiml)])
        brain = await build_version(content_of(row), compiled, key=key)
        self.brains.put(command.project_key, brain)
        return saved_of(row)

    async def save_knowledge(self, command: SaveKnowledge) -> BotContentSaved:
        """Store a new FAQ, intents, chain, maps, sets and/or properties (checked by the
        contract) as the test stage."""
        row = await self.content.save_knowledge(command)
        brain = await self.files.brain(command.project_key, content_of(row))
        self.brains.put(command.project_key, brain)
        return saved_of(row)

    async def publish(self, command: PublishContent) -> ContentPublished | ContentMissing:
        """Point the release stage at a version (the newest when none is named)."""
        version = await self.content.publish(
            command.project_key, command.version, command.correlation_id
        )
        if version is None:
            named = f"version {command.version}" if command.version else "any content"
            return ContentMissing(reason=f"there is no {named} to publish")
        return ContentPublished(version=version)

    async def restore(self, command: RestoreContent) -> BotContentSaved | ContentMissing:
        """Copy an old version into a new one (the test stage)."""
        row = await self.content.restore(
            command.project_key, command.version, command.correlation_id
        )
        if row is None:
            return ContentMissing(reason=f"there is no version {command.version}")
        return saved_of(row)
