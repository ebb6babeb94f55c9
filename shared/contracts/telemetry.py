"""Robot telemetry: samples the gateway accepted, and the queries the telemetry service answers."""

import math
from datetime import datetime
from typing import Annotated, Self
from uuid import UUID

from pydantic import Field, StringConstraints, field_validator, model_validator

from .base import Contract, Event
from .robot import RobotId

METRIC_NAME_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"
MetricName = Annotated[str, StringConstraints(pattern=METRIC_NAME_PATTERN)]
MAX_METRICS = 64
MAX_BUCKETS = 10_000


class TelemetrySampled(Event):
    """A robot's sample, accepted by a gateway (event_id is the sample's id)."""

    project_key: UUID = Field(description="The project the robot belongs to")
    robot_id: RobotId = Field(description="The robot that sent the sample")
    received_at: datetime = Field(description="When the gateway received it (UTC)")
    metrics: dict[MetricName, float] = Field(
        min_length=1, max_length=MAX_METRICS, description="Metric name → finite value"
    )

    @field_validator("metrics")
    @classmethod
    def _finite(cls, metrics: dict[str, float]) -> dict[str, float]:
        for name, value in metrics.items():
            if not math.isfinite(value):
                raise ValueError(f"{name} must be a finite number")
        return metrics


class GetLatestTelemetry(Contract):
    """Query: the newest sample of each robot of a project (or of one robot)."""

    project_key: UUID = Field(description="The project asked about")
    robot_id: RobotId | None = Field(None, description="Only this robot; None for every robot")


class LatestSample(Contract):
    """A robot's newest sample."""

    robot_id: RobotId = Field(description="The robot")
    received_at: datetime = Field(description="When it was received")
    metrics: dict[str, float] = Field(description="Its values")


class LatestTelemetry(Contract):
    """Answer: newest sample per robot, by robot id."""

    samples: list[LatestSample] = Field(description="One entry per robot that sent anything")


MAX_BUCKET_S = 366 * 24 * 3600.0  # wider would overflow a Postgres interval


class GetTelemetryRange(Contract):
    """Query: one metric of one robot over [start, end), aggregated into fixed buckets."""

    project_key: UUID = Field(description="The project asked about")
    robot_id: RobotId = Field(description="The robot")
    metric: MetricName = Field(description="The metric, e.g. cpu_usage")
    start: datetime = Field(description="Start of the range (inclusive, timezone-aware)")
    end: datetime = Field(description="End of the range (exclusive, timezone-aware)")
    bucket_s: float = Field(
        ge=1.0, le=MAX_BUCKET_S, description="Bucket width in seconds (at most a year)"
    )

    @model_validator(mode="after")
    def _sane(self) -> Self:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("start and end need a time zone (e.g. 2026-11-22T10:00:00Z)")
        if self.end <= self.start:
            raise ValueError("end must be after start")
        if (self.end - self.start).total_seconds() / self.bucket_s > MAX_BUCKETS:
            raise ValueError(f"at most {MAX_BUCKETS} buckets; widen bucket_s")
        return self


class TelemetryBucket(Contract):
    """Aggregates of the samples whose time falls in [start, start + bucket_s)."""

    start: datetime = Field(description="Bucket start (aligned on the range start)")
    count: int = Field(description="Number of samples")
    min: float = Field(description="Smallest value")
    avg: float = Field(description="Mean value")
    max: float = Field(description="Largest value")


class TelemetryRange(Contract):
    """Answer: the non-empty buckets of a range query, oldest first."""

    robot_id: RobotId = Field(description="The robot")
    metric: str = Field(description="The metric")
    bucket_s: float = Field(description="Bucket width in seconds")
    buckets: list[TelemetryBucket] = Field(description="Non-empty buckets, oldest first")
