"""The schedule service as two processes on real NATS and Postgres: schedules changed by
request/reply and pushed to the robot, due entries fired exactly once across replicas and
outages, refusals that change nothing, and no request reaching another project."""

import re
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import pytest
from nats.aio.client import Client as NatsClient
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext
from pydantic import TypeAdapter

from services.schedule.domain import fire_id
from shared import subjects
from shared.contracts import (
    DeleteSchedule,
    GetSchedule,
    RemoteCommand,
    RobotCommandIssued,
    Schedule,
    ScheduleControl,
    ScheduleRejected,
    ScheduleReply,
    SetSchedule,
    utcnow,
)
from tests.support.backends import Backends
from tests.support.services import Service
from tests.support.waits import wait_until

GRACE_S = 60  # wide: a replica's restart on a loaded machine must fit in it
REPLY = TypeAdapter[Schedule | ScheduleRejected](ScheduleReply)
Request = GetSchedule | SetSchedule | DeleteSchedule


@dataclass
class Replicas:
    """Schedule replicas sharing one database; a test may kill them, the next finds them up."""

    services: list["LoggedService"]

    def ensure_running(self) -> None:
        for service in self.services:
            if service.process is None or service.process.poll() is not None:
                service.start()

    @staticmethod
    def fired_lines(service: "LoggedService", project: UUID) -> list[str]:
        """The entries of `project` that `service` logged firing, once per log line."""
        pattern = re.compile(rf"fired '([^']+)' of {project}/")
        return pattern.findall(service.log_text())


class LoggedService(Service):
    """A Service whose whole log can be read (the tail is not enough to count lines)."""

    def log_text(self) -> str:
        return (self.log_dir / f"{self.name}.log").read_text(errors="replace")


@pytest.fixture(scope="module")
def replicas(backends: Backends, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replicas]:
    """Two replicas with a quick tick and small batches (so they contend for rows)."""
    env = backends.env(
        SCHEDULE_TICK_S="0.2",
        SCHEDULE_BATCH="2",
        SCHEDULE_GRACE_S=str(GRACE_S),
    )
    logs = tmp_path_factory.mktemp("schedule-logs")
    running = Replicas([LoggedService("schedule", env, logs, name=f"schedule-{n}") for n in (1, 2)])
    running.ensure_running()
    yield running
    for service in running.services:
        service.stop()


@pytest.fixture
def schedule(replicas: Replicas) -> Replicas:
    """Both replicas, running."""
    replicas.ensure_running()
    return replicas


async def ask(
    nc: NatsClient, kind: str, request: Request, *, subject_project: UUID | None = None
) -> Schedule | ScheduleRejected:
    """Ask the way the gateway does, on the project's subject (or on another project's)."""
    subject = subjects.schedule_request(kind, subject_project or request.project_key)
    reply = await nc.request(subject, request.model_dump_json().encode(), timeout=5)
    return REPLY.validate_json(reply.data)


def set_request(project: UUID, robot: str, entries: dict[str, Any]) -> SetSchedule:
    return SetSchedule(project_key=project, robot_id=robot, entries=entries, correlation_id=uuid4())


def delete_request(project: UUID, robot: str, names: list[str] | None) -> DeleteSchedule:
    return DeleteSchedule(project_key=project, robot_id=robot, names=names, correlation_id=uuid4())


async def command_queue(js: JetStreamContext, project: UUID, robot: str) -> Subscription:
    """Everything queued for one robot in ROBOT, from the start (an ordered consumer)."""
    subject = subjects.robot_command(project=project, robot=robot)
    return await js.subscribe(subject, stream=subjects.ROBOT_STREAM, ordered_consumer=True)


async def next_command(queue: Subscription) -> RobotCommandIssued:
    msg = await queue.next_msg(timeout=10)
    return RobotCommandIssued.model_validate_json(msg.data)


async def queued(js: JetStreamContext, project: UUID, robot: str) -> int:
    """How many commands the stream holds for one robot."""
    subject = subjects.robot_command(project=project, robot=robot)
    info = await js.stream_info(subjects.ROBOT_STREAM, subjects_filter=subject)
    return (info.state.subjects or {}).get(subject, 0)


def at(moment: datetime) -> dict[str, str]:
    """A one-shot entry for `moment` (UTC, to the second)."""
    return {"date": moment.strftime("%Y-%m-%d"), "time": moment.strftime("%H:%M:%S")}


async def settled(pg: asyncpg.Connection, project: UUID, names: list[str]) -> bool:
    """True when these one-shot entries are done (fired or skipped, and committed)."""
    count = await pg.fetchval(
        "SELECT count(*) FROM schedule.entries"
        " WHERE project_key = $1 AND name = ANY($2) AND next_due_at IS NULL",
        project,
        names,
    )
    return bool(count == len(names))


async def test_changes_are_answered_with_the_schedule_and_pushed_to_the_robot(
    schedule: Replicas, nc: NatsClient
) -> None:
    """set, get and delete answer the robot's whole schedule in XPARO's shape; after each
    change the robot's command queue gets the whole new schedule as schedule_control."""
    project, js = uuid4(), nc.jetstream()
    queue = await command_queue(js, project, "r1")
    tomorrow = (utcnow() + timedelta(days=1)).strftime("%Y-%m-%d")
    wave = {"date": tomorrow, "time": "09:00"}
    dock = {"cron": "0 9 * * 1-5", "timezone": "Europe/Berlin"}
    change = set_request(project, "r1", {"wave": wave, "dock": dock})
    expected = {"wave": wave, "dock": dock}
    assert await ask(nc, "set", change) == Schedule(robot_id="r1", schedule_control=expected)
    pushed = await next_command(queue)
    assert pushed.command == ScheduleControl(schedule=expected)
    assert (pushed.issued_by, pushed.correlation_id) == ("schedule", change.correlation_id)
    read = await ask(nc, "get", GetSchedule(project_key=project, robot_id="r1"))
    assert read == Schedule(robot_id="r1", schedule_control=expected)

    later = {**wave, "time": "10:30", "timezone": "Asia/Kolkata"}
    await ask(nc, "set", set_request(project, "r1", {"wave": later}))
    assert (await next_command(queue)).command == ScheduleControl(
        schedule={"dock": dock, "wave": later}
    )
    removed = await ask(nc, "delete", delete_request(project, "r1", ["wave", "never-was"]))
    assert removed == Schedule(robot_id="r1", schedule_control={"dock": dock})
    assert (await next_command(queue)).command == ScheduleControl(schedule={"dock": dock})
    emptied = await ask(nc, "delete", delete_request(project, "r1", None))
    assert emptied == Schedule(robot_id="r1", schedule_control={})
    assert (await next_command(queue)).command == ScheduleControl(schedule={})
    other = await ask(nc, "get", GetSchedule(project_key=project, robot_id="r2"))
    assert other == Schedule(robot_id="r2", schedule_control={})


async def test_two_replicas_fire_each_due_entry_exactly_once(
    schedule: Replicas, nc: NatsClient, pg: asyncpg.Connection
) -> None:
    """200 entries of four robots due in about three seconds, two replicas claiming two rows at
    a time: each robot's queue gets one remote_command per entry, with the entry's fire id, and
    exactly one replica published each."""
    project, js = uuid4(), nc.jetstream()
    due = utcnow().replace(microsecond=0) + timedelta(seconds=3)
    names = {f"r{n}": [f"r{n}-{e:02d}" for e in range(50)] for n in range(4)}
    for robot, entries in names.items():
        change = set_request(project, robot, {name: at(due) for name in entries})
        assert isinstance(await ask(nc, "set", change), Schedule)
    every = [name for entries in names.values() for name in entries]

    async def all_settled() -> bool:
        return await settled(pg, project, every)

    await wait_until(all_settled, within_s=15, what="every entry fired and committed")
    ids = dict(
        await pg.fetch("SELECT name, id FROM schedule.entries WHERE project_key = $1", project)
    )
    for robot, entries in names.items():
        queue = await command_queue(js, project, robot)
        assert isinstance((await next_command(queue)).command, ScheduleControl)
        fired = [await next_command(queue) for _ in entries]
        assert sorted((str(f.event_id), f.command.model_dump_json()) for f in fired) == sorted(
            (str(fire_id(ids[name], due)), _remote(name, due).model_dump_json()) for name in entries
        )
        assert all(f.expires_at == due + timedelta(seconds=GRACE_S) for f in fired)
        assert await queued(js, project, robot) == 1 + len(entries)  # the push, the firings
    per_replica = [schedule.fired_lines(s, project) for s in schedule.services]
    # None published twice. Both replicas usually take part, but one may drain every batch in
    # a single tick on a busy machine, so that is not asserted (it failed CI-like runs).
    assert sorted(per_replica[0] + per_replica[1]) == sorted(every)


def _remote(name: str, due: datetime) -> RemoteCommand:
    return RemoteCommand(command=name, parameters={"scheduled_for": due.isoformat(), "entry": name})


async def test_a_replica_back_from_an_outage_fires_what_it_missed_within_grace_only(
    schedule: Replicas, nc: NatsClient, pg: asyncpg.Connection
) -> None:
    """Both replicas SIGKILLed, and two entries fall due while they are down; one replica
    comes back: it fires the entry due shortly before its return once, and skips the one
    overdue by more than the grace window. (The outage's length is written into the entries'
    due times rather than waited for: a restart on a loaded machine takes seconds of its own.)"""
    project, js = uuid4(), nc.jetstream()
    later = utcnow().replace(microsecond=0) + timedelta(days=1)
    entries = {"stale": at(later), "missed": at(later + timedelta(seconds=1))}
    assert isinstance(await ask(nc, "set", set_request(project, "r1", entries)), Schedule)
    for service in schedule.services:
        service.stop(signal.SIGKILL)
    missed_due = utcnow().replace(microsecond=0)
    stale_due = missed_due - timedelta(seconds=2 * GRACE_S)
    for name, due in (("stale", stale_due), ("missed", missed_due)):
        await pg.execute(
            "UPDATE schedule.entries SET next_due_at = $3 WHERE project_key = $1 AND name = $2",
            project,
            name,
            due,
        )
    schedule.services[0].start()

    async def both_settled() -> bool:
        return await settled(pg, project, ["stale", "missed"])

    await wait_until(both_settled, within_s=30, what="both entries settled after the restart")
    queue = await command_queue(js, project, "r1")
    assert isinstance((await next_command(queue)).command, ScheduleControl)
    fired = await next_command(queue)
    assert fired.command == RemoteCommand(
        command="missed",
        parameters={"scheduled_for": missed_due.isoformat(), "entry": "missed"},
    )
    assert await queued(js, project, "r1") == 2
    rows = dict(
        await pg.fetch(
            "SELECT name, last_fired_at IS NOT NULL FROM schedule.entries WHERE project_key = $1",
            project,
        )
    )
    assert rows == {"missed": True, "stale": False}
    assert "skipped 'stale' of" in schedule.services[0].log_text()


async def test_a_refused_change_changes_nothing_and_pushes_nothing(
    schedule: Replicas, nc: NatsClient
) -> None:
    """A set with one impossible entry among good ones is refused naming that entry; the stored
    schedule and the robot's queue stay as they were."""
    project, js = uuid4(), nc.jetstream()
    tomorrow = (utcnow() + timedelta(days=1)).strftime("%Y-%m-%d")
    first = {"wave": {"date": tomorrow, "time": "09:00"}}
    await ask(nc, "set", set_request(project, "r1", first))
    bad = {
        "wave": {"date": tomorrow, "time": "11:00"},
        "feb": {"date": "2027-02-30", "time": "09:00"},
        "../etc": {"cron": "0 9 * * *"},
    }
    refused = await ask(nc, "set", set_request(project, "r1", bad))
    assert isinstance(refused, ScheduleRejected)
    assert [p.entry for p in refused.problems] == ["feb", "../etc"]
    assert "'2027-02-30' is not a date" in refused.problems[0].message
    read = await ask(nc, "get", GetSchedule(project_key=project, robot_id="r1"))
    assert read == Schedule(robot_id="r1", schedule_control=first)
    assert await queued(js, project, "r1") == 1  # only the first change was pushed


async def test_a_body_naming_another_project_than_its_subject_gets_nothing(
    schedule: Replicas, nc: NatsClient
) -> None:
    """Requests on project B's subjects that name project A in their body neither read nor
    change A's schedule, nor push anything to A's robot."""
    mine, theirs, js = uuid4(), uuid4(), nc.jetstream()
    tomorrow = (utcnow() + timedelta(days=1)).strftime("%Y-%m-%d")
    kept = {"wave": {"date": tomorrow, "time": "09:00"}}
    await ask(nc, "set", set_request(theirs, "r1", kept))
    requests: list[tuple[str, Request]] = [
        ("get", GetSchedule(project_key=theirs, robot_id="r1")),
        ("set", set_request(theirs, "r1", {"evil": {"cron": "* * * * *"}})),
        ("delete", delete_request(theirs, "r1", None)),
    ]
    for kind, request in requests:
        answer = await ask(nc, kind, request, subject_project=mine)
        assert isinstance(answer, ScheduleRejected), kind
        assert [p.entry for p in answer.problems] == ["project_key"]
    read = await ask(nc, "get", GetSchedule(project_key=theirs, robot_id="r1"))
    assert read == Schedule(robot_id="r1", schedule_control=kept)
    assert await queued(js, theirs, "r1") == 1


def test_sigterm_stops_a_replica_cleanly_and_promptly(schedule: Replicas) -> None:
    """SIGTERM ends a replica within seconds after a complete shutdown: the firing loop stops
    with the app instead of holding the process open. (uvicorn re-raises the signal once it
    has shut down, so the status is the signal's.)"""
    replica = schedule.services[1]
    assert replica.process is not None
    started = time.monotonic()
    replica.stop(signal.SIGTERM)
    assert replica.process.returncode in (0, -signal.SIGTERM)
    assert time.monotonic() - started < 5
    assert "Application shutdown complete" in replica.log_text()


async def test_when_one_replica_dies_the_other_fires_its_entries(
    schedule: Replicas, nc: NatsClient, pg: asyncpg.Connection
) -> None:
    """One of two replicas is SIGKILLed just before an entry falls due: the survivor fires it,
    once."""
    project, js = uuid4(), nc.jetstream()
    due = utcnow().replace(microsecond=0) + timedelta(seconds=2)
    change = set_request(project, "robot-1", {"deliver_meds": at(due)})
    assert isinstance(await ask(nc, "set", change), Schedule)
    victim, survivor = schedule.services
    victim.stop(signal.SIGKILL)

    async def done() -> bool:
        return await settled(pg, project, ["deliver_meds"])

    await wait_until(done, within_s=15, what="the surviving replica fired the entry")
    assert schedule.fired_lines(survivor, project) == ["deliver_meds"]
    assert await queued(js, project, "robot-1") == 2  # the schedule push and one firing
