"""Conversations as operators read them (search, transcript, export) and human handoff.

The dialog service owns sessions and their transcript, so every query is a request/reply to it.
Each answer is one page small enough for one NATS message (under MAX_REPLY_BYTES): the gateway
walks the pages for anything bigger (an export), so no reply comes near NATS' 1 MB max_payload.
"""

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import Field

from .base import Contract
from .chat import Protocol
from .session import SessionId, SessionUnknown

MAX_REPLY_BYTES = 800_000
SNIPPET_CHARS = 200
Author = Literal["user", "bot", "operator"]
NO_NUL = r"^[^\x00]+$"  # Postgres text never holds NUL: such a search is refused, not failed
Operator = Annotated[str, Field(min_length=1, max_length=200)]


class ConversationFilter(Contract):
    """Which conversations (and, for an export, which of their messages) an operator wants."""

    protocol: Protocol | None = Field(None, description="Only sessions of this protocol")
    since: datetime | None = Field(None, description="Only messages at or after this time")
    until: datetime | None = Field(None, description="Only messages before this time")
    q: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        pattern=NO_NUL,
        description="Only sessions where a question or an answer holds this (case-insensitive)",
    )
    engine: Literal["aiml", "faq", "nlu", "machine", "fallback"] | None = Field(
        None, description="Only sessions with an answer of this engine (fallback: not understood)"
    )
    below: float | None = Field(
        None, gt=0, le=1, description="Only sessions with an FAQ or NLU answer less sure than this"
    )
    held: bool | None = Field(None, description="Only sessions an operator holds (or not)")


class ConversationPosition(Contract):
    """Where a page of conversations ends (their order: newest activity first)."""

    last_at: datetime
    session_id: str


class ConversationSummary(Contract):
    """One conversation in a list."""

    session_id: str
    protocol: str = Field(description="Protocol that opened it (or spoke first in it)")
    created_at: datetime
    last_at: datetime = Field(description="When it last had a turn or a message")
    turns: int = Field(description="How many turns the user took")
    handoff: str | None = Field(description="The operator who holds it, or null (the bot)")
    last_text: str = Field(description=f"The newest message, cut to {SNIPPET_CHARS} characters")
    machine_state: str | None = Field(
        None, description="The state machine's state the session is in (null: none yet)"
    )


class FindConversations(Contract):
    """Query: one page of a project's conversations, newest activity first."""

    project_key: UUID
    filter: ConversationFilter = Field(default_factory=ConversationFilter)
    limit: int = Field(50, ge=1, le=1000)
    after: ConversationPosition | None = Field(None, description="The previous page's end")


class ConversationPage(Contract):
    """Answer: a page of conversations and where the next one starts (null: last page)."""

    kind: Literal["conversations"] = "conversations"
    items: list[ConversationSummary]
    next: ConversationPosition | None


class TranscriptEntry(Contract):
    """One message of a conversation: who said what, when, and (for the bot) which engine."""

    turn: int = Field(description="Position of the stored turn or message it belongs to")
    at: datetime
    author: Author
    text: str
    event: str = Field(
        description="text, json, file, gui, reset, start (the user); tick (a state machine's "
        "condition came true); say (spoken first)"
    )
    engine: str | None = Field(
        description="Who answered: aiml, faq, nlu, machine, fallback; operator, schedule for "
        "messages said first; null for the user's side"
    )
    operator: str | None = Field(
        description="The operator who said it, or (the user's side) who held the session then"
    )
    stage: str | None = Field(description="Content stage that answered (the bot's side)")
    version: int | None = Field(description="Content version that answered (the bot's side)")
    intent: str | None = Field(None, description="The intent the NLU found (the bot's side)")
    confidence: float | None = Field(
        None, description="How sure the FAQ or the NLU was of its answer, 0..1 (the bot's side)"
    )
    gid: str | None = Field(None, description="The FAQ group that answered (the bot's side)")
    candidate: str | None = Field(
        None, description="The FAQ paraphrase closest to the question (the bot's side)"
    )
    parts: list[dict[str, Any]] | None = Field(
        None,
        description="The answer's rich parts as clients got them (markdown, html, options, "
        "dataframe, plotly, image, file, location), when it had any (the bot's side)",
    )


class GetTranscript(Contract):
    """Query: one page of a session's transcript, oldest first."""

    project_key: UUID
    session_id: SessionId
    limit: int = Field(200, ge=1, le=1000, description="At most this many stored turns")
    after: int | None = Field(None, description="The previous page's `next`")


class Transcript(Contract):
    """Answer: the conversation and a page of its messages."""

    kind: Literal["transcript"] = "transcript"
    session: ConversationSummary
    items: list[TranscriptEntry]
    next: int | None


TranscriptReply = Annotated[Transcript | SessionUnknown, Field(discriminator="kind")]


class ExportTurns(Contract):
    """Query: one page of the messages of a project's conversations, oldest first."""

    project_key: UUID
    filter: ConversationFilter = Field(default_factory=ConversationFilter)
    limit: int = Field(1000, ge=1, le=1000, description="At most this many stored turns")
    after: int | None = Field(None, description="The previous page's `next`")


class ExportEntry(TranscriptEntry):
    """One exported message, naming its conversation."""

    session_id: str
    protocol: str


class ExportPage(Contract):
    """Answer: a page of exported messages (null `next`: the last page)."""

    kind: Literal["export"] = "export"
    items: list[ExportEntry]
    next: int | None


class HandOff(Contract):
    """Command: an operator takes a session over (the bot falls silent in it), or, with no
    operator, hands it back to the bot."""

    project_key: UUID
    session_id: SessionId
    operator: Operator | None
    correlation_id: UUID


class HandedOff(Contract):
    """Answer: the session as it is now."""

    kind: Literal["handed"] = "handed"
    session: ConversationSummary


class HandoffRefused(Contract):
    """Answer: another operator holds the session (they hand it back first)."""

    kind: Literal["refused"] = "refused"
    operator: str


HandoffReply = Annotated[HandedOff | HandoffRefused | SessionUnknown, Field(discriminator="kind")]


class HandoffChanged(Contract):
    """Notice (core NATS, chat.handoff.<project>): who holds a session now (null: the bot)."""

    project_key: UUID
    session_id: str
    operator: str | None


Trigger = Annotated[str, Field(min_length=1, max_length=100, pattern=NO_NUL)]


class HandoffTriggers(Contract):
    """What puts a session in the operators' inbox: a user turn holding one of the keywords
    (case-insensitive) or classified as one of the intents, or the session resting in one of
    the state machine's states."""

    keywords: list[Trigger] = Field(
        default_factory=lambda: ["human", "operator", "agent"], max_length=50
    )
    intents: list[Trigger] = Field(default_factory=list, max_length=50)
    states: list[Trigger] = Field(default_factory=list, max_length=50)


class FindInbox(Contract):
    """Query: the sessions waiting for a human (not held, active in the last 7 days, a trigger
    raised since an operator last spoke or held it) and the sessions operators hold, newest
    activity first."""

    project_key: UUID
    triggers: HandoffTriggers = Field(default_factory=HandoffTriggers)
    limit: int = Field(100, ge=1, le=500)


class InboxItem(Contract):
    """A session in the inbox: why it is there."""

    session: ConversationSummary
    waiting: bool = Field(description="True: asks for a human; false: an operator holds it")
    reason: str = Field(description='What raised it: "said: ...", "intent ...", "state ..."')


class InboxPage(Contract):
    """Answer: the inbox, newest activity first."""

    kind: Literal["inbox"] = "inbox"
    items: list[InboxItem]
