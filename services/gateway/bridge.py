"""The gateway's bridge to NATS: publish turns, ask services, hold reply interest per session."""

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar
from uuid import UUID

from faststream.nats import NatsBroker
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from pydantic import BaseModel, TypeAdapter

from shared import subjects
from shared.contracts import ChatReply, Event, TurnReceived

from .metrics import TURNS, deliver_reply
from .resume import Resume

log = logging.getLogger(__name__)
T = TypeVar("T")
REPLY: TypeAdapter[ChatReply] = TypeAdapter(ChatReply)


class BridgeError(Exception):
    """The broker could not take or answer a message in time."""


class Bridge:
    """Everything the protocol adapters need from NATS, and nothing else."""

    def __init__(
        self, broker: NatsBroker, *, request_timeout_s: float, stream_replicas: int = 1
    ) -> None:
        self._broker = broker
        self._timeout = request_timeout_s
        self.resume = Resume(lambda: broker.connection.jetstream(), replicas=stream_replicas)

    @property
    def broker(self) -> NatsBroker:
        """The connected broker (robot command feeds bind their consumers through it)."""
        return self._broker

    async def publish_turn(self, turn: TurnReceived) -> None:
        """Store the turn durably in CHAT (acknowledged by JetStream) or raise BridgeError."""
        await self.publish(turn, subjects.chat_turn(turn.project_key), subjects.CHAT_STREAM)
        TURNS.started(turn)  # switchboard_turn_seconds runs until its answer is delivered

    async def publish(
        self, event: Event, subject: str, stream: str, *, ttl_s: int | None = None
    ) -> None:
        """Store `event` durably in `stream` (its event id dedupes re-publishes) or BridgeError.

        `ttl_s` lets the stream drop this message sooner than its own max age.
        """
        headers = {"Nats-Msg-Id": str(event.event_id)}
        if ttl_s is not None:
            headers["Nats-TTL"] = str(ttl_s)
        try:
            await self._broker.publish(
                event,
                subject,
                stream=stream,
                headers=headers,
                correlation_id=str(event.correlation_id),
                timeout=self._timeout,
            )
        except Exception as err:
            log.warning("%s %s not accepted by JetStream: %r", subject, event.event_id, err)
            raise BridgeError("the message could not be accepted, try again") from err

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
        return answer.validate_json(msg.body)

    async def follow_replies(
        self, *, project: UUID, session: str, deliver: Callable[[ChatReply], Awaitable[None]]
    ) -> Subscription:
        """Receive the replies of one session (NATS interest routes them to this replica)."""

        async def on_msg(msg: Msg) -> None:
            try:
                reply = REPLY.validate_json(msg.data)
            except ValueError:
                log.error("malformed reply on %s", msg.subject)
                return
            await deliver_reply(reply, deliver, subject=msg.subject, headers=msg.headers)

        subject = subjects.chat_reply(project=project, session=session)
        return await self._broker.connection.subscribe(subject, cb=on_msg)
