"""The telemetry schema as SQLModel models: what the migrations create, declared once (the
store queries it with the named statements of sql.py, samples by binary COPY;
tests/integration/test_schema_models.py checks these models against the migrated database)."""

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Column, DateTime, Index, PrimaryKeyConstraint, Text, false, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlmodel import Field, SQLModel

SCHEMA = "telemetry"
_TS = DateTime(timezone=True)


class Sample(SQLModel, table=True):
    """One metric of one sample; (event_id, metric) makes a redelivered sample a no-op."""

    __tablename__ = "samples"
    __table_args__ = (
        Index(
            "samples_series_idx",
            "project_key",
            "robot_id",
            "metric",
            "received_at",
            postgresql_include=["value"],
        ),
        Index("samples_received_brin", "received_at", postgresql_using="brin"),
        PrimaryKeyConstraint("event_id", "metric"),
        {"schema": SCHEMA},
    )

    project_key: UUID
    robot_id: str = Field(sa_type=Text)
    metric: str = Field(sa_type=Text)
    received_at: datetime = Field(sa_type=_TS)
    value: float
    event_id: UUID


class Latest(SQLModel, table=True):
    """The newest sample per robot, upserted with each batch."""

    __tablename__ = "latest"
    __table_args__ = {"schema": SCHEMA}

    project_key: UUID = Field(primary_key=True)
    robot_id: str = Field(sa_type=Text, primary_key=True)
    received_at: datetime = Field(sa_type=_TS)
    event_id: UUID
    metrics: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))


class Robot(SQLModel, table=True):
    """A robot's presence: its socket, when it connected, when it was last seen, and the
    newest sockets it closed (so a late open of a closed socket is seen as such)."""

    __tablename__ = "robots"
    __table_args__ = {"schema": SCHEMA}

    project_key: UUID = Field(primary_key=True)
    robot_id: str = Field(sa_type=Text, primary_key=True)
    connected: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    connection: str | None = Field(default=None, sa_type=Text)
    protocol: str | None = Field(default=None, sa_type=Text)
    connected_at: datetime | None = Field(default=None, sa_type=_TS)
    last_seen: datetime | None = Field(default=None, sa_type=_TS)
    closed: list[str] = Field(
        default_factory=list,
        sa_column=Column(ARRAY(Text), nullable=False, server_default=text("'{}'::text[]")),
    )


class Command(SQLModel, table=True):
    """A command issued to a robot and how far it got (delivered, acknowledged, expired)."""

    __tablename__ = "commands"
    __table_args__ = (
        Index("commands_project_idx", "project_key", "robot_id"),
        {"schema": SCHEMA},
    )

    command_id: UUID = Field(primary_key=True)
    project_key: UUID
    robot_id: str = Field(sa_type=Text)
    type: str | None = Field(default=None, sa_type=Text)
    issued_at: datetime | None = Field(default=None, sa_type=_TS)
    expires_at: datetime | None = Field(default=None, sa_type=_TS)
    issued_by: str | None = Field(default=None, sa_type=Text)
    delivered_at: datetime | None = Field(default=None, sa_type=_TS)
    acknowledged_at: datetime | None = Field(default=None, sa_type=_TS)
    expired_at: datetime | None = Field(default=None, sa_type=_TS)
    data: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONB, nullable=True))


class Report(SQLModel, table=True):
    """A robot's report (task results, log sessions); its event id makes a redelivery a no-op."""

    __tablename__ = "reports"
    __table_args__ = (
        Index("reports_robot_key_idx", "project_key", "robot_id", "key", text("occurred_at DESC")),
        Index("reports_record_idx", "project_key", "record_id"),
        Index("reports_occurred_brin", "occurred_at", postgresql_using="brin"),
        {"schema": SCHEMA},
    )

    event_id: UUID = Field(primary_key=True)
    project_key: UUID
    robot_id: str = Field(sa_type=Text)
    key: str = Field(sa_type=Text)
    record_id: str | None = Field(default=None, sa_type=Text)
    payload: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    occurred_at: datetime = Field(sa_type=_TS)
