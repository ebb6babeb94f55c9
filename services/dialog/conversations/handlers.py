"""Thin subscribers of the operators' conversation requests: find, transcript, export,
handoff (any replica answers: queue group)."""

import logging
from uuid import UUID

from faststream.nats import NatsBroker
from faststream.nats.annotations import NatsMessage as Message

from shared import subjects
from shared.contracts.conversation import (
    ConversationPage,
    ExportPage,
    ExportTurns,
    FindConversations,
    FindInbox,
    GetTranscript,
    HandedOff,
    HandOff,
    HandoffRefused,
    InboxPage,
    Transcript,
)
from shared.contracts.session import SessionUnknown

from .application import ConversationApp

log = logging.getLogger(__name__)


def _misaddressed(msg: Message, kind: str, project: UUID) -> bool:
    """True when a request names another project than its subject (it gets nothing of it)."""
    if msg.raw_message.subject == subjects.dialog_conversation(kind, project):
        return False
    log.warning("conversation %s on %s names project %s", kind, msg.raw_message.subject, project)
    return True


def register_conversations(broker: NatsBroker, app: ConversationApp) -> None:
    """Attach the conversation subscribers to `broker`; a handoff that changes who holds a
    session is announced on chat.handoff.<project> (core NATS, for the admin live feed)."""
    queue = subjects.DIALOG_QUEUE

    @broker.subscriber(subjects.dialog_conversation_all("find"), queue=queue)
    async def on_find(query: FindConversations, msg: Message) -> ConversationPage:
        if _misaddressed(msg, "find", query.project_key):
            return ConversationPage(items=[], next=None)
        return await app.find(query)

    @broker.subscriber(subjects.dialog_conversation_all("transcript"), queue=queue)
    async def on_transcript(query: GetTranscript, msg: Message) -> Transcript | SessionUnknown:
        if _misaddressed(msg, "transcript", query.project_key):
            return SessionUnknown(session_id=query.session_id)
        return await app.transcript(query)

    @broker.subscriber(subjects.dialog_conversation_all("export"), queue=queue)
    async def on_export(query: ExportTurns, msg: Message) -> ExportPage:
        if _misaddressed(msg, "export", query.project_key):
            return ExportPage(items=[], next=None)
        return await app.export(query)

    @broker.subscriber(subjects.dialog_conversation_all("handoff"), queue=queue)
    async def on_handoff(
        command: HandOff, msg: Message
    ) -> HandedOff | HandoffRefused | SessionUnknown:
        if _misaddressed(msg, "handoff", command.project_key):
            return SessionUnknown(session_id=command.session_id)
        reply, notice = await app.hand_off(command)
        if notice is not None:
            await broker.publish(notice, subjects.chat_handoff(command.project_key))
        return reply

    @broker.subscriber(subjects.dialog_conversation_all("inbox"), queue=queue)
    async def on_inbox(query: FindInbox, msg: Message) -> InboxPage:
        if _misaddressed(msg, "inbox", query.project_key):
            return InboxPage(items=[])
        return await app.inbox(query)
