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
from shared.contracts import TurnAnswered, TurnReceived

log = logging.getLogger(__name__)
T = TypeVar("T")


class BridgeError(Exception):
    """The broker could not take or answer a message in time."""


class Bridge:
    """Everything the protocol adapters need from NATS, and nothing else."""

    def __init__(self, broker: NatsBroker, *, request_timeout_s: float) -> None:
        self._broker = broker
        self._timeout = request_timeout_s

    async def publish_turn(self, turn: TurnReceived) -> None:
        """Store the turn durably in CHAT (acknowledged by JetStream) or raise BridgeError."""
        try:
            await self._broker.publish(
                turn,
                subjects.chat_turn(turn.project_key),
                stream=subjects.CHAT_STREAM,
                headers={"Nats-Msg-Id": str(turn.event_id)},
                correlation_id=str(turn.correlation_id),
                timeout=self._timeout,
            )
        except Exception as err:
            log.warning("turn %s not accepted by JetStream: %r", turn.event_id, err)
            raise BridgeError("the message could not be accepted, try again") from err

    async def ask(self, subject: str, request: BaseModel, answer: TypeAdapter[T]) -> T:
        """Request/reply to the service owning `subject`; BridgeError when none answers."""
        try:
            msg = await self._broker.request(request, subject, timeout=self._timeout)
        except Exception as err:
            log.warning("no answer on %s: %r", subject, err)
            raise BridgeError("the service did not answer, try again") from err
        return answer.validate_json(msg.body)

    async def follow_replies(
        self, *, project: UUID, session: str, deliver: Callable[[TurnAnswered], Awaitable[None]]
    ) -> Subscription:
        """Receive the replies of one session (NATS interest routes them to this replica)."""

        async def on_msg(msg: Msg) -> None:
            try:
                reply = TurnAnswered.model_validate_json(msg.data)
            except ValueError:
                log.error("malformed reply on %s", msg.subject)
                return
            await deliver(reply)

        subject = subjects.chat_reply(project=project, session=session)
        return await self._broker.connection.subscribe(subject, cb=on_msg)
