"""The telemetry service as a process on real NATS and Postgres: exactly-once ingest across a
crash, range buckets, latest samples, presence and command status, all asked by request/reply."""

import asyncio
import itertools
import json
import signal
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import TypeVar
from uuid import UUID, uuid4

import asyncpg
import pytest
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext

from services.telemetry import sql
from services.telemetry.domain import metric_rows
from services.telemetry.ingest import Ingestor
from services.telemetry.store import PgTelemetryStore, prepare_connection
from shared import subjects
from shared.contracts import (
    CommandList,
    Contract,
    GetCommands,
    GetLatestTelemetry,
    GetRobots,
    GetTelemetryRange,
    LatestTelemetry,
    RemoteCommand,
    RobotCommandAcknowledged,
    RobotCommandDelivered,
    RobotCommandExpired,
    RobotCommandIssued,
    RobotList,
    RobotPresence,
    TelemetryRange,
    TelemetrySampled,
    utcnow,
)
from shared.db import Database
from tests.support.backends import Backends
from tests.support.services import Service
from tests.support.telemetry import (
    METRICS,
    consumer_drained,
    publish_event,
    publish_samples,
    simulated_samples,
)
from tests.support.waits import wait_until

Answer = TypeVar("Answer", bound=Contract)
Query = GetLatestTelemetry | GetTelemetryRange | GetRobots | GetCommands


@pytest.fixture(scope="module")
def telemetry(backends: Backends, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """One telemetry replica; short ack wait so the crash test's redeliveries come quickly."""
    env = backends.env(
        TELEMETRY_ACK_WAIT_S="2",
        TELEMETRY_BATCH_SIZE="200",
        TELEMETRY_RETRY_DELAY_S="0.2",
    )
    service = Service("telemetry", env, tmp_path_factory.mktemp("telemetry-logs")).start()
    yield service
    service.stop()


async def ask(nc: NatsClient, kind: str, query: Query, answer: type[Answer]) -> Answer:
    """Ask the running service the way the gateway does: request/reply on the project's subject."""
    subject = subjects.telemetry_query(kind, query.project_key)
    reply = await nc.request(subject, query.model_dump_json().encode(), timeout=5)
    return answer.model_validate_json(reply.data)


async def stored_rows(pg: asyncpg.Connection, project: UUID) -> int:
    return int(
        await pg.fetchval("SELECT count(*) FROM telemetry.samples WHERE project_key = $1", project)
    )


async def all_stored(pg: asyncpg.Connection, project: UUID, rows: int) -> None:
    async def done() -> bool:
        return await stored_rows(pg, project) >= rows

    await wait_until(done, within_s=30, what=f"{rows} metric rows of {project}")


async def fleet_settled(js: JetStreamContext) -> None:
    async def done() -> bool:
        return await consumer_drained(js, subjects.ROBOT_STREAM, subjects.FLEET_DURABLE)

    await wait_until(done, within_s=20, what="every robot event processed")


async def test_samples_are_stored_exactly_once_across_a_crash_and_duplicates(
    telemetry: Service, nc: NatsClient, pg: asyncpg.Connection
) -> None:
    """10,000 samples of 50 robots, the service SIGKILLed part-way and restarted, then some of
    them published again (same and new message ids): every metric is stored exactly once."""
    project = uuid4()
    samples = simulated_samples(project, robots=50, per_robot=200, start=utcnow() - timedelta(1))
    expected = len(samples) * len(METRICS)
    js = nc.jetstream()
    publishing = asyncio.create_task(publish_samples(js, samples))

    async def part_way() -> bool:
        return await stored_rows(pg, project) >= expected * 0.3

    await wait_until(part_way, within_s=30, what="the first batches")
    telemetry.stop(signal.SIGKILL)
    assert await stored_rows(pg, project) < expected, "the crash must come mid-ingest"
    await publishing
    telemetry.start()
    await publish_samples(js, samples[:500])  # same ids: the stream's dedupe drops them
    await publish_samples(js, samples[500:1000], fresh_msg_ids=True)  # the service must

    async def settled() -> bool:
        drained = await consumer_drained(js, subjects.TELEMETRY_STREAM, subjects.TELEMETRY_DURABLE)
        return drained and await stored_rows(pg, project) >= expected

    await wait_until(settled, within_s=40, what="every sample stored after the restart")
    assert await stored_rows(pg, project) == expected
    distinct = await pg.fetchval(
        "SELECT count(DISTINCT event_id) FROM telemetry.samples WHERE project_key = $1", project
    )
    assert distinct == len(samples)


async def test_a_sample_no_write_can_store_is_terminated_and_its_batch_stored(
    telemetry: Service, nc: NatsClient, pg: asyncpg.Connection
) -> None:
    """A sample whose time exists in no database (year 1 at +05:00: before year 1 in UTC),
    published among 100 good ones, is terminated; the good ones fetched with it are stored and
    the consumer has nothing left pending, instead of the batch coming back forever."""
    project = uuid4()
    good = simulated_samples(project, robots=4, per_robot=25, start=utcnow() - timedelta(1))
    poison = good[0].model_dump(mode="json") | {
        "event_id": str(uuid4()),
        "received_at": "0001-01-01T00:00:00+05:00",
    }
    js = nc.jetstream()
    subject = subjects.telemetry_sample(project=project, robot=good[0].robot_id)
    await publish_samples(js, good[:50])
    await js.publish(subject, json.dumps(poison).encode(), headers={"Nats-Msg-Id": str(uuid4())})
    await publish_samples(js, good[50:])

    async def settled() -> bool:
        drained = await consumer_drained(js, subjects.TELEMETRY_STREAM, subjects.TELEMETRY_DURABLE)
        return drained and await stored_rows(pg, project) >= len(good) * len(METRICS)

    await wait_until(settled, within_s=20, what="the good samples stored, the poison settled")
    assert await stored_rows(pg, project) == len(good) * len(METRICS)


async def test_a_batch_delivered_again_after_its_acks_were_lost_is_stored_once(
    backends: Backends, nc: NatsClient, pg: asyncpg.Connection
) -> None:
    """A batch committed whose acks never reached JetStream (a crash between commit and ack)
    is delivered again by JetStream, written again without a second copy of any row, and
    acked that time."""
    project, js = uuid4(), nc.jetstream()
    stream, durable = f"REDELIVERY_{project.hex}", f"redelivery-{project.hex}"
    await js.add_stream(name=stream, subjects=[f"redelivery.{project.hex}.>"])
    await js.add_consumer(stream, durable_name=durable, ack_policy="explicit", ack_wait=1.0)
    samples = simulated_samples(project, robots=5, per_robot=20, start=utcnow() - timedelta(1))
    for sample in samples:
        await js.publish(
            f"redelivery.{project.hex}.{sample.robot_id}", sample.model_dump_json().encode()
        )
    sub = await js.pull_subscribe_bind(durable=durable, stream=stream)
    db = Database(backends.database_url, max_size=2, init=prepare_connection)
    await db.open()
    ingestor = Ingestor(PgTelemetryStore(db), writers=1, retry_delay_s=0.1)
    try:
        first = await sub.fetch(len(samples), timeout=5)
        for msg in first:
            msg.ack = _lost  # type: ignore[method-assign]
        await ingestor.submit(first)
        await ingestor.drain()
        assert await stored_rows(pg, project) == len(samples) * len(METRICS)
        again = Ingestor(PgTelemetryStore(db), writers=1, retry_delay_s=0.1)
        second = await sub.fetch(len(samples), timeout=10)  # after ack_wait: the same batch
        assert sorted(m.metadata.sequence.stream for m in second) == sorted(
            m.metadata.sequence.stream for m in first
        )
        assert {m.metadata.num_delivered for m in second} == {2}
        await again.submit(second)
        await again.drain()

        async def all_acked() -> bool:
            info = await js.consumer_info(stream, durable)
            return bool(info.num_ack_pending == 0 and info.num_pending == 0)

        await wait_until(all_acked, within_s=10, what="the batch acked the second time")
    finally:
        await db.close()
        await js.delete_stream(stream)
    assert await stored_rows(pg, project) == len(samples) * len(METRICS)
    assert await pg.fetchval(
        "SELECT count(DISTINCT (event_id, metric)) FROM telemetry.samples WHERE project_key = $1",
        project,
    ) == len(samples) * len(METRICS)


async def test_every_metric_is_stored_as_it_came_whatever_its_zone_or_value(
    backends: Backends, pg: asyncpg.Connection
) -> None:
    """The rows of a batch hold each sample's ids, metric names, time to the microsecond (a
    +05:30 time and one before 2000 as their instants) and values exactly (negative, the
    smallest and largest doubles, an integer), one row per metric."""
    project, zone = uuid4(), timezone(timedelta(hours=5, minutes=30))
    times = [
        datetime(2026, 3, 1, 10, 0, 0, 123456, zone),
        datetime(1999, 12, 31, 23, 59, 59, 1, UTC),
    ]
    values = {"cpu": -12.5, "x" * 64: 5e-324, "m.e-t_r1c": 1.7976931348623157e308, "n": 42}
    samples = [
        TelemetrySampled.first(project_key=project, robot_id=robot, received_at=at, metrics=values)
        for robot, at in zip(("r" * 64, "robot-1"), times, strict=True)
    ]
    db = Database(backends.database_url, max_size=1, init=prepare_connection)
    await db.open()
    try:
        await PgTelemetryStore(db).ingest(samples)
    finally:
        await db.close()
    stored = await pg.fetch(
        "SELECT project_key, robot_id, metric, received_at, value, event_id"
        " FROM telemetry.samples WHERE project_key = $1",
        project,
    )
    assert sorted(tuple(r) for r in stored) == sorted(metric_rows(samples))


async def _lost() -> None:
    """An ack that never reaches JetStream."""


def _expected_buckets(
    samples: list[TelemetrySampled], metric: str, start: datetime, end: datetime, width: float
) -> list[tuple[datetime, int, float, float, float]]:
    """What the range query must return, computed here independently of the service."""
    step = timedelta(seconds=width)
    groups: dict[datetime, list[float]] = defaultdict(list)
    for s in samples:
        if start <= s.received_at < end:
            groups[start + step * ((s.received_at - start) // step)].append(s.metrics[metric])
    return [(at, len(v), min(v), sum(v) / len(v), max(v)) for at, v in sorted(groups.items())]


async def test_range_query_buckets_are_aligned_on_start_with_exact_aggregates(
    telemetry: Service, nc: NatsClient, pg: asyncpg.Connection
) -> None:
    """count/min/avg/max per bucket of bucket_s aligned on `start`, oldest first, only non-empty
    buckets, end exclusive; other robots and metrics do not leak in."""
    project = uuid4()
    origin = utcnow().replace(microsecond=0) - timedelta(hours=2)
    samples = simulated_samples(project, robots=2, per_robot=400, start=origin, step_s=0.7)
    await publish_samples(nc.jetstream(), samples)
    await all_stored(pg, project, len(samples) * len(METRICS))
    start, end = origin + timedelta(seconds=13), origin + timedelta(seconds=13 + 200)
    query = GetTelemetryRange(
        project_key=project,
        robot_id="robot-001",
        metric="battery",
        start=start,
        end=end,
        bucket_s=30,
    )
    answer = await ask(nc, "range", query, TelemetryRange)
    robot = [s for s in samples if s.robot_id == "robot-001"]
    expected = _expected_buckets(robot, "battery", start, end, 30)
    assert len(expected) == 7
    got = [(b.start, b.count, b.min, b.avg, b.max) for b in answer.buckets]
    assert [g[:3] for g in got] == [e[:3] for e in expected]
    assert [g[3:] for g in got] == [pytest.approx(e[3:]) for e in expected]


async def test_latest_is_the_newest_value_of_each_metric_whatever_the_arrival_order(
    telemetry: Service, nc: NatsClient, pg: asyncpg.Connection
) -> None:
    """Per robot, the newest sample's time and the newest value of every metric it ever sent
    (arriving first, older ones later: an older sample adds its metrics without overwriting
    newer values); samples also count as the robot's last sign of life."""
    project, now = uuid4(), utcnow()
    js = nc.jetstream()

    def sample(robot: str, age_s: float, **metrics: float) -> TelemetrySampled:
        at = now - timedelta(seconds=age_s)
        return TelemetrySampled.first(
            project_key=project, robot_id=robot, received_at=at, metrics=metrics
        )

    newest = [sample("a", 1, speed=1.5), sample("b", 2, battery=40.0, cpu_usage=3.0)]
    older = [sample("a", 60, battery=99.0), sample("b", 30, speed=0.0), sample("b", 90, x=1.0)]
    await publish_samples(js, newest)
    await all_stored(pg, project, 3)
    await publish_samples(js, older)
    await all_stored(pg, project, 6)
    latest = await ask(nc, "latest", GetLatestTelemetry(project_key=project), LatestTelemetry)
    assert [(s.robot_id, s.received_at, s.metrics) for s in latest.samples] == [
        ("a", newest[0].received_at, {"speed": 1.5, "battery": 99.0}),
        ("b", newest[1].received_at, {"battery": 40.0, "cpu_usage": 3.0, "speed": 0.0, "x": 1.0}),
    ]
    one = GetLatestTelemetry(project_key=project, robot_id="b")
    assert [s.robot_id for s in (await ask(nc, "latest", one, LatestTelemetry)).samples] == ["b"]
    robots = await ask(nc, "robots", GetRobots(project_key=project), RobotList)
    assert [(r.robot_id, r.last_seen, r.online) for r in robots.robots] == [
        ("a", newest[0].received_at, False),  # never connected: seen, but not online
        ("b", newest[1].received_at, False),
    ]


async def test_presence_follows_the_current_connection(telemetry: Service, nc: NatsClient) -> None:
    """connected → online; a reconnect elsewhere, then the old socket's close → still online;
    the current socket's close → offline."""
    project, js = uuid4(), nc.jetstream()
    subject = subjects.robot_event(project=project, robot="r1")

    def presence(state: str, connection: str) -> RobotPresence:
        return RobotPresence.first(
            project_key=project, robot_id="r1", state=state, connection=connection, protocol="xparo"
        )

    async def state() -> tuple[bool, bool]:
        await fleet_settled(js)
        [robot] = (await ask(nc, "robots", GetRobots(project_key=project), RobotList)).robots
        return robot.online, robot.connected

    await publish_event(js, subject, presence("connected", "c1"))
    assert await state() == (True, True)
    await publish_event(js, subject, presence("connected", "c2"))
    await publish_event(js, subject, presence("disconnected", "c1"))
    assert await state() == (True, True)
    await publish_event(js, subject, presence("disconnected", "c2"))
    assert await state() == (False, False)


# Two lives of one robot: (event, connection, seconds after start) and whether it is connected
# once every event is in.
_LIVES = {
    "reconnected, then both sockets closed": (
        [
            ("connected", "c1", 0),
            ("connected", "c2", 1),
            ("disconnected", "c1", 2),
            ("disconnected", "c2", 3),
        ],
        False,
    ),
    "closed, then reconnected": (
        [
            ("connected", "c1", 0),
            ("seen", "c1", 1),
            ("disconnected", "c1", 2),
            ("connected", "c2", 3),
        ],
        True,
    ),
}


@pytest.mark.parametrize("life", list(_LIVES))
async def test_presence_is_right_in_whatever_order_the_events_are_stored(
    backends: Backends, life: str
) -> None:
    """The fleet consumer applies one fetch's events concurrently (and replicas share it), so a
    socket's close can be stored before its open: every order must end in the same state."""
    history, connected = _LIVES[life]
    db = Database(backends.database_url, max_size=2, init=prepare_connection)
    await db.open()
    store, project, start = PgTelemetryStore(db), uuid4(), utcnow()
    events = [
        RobotPresence.first(
            occurred_at=start + timedelta(seconds=s),
            project_key=project,
            robot_id=f"r{n}",
            state=state,
            connection=connection,
            protocol="xparo",
        )
        for state, connection, s in history
        for n in range(24)
    ]
    try:
        for n, order in enumerate(itertools.permutations(range(len(history)))):
            for i in order:
                await store.apply(events[i * 24 + n])
        robots = await store.robots(project, now=utcnow(), window_s=60)
    finally:
        await db.close()
    assert len(robots) == 24
    assert {r.robot_id: r.connected for r in robots} == {f"r{n}": connected for n in range(24)}


def _issued(project: UUID, n: int, expires_in_s: float | None = None) -> RobotCommandIssued:
    """The n-th command issued (one second apart, so "newest first" is well defined)."""
    now = utcnow()
    expiry = None if expires_in_s is None else now + timedelta(seconds=expires_in_s)
    return RobotCommandIssued.first(
        occurred_at=now - timedelta(seconds=60 - n),
        project_key=project,
        robot_id="r1",
        command=RemoteCommand(command="dock"),
        issued_by="ops",
        expires_at=expiry,
    )


Progress = RobotCommandDelivered | RobotCommandAcknowledged | RobotCommandExpired


def _then(kind: type[Progress], command: RobotCommandIssued) -> Progress:
    """What a gateway publishes as the command goes on (caused by the issue event)."""
    return kind(
        **command.caused(),
        project_key=command.project_key,
        robot_id=command.robot_id,
        command_id=command.event_id,
    )


async def _publish_in_order(js: JetStreamContext, *events: RobotCommandIssued | Progress) -> None:
    """Commands on robot.command, what happens to them on robot.event, as a gateway would."""
    for event in events:
        where = (
            subjects.robot_command
            if isinstance(event, RobotCommandIssued)
            else subjects.robot_event
        )
        await publish_event(js, where(project=event.project_key, robot=event.robot_id), event)


async def test_command_status_whatever_order_the_events_come_in(
    telemetry: Service, nc: NatsClient
) -> None:
    """issued → queued; + delivered → delivered; delivered before issued → delivered with the
    issue's details (what it asked included); + acknowledged → acknowledged; expiry passed or announced → expired."""
    project = uuid4()
    queued, delivered, reordered, acked = (_issued(project, n) for n in range(4))
    timed_out, expired = _issued(project, 4, expires_in_s=-1), _issued(project, 5, 600)
    await _publish_in_order(
        nc.jetstream(),
        *(queued, delivered, _then(RobotCommandDelivered, delivered)),
        *(_then(RobotCommandDelivered, reordered), reordered),  # delivered before issued
        *(acked, _then(RobotCommandAcknowledged, acked), _then(RobotCommandDelivered, acked)),
        *(timed_out, expired, _then(RobotCommandExpired, expired)),
    )
    await fleet_settled(nc.jetstream())
    answer = await ask(nc, "commands", GetCommands(project_key=project), CommandList)
    issued_newest_first = [expired, timed_out, acked, reordered, delivered, queued]
    assert [c.command_id for c in answer.commands] == [c.event_id for c in issued_newest_first]
    assert [c.status for c in answer.commands] == [
        *("expired", "expired", "acknowledged", "delivered", "delivered", "queued")
    ]
    assert {(c.type, c.issued_by) for c in answer.commands} == {("remote_command", "ops")}
    assert answer.commands[0].data == {"command": "dock", "parameters": {}}  # what it asked
    one = GetCommands(project_key=project, command_id=acked.event_id)
    assert [c.status for c in (await ask(nc, "commands", one, CommandList)).commands] == [
        "acknowledged"
    ]


async def test_retention_deletes_old_samples_in_chunks_on_one_replica_at_a_time(
    backends: Backends, pg: asyncpg.Connection
) -> None:
    """Samples older than the cutoff go (in several bounded deletes), newer ones stay; while
    another replica holds the retention lock, a second purge skips its turn."""
    db = Database(backends.database_url, max_size=2, init=prepare_connection)
    await db.open()
    store, project, now = PgTelemetryStore(db), uuid4(), utcnow()
    old = simulated_samples(project, robots=2, per_robot=10, start=now - timedelta(days=40))
    new = simulated_samples(project, robots=2, per_robot=5, start=now - timedelta(days=1))
    try:
        await store.ingest(old + new)
        await pg.execute(sql.TRY_RETENTION_LOCK)
        assert await store.purge(older_than=now - timedelta(days=30), chunk=7) is None
        await pg.execute(sql.RETENTION_UNLOCK)
        deleted = await store.purge(older_than=now - timedelta(days=30), chunk=7)
    finally:
        await db.close()
    assert deleted is not None and deleted >= len(old) * len(METRICS)
    assert await stored_rows(pg, project) == len(new) * len(METRICS)
