"""A robot's socket on this gateway: its command queue, and its presence.

Each robot has one durable JetStream consumer on its own command subject. Whichever gateway holds
the robot's socket binds to it and pulls one command at a time (max_ack_pending=1 keeps them in
order); a command is acked only once it was written to the socket, so a robot that is offline, or
whose gateway died, gets it when it is back, on any replica.
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from uuid import UUID

from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from pydantic import ValidationError

from shared import subjects
from shared.contracts import (
    RobotCommandDelivered,
    RobotCommandExpired,
    RobotCommandIssued,
    RobotPresence,
)
from shared.contracts.base import Event

from .bridge import Bridge
from .pulling import keep_pulling

log = logging.getLogger(__name__)
Deliver = Callable[[RobotCommandIssued], Awaitable[bool]]


def consumer_config(*, project: UUID, robot: str, ack_wait_s: float) -> ConsumerConfig:
    """The robot's command queue: every command, in order, one in flight, kept until acked."""
    return ConsumerConfig(
        durable_name=subjects.robot_command_consumer(project=project, robot=robot),
        filter_subject=subjects.robot_command(project=project, robot=robot),
        deliver_policy=DeliverPolicy.ALL,
        ack_policy=AckPolicy.EXPLICIT,
        max_ack_pending=1,
        ack_wait=ack_wait_s,
        max_deliver=-1,
    )


class RobotLink:
    """Presence events and the command feed of one robot socket."""

    def __init__(
        self,
        bridge: Bridge,
        *,
        project: UUID,
        robot: str,
        connection: str,
        protocol: str,
        deliver: Deliver,
        ack_wait_s: float,
        fetch_wait_s: float,
    ) -> None:
        self._bridge = bridge
        self.project = project
        self.robot = robot
        self.connection = connection
        self._protocol = protocol
        self._deliver = deliver
        self._ack_wait_s = ack_wait_s
        self._fetch_wait_s = fetch_wait_s
        self._open = False
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Announce the robot and start delivering its queued commands."""
        self._open = True
        await self.presence("connected")
        js = self._bridge.broker.connection.jetstream()
        config = consumer_config(
            project=self.project, robot=self.robot, ack_wait_s=self._ack_wait_s
        )
        await js.add_consumer(subjects.ROBOT_STREAM, config)
        self._task = asyncio.create_task(self._run(js, config))

    async def poll(self, *, wait_s: float) -> None:
        """Deliver at most one queued command now (REST polling robots have no socket)."""
        js = self._bridge.broker.connection.jetstream()
        config = consumer_config(
            project=self.project, robot=self.robot, ack_wait_s=self._ack_wait_s
        )
        await js.add_consumer(subjects.ROBOT_STREAM, config)
        assert config.durable_name is not None
        feed = await js.pull_subscribe_bind(config.durable_name, subjects.ROBOT_STREAM)
        self._open = True
        try:
            for msg in await feed.fetch(1, timeout=wait_s):
                await self._handle(msg)
        except NatsTimeout:
            pass
        finally:
            self._open = False
            with contextlib.suppress(Exception):
                await feed.unsubscribe()

    async def stop(self) -> None:
        """Stop taking commands; the pull in flight finishes and hands back what it got."""
        self._open = False
        with contextlib.suppress(Exception):
            await self.presence("disconnected")

    async def presence(self, state: str) -> None:
        """Tell the fleet this robot connected, is alive, or went."""
        event = RobotPresence.first(
            project_key=self.project,
            robot_id=self.robot,
            state=state,
            connection=self.connection,
            protocol=self._protocol,
        )
        await self._publish(event)

    async def acknowledged(self, event: Event) -> None:
        """Record the robot's own acknowledgement of a command."""
        await self._publish(event)

    async def _publish(self, event: Event) -> None:
        subject = subjects.robot_event(project=self.project, robot=self.robot)
        await self._bridge.publish(
            event, subject, subjects.ROBOT_STREAM, ttl_s=subjects.ROBOT_EVENT_TTL_S
        )

    async def _run(self, js: JetStreamContext, config: ConsumerConfig) -> None:
        """Deliver commands while the socket is open. A broken pull (a NATS node lost, a
        consumer leader being elected) is bound again after a backoff: the durable consumer
        kept every unacknowledged command, so the robot goes on where it was."""
        await keep_pulling(
            lambda: self._pull(js, config),
            going=lambda: self._open,
            again=lambda: js.add_consumer(subjects.ROBOT_STREAM, config),
            what=f"command feed of robot {self.project}/{self.robot}",
        )

    async def _pull(self, js: JetStreamContext, config: ConsumerConfig) -> None:
        assert config.durable_name is not None
        feed = await js.pull_subscribe_bind(config.durable_name, subjects.ROBOT_STREAM)
        try:
            while self._open:
                try:
                    msgs = await feed.fetch(1, timeout=self._fetch_wait_s)
                except NatsTimeout:
                    continue
                for msg in msgs:
                    await self._handle(msg)
        finally:
            with contextlib.suppress(Exception):
                await feed.unsubscribe()

    async def _handle(self, msg: Msg) -> None:
        if not self._open:
            await msg.nak()  # the socket went while this pull was in flight: let another take it
            return
        try:
            issued = RobotCommandIssued.model_validate_json(msg.data)
        except ValidationError as err:
            log.error("dropping malformed command on %s: %s", msg.subject, err)
            await msg.term()
            return
        if issued.expires_at is not None and issued.expires_at <= datetime.now(UTC):
            await self._settle(msg, RobotCommandExpired, issued)
            return
        if not await self._deliver(issued):
            await msg.nak()
            self._open = False
            return
        await self._settle(msg, RobotCommandDelivered, issued)

    async def _settle(
        self,
        msg: Msg,
        kind: type[RobotCommandDelivered] | type[RobotCommandExpired],
        issued: RobotCommandIssued,
    ) -> None:
        event = kind(
            project_key=self.project,
            robot_id=self.robot,
            command_id=issued.event_id,
            **issued.caused(),
        )
        await msg.ack_sync()
        with contextlib.suppress(Exception):
            await self._publish(event)
