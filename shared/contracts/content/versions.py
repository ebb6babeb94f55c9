"""A project's bot content and its versions: saving, reading, publishing, restoring, listing,
and the announcement that it changed."""

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import Field, model_validator

from ..base import Contract, Event
from ..knowledge import DEFAULT_CHAIN, Chain, Faq, Intents, Stage
from ..machine import StateMachine

MAX_CONTENT_CHARS = 32 * 1024 * 1024
# Maps, sets and properties ride inline in one NATS message (max_payload is 1 MB).
MAX_TEXT_PART_CHARS = 256 * 1024
MAX_INLINE_AIML = 256 * 1024
MAX_VERSION = 2**31 - 1  # the version columns are Postgres integers
FILE_NAME_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_. /-]{0,199}$"
BEHAVIOR_NAME_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$"


class SaveBotContent(Contract):
    """Command: validate and store a new version of a project's bot content."""

    project_key: UUID = Field(description="The project whose content is replaced")
    aiml: str = Field(max_length=MAX_CONTENT_CHARS, description="AIML categories or document")
    maps: str | None = Field(None, description="Maps file; None keeps the current one")
    sets: str | None = Field(None, description="Sets file; None keeps the current one")
    properties: str | None = Field(None, description="Bot properties (key:value or KEY=VALUE)")
    correlation_id: UUID = Field(description="Correlation id of the request that asked for it")


class AimlProblem(Contract):
    """One reason AIML was refused, with where it is."""

    file: str | None = Field(None, description="The file it is in (uploads of several files)")
    line: int = Field(description="1-based line in the text the user sent")
    column: int = Field(description="1-based column in that line")
    message: str = Field(description="What is wrong")


KNOWLEDGE_PARTS = ("faq", "intents", "machine", "chain", "maps", "sets", "properties")


class SaveKnowledge(Contract):
    """Command: store a new version with a new FAQ, intents, state machine, chain, maps, sets
    and/or properties (None keeps the current one)."""

    project_key: UUID
    faq: Faq | None = None
    intents: Intents | None = None
    machine: StateMachine | None = None
    chain: Chain | None = None
    maps: str | None = Field(None, max_length=MAX_TEXT_PART_CHARS)
    sets: str | None = Field(None, max_length=MAX_TEXT_PART_CHARS)
    properties: str | None = Field(None, max_length=MAX_TEXT_PART_CHARS)
    correlation_id: UUID

    @model_validator(mode="after")
    def _something(self) -> "SaveKnowledge":
        if all(getattr(self, part) is None for part in KNOWLEDGE_PARTS):
            raise ValueError(f"nothing to save: give one of {', '.join(KNOWLEDGE_PARTS)}")
        return self


class BotContentSaved(Contract):
    """Reply: the content was stored as `version` (now the test stage)."""

    kind: Literal["saved"] = "saved"
    version: int = Field(description="New content version (1, 2, ...)")
    categories: int = Field(description="Number of AIML categories learned")
    faq_groups: int = Field(0, description="FAQ groups in the new version")
    intents: int = Field(0, description="Intents in the new version")
    machine_states: int = Field(0, description="States of the new version's state machine")


class BotContentRejected(Contract):
    """Reply: the content was not stored, and why."""

    kind: Literal["rejected"] = "rejected"
    problems: list[AimlProblem] = Field(description="Every problem found, in document order")


SaveReply = Annotated[BotContentSaved | BotContentRejected, Field(discriminator="kind")]


class GetBotContent(Contract):
    """Query: a project's bot content on a stage, or one version of it."""

    project_key: UUID
    stage: Stage = "test"
    version: int | None = Field(
        None, ge=1, le=MAX_VERSION, description="This version instead of the stage's"
    )


class ContentFile(Contract):
    """One stored file of a version (an AIML file or a behaviour tree); its text is read
    through ExportContent."""

    name: str = Field(description="The file's name, as uploaded (a path inside a zip)")
    sha256: str = Field(description="Digest of its UTF-8 text")
    size: int = Field(description="Bytes of its UTF-8 text")
    categories: int = Field(0, description="AIML categories in it (0 for a behaviour tree)")


class BotContent(Contract):
    """Bot content (version 0 and empty content when none was saved or published yet).

    `aiml` is the text only when the version has one AIML file of at most MAX_INLINE_AIML
    characters (what XPARO's initialize_api shows); every file is listed in `aiml_files`.
    """

    version: int
    aiml: str
    aiml_files: list[ContentFile] = []
    behaviors: list[ContentFile] = []
    documents: list[ContentFile] = []
    maps: str
    sets: str
    properties: str
    faq: Faq = Faq()
    intents: Intents = Intents()
    machine: StateMachine | None = None
    chain: Chain = DEFAULT_CHAIN


class PublishContent(Contract):
    """Command: point the release stage at a version (the newest by default)."""

    project_key: UUID
    version: int | None = Field(None, ge=1, le=MAX_VERSION)
    correlation_id: UUID


class RestoreContent(Contract):
    """Command: make an old version the newest again (a new version with its content)."""

    project_key: UUID
    version: int = Field(ge=1, le=MAX_VERSION)
    correlation_id: UUID


class ContentPublished(Contract):
    """Reply: `version` is now the release stage."""

    kind: Literal["published"] = "published"
    version: int


class ContentMissing(Contract):
    """Reply: the version asked for does not exist."""

    kind: Literal["missing"] = "missing"
    reason: str


PublishReply = Annotated[ContentPublished | ContentMissing, Field(discriminator="kind")]
RestoreReply = Annotated[BotContentSaved | ContentMissing, Field(discriminator="kind")]


class ListVersions(Contract):
    """Query: a project's content versions, newest first."""

    project_key: UUID
    limit: int = Field(100, ge=1, le=1000)


class VersionInfo(Contract):
    """One stored version: what changed and what it holds."""

    version: int
    created_at: datetime | None
    change: str = Field(description="aiml, faq, intents, machine, chain, or restore of version N")
    categories: int
    faq_groups: int
    intents: int
    machine_states: int = 0
    released_at: datetime | None = Field(None, description="When it last became the release")


class VersionList(Contract):
    """Versions newest first, and which one each stage answers from (0: none)."""

    test: int
    release: int
    versions: list[VersionInfo]


VersionRef = Stage | Annotated[int, Field(ge=0, le=MAX_VERSION)]


class ConfigChanged(Event):
    """A project's bot content changed: every dialog replica drops its cached kernel."""

    project_key: UUID = Field(description="The project whose content changed")
    version: int = Field(description="The content version now current")
