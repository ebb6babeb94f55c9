"""Telemetry service settings (prefix `TELEMETRY_`)."""

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DAY_S = 24 * 3600.0


class TelemetrySettings(BaseSettings):
    """How the telemetry service ingests samples, answers queries and keeps retention."""

    model_config = SettingsConfigDict(env_prefix="TELEMETRY_", extra="ignore")

    port: int = Field(8103, description="Port of /health and /ready")
    batch_size: int = Field(500, ge=1, le=10_000, description="Samples written per transaction")
    batch_wait_s: float = Field(
        0.25, gt=0, description="Longest wait to fill a batch before writing what arrived"
    )
    writers: int = Field(
        2, ge=1, description="Batches written at once per replica (the next is fetched meanwhile)"
    )
    ack_wait_s: float = Field(
        30.0, gt=0, description="JetStream redelivers a sample not acked within this time"
    )
    retry_delay_s: float = Field(
        1.0, ge=0, description="Redelivery delay of messages whose write failed (database down)"
    )
    pool_size: int = Field(
        3, ge=1, description="Postgres connections for events, queries, retention (plus writers)"
    )
    online_window_s: float = Field(
        90.0, gt=0, description="A connected robot is online if seen within this window"
    )
    retention_s: float = Field(
        30 * DAY_S, gt=0, description="Samples and reports older than this are deleted"
    )
    retention_every_s: float = Field(3600.0, gt=0, description="How often retention runs")
    retention_chunk: int = Field(
        10_000, ge=1, description="Rows deleted per statement (keeps each transaction short)"
    )
