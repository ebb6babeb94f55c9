"""Telemetry service settings (prefix `TELEMETRY_`)."""

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class TelemetrySettings(BaseSettings):
    """Where the telemetry service reports health."""

    model_config = SettingsConfigDict(env_prefix="TELEMETRY_", extra="ignore")

    port: int = Field(8103, description="Port of /health and /ready")
