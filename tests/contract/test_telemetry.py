"""The TelemetryStore port (samples, the fleet's robots, commands and reports), the same on
the in-memory fake and on Postgres."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest

from services.telemetry.domain import FleetEvent
from services.telemetry.store import PgTelemetryStore, TelemetryStore, prepare_connection
from shared.contracts import (
    GetCommands,
    GetReports,
    GetTelemetryRange,
    RemoteCommand,
    RobotCommandAcknowledged,
    RobotCommandDelivered,
    RobotCommandIssued,
    RobotPresence,
    RobotReported,
    TelemetrySampled,
)
from tests.support.backends import Backends
from tests.support.memory_telemetry import MemoryTelemetry

from .stores import BACKENDS, open_database

T0 = datetime(2026, 2, 1, 12, 0, tzinfo=UTC)
OLD = datetime(1950, 1, 1, tzinfo=UTC)  # retention: no other test keeps anything this old


@pytest.fixture(scope="module")
async def pg_telemetry(backends: Backends) -> AsyncIterator[PgTelemetryStore]:
    db = await open_database(backends, init=prepare_connection)
    yield PgTelemetryStore(db)
    await db.close()


@pytest.fixture(params=BACKENDS)
def telemetry(request: pytest.FixtureRequest) -> TelemetryStore:
    """The telemetry store, in memory or on Postgres."""
    if request.param == "memory":
        return MemoryTelemetry()
    store: PgTelemetryStore = request.getfixturevalue("pg_telemetry")
    return store


def sample(project: UUID, robot: str, at: datetime = T0, **metrics: float) -> TelemetrySampled:
    return TelemetrySampled.first(
        project_key=project, robot_id=robot, received_at=at, metrics=metrics
    )


def presence(project: UUID, state: str, connection: str, at: datetime) -> RobotPresence:
    return RobotPresence.first(
        project_key=project,
        robot_id="r1",
        state=state,
        connection=connection,
        protocol="xparo",
        occurred_at=at,
    )


def report(project: UUID, key: str, at: datetime, record: str | None = None) -> RobotReported:
    return RobotReported.first(
        project_key=project,
        robot_id="r1",
        key=key,
        record_id=record,
        payload={"k": key},
        occurred_at=at,
    )


async def test_latest_is_each_robots_newest_value_of_every_metric(
    telemetry: TelemetryStore,
) -> None:
    """Latest holds, per robot (by robot id), the newest value of each metric: an older sample
    only adds a metric the robot has no value of; a redelivered sample changes nothing; one
    robot can be asked alone; another project sees none of it."""
    project = uuid4()
    newer = sample(project, "r2", T0 + timedelta(seconds=10), cpu=0.9)
    await telemetry.ingest([newer, sample(project, "r1", cpu=0.1)])
    await telemetry.ingest([sample(project, "r2", T0, cpu=0.2, battery=80.0), newer])
    latest = await telemetry.latest(project, None)
    assert [(s.robot_id, s.received_at, s.metrics) for s in latest] == [
        ("r1", T0, {"cpu": 0.1}),
        ("r2", T0 + timedelta(seconds=10), {"cpu": 0.9, "battery": 80.0}),
    ]
    assert [s.robot_id for s in await telemetry.latest(project, "r2")] == ["r2"]
    assert await telemetry.latest(uuid4(), None) == []


async def test_buckets_are_aligned_on_the_range_start_and_count_each_sample_once(
    telemetry: TelemetryStore,
) -> None:
    """A range's buckets start at its start, step by the width, leave out empty ones and the
    range's end, and count a redelivered sample once (min, mean, max of one robot's metric)."""
    project = uuid4()
    start = T0 + timedelta(seconds=30)
    twice = sample(project, "r1", start + timedelta(seconds=5), cpu=1.0)
    at = [start + timedelta(seconds=s) for s in (-1, 20, 130, 180)]
    await telemetry.ingest([twice, *(sample(project, "r1", t, cpu=3.0) for t in at)])
    await telemetry.ingest([twice, sample(project, "r2", start, cpu=9.0)])
    query = GetTelemetryRange(
        project_key=project,
        robot_id="r1",
        metric="cpu",
        start=start,
        end=start + timedelta(seconds=180),
        bucket_s=60,
    )
    buckets = await telemetry.buckets(query)
    assert [(b.start, b.count, b.min, b.avg, b.max) for b in buckets] == [
        (start, 2, 1.0, 2.0, 3.0),
        (start + timedelta(seconds=120), 1, 3.0, 3.0, 3.0),
    ]


async def test_a_robot_is_connected_until_its_current_socket_closes(
    telemetry: TelemetryStore,
) -> None:
    """A robot is connected from its socket's open; the close of an older socket leaves a
    reconnected robot connected, the close of its current one disconnects it; a sample is a
    sign of life; the robot is online only within the window."""
    project = uuid4()
    await telemetry.apply(presence(project, "connected", "a", T0))
    await telemetry.apply(presence(project, "connected", "b", T0 + timedelta(seconds=1)))
    await telemetry.apply(presence(project, "disconnected", "a", T0 + timedelta(seconds=2)))
    [robot] = await telemetry.robots(project, now=T0 + timedelta(seconds=3), window_s=60)
    assert (robot.robot_id, robot.connected, robot.online, robot.protocol) == (
        "r1",
        True,
        True,
        "xparo",
    )
    await telemetry.ingest([sample(project, "r1", T0 + timedelta(seconds=50), cpu=1.0)])
    [robot] = await telemetry.robots(project, now=T0 + timedelta(seconds=100), window_s=60)
    assert (robot.last_seen, robot.online) == (T0 + timedelta(seconds=50), True)
    [robot] = await telemetry.robots(project, now=T0 + timedelta(seconds=200), window_s=60)
    assert robot.online is False
    await telemetry.apply(presence(project, "disconnected", "b", T0 + timedelta(seconds=60)))
    [robot] = await telemetry.robots(project, now=T0 + timedelta(seconds=61), window_s=60)
    assert (robot.connected, robot.online) == (False, False)
    assert await telemetry.robots(uuid4(), now=T0, window_s=60) == []


async def test_a_close_stored_before_its_open_leaves_the_robot_disconnected(
    telemetry: TelemetryStore,
) -> None:
    """Events of one fetch are applied in any order: a socket's open stored after its close
    does not make the robot connected; a robot only ever sampled is known, not connected."""
    project = uuid4()
    await telemetry.apply(presence(project, "disconnected", "a", T0 + timedelta(seconds=1)))
    await telemetry.apply(presence(project, "connected", "a", T0))
    await telemetry.ingest([sample(project, "r2", T0, cpu=1.0)])
    robots = await telemetry.robots(project, now=T0 + timedelta(seconds=2), window_s=60)
    assert [(r.robot_id, r.connected, r.last_seen) for r in robots] == [
        ("r1", False, T0 + timedelta(seconds=1)),
        ("r2", False, T0),
    ]


async def test_a_commands_events_fold_in_any_order_and_list_newest_first(
    telemetry: TelemetryStore,
) -> None:
    """A command's acknowledgement stored before its issue still ends acknowledged, with what
    it asked; commands list newest first, per robot or one command; an event naming the id
    from another project changes nothing."""
    project = uuid4()
    issued = [
        RobotCommandIssued.first(
            project_key=project,
            robot_id="r1",
            command=RemoteCommand(command=f"c{n}", parameters={}),
            issued_by="ops",
            occurred_at=T0 + timedelta(seconds=n),
        )
        for n in range(2)
    ]
    ack = RobotCommandAcknowledged.first(
        project_key=project, robot_id="r1", command_id=issued[0].event_id, occurred_at=T0
    )
    stranger = RobotCommandDelivered.first(
        project_key=uuid4(), robot_id="r1", command_id=issued[1].event_id, occurred_at=T0
    )
    events: list[FleetEvent] = [ack, *issued, stranger, ack]
    for event in events:
        await telemetry.apply(event)
    listed = await telemetry.commands(GetCommands(project_key=project), now=T0)
    assert [(c.command_id, c.status, c.type, c.issued_by) for c in listed] == [
        (issued[1].event_id, "queued", "remote_command", "ops"),
        (issued[0].event_id, "acknowledged", "remote_command", "ops"),
    ]
    assert listed[1].data == {"command": "c0", "parameters": {}}
    one = await telemetry.commands(
        GetCommands(project_key=project, command_id=issued[0].event_id), now=T0
    )
    assert [c.command_id for c in one] == [issued[0].event_id]
    assert await telemetry.commands(GetCommands(project_key=project, robot_id="r9"), now=T0) == []


async def test_reports_are_kept_once_and_listed_newest_first_by_filter(
    telemetry: TelemetryStore,
) -> None:
    """Reports list newest first, filtered by key and record id, at most `limit`; a
    redelivered report is kept once; another project sees none."""
    project = uuid4()
    first = report(project, "TASK_RESULT", T0, record="t1")
    events = [first, report(project, "TASK_RESULT", T0 + timedelta(seconds=1), record="t2")]
    events += [report(project, "ROBOT_INFO", T0 + timedelta(seconds=2)), first]
    for event in events:
        await telemetry.apply(event)
    every = await telemetry.reports(GetReports(project_key=project))
    assert [(r.key, r.record_id) for r in every] == [
        ("ROBOT_INFO", None),
        ("TASK_RESULT", "t2"),
        ("TASK_RESULT", "t1"),
    ]
    assert every[2].payload == {"k": "TASK_RESULT"}
    tasks = await telemetry.reports(GetReports(project_key=project, key="TASK_RESULT", limit=1))
    assert [r.record_id for r in tasks] == ["t2"]
    one = await telemetry.reports(GetReports(project_key=project, record_id="t1"))
    assert [r.event_id for r in one] == [first.event_id]
    assert await telemetry.reports(GetReports(project_key=uuid4())) == []


async def test_retention_removes_old_samples_and_reports_only(telemetry: TelemetryStore) -> None:
    """A purge deletes samples, reports and latest values older than its limit and answers how
    many samples and reports went; newer ones stay."""
    project = uuid4()
    cut = OLD + timedelta(days=1)
    await telemetry.ingest([sample(project, "old", OLD, cpu=1.0, mem=2.0)])
    await telemetry.ingest([sample(project, "new", cut, cpu=1.0)])
    await telemetry.apply(report(project, "OLD", OLD))
    await telemetry.apply(report(project, "NEW", cut))
    assert await telemetry.purge(older_than=cut, chunk=1) == 3
    assert [s.robot_id for s in await telemetry.latest(project, None)] == ["new"]
    assert [r.key for r in await telemetry.reports(GetReports(project_key=project))] == ["NEW"]
    query = GetTelemetryRange(
        project_key=project, robot_id="old", metric="cpu", start=OLD, end=cut, bucket_s=60
    )
    assert await telemetry.buckets(query) == []
