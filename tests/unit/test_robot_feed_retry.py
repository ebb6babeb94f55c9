"""A robot's command feed outlives a broken pull (a NATS node lost, a leader election): it
binds again and the next command still reaches the robot. JetStream is faked here; the real
failover is in tests/integration/test_nats_cluster.py and the chaos suite."""

import asyncio
from typing import Any
from uuid import uuid4

import pytest
from nats.errors import TimeoutError as NatsTimeout
from nats.js.errors import ServiceUnavailableError

from services.gateway.bus import pulling, robot_link
from services.gateway.bus.robot_link import RobotLink
from shared.contracts import RemoteCommand, RobotCommandIssued
from shared.retry import Backoff


class FakeMsg:
    def __init__(self, data: bytes) -> None:
        self.data, self.subject, self.acked = data, "robot.command", False

    async def ack_sync(self, timeout: float = 1.0) -> None:  # noqa: ASYNC109 - nats-py's signature
        self.acked = True

    async def nak(self, delay: float | None = None) -> None:  # pragma: no cover - not expected
        raise AssertionError("a delivered command is not handed back")

    async def term(self) -> None:  # pragma: no cover - not expected
        raise AssertionError("a well-formed command is not dropped")


class FakeFeed:
    """Each fetch takes the next outcome: an exception to raise or messages to return."""

    def __init__(self, outcomes: list[Any]) -> None:
        self.outcomes = outcomes

    async def fetch(self, batch: int, timeout: float) -> list[FakeMsg]:  # noqa: ASYNC109
        await asyncio.sleep(0)
        if not self.outcomes:
            raise NatsTimeout
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        return list(outcome)

    async def unsubscribe(self) -> None:
        return None


class FakeJs:
    def __init__(self, outcomes: list[Any]) -> None:
        self.feed, self.binds, self.consumers_added = FakeFeed(outcomes), 0, 0

    async def pull_subscribe_bind(self, durable: str, stream: str) -> FakeFeed:
        self.binds += 1
        return self.feed

    async def add_consumer(self, stream: str, config: Any) -> None:
        self.consumers_added += 1


class FakeBridge:
    async def publish(self, *args: Any, **kwargs: Any) -> None:
        return None


async def test_a_broken_pull_is_bound_again_and_the_next_command_delivered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(pulling, "RETRY", Backoff(first_s=0.01, max_s=0.01))
    project = uuid4()
    command = RobotCommandIssued.first(
        project_key=project, robot_id="r1", command=RemoteCommand(command="dock"), issued_by="ops"
    )
    msg = FakeMsg(command.model_dump_json().encode())
    js = FakeJs([ServiceUnavailableError(), [msg]])
    delivered: list[RobotCommandIssued] = []
    got_it = asyncio.Event()

    async def deliver(issued: RobotCommandIssued) -> bool:
        delivered.append(issued)
        got_it.set()
        return True

    link = RobotLink(
        FakeBridge(),  # type: ignore[arg-type]
        project=project,
        robot="r1",
        connection="c1",
        protocol="xparo",
        deliver=deliver,
        ack_wait_s=30,
        fetch_wait_s=0.01,
    )
    link._open = True
    config = robot_link.consumer_config(project=project, robot="r1", ack_wait_s=30)
    task = asyncio.create_task(link._run(js, config))  # type: ignore[arg-type]
    try:
        await asyncio.wait_for(got_it.wait(), 5)
    finally:
        link._open = False
        await asyncio.wait_for(task, 5)
    assert [c.event_id for c in delivered] == [command.event_id]
    assert msg.acked
    assert js.binds == 2 and js.consumers_added == 1
