"""The schedule schema as SQLModel models: what the migrations create, declared once (the
store queries it with the named statements of sql.py; tests/integration/test_schema_models.py
checks these models against the migrated database)."""

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Column, DateTime, Index, Text, UniqueConstraint, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

SCHEMA = "schedule"


class ScheduleEntry(SQLModel, table=True):
    """One entry of a robot's schedule: a one-shot (date and time) or a repeating cron entry,
    with the next instant it is due (NULL: a finished one-shot)."""

    __tablename__ = "entries"
    __table_args__ = (
        UniqueConstraint("project_key", "robot_id", "name", name="entries_robot_name_key"),
        Index("entries_due_idx", "next_due_at", postgresql_where=text("next_due_at IS NOT NULL")),
        {"schema": SCHEMA},
    )

    id: UUID = Field(primary_key=True, description="Seeds the fire ids")
    project_key: UUID
    robot_id: str = Field(sa_type=Text)
    name: str = Field(sa_type=Text)
    value: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    timezone: str = Field(sa_type=Text)
    cron: str | None = Field(default=None, sa_type=Text)
    next_due_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    last_fired_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    created_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), server_default=func.now())
    )
    updated_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), server_default=func.now())
    )
