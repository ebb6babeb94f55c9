"""Dialog service settings (prefix `DIALOG_`)."""

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class DialogSettings(BaseSettings):
    """How the dialog service consumes turns and reports health."""

    model_config = SettingsConfigDict(env_prefix="DIALOG_", extra="ignore")

    port: int = Field(8101, description="Port of /health and /ready")
    durable: str = Field("dialog", description="Durable consumer shared by all replicas")
    batch_size: int = Field(16, ge=1, description="Turns fetched per pull")
    max_workers: int = Field(4, ge=1, description="Turns handled concurrently per replica")
    early_retry_s: float = Field(0.05, description="Delay before retrying a turn that came early")
    early_max_deliveries: int = Field(
        40, description="After this many early deliveries a turn is answered anyway"
    )
