"""Thin subscribers of the sessions' requests (open, update, get, delete, history, say): any
replica answers (queue group); a deletion is announced and a message said first is published
as a reply."""

import logging
from collections.abc import Awaitable, Callable
from uuid import UUID

from faststream.nats import NatsBroker, NatsMessage
from faststream.nats.annotations import NatsMessage as Message

from shared import subjects
from shared.contracts import (
    BotSpoke,
    DeleteSession,
    GetSession,
    OpenSession,
    SayToSession,
    SessionDeleted,
    SessionReply,
    SessionUnknown,
    TurnAnswered,
    UpdateSession,
)
from shared.contracts.session import GetHistory, History

from .application import SessionApp

log = logging.getLogger(__name__)
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


def register_sessions(broker: NatsBroker, app: SessionApp, purge: PurgeReplies) -> None:
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

    @broker.subscriber(subjects.dialog_session_all("history"), queue=queue)
    async def on_history(query: GetHistory, msg: Message) -> History | SessionUnknown:
        if _misaddressed(msg, "history", query.project_key):
            return SessionUnknown(session_id=query.session_id)
        return await app.history(query)

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
