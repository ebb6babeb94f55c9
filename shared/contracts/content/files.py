"""What is too big for one NATS message, travelling through the content bucket: AIML files,
behaviour trees, documents, exports and diffs."""

from typing import Annotated, Literal
from uuid import UUID

from pydantic import Field, model_validator

from ..base import Contract
from ..behavior import MAX_TREE_CHARS, check_behavior_tree
from ..knowledge import Stage
from .versions import (
    BEHAVIOR_NAME_PATTERN,
    FILE_NAME_PATTERN,
    MAX_VERSION,
    BotContentRejected,
    BotContentSaved,
    ContentMissing,
    VersionRef,
)


class AimlFile(Contract):
    """One AIML file's name and text (UTF-8; its XML declaration, if any, says UTF-8)."""

    name: str = Field(pattern=FILE_NAME_PATTERN, description="Its name, a path inside a zip")
    text: str


class AimlFiles(Contract):
    """AIML files in the order they load (a later file's category replaces an earlier one's).

    Too big for one NATS message: it travels as an object of the content bucket
    (shared.staging), uploads and downloads alike."""

    files: list[AimlFile]


class SaveAiml(Contract):
    """Command: check, and unless `dry_run` store as the next version, the AIML files staged as
    `staged` (AimlFiles JSON); they replace every AIML file of the current version."""

    project_key: UUID
    staged: str = Field(description="Object name in the content bucket")
    dry_run: bool = Field(False, description="Only check; store nothing")
    correlation_id: UUID


class AimlChecked(Contract):
    """Reply to a dry run: the files are valid AIML."""

    kind: Literal["checked"] = "checked"
    files: int
    categories: int


SaveAimlReply = Annotated[
    BotContentSaved | BotContentRejected | AimlChecked | ContentMissing,
    Field(discriminator="kind"),
]


class SaveBehavior(Contract):
    """Command: store (or, with `xml` None, remove) one behaviour tree as the next version."""

    project_key: UUID
    name: str = Field(pattern=BEHAVIOR_NAME_PATTERN, description="The tree's name (tree_name)")
    xml: str | None = Field(None, max_length=MAX_TREE_CHARS, description="None removes it")
    correlation_id: UUID

    @model_validator(mode="after")
    def _valid(self) -> "SaveBehavior":
        if self.xml is not None:
            check_behavior_tree(self.xml, tree_name=self.name)
        return self


BehaviorReply = Annotated[BotContentSaved | ContentMissing, Field(discriminator="kind")]


class SaveDocument(Contract):
    """Command: store (or, with `staged` None, remove) one document the `rag` engine answers
    from, as the next version. Its extracted text (pages apart by form feeds) is object
    `staged` of the content bucket."""

    project_key: UUID
    name: str = Field(pattern=FILE_NAME_PATTERN, description="The document's name")
    staged: str | None = Field(None, description="Object name in the content bucket; None removes")
    correlation_id: UUID


DocumentReply = BehaviorReply


class ExportContent(Contract):
    """Query: the AIML files (all, or the one named) or one behaviour tree of a stage or
    version, staged in the content bucket."""

    project_key: UUID
    part: Literal["aiml", "behavior"]
    file: str | None = Field(None, description="This file or tree only (required for behavior)")
    stage: Stage = "test"
    version: int | None = Field(None, ge=1, le=MAX_VERSION)


class ContentStaged(Contract):
    """Reply: what was asked is object `object` of the content bucket (AimlFiles or
    ContentDiff JSON); the asker reads it and deletes it."""

    kind: Literal["staged"] = "staged"
    version: int = Field(description="The version it comes from (`to` for a diff)")
    object: str


StagedReply = Annotated[ContentStaged | ContentMissing, Field(discriminator="kind")]


class DiffContent(Contract):
    """Query: what changed between two versions (or stages), part by part."""

    project_key: UUID
    old: VersionRef = Field("release", description="A version number, release or test")
    new: VersionRef = Field("test", description="A version number, release or test")


class PartDiff(Contract):
    """One part that differs: a unified diff of its text form."""

    part: str = Field(description="aiml/<file>, behavior/<name>, maps, sets, properties, ...")
    change: Literal["added", "removed", "changed"]
    diff: str


class ContentDiff(Contract):
    """The parts that differ between two versions (unchanged parts are not listed)."""

    old: int = Field(description="The older side's version (0: empty)")
    new: int = Field(description="The newer side's version (0: empty)")
    parts: list[PartDiff]
