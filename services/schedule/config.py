"""Schedule service settings (prefix `SCHEDULE_`)."""

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ScheduleSettings(BaseSettings):
    """Where the schedule service reports health."""

    model_config = SettingsConfigDict(env_prefix="SCHEDULE_", extra="ignore")

    port: int = Field(8102, description="Port of /health and /ready")
