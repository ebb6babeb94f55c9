"""A project's life: when one is deleted, every service forgets its rows; when its secret or
settings change, every gateway forgets what it cached of it."""

from typing import Literal
from uuid import UUID

from pydantic import Field

from .base import Event


class ProjectDeleted(Event):
    """A project was deleted: its data goes from every service (its identity is gone already)."""

    kind: Literal["project_deleted"] = "project_deleted"
    project_key: UUID
    name: str = Field(max_length=200, description="Its name, for the logs")
    deleted_by: str = Field(max_length=220, description="admin:<token name>")


class ProjectChanged(Event):
    """A project's secret was rotated or its settings changed (core NATS, not stored): every
    gateway drops what it cached of the project, so an old secret stops working at once."""

    kind: Literal["project_changed"] = "project_changed"
    project_key: UUID
    change: Literal["secret", "settings"] = Field(description="What changed")
