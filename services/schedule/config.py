"""Schedule service settings (prefix `SCHEDULE_`)."""

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ScheduleSettings(BaseSettings):
    """How the schedule service answers requests and fires due entries."""

    model_config = SettingsConfigDict(env_prefix="SCHEDULE_", extra="ignore")

    port: int = Field(8102, description="Port of /health and /ready")
    tick_s: float = Field(1.0, gt=0, description="How often each replica looks for due entries")
    grace_s: float = Field(
        300.0,
        gt=0,
        description="An entry found later than this after its time is skipped, not fired "
        "(a replica back from an outage fires what it missed within this window)",
    )
    batch: int = Field(100, ge=1, le=10_000, description="Due entries fired per transaction")
    pool_size: int = Field(4, ge=2, description="Postgres connections (requests and the firing)")
