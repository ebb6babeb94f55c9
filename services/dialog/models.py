"""The dialog schema as SQLModel models: bot content versions, conversation sessions, the
transcript, tombstones, the turn partitions' owners. What the migrations create, declared once
(the rooms query it with the named statements of their sql.py;
tests/integration/test_schema_models.py checks these models against the migrated database)."""

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    ForeignKeyConstraint,
    Identity,
    Index,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSON, JSONB
from sqlmodel import Field, SQLModel

SCHEMA = "dialog"


class BotContentRow(SQLModel, table=True):
    """One saved version of a project's content: AIML files and companion files, FAQ, intents,
    state machine, engine chain and behaviour trees (None: not given yet). Versions are never
    changed once written."""

    __tablename__ = "bot_content"
    __table_args__ = {"schema": SCHEMA}

    project_key: UUID = Field(primary_key=True)
    version: int = Field(primary_key=True)
    files: dict[str, Any] = Field(
        default_factory=dict,
        sa_column=Column(JSONB, nullable=False, server_default="{}"),
        description="The version's files by kind: {aiml: [...], behaviors: [...]}; texts are"
        " in content_blobs",
    )
    maps: str = Field(default="", sa_type=Text)
    sets: str = Field(default="", sa_type=Text)
    properties: str = Field(default="", sa_type=Text)
    categories: int = 0
    correlation_id: UUID
    # json, not jsonb: jsonb sorts an object's keys, and a table's columns (a machine's
    # `dataframe`) or a chart's fields must come out in the order their author wrote them.
    faq: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    intents: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    chain: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    machine: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    faq_groups: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    intent_count: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    machine_states: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    change: str = Field(default="aiml", max_length=64, sa_column_kwargs={"server_default": "aiml"})
    created_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), server_default=func.now())
    )


class ContentBlobRow(SQLModel, table=True):
    """The text of a content file (AIML file, behaviour tree), once per project and digest: the
    versions that keep a file share its text."""

    __tablename__ = "content_blobs"
    __table_args__ = {"schema": SCHEMA}

    project_key: UUID = Field(primary_key=True)
    sha256: str = Field(primary_key=True, max_length=64)
    text: str = Field(sa_type=Text)


class ReleaseRow(SQLModel, table=True):
    """A publication: from `published_at` on, the release stage answers from `version`."""

    __tablename__ = "releases"
    __table_args__ = (
        ForeignKeyConstraint(
            ["project_key", "version"],
            [f"{SCHEMA}.bot_content.project_key", f"{SCHEMA}.bot_content.version"],
        ),
        Index("releases_project_idx", "project_key", "id"),
        {"schema": SCHEMA},
    )

    id: int | None = Field(default=None, sa_column=Column(BigInteger, Identity(), primary_key=True))
    project_key: UUID
    version: int
    correlation_id: UUID
    published_at: datetime | None = Field(
        default=None,
        sa_column=Column(DateTime(timezone=True), nullable=False, server_default=func.now()),
    )


class SessionRow(SQLModel, table=True):
    """A conversation: who opened it, its data, its AIML state (predicates, that, topic) and
    its last turn position."""

    __tablename__ = "sessions"
    __table_args__ = (
        Index(
            "sessions_activity_idx", "project_key", text("last_at DESC"), text("session_id DESC")
        ),
        # the sessions whose state machine waits on a condition (the machine clock's scan)
        Index(
            "sessions_machine_watch",
            "project_key",
            postgresql_where=text("(state -> '_machine') ? 'watch'"),
        ),
        {"schema": SCHEMA},
    )

    project_key: UUID = Field(primary_key=True)
    session_id: str = Field(primary_key=True, max_length=128)
    protocol: str = Field(default="", sa_type=Text, sa_column_kwargs={"server_default": ""})
    data: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSONB, nullable=False, server_default="{}")
    )
    state: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSONB, nullable=False, server_default="{}")
    )
    channel: str = Field(default="", max_length=128, sa_column_kwargs={"server_default": ""})
    seq: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    channels: list[list[Any]] = Field(
        default_factory=list,
        sa_column=Column(JSONB, nullable=False, server_default="[]"),
        description="[channel, last answered seq] of its latest connections, oldest first",
    )
    created_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), server_default=func.now())
    )
    updated_at: datetime | None = Field(
        default=None,
        sa_column=Column(DateTime(timezone=True), server_default=func.now(), onupdate=func.now()),
    )
    last_at: datetime | None = Field(
        default=None,
        sa_column=Column(DateTime(timezone=True), nullable=False, server_default=func.now()),
        description="When it last had a turn or a message (conversation lists sort by it)",
    )
    handoff: str | None = Field(
        default=None,
        sa_type=Text,
        description="The operator who holds it (the bot is silent), or None",
    )
    version: int = Field(
        default=0,
        sa_column=Column(BigInteger, nullable=False, server_default="0"),
        description="Bumped by every change of the row: a batch of turns writes a session back "
        "only if it still has the version the batch read",
    )


class TurnRow(SQLModel, table=True):
    """One answered turn of the transcript, with the events that caused it; or (kind "said") a
    message said first by an operator or a schedule (its answer; its turn id is the message's
    event id)."""

    __tablename__ = "turns"
    __table_args__ = (
        Index("turns_session_idx", "project_key", "session_id", "id"),
        Index("turns_project_idx", "project_key", "id"),
        {"schema": SCHEMA},
    )

    id: int | None = Field(default=None, sa_column=Column(BigInteger, Identity(), primary_key=True))
    turn_event_id: UUID = Field(unique=True)
    reply_event_id: UUID
    correlation_id: UUID
    project_key: UUID
    session_id: str
    protocol: str
    question: str = Field(sa_type=Text)
    answer: str = Field(sa_type=Text)
    engine: str
    content_version: int | None = None
    received_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    answered_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    engine_ms: float
    stage: str = Field(default="test", max_length=16, sa_column_kwargs={"server_default": "test"})
    details: dict[str, Any] | None = Field(
        default=None,
        sa_column=Column(JSON, nullable=True),  # json: reply parts keep their key order
        description="faq, intent, url, ...",
    )
    kind: str = Field(
        default="turn",
        max_length=16,
        sa_column_kwargs={"server_default": "turn"},
        description="turn (the user's) or said (said first)",
    )


class DeletedSessionRow(SQLModel, table=True):
    """A deleted session's id: it stays deleted (never answered, never recreated)."""

    __tablename__ = "deleted_sessions"
    __table_args__ = {"schema": SCHEMA}

    project_key: UUID = Field(primary_key=True)
    session_id: str = Field(primary_key=True, max_length=128)
    deleted_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), server_default=func.now())
    )


class PartitionOwnerRow(SQLModel, table=True):
    """The generation of a turn partition's claim by a consumer: a batch is written only while
    its claim's generation is still the partition's (turns/partitions.py fences a stale owner)."""

    __tablename__ = "partition_owners"
    __table_args__ = {"schema": SCHEMA}

    consumer: str = Field(primary_key=True, max_length=64)
    partition: int = Field(primary_key=True)
    generation: int = Field(sa_type=BigInteger)
