"""The telemetry service keeps what robots reported and follows REST heartbeats, on real NATS and
Postgres: reports read back newest first with filters, stored once however often they arrive,
purged with the samples; a robot that only sends heartbeats is online until it falls silent."""

from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import pytest
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext

from services.telemetry.store import PgTelemetryStore, prepare_connection
from shared import subjects
from shared.contracts import (
    GetReports,
    GetRobots,
    ReportList,
    ReportState,
    RobotList,
    RobotPresence,
    RobotReported,
    RobotState,
    utcnow,
)
from shared.db import Database
from tests.support.backends import Backends
from tests.support.services import Service
from tests.support.telemetry import consumer_drained, publish_event
from tests.support.waits import wait_until

ONLINE_WINDOW_S = 1.0


@pytest.fixture(scope="module")
def telemetry(backends: Backends, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """One telemetry replica with a one-second online window, so silence shows quickly."""
    env = backends.env(
        TELEMETRY_ONLINE_WINDOW_S=str(ONLINE_WINDOW_S),
    )
    service = Service("telemetry", env, tmp_path_factory.mktemp("telemetry-reports-logs"))
    yield service.start()
    service.stop()


async def fleet_settled(js: JetStreamContext) -> None:
    async def done() -> bool:
        return await consumer_drained(js, subjects.ROBOT_STREAM, subjects.FLEET_DURABLE)

    await wait_until(done, within_s=20, what="every robot event processed")


async def reports(
    nc: NatsClient, query: GetReports, *, on: UUID | None = None
) -> list[ReportState]:
    """The service's answer, asked on project `on`'s subject (the query's own unless given)."""
    subject = subjects.telemetry_query("reports", on or query.project_key)
    reply = await nc.request(subject, query.model_dump_json().encode(), timeout=5)
    return ReportList.model_validate_json(reply.data).reports


async def report_ids(nc: NatsClient, query: GetReports) -> list[UUID]:
    return [r.event_id for r in await reports(nc, query)]


async def robot(nc: NatsClient, project: UUID) -> RobotState:
    query = GetRobots(project_key=project)
    subject = subjects.telemetry_query("robots", project)
    reply = await nc.request(subject, query.model_dump_json().encode(), timeout=5)
    [found] = RobotList.model_validate_json(reply.data).robots
    return found


def _report(
    project: UUID, robot: str, age_s: float, key: str, record: str | None, payload: Any
) -> RobotReported:
    return RobotReported.first(
        occurred_at=utcnow() - timedelta(seconds=age_s),
        project_key=project,
        robot_id=robot,
        key=key,
        record_id=record,
        payload=payload,
    )


def _state(event: RobotReported) -> ReportState:
    """What the reports query must answer for `event`."""
    fields = ("event_id", "robot_id", "key", "record_id", "payload", "occurred_at")
    return ReportState(**{name: getattr(event, name) for name in fields})


async def _publish(js: JetStreamContext, *events: RobotReported | RobotPresence) -> None:
    for event in events:
        subject = subjects.robot_event(project=event.project_key, robot=event.robot_id)
        await publish_event(js, subject, event)


async def test_reports_come_back_newest_first_and_filtered(
    telemetry: Service, nc: NatsClient
) -> None:
    """Every report is kept with its payload as sent; the query answers newest first, narrowed
    by robot, key, record id and limit, and nothing on another project's subject."""
    project, js = uuid4(), nc.jetstream()
    info = _report(project, "a", 50, "ADD_robots_info", None, {"model": "X1", "tags": ["b"]})
    opened = _report(project, "a", 40, "ADD_Logs_history_database", "s-1", {"lines": 0})
    closed = _report(project, "b", 30, "UPDATE_Logs_history_database", "s-1", {"lines": 9})
    task = _report(project, "a", 20, "TASK_RESULT", "t-1", "done")
    other = _report(project, "b", 10, "TASK_RESULT", "t-2", None)
    unknown = _report(project, "a", 0, "SOMETHING_NEW", None, [1, 2.5, True])
    await _publish(js, other, info, closed, unknown, opened, task)  # arrival order is irrelevant
    await fleet_settled(js)

    def ids(*events: RobotReported) -> list[UUID]:
        return [e.event_id for e in events]

    everything, newest_first = GetReports(project_key=project), (unknown, other, task, closed)
    assert await reports(nc, everything) == [_state(e) for e in (*newest_first, opened, info)]
    by_robot = GetReports(project_key=project, robot_id="a")
    assert await report_ids(nc, by_robot) == ids(unknown, task, opened, info)
    by_key = GetReports(project_key=project, key="TASK_RESULT")
    assert await report_ids(nc, by_key) == ids(other, task)
    one_key = GetReports(project_key=project, robot_id="b", key="TASK_RESULT")
    assert await report_ids(nc, one_key) == ids(other)
    session = GetReports(project_key=project, record_id="s-1")
    assert await report_ids(nc, session) == ids(closed, opened)
    assert await report_ids(nc, GetReports(project_key=project, limit=2)) == ids(unknown, other)
    assert await reports(nc, everything, on=uuid4()) == []


async def test_a_report_is_stored_once_however_often_it_arrives(
    telemetry: Service, nc: NatsClient, pg: asyncpg.Connection
) -> None:
    """The same report published again under new message ids (which the stream cannot dedupe)
    is stored once; a payload JSONB cannot hold is terminated without holding up the next."""
    project, js = uuid4(), nc.jetstream()
    task = _report(project, "a", 3, "TASK_RESULT", "t-1", {"ok": True})
    unstorable = _report(project, "a", 2, "TASK_RESULT", "t-2", {"log": "a\x00b"})
    after = _report(project, "a", 1, "COMMAND_RESULT", "c-1", "ok")
    subject = subjects.robot_event(project=project, robot="a")
    await publish_event(js, subject, task)
    for _ in range(2):
        await js.publish(
            subject, task.model_dump_json().encode(), headers={"Nats-Msg-Id": str(uuid4())}
        )
    await _publish(js, unstorable, after)
    await fleet_settled(js)
    assert await reports(nc, GetReports(project_key=project)) == [_state(after), _state(task)]
    stored = await pg.fetchval(
        "SELECT count(*) FROM telemetry.reports WHERE project_key = $1", project
    )
    assert stored == 2


def _presence(project: UUID, state: str, connection: str) -> RobotPresence:
    return RobotPresence.first(
        project_key=project, robot_id="r1", state=state, connection=connection, protocol="xparo"
    )


async def _goes_offline(nc: NatsClient, project: UUID) -> RobotState:
    """Poll (bounded) until the robot is offline, and return it then."""
    seen: list[RobotState] = []

    async def offline() -> bool:
        seen.append(await robot(nc, project))
        return not seen[-1].online

    await wait_until(offline, within_s=10, what="the silent robot to go offline", every=0.1)
    return seen[-1]


async def test_a_robot_sending_only_rest_heartbeats_is_online_until_it_falls_silent(
    telemetry: Service, nc: NatsClient
) -> None:
    """A REST heartbeat marks a robot never seen before connected and online, a later one moves
    last_seen forward; once silent for the online window the robot is offline."""
    project, js = uuid4(), nc.jetstream()
    first = _presence(project, "heartbeat", "rest")
    await _publish(js, first)
    await fleet_settled(js)
    assert (await robot(nc, project)).online
    second = _presence(project, "heartbeat", "rest")
    await _publish(js, second)
    await fleet_settled(js)
    now = await robot(nc, project)
    assert (now.online, now.connected, now.last_seen) == (True, True, second.occurred_at)
    silent = await _goes_offline(nc, project)
    assert utcnow() - second.occurred_at >= timedelta(seconds=ONLINE_WINDOW_S)
    assert silent.last_seen == second.occurred_at


async def test_a_heartbeat_takes_over_from_a_socket_that_then_closes(
    telemetry: Service, nc: NatsClient
) -> None:
    """A socket connects, a REST heartbeat comes, then the socket closes: the heartbeat's
    connection is the current one, so the robot stays online until the window passes."""
    project, js = uuid4(), nc.jetstream()
    await _publish(js, _presence(project, "connected", "c1"))
    heartbeat = _presence(project, "heartbeat", "rest")
    await _publish(js, heartbeat, _presence(project, "disconnected", "c1"))
    await fleet_settled(js)
    assert (await robot(nc, project)).online
    await _goes_offline(nc, project)
    assert utcnow() - heartbeat.occurred_at >= timedelta(seconds=ONLINE_WINDOW_S)


async def test_retention_deletes_old_reports_too(
    backends: Backends, pg: asyncpg.Connection
) -> None:
    """Reports older than the cutoff go with the samples (in bounded chunks); newer ones stay."""
    db = Database(backends.database_url, max_size=2, init=prepare_connection)
    await db.open()
    store, project = PgTelemetryStore(db), uuid4()
    days = timedelta(days=1).total_seconds()
    old = [_report(project, "a", 40 * days + n, "TASK_RESULT", None, n) for n in range(5)]
    new = _report(project, "a", days, "TASK_RESULT", None, "kept")
    try:
        for event in [*old, new]:
            await store.apply(event)
        deleted = await store.purge(older_than=utcnow() - timedelta(days=30), chunk=2)
        left = await store.reports(GetReports(project_key=project))
    finally:
        await db.close()
    assert deleted is not None and deleted >= len(old)
    assert [r.payload for r in left] == ["kept"]
