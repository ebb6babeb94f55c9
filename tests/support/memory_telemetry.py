"""Telemetry in memory (the component tests' fake, checked against Postgres by tests/contract).

It keeps what the handlers hand over (`batches`, `events`) and answers queries from it the
way the Postgres store's SQL does (services/telemetry/sql.py): one row per sample metric, each
robot's newest metrics, presence by connection, commands folded from their events in any
order, reports newest first."""

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from asyncpg.exceptions import CharacterNotInRepertoireError, NumericValueOutOfRangeError

from services.telemetry.domain import (
    FleetEvent,
    Latest,
    MetricRow,
    Sample,
    command_data,
    command_status,
    is_online,
    metric_rows,
    newest_per_robot,
)
from shared.contracts import (
    CommandState,
    GetCommands,
    GetReports,
    GetTelemetryRange,
    LatestSample,
    ReportState,
    RobotCommandAcknowledged,
    RobotCommandDelivered,
    RobotCommandExpired,
    RobotCommandIssued,
    RobotPresence,
    RobotReported,
    RobotState,
    TelemetryBucket,
)

RobotKey = tuple[UUID, str]
MAX_CLOSED = 16  # the closed sockets a robot remembers (PRESENCE_DISCONNECTED)


@dataclass
class _Latest:
    received_at: datetime
    event_id: UUID
    metrics: dict[str, float]


@dataclass
class _Robot:
    connected: bool = False
    connection: str | None = None
    protocol: str | None = None
    connected_at: datetime | None = None
    last_seen: datetime | None = None
    closed: list[str] = field(default_factory=list)


@dataclass
class _Command:
    project_key: UUID
    robot_id: str
    columns: dict[str, Any] = field(default_factory=dict)

    def fill(self, **values: Any) -> None:
        """Each event fills only its own columns, once (COALESCE): any order, any repeat."""
        for name, value in values.items():
            if self.columns.get(name) is None:
                self.columns[name] = value


class MemoryTelemetry:
    """Telemetry in dicts; `fail` makes writes fail like a database outage, `refuse` and
    `refused` like values Postgres cannot store."""

    def __init__(self) -> None:
        self.batches: list[list[Sample]] = []
        self.events: list[FleetEvent] = []
        self.fail = False
        self.refuse = False  # robot events hold what Postgres cannot store
        self.refused: set[UUID] = set()  # samples Postgres cannot store
        self.writes = 0
        self.on_ingest: list[Any] = []
        self.samples: dict[tuple[UUID, str], MetricRow] = {}
        self.newest: dict[RobotKey, _Latest] = {}
        self.robot_rows: dict[RobotKey, _Robot] = {}
        self.command_rows: dict[UUID, _Command] = {}
        self.report_rows: dict[UUID, RobotReported] = {}

    async def ingest(self, samples: Sequence[Sample]) -> None:
        self.writes += 1
        for check in self.on_ingest:
            check()
        if self.fail:
            raise ConnectionRefusedError("database down")
        if any(s.event_id in self.refused for s in samples):  # the whole transaction fails
            raise NumericValueOutOfRangeError("value out of range for type double precision")
        self.batches.append(list(samples))
        for row in metric_rows(samples):
            self.samples.setdefault((row.event_id, row.metric), row)
        for sample in newest_per_robot(samples):
            self._keep_newest(sample)
            robot = self.robot_rows.setdefault((sample.project_key, sample.robot_id), _Robot())
            if robot.last_seen is None or robot.last_seen < sample.received_at:
                robot.last_seen = sample.received_at

    def _keep_newest(self, sample: Latest) -> None:
        """UPSERT_LATEST: a newer sample overwrites the metrics it has, an older one only adds
        metrics the robot has no value of yet."""
        key = (sample.project_key, sample.robot_id)
        now = self.newest.get(key)
        if now is None:
            self.newest[key] = _Latest(sample.received_at, sample.event_id, dict(sample.metrics))
        elif (now.received_at, now.event_id) < (sample.received_at, sample.event_id):
            merged = {**now.metrics, **sample.metrics}
            self.newest[key] = _Latest(sample.received_at, sample.event_id, merged)
        else:
            now.metrics = {**sample.metrics, **now.metrics}

    async def apply(self, event: FleetEvent) -> None:
        if self.refuse:
            raise CharacterNotInRepertoireError('invalid byte sequence for encoding "UTF8": 0x00')
        self.events.append(event)
        match event:
            case RobotPresence():
                self._presence(event)
            case RobotReported():
                self.report_rows.setdefault(event.event_id, event)
            case RobotCommandIssued():
                self._command(event.event_id, event).fill(
                    type=event.command.type,
                    data=json.loads(command_data(event)),
                    issued_at=event.occurred_at,
                    expires_at=event.expires_at,
                    issued_by=event.issued_by,
                )
            case _:
                at = event.occurred_at
                self._command(event.command_id, event).fill(
                    delivered_at=at if isinstance(event, RobotCommandDelivered) else None,
                    acknowledged_at=at if isinstance(event, RobotCommandAcknowledged) else None,
                    expired_at=at if isinstance(event, RobotCommandExpired) else None,
                )

    def _command(
        self,
        command_id: UUID,
        event: RobotCommandIssued
        | RobotCommandDelivered
        | RobotCommandAcknowledged
        | RobotCommandExpired,
    ) -> _Command:
        """The command's row; a detached one (never kept) when the id is another project's or
        robot's (an event naming it changes nothing)."""
        row = self.command_rows.setdefault(command_id, _Command(event.project_key, event.robot_id))
        if (row.project_key, row.robot_id) != (event.project_key, event.robot_id):
            return _Command(event.project_key, event.robot_id)
        return row

    def _presence(self, event: RobotPresence) -> None:
        key, at = (event.project_key, event.robot_id), event.occurred_at
        robot = self.robot_rows.get(key)
        if event.state == "disconnected":
            if robot is None:
                self.robot_rows[key] = _Robot(
                    False, event.connection, event.protocol, None, at, [event.connection]
                )
                return
            robot.connected = robot.connected and robot.connection != event.connection
            robot.last_seen = max(robot.last_seen, at) if robot.last_seen else at
            others = [c for c in robot.closed if c != event.connection]
            robot.closed = [event.connection, *others][:MAX_CLOSED]
            return
        if robot is None:
            self.robot_rows[key] = _Robot(True, event.connection, event.protocol, at, at)
            return
        robot.last_seen = max(robot.last_seen, at) if robot.last_seen else at
        taking_over = robot.connected_at is None or robot.connected_at <= at
        if robot.connection != event.connection and taking_over:
            robot.connected = event.connection not in robot.closed
            robot.connection, robot.protocol = event.connection, event.protocol
            robot.connected_at = at

    async def latest(self, project: UUID, robot: str | None) -> list[LatestSample]:
        return [
            LatestSample(robot_id=key[1], received_at=row.received_at, metrics=row.metrics)
            for key, row in sorted(self.newest.items(), key=lambda item: item[0][1])
            if key[0] == project and robot in (None, key[1])
        ]

    async def buckets(self, query: GetTelemetryRange) -> list[TelemetryBucket]:
        """BUCKETS: the range's values in buckets aligned on its start (only non-empty ones)."""
        width = query.bucket_s
        found: dict[datetime, list[float]] = {}
        for row in self.samples.values():
            if (row.project_key, row.robot_id, row.metric) != (
                query.project_key,
                query.robot_id,
                query.metric,
            ) or not (query.start <= row.received_at < query.end):
                continue
            bins = (row.received_at - query.start).total_seconds() // width
            start = query.start + timedelta(seconds=bins * width)
            found.setdefault(start, []).append(row.value)
        return [
            TelemetryBucket(start=start, count=len(v), min=min(v), avg=sum(v) / len(v), max=max(v))
            for start, v in sorted(found.items())
        ]

    async def robots(self, project: UUID, *, now: datetime, window_s: float) -> list[RobotState]:
        return [
            RobotState(
                robot_id=key[1],
                online=is_online(
                    connected=row.connected, last_seen=row.last_seen, now=now, window_s=window_s
                ),
                connected=row.connected,
                last_seen=row.last_seen,
                protocol=row.protocol,
            )
            for key, row in sorted(self.robot_rows.items(), key=lambda item: item[0][1])
            if key[0] == project
        ]

    async def commands(self, query: GetCommands, *, now: datetime) -> list[CommandState]:
        mine = [
            (command_id, row)
            for command_id, row in self.command_rows.items()
            if row.project_key == query.project_key
            and query.robot_id in (None, row.robot_id)
            and query.command_id in (None, command_id)
        ]

        def when(item: tuple[UUID, _Command]) -> tuple[datetime, UUID]:
            c = item[1].columns
            times = ("issued_at", "delivered_at", "acknowledged_at", "expired_at")
            return next(c[t] for t in times if c.get(t) is not None), item[0]

        mine.sort(key=when, reverse=True)
        return [_command_state(command_id, row, now) for command_id, row in mine[: query.limit]]

    async def reports(self, query: GetReports) -> list[ReportState]:
        found = [
            e
            for e in self.report_rows.values()
            if e.project_key == query.project_key
            and query.robot_id in (None, e.robot_id)
            and query.key in (None, e.key)
            and query.record_id in (None, e.record_id)
        ]
        found.sort(key=lambda e: (e.occurred_at, e.event_id), reverse=True)
        return [
            ReportState(
                event_id=e.event_id,
                robot_id=e.robot_id,
                key=e.key,
                record_id=e.record_id,
                payload=e.payload,
                occurred_at=e.occurred_at,
            )
            for e in found[: query.limit]
        ]

    async def purge(self, *, older_than: datetime, chunk: int) -> int | None:
        """Samples and reports older than `older_than` go (counted), and robots' newest
        values received before it."""
        old = [k for k, row in self.samples.items() if row.received_at < older_than]
        reports = [k for k, e in self.report_rows.items() if e.occurred_at < older_than]
        for key in old:
            del self.samples[key]
        for event_id in reports:
            del self.report_rows[event_id]
        for robot in [k for k, row in self.newest.items() if row.received_at < older_than]:
            del self.newest[robot]
        return len(old) + len(reports)


def _command_state(command_id: UUID, row: _Command, now: datetime) -> CommandState:
    c = row.columns
    return CommandState(
        command_id=command_id,
        robot_id=row.robot_id,
        type=c.get("type"),
        status=command_status(
            delivered_at=c.get("delivered_at"),
            acknowledged_at=c.get("acknowledged_at"),
            expired_at=c.get("expired_at"),
            expires_at=c.get("expires_at"),
            now=now,
        ),
        issued_at=c.get("issued_at"),
        expires_at=c.get("expires_at"),
        delivered_at=c.get("delivered_at"),
        acknowledged_at=c.get("acknowledged_at"),
        issued_by=c.get("issued_by"),
        data=c.get("data"),
    )
