"""A dialog on FastStream's TestNatsBroker with in-memory stores (`make()`), and what it
published: the rig of the dialog's component tests."""

from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from faststream.nats import NatsBroker, NatsMessage
from nats.errors import NotJSMessageError
from pydantic import TypeAdapter

from services.dialog.application import DialogApp
from services.dialog.config import DialogSettings
from services.dialog.handlers import register
from services.dialog.sessions.handlers import publish_reply
from services.dialog.turns.loop import TurnBatch
from shared import subjects
from shared.contracts import (
    ChatReply,
    SessionDeleted,
    TurnReceived,
)
from tests.support.memory_dialog import MemoryContent, MemorySessions, MemoryTurns

REPLY: TypeAdapter[ChatReply] = TypeAdapter(ChatReply)


class NoProjects:
    async def get(self, key: UUID) -> None:
        return None


class DeliveredTurn:
    """A turn as the pull loop receives it (no JetStream metadata), and how it was settled."""

    def __init__(self, turn: TurnReceived | bytes) -> None:
        self.subject = "chat.turn.x"
        self.data = turn if isinstance(turn, bytes) else turn.model_dump_json().encode()
        self.headers: dict[str, str] = {}
        self.settled: list[str] = []

    @property
    def metadata(self) -> Any:
        raise NotJSMessageError

    async def ack(self) -> None:
        self.settled.append("ack")

    async def nak(self, delay: float | None = None) -> None:
        self.settled.append("nak")

    async def term(self) -> None:
        self.settled.append("term")


@dataclass
class Rig:
    """A dialog on TestNatsBroker with in-memory stores, and what it published."""

    broker: NatsBroker
    app: DialogApp
    turns: MemoryTurns
    replies: list[Any] = field(default_factory=list)
    deleted: list[SessionDeleted] = field(default_factory=list)
    purged: list[tuple[UUID, str]] = field(default_factory=list)

    async def send(self, *turns: TurnReceived | bytes) -> list[DeliveredTurn]:
        """Deliver `turns` to the dialog's turn path as one batch (on a started test broker,
        which carries the replies to the collectors)."""

        async def publish(replies: list[tuple[Any, dict[str, str]]]) -> None:
            for reply, _ in replies:
                await publish_reply(self.broker, reply)

        delivered = [DeliveredTurn(t) for t in turns]
        await TurnBatch(self.app, DialogSettings(), publish).handle(delivered)  # type: ignore[arg-type]
        return delivered


def make() -> Rig:
    broker = NatsBroker()
    content = MemoryContent()
    turns = MemoryTurns(content)
    app = DialogApp(
        content=content,
        turns=turns,
        sessions=MemorySessions(turns),
        projects=NoProjects(),  # type: ignore[arg-type]
    )
    rig = Rig(broker, app, turns)

    async def purge(project: UUID, session: str) -> None:
        rig.purged.append((project, session))

    register(broker, app, DialogSettings(), purge=purge)

    @broker.subscriber(subjects.CHAT_REPLY_ALL, stream=subjects.CHAT_STREAM)
    async def collect(msg: NatsMessage) -> None:
        rig.replies.append(REPLY.validate_json(msg.body))

    @broker.subscriber(subjects.CHAT_DELETED_ALL, stream=subjects.CHAT_STREAM)
    async def collect_deleted(event: SessionDeleted) -> None:
        rig.deleted.append(event)

    return rig
