"""Thin subscribers: decode → application → publish."""

import logging

from faststream import AckPolicy
from faststream.exceptions import NackMessage, RejectMessage
from faststream.nats import JStream, NatsBroker, NatsMessage, PullSub
from nats.errors import NotJSMessageError
from nats.js.api import ConsumerConfig
from pydantic import ValidationError

from shared import subjects
from shared.contracts import (
    BotContent,
    BotContentRejected,
    BotContentSaved,
    ConfigChanged,
    GetBotContent,
    SaveBotContent,
    TurnAnswered,
    TurnReceived,
)

from .application import DialogApp
from .config import DialogSettings

log = logging.getLogger(__name__)
MAX_DELIVER = 100


async def publish_reply(broker: NatsBroker, reply: TurnAnswered) -> None:
    """Publish a reply into CHAT; its event id makes a re-publish a no-op in the stream."""
    await broker.publish(
        reply,
        subjects.chat_reply(project=reply.project_key, session=reply.session_id),
        stream=subjects.CHAT_STREAM,
        headers={"Nats-Msg-Id": str(reply.event_id)},
        correlation_id=str(reply.correlation_id),
    )


def _deliveries(msg: NatsMessage) -> int:
    """How often JetStream delivered this message (1 when it carries no JetStream metadata)."""
    try:
        return int(msg.raw_message.metadata.num_delivered or 1)
    except NotJSMessageError:
        return 1


def register(broker: NatsBroker, app: DialogApp, settings: DialogSettings) -> None:
    """Attach the dialog subscribers to `broker`."""
    chat = JStream(name=subjects.CHAT_STREAM, declare=False)

    @broker.subscriber(
        subjects.CHAT_TURN_ALL,
        stream=chat,
        durable=settings.durable,
        pull_sub=PullSub(batch_size=settings.batch_size, timeout=1.0),
        config=ConsumerConfig(max_deliver=MAX_DELIVER, ack_wait=30.0),
        max_workers=settings.max_workers,
        ack_policy=AckPolicy.NACK_ON_ERROR,
        description="Answer each user turn once, in order per session",
    )
    async def on_turn(msg: NatsMessage) -> None:
        try:
            turn = TurnReceived.model_validate_json(msg.body)
        except ValidationError as err:
            log.error("dropping malformed turn %s: %s", msg.message_id, err)
            raise RejectMessage from err
        delivered = _deliveries(msg)
        outcome = await app.handle_turn(turn, force=delivered >= settings.early_max_deliveries)
        if outcome.kind == "early":
            raise NackMessage(delay=settings.early_retry_s)
        assert outcome.reply is not None
        await publish_reply(broker, outcome.reply)

    @broker.subscriber(subjects.DIALOG_CONTENT_SAVE_ALL, queue=subjects.DIALOG_QUEUE)
    async def on_save(command: SaveBotContent) -> BotContentSaved | BotContentRejected:
        result = await app.save_content(command)
        if isinstance(result, BotContentSaved):
            changed = ConfigChanged.first(project_key=command.project_key, version=result.version)
            await broker.publish(
                changed,
                subjects.config_changed(command.project_key),
                stream=subjects.CONFIG_STREAM,
                headers={"Nats-Msg-Id": str(changed.event_id)},
            )
        return result

    @broker.subscriber(subjects.DIALOG_CONTENT_GET_ALL, queue=subjects.DIALOG_QUEUE)
    async def on_get(query: GetBotContent) -> BotContent:
        return await app.content.current(query.project_key)

    # no_reply: JetStream publishes are requests; answering them would race the stream's ack.
    @broker.subscriber(subjects.CONFIG_CHANGED_ALL, no_reply=True)
    async def on_config_changed(event: ConfigChanged) -> None:
        if app.kernels.version(event.project_key) != event.version:
            app.kernels.drop(event.project_key)
