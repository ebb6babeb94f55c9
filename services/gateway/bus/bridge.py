"""The gateway's bridge to NATS: publish turns, ask services, route each session's replies.

Replies are routed to the sockets following their session by reply_routing.py (one wildcard
subscription for the whole replica); pulls that must go on after NATS broke them, pulling.py.
"""

import asyncio
import logging
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any, TypeVar

from faststream.nats import NatsBroker
from pydantic import BaseModel, TypeAdapter

from shared import subjects
from shared.batch_publish import BatchPublish
from shared.broker import failed
from shared.contracts import Event, TurnReceived
from shared.observability.messages import event_headers, publishing

from ..edge.errors import BridgeError as BridgeError  # raised here, caught by every caller
from ..edge.limits import Limits
from ..edge.metrics import TURNS
from .reply_routing import ReplyRouting
from .resume import Resume

log = logging.getLogger(__name__)
T = TypeVar("T")
EXPECTED_STREAM = "Nats-Expected-Stream"  # JetStream refuses the message if another stream takes it


class Bridge(ReplyRouting):
    """Everything the protocol adapters need from NATS, and nothing else."""

    def __init__(
        self,
        broker: NatsBroker,
        *,
        request_timeout_s: float,
        partitions: int,
        stream_replicas: int = 1,
    ) -> None:
        """`partitions`: CHAT_PARTITIONS, the turn partitions every dialog replica agrees on."""
        self._broker = broker
        self._timeout = request_timeout_s
        self._pub: BatchPublish | None = None  # made once per connection (`_publisher`)
        self._pub_of: object = None
        self._pub_made = asyncio.Lock()
        super().__init__()
        self._partitions = partitions
        self.resume = Resume(lambda: broker.connection.jetstream(), replicas=stream_replicas)

    @property
    def broker(self) -> NatsBroker:
        """The connected broker (robot command feeds bind their consumers through it)."""
        return self._broker

    async def publish_turn(self, turn: TurnReceived) -> None:
        """Store the turn durably in CHAT (acknowledged by JetStream) or raise BridgeError."""
        subject = subjects.chat_turn(turn.project_key, turn.session_id, partitions=self._partitions)
        await self.publish(turn, subject, subjects.CHAT_STREAM)
        TURNS.started(turn)  # switchboard_turn_seconds runs until its answer is delivered

    async def publish(
        self, event: Event, subject: str, stream: str, *, ttl_s: int | None = None
    ) -> None:
        """Store `event` durably in `stream` (its event id dedupes re-publishes) or BridgeError.

        `ttl_s` lets the stream drop this message sooner than its own max age. Published by
        BatchPublish over nats-py itself, with the headers FastStream's publish would write
        (its middleware chain, encoder and command objects were a fifth of the gateway's CPU
        per turn; nats-py's JetStream publish, a request with its PubAck decoded, 60-65 µs of
        CPU per message where BatchPublish takes 36-39).
        """
        headers = event_headers(event, ttl_s=ttl_s)
        headers[EXPECTED_STREAM] = stream
        try:
            with publishing(subject, headers):
                publisher = self._pub
                if publisher is None or self._pub_of is not self._broker.connection:
                    publisher = await self._publisher()
                # model_dump_json()'s bytes, without its str round trip and keyword plumbing
                body = event.__pydantic_serializer__.to_json(event)
                message = (subject, body, headers)
                await publisher.publish([message], within_s=self._timeout)
        except Exception as err:
            log.warning("%s %s not accepted by JetStream: %r", subject, event.event_id, err)
            raise BridgeError("the message could not be accepted, try again") from err

    async def _publisher(self) -> BatchPublish:
        """The publisher over the broker's connection, made once per connection."""
        connection = self._broker.connection
        if self._pub is None or self._pub_of is not connection:
            async with self._pub_made:
                if self._pub is None or self._pub_of is not connection:
                    publisher = BatchPublish(connection)
                    await publisher.start()
                    self._pub, self._pub_of = publisher, connection
        return self._pub

    async def ask(
        self,
        subject: str,
        request: BaseModel,
        answer: TypeAdapter[T],
        *,
        timeout_s: float | None = None,
    ) -> T:
        """Request/reply to the service owning `subject`; BridgeError when none answers."""
        try:
            msg = await self._broker.request(request, subject, timeout=timeout_s or self._timeout)
        except Exception as err:
            log.warning("no answer on %s: %r", subject, err)
            raise BridgeError("the service did not answer, try again") from err
        if failed(msg):
            raise BridgeError("the service failed to answer, try again")
        return answer.validate_json(msg.body)


class LimitedBridge(Bridge):
    """The bridge, counting each project's turns before they are published."""

    def __init__(self, broker: NatsBroker, *, limits: Limits, **options: Any) -> None:
        super().__init__(broker, **options)
        self._limits = limits

    async def publish_turn(self, turn: TurnReceived) -> None:
        self._limits.take_turn(turn.project_key)
        await super().publish_turn(turn)


class ConnectionWatch:
    """When the gateway's NATS connection went, and what to run once it is back.

    nats-py reconnects on its own (to another node of a cluster), but core NATS messages
    published while it was away are gone for it: the listeners (Bridge.recover) fetch them
    from the stream. They run as tasks, so nats-py's reconnect is not held up."""

    def __init__(self) -> None:
        self.lost_at: datetime | None = None
        self._listeners: list[Callable[[datetime], Coroutine[Any, Any, Any]]] = []
        self._tasks: set[asyncio.Task[Any]] = set()

    def on_reconnected(self, listener: Callable[[datetime], Coroutine[Any, Any, Any]]) -> None:
        self._listeners.append(listener)

    async def disconnected(self) -> None:
        if self.lost_at is None:  # the first of several tries counts (and a normal close
            self.lost_at = datetime.now(UTC)  # comes here too: said only once it is back)

    async def reconnected(self) -> None:
        lost_at, self.lost_at = self.lost_at or datetime.now(UTC), None
        log.warning(
            "NATS connection back after %.1f s", (datetime.now(UTC) - lost_at).total_seconds()
        )
        for listener in self._listeners:
            task = asyncio.create_task(listener(lost_at))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
