"""Thin subscribers: decode → application → publish."""

import logging
from collections.abc import Awaitable, Callable
from uuid import UUID

from faststream import AckPolicy
from faststream.exceptions import NackMessage, RejectMessage
from faststream.nats import JStream, NatsBroker, NatsMessage, PullSub
from faststream.nats.annotations import NatsMessage as Message
from nats.errors import NotJSMessageError
from nats.js.api import ConsumerConfig
from pydantic import ValidationError

from shared import subjects
from shared.contracts import (
    BotContent,
    BotContentRejected,
    BotContentSaved,
    BotSpoke,
    ConfigChanged,
    DeleteSession,
    GetBotContent,
    GetSession,
    OpenSession,
    SaveBotContent,
    SayToSession,
    SessionDeleted,
    SessionReply,
    SessionUnknown,
    TurnAnswered,
    TurnReceived,
    UpdateSession,
)

from .application import DialogApp
from .config import DialogSettings

log = logging.getLogger(__name__)
MAX_DELIVER = 100
PurgeReplies = Callable[[UUID, str], Awaitable[None]]


async def publish_reply(broker: NatsBroker, reply: TurnAnswered | BotSpoke) -> None:
    """Publish a reply into CHAT; its event id makes a re-publish a no-op in the stream."""
    await broker.publish(
        reply,
        subjects.chat_reply(project=reply.project_key, session=reply.session_id),
        stream=subjects.CHAT_STREAM,
        headers={"Nats-Msg-Id": str(reply.event_id)},
        correlation_id=str(reply.correlation_id),
    )


def jetstream_purge(broker: NatsBroker) -> PurgeReplies:
    """Remove a session's replies from CHAT (where they wait for AIDA clients to come back)."""

    async def purge(project: UUID, session: str) -> None:
        js = broker.connection.jetstream()
        subject = subjects.chat_reply(project=project, session=session)
        await js.purge_stream(subjects.CHAT_STREAM, subject=subject)

    return purge


def _misaddressed(msg: NatsMessage, kind: str, project: UUID) -> bool:
    """True when a request names another project than its subject (it gets nothing of it)."""
    if msg.raw_message.subject == subjects.dialog_session(kind, project):
        return False
    log.warning("%s on %s names project %s", kind, msg.raw_message.subject, project)
    return True


def _deliveries(msg: NatsMessage) -> int:
    """How often JetStream delivered this message (1 when it carries no JetStream metadata)."""
    try:
        return int(msg.raw_message.metadata.num_delivered or 1)
    except NotJSMessageError:
        return 1


def register(
    broker: NatsBroker,
    app: DialogApp,
    settings: DialogSettings,
    *,
    purge: PurgeReplies | None = None,
) -> None:
    """Attach the dialog subscribers to `broker` (`purge` empties a session's replies from CHAT;
    JetStream's own by default)."""
    _register_sessions(broker, app, purge or jetstream_purge(broker))
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
        if outcome.kind == "gone":
            log.info("dropping turn %s of deleted session %s", turn.event_id, turn.session_id)
            return
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


def _register_sessions(broker: NatsBroker, app: DialogApp, purge: PurgeReplies) -> None:
    """Request/reply subscribers of the sessions; any replica answers (queue group)."""
    queue = subjects.DIALOG_QUEUE

    @broker.subscriber(subjects.dialog_session_all("open"), queue=queue)
    async def on_open(command: OpenSession, msg: Message) -> SessionReply:
        if _misaddressed(msg, "open", command.project_key):
            return SessionUnknown(session_id="")
        return await app.open_session(command)

    @broker.subscriber(subjects.dialog_session_all("update"), queue=queue)
    async def on_update(command: UpdateSession, msg: Message) -> SessionReply:
        if _misaddressed(msg, "update", command.project_key):
            return SessionUnknown(session_id=command.session_id)
        return await app.update_session(command)

    @broker.subscriber(subjects.dialog_session_all("get"), queue=queue)
    async def on_get(query: GetSession, msg: Message) -> SessionReply:
        if _misaddressed(msg, "get", query.project_key):
            return SessionUnknown(session_id=query.session_id)
        return await app.get_session(query)

    @broker.subscriber(subjects.dialog_session_all("delete"), queue=queue)
    async def on_delete(command: DeleteSession, msg: Message) -> SessionReply:
        if _misaddressed(msg, "delete", command.project_key):
            return SessionUnknown(session_id=command.session_id)
        deletion = await app.delete_session(command)
        if deletion.event is not None:
            await _announce(broker, deletion.event)
            await purge(command.project_key, command.session_id)
        return deletion.reply

    @broker.subscriber(subjects.dialog_session_all("say"), queue=queue)
    async def on_say(command: SayToSession, msg: Message) -> BotSpoke | SessionUnknown:
        if _misaddressed(msg, "say", command.project_key):
            return SessionUnknown(session_id=command.session_id)
        said = await app.say(command)
        if isinstance(said, BotSpoke):
            await publish_reply(broker, said)
        return said


async def _announce(broker: NatsBroker, event: SessionDeleted) -> None:
    """Tell every service that a session is gone (its one event id dedupes a repeat)."""
    await broker.publish(
        event,
        subjects.chat_deleted(event.project_key),
        stream=subjects.CHAT_STREAM,
        headers={"Nats-Msg-Id": str(event.event_id)},
        correlation_id=str(event.correlation_id),
    )
