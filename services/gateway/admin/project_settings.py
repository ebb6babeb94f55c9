"""Settings the admin API keeps in a project's `settings` (the fleet's alert thresholds, the
inbox's handoff triggers): read by every gateway replica and the console alike."""

from typing import Any
from uuid import UUID

from pydantic import BaseModel

from shared.identity import ProjectStore


async def read_setting(projects: ProjectStore, key: UUID, name: str) -> Any:
    """The setting `name` of project `key` (None when never set, or the project is gone)."""
    project = await projects.get(key)
    return project.settings.get(name) if project is not None else None


async def replace_setting(projects: ProjectStore, key: UUID, name: str, value: BaseModel) -> None:
    """Keep `value` as the setting `name` of project `key`."""
    await projects.set_setting(key, name, value.model_dump(mode="json"))
