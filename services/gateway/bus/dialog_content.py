"""The gateway's side of the dialog's bot content: ask, and move what is too big for one NATS
message through the content bucket (AIML uploads in, exports and diffs out).

A dialog that does not answer is a 503 problem, a missing version or file a 404.
"""

from collections.abc import Callable
from typing import Any, TypeVar
from uuid import UUID, uuid4

from pydantic import BaseModel, TypeAdapter, ValidationError

from shared import subjects
from shared.contracts import BotContent, GetBotContent
from shared.contracts.content import (
    AimlFile,
    AimlFiles,
    BotContentSaved,
    ContentMissing,
    ContentStaged,
    SaveAiml,
    SaveAimlReply,
    SaveKnowledge,
    StagedReply,
)
from shared.contracts.knowledge import Stage
from shared.staging import ContentBucket, StagedMissing

from ..edge.problems import Problem
from .bridge import Bridge, BridgeError

M = TypeVar("M", bound=BaseModel)
# A save answers once the new version's engines are built (a large AIML set, or the first
# intents of a process, which load the gazetteer and jieba, take seconds).
CONTENT_TIMEOUT_S = 60.0
CONTENT: TypeAdapter[BotContent] = TypeAdapter(BotContent)
SAVED: TypeAdapter[BotContentSaved] = TypeAdapter(BotContentSaved)
SAVE_AIML: TypeAdapter[Any] = TypeAdapter(SaveAimlReply)
STAGED: TypeAdapter[Any] = TypeAdapter(StagedReply)


class DialogContent:
    """Requests to the dialog about one project's content, with their transport."""

    def __init__(self, bridge: Bridge) -> None:
        self._bridge = bridge
        self.bucket = ContentBucket(lambda: bridge.broker.connection.jetstream())

    async def ask(self, kind: str, key: UUID, message: BaseModel, answer: TypeAdapter[Any]) -> Any:
        """The dialog's answer to a content request, or a 503 problem."""
        subject = subjects.dialog_content(kind, key)
        try:
            return await self._bridge.ask(subject, message, answer, timeout_s=CONTENT_TIMEOUT_S)
        except BridgeError as err:
            raise Problem(503, "the dialog service did not answer; try again") from err

    async def ask_staged(
        self,
        kind: str,
        key: UUID,
        data: bytes,
        command: Callable[[str], BaseModel],
        answer: TypeAdapter[Any],
    ) -> Any:
        """The dialog's answer to `command` naming `data`, staged in the bucket for the
        exchange (a bucket that cannot take it is a 503 problem)."""
        try:
            staged = await self.bucket.stage(data)
        except Exception as err:  # the object store is NATS too: unreachable is a retry
            raise Problem(503, "the upload could not be staged; try again") from err
        try:
            return await self.ask(kind, key, command(staged), answer)
        finally:
            await self.bucket.discard(staged)

    async def content(self, key: UUID, stage: Stage, version: int | None) -> BotContent:
        """A stage's or version's content (without file texts); 404 for a missing version."""
        query = GetBotContent(project_key=key, stage=stage, version=version)
        found: BotContent = await self.ask("get", key, query, CONTENT)
        if version is not None and found.version != version:
            raise Problem(404, f"there is no version {version}")
        return found

    async def save(self, key: UUID, **knowledge: Any) -> BotContentSaved:
        """Store FAQ, intents, machine, chain, maps, sets and/or properties as a new version."""
        command = SaveKnowledge(project_key=key, correlation_id=uuid4(), **knowledge)
        saved: BotContentSaved = await self.ask("knowledge", key, command, SAVED)
        return saved

    async def save_aiml(self, key: UUID, files: list[AimlFile], *, dry_run: bool) -> Any:
        """Stage AIML files and ask the dialog to check (and store) them: its reply."""
        data = AimlFiles(files=files).model_dump_json().encode()

        def command(staged: str) -> SaveAiml:
            return SaveAiml(project_key=key, staged=staged, dry_run=dry_run, correlation_id=uuid4())

        reply = await self.ask_staged("aiml", key, data, command, SAVE_AIML)
        if isinstance(reply, ContentMissing):
            raise Problem(503, reply.reason)
        return reply

    async def staged(self, kind: str, key: UUID, query: BaseModel, model: type[M]) -> tuple[int, M]:
        """What the dialog staged in answer to `query` (export, diff), read and deleted."""
        staged: ContentStaged = found(await self.ask(kind, key, query, STAGED))
        try:
            return staged.version, model.model_validate_json(await self.bucket.take(staged.object))
        except (StagedMissing, ValidationError) as err:
            raise Problem(503, "the answer was lost on its way; try again") from err


def found(reply: Any) -> Any:
    """A reply, unless it says what was asked for is missing (a 404 problem)."""
    if isinstance(reply, ContentMissing):
        raise Problem(404, reply.reason)
    return reply
