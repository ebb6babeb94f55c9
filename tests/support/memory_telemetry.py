"""Telemetry in memory (the component tests' fake, checked against Postgres by tests/contract)."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from asyncpg.exceptions import CharacterNotInRepertoireError, NumericValueOutOfRangeError

from services.telemetry.domain import FleetEvent
from shared.contracts import (
    CommandState,
    GetCommands,
    GetReports,
    GetTelemetryRange,
    LatestSample,
    ReportState,
    RobotReported,
    RobotState,
    TelemetryBucket,
    TelemetrySampled,
)


class MemoryTelemetry:
    """Records what the handlers hand over; `fail` makes writes fail like a database outage."""

    def __init__(self) -> None:
        self.batches: list[list[TelemetrySampled]] = []
        self.events: list[FleetEvent] = []
        self.fail = False
        self.refuse = False  # robot events hold what Postgres cannot store
        self.refused: set[UUID] = set()  # samples Postgres cannot store
        self.writes = 0
        self.on_ingest: list[Any] = []

    async def ingest(self, samples: Sequence[TelemetrySampled]) -> None:
        self.writes += 1
        for check in self.on_ingest:
            check()
        if self.fail:
            raise ConnectionRefusedError("database down")
        if any(s.event_id in self.refused for s in samples):  # the whole transaction fails
            raise NumericValueOutOfRangeError("value out of range for type double precision")
        self.batches.append(list(samples))

    async def apply(self, event: FleetEvent) -> None:
        if self.refuse:
            raise CharacterNotInRepertoireError('invalid byte sequence for encoding "UTF8": 0x00')
        self.events.append(event)

    async def latest(self, project: UUID, robot: str | None) -> list[LatestSample]:
        return [
            LatestSample(robot_id=s.robot_id, received_at=s.received_at, metrics=s.metrics)
            for batch in self.batches
            for s in batch
            if s.project_key == project
        ]

    async def buckets(self, query: GetTelemetryRange) -> list[TelemetryBucket]:
        return [TelemetryBucket(start=query.start, count=1, min=1.0, avg=1.0, max=1.0)]

    async def robots(self, project: UUID, *, now: datetime, window_s: float) -> list[RobotState]:
        return [RobotState(robot_id="r1", online=True, connected=True, last_seen=now, protocol="x")]

    async def commands(self, query: GetCommands, *, now: datetime) -> list[CommandState]:
        return []

    async def reports(self, query: GetReports) -> list[ReportState]:
        return [
            ReportState(
                event_id=e.event_id,
                robot_id=e.robot_id,
                key=e.key,
                record_id=e.record_id,
                payload=e.payload,
                occurred_at=e.occurred_at,
            )
            for e in self.events
            if isinstance(e, RobotReported) and e.project_key == query.project_key
        ]

    async def purge(self, *, older_than: datetime, chunk: int) -> int | None:
        return 0
