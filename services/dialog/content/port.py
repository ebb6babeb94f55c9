"""The content port: what the dialog's rooms need from bot content's storage.

ContentStore (store.py) is it on Postgres; tests/support/memory_dialog.py's MemoryContent is
it in memory, and tests/contract/test_content.py holds both to the same behaviour."""

from typing import Any, Protocol
from uuid import UUID

from shared.contracts import BotContent, SaveBotContent
from shared.contracts.content import (
    AimlFile,
    SaveBehavior,
    SaveDocument,
    SaveKnowledge,
    VersionList,
    VersionRef,
)
from shared.contracts.knowledge import Stage

from ..models import BotContentRow


class Content(Protocol):
    """The port the dialog's rooms depend on: versions of each project's bot content (never
    changed once saved; each save appends the next), their files' texts, and the release
    stage's publications. ContentStore is it in Postgres; tests use an in-memory one."""

    async def get(
        self, project_key: UUID, *, stage: Stage = "test", version: int | None = None
    ) -> BotContent: ...
    async def row(self, project_key: UUID, ref: VersionRef) -> BotContentRow | None: ...
    async def texts(self, project_key: UUID, digests: list[str]) -> dict[str, str]: ...
    async def aiml_files(self, project_key: UUID, version: int) -> list[AimlFile]: ...
    async def save(self, command: SaveBotContent, categories: int) -> BotContentRow: ...
    async def save_aiml(
        self,
        project_key: UUID,
        correlation_id: UUID,
        files: list[tuple[AimlFile, int]],
        *,
        categories: int,
        **fields: Any,
    ) -> BotContentRow: ...
    async def save_knowledge(self, command: SaveKnowledge) -> BotContentRow: ...
    async def save_behavior(self, command: SaveBehavior) -> BotContentRow | None: ...
    async def save_document(
        self, command: SaveDocument, text: str | None
    ) -> BotContentRow | None: ...
    async def restore(
        self, project_key: UUID, version: int, correlation_id: UUID
    ) -> BotContentRow | None: ...
    async def publish(
        self, project_key: UUID, version: int | None, correlation_id: UUID
    ) -> int | None: ...
    async def versions(self, project_key: UUID, limit: int) -> VersionList: ...


SINGLE_FILE = "bot.aiml"  # the name of AIML saved as one text (XPARO's save_aiml)


async def save_as_one_file(
    content: Content, command: SaveBotContent, categories: int
) -> BotContentRow:
    """`Content.save` for every store: `command`'s AIML as the one file SINGLE_FILE of the next
    version, through `save_aiml`; None fields keep the current value."""
    given = {
        name: value
        for name in ("maps", "sets", "properties")
        if (value := getattr(command, name)) is not None
    }
    file = AimlFile(name=SINGLE_FILE, text=command.aiml)
    return await content.save_aiml(
        command.project_key,
        command.correlation_id,
        [(file, categories)],
        categories=categories,
        **given,
    )
