"""Bot content: the AIML and its companion files, owned by the dialog service."""

from typing import Annotated, Literal
from uuid import UUID

from pydantic import Field

from .base import Contract, Event

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


class BotContentSaved(Contract):
    """Reply: the content was stored as `version`."""

    kind: Literal["saved"] = "saved"
    version: int = Field(description="New content version (1, 2, ...)")
    categories: int = Field(description="Number of AIML categories learned")


class BotContentRejected(Contract):
    """Reply: the content was not stored, and why."""

    kind: Literal["rejected"] = "rejected"
    problems: list[AimlProblem] = Field(description="Every problem found, in document order")


SaveReply = Annotated[BotContentSaved | BotContentRejected, Field(discriminator="kind")]


class GetBotContent(Contract):
    """Query: the current bot content of a project."""

    project_key: UUID


class BotContent(Contract):
    """The current bot content (version 0 and empty strings when none was saved yet)."""

    version: int
    aiml: str
    maps: str
    sets: str
    properties: str


class ConfigChanged(Event):
    """A project's bot content changed: every dialog replica drops its cached kernel."""

    project_key: UUID = Field(description="The project whose content changed")
    version: int = Field(description="The content version now current")
