"""Bot content: the AIML and its companion files, the FAQ, the intents, the state machine and
the engine chain, owned by the dialog service.

Every change makes a new version (the `test` stage is the newest); publishing points `release`
at a version; restoring copies an old version into a new one.
"""

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import Field, model_validator

from .base import Contract, Event
from .knowledge import DEFAULT_CHAIN, Chain, Faq, Intents, Stage
from .machine import StateMachine

MAX_CONTENT_CHARS = 32 * 1024 * 1024


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

    line: int = Field(description="1-based line in the text the user sent")
    column: int = Field(description="1-based column in that line")
    message: str = Field(description="What is wrong")


class SaveKnowledge(Contract):
    """Command: store a new version with a new FAQ, intents, state machine and/or chain (None
    keeps the current one)."""

    project_key: UUID
    faq: Faq | None = None
    intents: Intents | None = None
    machine: StateMachine | None = None
    chain: Chain | None = None
    correlation_id: UUID

    @model_validator(mode="after")
    def _something(self) -> "SaveKnowledge":
        if all(x is None for x in (self.faq, self.intents, self.machine, self.chain)):
            raise ValueError("nothing to save: give faq, intents, machine or chain")
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
    version: int | None = Field(None, ge=1, description="This version instead of the stage's")


class BotContent(Contract):
    """Bot content (version 0 and empty content when none was saved or published yet)."""

    version: int
    aiml: str
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
    version: int | None = Field(None, ge=1)
    correlation_id: UUID


class RestoreContent(Contract):
    """Command: make an old version the newest again (a new version with its content)."""

    project_key: UUID
    version: int = Field(ge=1)
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


class ConfigChanged(Event):
    """A project's bot content changed: every dialog replica drops its cached kernel."""

    project_key: UUID = Field(description="The project whose content changed")
    version: int = Field(description="The content version now current")
