"""The identity schema: projects (one project is one bot on every protocol)."""

from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import Column, DateTime, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

SCHEMA = "identity"
DEFAULT_FALLBACK = "let's check this thing on internet"


class Project(SQLModel, table=True):
    """A bot: its key, its hashed secret and its XPARO-style configuration."""

    __tablename__ = "projects"
    __table_args__ = {"schema": SCHEMA}

    key: UUID = Field(default_factory=uuid4, primary_key=True)
    name: str = Field(max_length=200, unique=True)
    secret_hash: str = Field(max_length=64)
    secret_prefix: str = Field(max_length=16)
    title: str = ""
    description: str = ""
    goal: str = "Basic"
    rules: str = ""
    system: str = ""
    fallback: str = DEFAULT_FALLBACK
    settings: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSONB, nullable=False))
    created_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), server_default=func.now())
    )
