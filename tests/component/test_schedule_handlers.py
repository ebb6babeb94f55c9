"""Schedule handlers on FastStream's TestNatsBroker and the firing loop, with an in-memory store."""

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from faststream.nats import NatsBroker, TestNatsBroker

from services.schedule.application import ScheduleApp
from services.schedule.config import ScheduleSettings
from services.schedule.domain import DueEntry, fire_id
from services.schedule.firing import Firer
from services.schedule.handlers import register
from shared import subjects
from shared.contracts import (
    DeleteSchedule,
    GetSchedule,
    RemoteCommand,
    RobotCommandIssued,
    ScheduleControl,
    SetSchedule,
)
from tests.support.memory_schedule import MemorySchedules
from tests.support.waits import wait_until

T0 = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
TOMORROW = {"date": "2026-07-02", "time": "09:00"}


def _make() -> tuple[NatsBroker, MemorySchedules, list[RobotCommandIssued]]:
    broker, store, pushed = NatsBroker(), MemorySchedules(), []

    async def publish(event: RobotCommandIssued) -> None:
        pushed.append(event)

    register(broker, ScheduleApp(store, publish, clock=lambda: T0))
    return broker, store, pushed


def _set(project: UUID, entries: dict[str, Any]) -> SetSchedule:
    return SetSchedule(project_key=project, robot_id="r1", entries=entries, correlation_id=uuid4())


async def test_a_set_answers_the_whole_schedule_and_pushes_it_to_the_robot() -> None:
    """set answers {"kind": "schedule", ...} with every entry of the robot and pushes the same
    schedule, correlated with the request, as a schedule_control command."""
    broker, _, pushed = _make()
    project = uuid4()
    change = _set(project, {"wave": TOMORROW, "dock": {"cron": "0 9 * * *"}})
    async with TestNatsBroker(broker) as test:
        reply = await test.request(change, subjects.schedule_request("set", project))
        read = await test.request(
            GetSchedule(project_key=project, robot_id="r1"),
            subjects.schedule_request("get", project),
        )
    expected = {"dock": {"cron": "0 9 * * *"}, "wave": TOMORROW}
    assert await reply.decode() == {
        "kind": "schedule",
        "robot_id": "r1",
        "schedule_control": expected,
    }
    assert await read.decode() == await reply.decode()
    [push] = pushed
    assert (push.project_key, push.robot_id, push.correlation_id) == (
        project,
        "r1",
        change.correlation_id,
    )
    assert push.command == ScheduleControl(schedule=expected)


async def test_refused_malformed_and_misaddressed_requests_change_and_push_nothing() -> None:
    """A bad entry, a body that is no request, and a body naming another project than its
    subject are each answered with a rejection; nothing is stored or pushed."""
    broker, store, pushed = _make()
    project, other = uuid4(), uuid4()
    async with TestNatsBroker(broker) as test:
        bad = await test.request(
            _set(project, {"x": {"date": "2026-02-30", "time": "09:00"}}),
            subjects.schedule_request("set", project),
        )
        garbage = await test.request(b"{not json", subjects.schedule_request("set", project))
        foreign = await test.request(
            DeleteSchedule(project_key=project, robot_id="r1", names=None, correlation_id=uuid4()),
            subjects.schedule_request("delete", other),
        )
    answers = [await m.decode() for m in (bad, garbage, foreign)]
    assert [a["kind"] for a in answers] == ["rejected"] * 3  # type: ignore[index]
    assert [[p["entry"] for p in a["problems"]] for a in answers] == [  # type: ignore[index]
        ["x"],
        ["*"],
        ["project_key"],
    ]
    assert "malformed SetSchedule" in answers[1]["problems"][0]["message"]  # type: ignore[index]
    assert not store.robots.get((project, "r1"))
    assert pushed == []


def _due(name: str = "wave", due: datetime = T0) -> DueEntry:
    return DueEntry(uuid4(), uuid4(), "r1", name, None, "UTC", due)


def _firer(store: MemorySchedules, sent: list[RobotCommandIssued], **settings: Any) -> Firer:
    async def publish(event: RobotCommandIssued) -> None:
        sent.append(event)

    return Firer(store, publish, ScheduleSettings(**settings), clock=lambda: T0)


async def test_a_firing_that_never_committed_is_repeated_with_the_same_event_id() -> None:
    """A replica that published and died before its commit leaves the entry due; the next tick
    publishes the same event id (the stream's dedupe key) and then settles it."""
    store, sent = MemorySchedules(), list[RobotCommandIssued]()
    entry = _due()
    store.due_rows = [entry]
    firer = _firer(store, sent)
    store.crash_before_commit = True
    with pytest.raises(ConnectionResetError):
        await firer.tick()
    store.crash_before_commit = False
    assert await firer.tick() == 1
    assert [e.event_id for e in sent] == [fire_id(entry.id, T0)] * 2
    assert sent[0].command == RemoteCommand(
        command="wave", parameters={"scheduled_for": T0.isoformat(), "entry": "wave"}
    )
    assert [(entry_id, f.next_due, at) for entry_id, f, at in store.settled] == [
        (entry.id, None, T0)
    ]
    assert await firer.tick() == 0


async def test_a_tick_drains_every_batch_and_skips_what_is_too_late() -> None:
    """Five due entries in batches of two all settle in one tick; the one overdue beyond grace
    is settled without a command and without a firing time."""
    store, sent = MemorySchedules(), list[RobotCommandIssued]()
    late = _due("late", T0 - timedelta(seconds=301))
    store.due_rows = [late] + [_due(f"e{n}") for n in range(4)]
    assert await _firer(store, sent, batch=2, grace_s=300).tick() == 4
    assert sorted(e.command.command for e in sent if isinstance(e.command, RemoteCommand)) == [
        "e0",
        "e1",
        "e2",
        "e3",
    ]
    assert [(f.fire_for, at) for i, f, at in store.settled if i == late.id] == [(None, None)]
    assert store.due_rows == []


async def test_the_loop_keeps_going_through_failures_and_stops_promptly() -> None:
    """A failing tick is logged and retried on the next; stop() ends the loop at once even
    with a long tick interval."""
    store, sent = MemorySchedules(), list[RobotCommandIssued]()
    store.due_rows = [_due()]
    store.crash_before_commit = True
    firer = _firer(store, sent, tick_s=0.01)
    await firer.start()

    async def retried() -> bool:
        return len(sent) >= 3

    async def settled() -> bool:
        return not store.due_rows

    await wait_until(retried, within_s=5, what="three failed attempts")
    store.crash_before_commit = False
    await wait_until(settled, within_s=5, what="the entry settled once the store is back")
    slow = _firer(MemorySchedules(), [], tick_s=3600)
    await slow.start()
    async with asyncio.timeout(2):
        await firer.stop()
        await slow.stop()
    assert len({e.event_id for e in sent}) == 1


async def test_an_entry_that_cannot_be_fired_is_switched_off_without_blocking_others() -> None:
    """A row no code can fire (here a zone the database no longer knows) is settled as done
    instead of failing every tick; the entries due after it still fire."""
    store, sent = MemorySchedules(), list[RobotCommandIssued]()
    broken = DueEntry(uuid4(), uuid4(), "r1", "odd", "* * * * *", "Gone/Zone", T0)
    store.due_rows = [broken, _due("fine")]
    assert await _firer(store, sent, batch=1).tick() == 1
    assert [e.command for e in sent] == [
        RemoteCommand(command="fine", parameters={"scheduled_for": T0.isoformat(), "entry": "fine"})
    ]
    assert [(f.fire_for, f.next_due) for i, f, _ in store.settled if i == broken.id] == [
        (None, None)
    ]
