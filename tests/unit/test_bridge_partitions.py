"""The gateway's bridge numbers turn partitions as its own settings say."""

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, cast
from uuid import uuid4

import pytest
from faststream.nats import NatsBroker

from services.gateway.bus.bridge import Bridge
from shared import subjects
from shared.contracts import TurnReceived


class Ack:
    """JetStream's answer to a stored message, on the reply subject it was published with."""

    def __init__(self, subject: str) -> None:
        self.subject = subject
        self.data = b'{"stream":"CHAT","seq":1}'
        self.headers = None


class RecordingConnection:
    """Takes every publish, keeps its subject and acks it as JetStream would."""

    def __init__(self) -> None:
        self.subjects: list[str] = []
        self._acks: Callable[[Ack], Awaitable[None]] | None = None

    def new_inbox(self) -> str:
        return "_INBOX.test"

    async def subscribe(self, subject: str, cb: Callable[[Ack], Awaitable[None]], **_: Any) -> Any:
        self._acks = cb
        return self

    async def publish(self, subject: str, payload: bytes = b"", **options: Any) -> None:
        self.subjects.append(subject)
        assert self._acks is not None
        asyncio.get_running_loop().call_soon(
            lambda: asyncio.ensure_future(self._acks(Ack(options["reply"])))  # type: ignore[misc]
        )


class RecordingBroker:
    """A broker whose connection records what the bridge publishes."""

    def __init__(self) -> None:
        self.connection = RecordingConnection()

    @property
    def subjects(self) -> list[str]:
        return self.connection.subjects


def test_turns_go_to_the_partitions_the_gateway_was_configured_with(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A gateway built with 3 partitions publishes on those, not on the environment's count
    (which only the gateway's settings read)."""
    monkeypatch.setenv("CHAT_PARTITIONS", "8")
    session = next(
        f"s{n}"
        for n in range(100)
        if subjects.partition_of(f"s{n}", 3) != subjects.partition_of(f"s{n}", 8)
    )
    broker = RecordingBroker()
    bridge = Bridge(cast(NatsBroker, broker), request_timeout_s=1, partitions=3)
    turn = TurnReceived.first(
        project_key=uuid4(),
        session_id=session,
        protocol="xparo",
        text="hi",
        channel="c",
        seq=1,
    )
    asyncio.run(bridge.publish_turn(turn))
    assert broker.subjects == [subjects.chat_turn(turn.project_key, session, partitions=3)]
