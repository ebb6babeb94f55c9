"""Settings every process shares: where the broker and the database are, and how to log."""

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class CommonSettings(BaseSettings):
    """Connection settings read from the environment (no prefix: `NATS_URL`, `DATABASE_URL`)."""

    model_config = SettingsConfigDict(extra="ignore")

    nats_url: str = Field("nats://127.0.0.1:4222", description="NATS server(s), comma separated")
    database_url: str = Field(
        "postgresql://postgres@127.0.0.1:5432/switchboard",
        description="Postgres URL (postgresql://...); the asyncpg driver is added automatically",
    )
    nats_stream_replicas: int = Field(
        1,
        ge=1,
        le=5,
        description="Replicas of every JetStream stream and object-store bucket (3 on a 3-node "
        "cluster; at most the number of nodes)",
    )
    chat_partitions: int = Field(
        8,
        ge=1,
        le=1024,
        description="Partitions of the users' turns (each answered by one dialog replica at a "
        "time); every gateway and dialog replica must agree",
    )
    log_level: str = Field("INFO", description="Python log level for every service")
    log_format: Literal["console", "json"] = Field(
        "console", description="console: readable lines (make run); json: one object per line"
    )
    otel_traces_exporter: Literal["none", "console", "otlp"] = Field(
        "none",
        description="Where spans go: none (trace context still propagates), console, or otlp "
        "(OTEL_EXPORTER_OTLP_ENDPOINT; needs the otlp extra)",
    )
    bind_host: str = Field(
        "127.0.0.1", description="Interface services listen on (0.0.0.0 in containers)"
    )


def asyncpg_url(url: str) -> str:
    """Return `url` with the SQLAlchemy asyncpg driver, whatever scheme the user gave."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError(f"not a database URL: {url!r}")
    if scheme in {"postgres", "postgresql", "postgresql+asyncpg", "postgresql+psycopg"}:
        return f"postgresql+asyncpg://{rest}"
    raise ValueError(f"unsupported database scheme {scheme!r}: use postgresql://")
