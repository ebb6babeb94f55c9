"""Media service settings (prefix `MEDIA_`)."""

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class MediaSettings(BaseSettings):
    """Where the media service reports health."""

    model_config = SettingsConfigDict(env_prefix="MEDIA_", extra="ignore")

    port: int = Field(8104, description="Port of /health and /ready")
