"""Chat turns: what a user said and what the bot answered."""

from typing import Literal
from uuid import UUID

from pydantic import Field

from .base import Event

Protocol = Literal["xparo", "xparo-typed", "aida", "rsvp", "besser"]


class TurnReceived(Event):
    """A user's message reached a gateway and waits for an answer."""

    project_key: UUID = Field(description="The project (bot) the message is for")
    session_id: str = Field(description="Conversation key; replies go to chat.reply.<p>.<session>")
    protocol: Protocol = Field(description="Wire protocol the user speaks")
    text: str = Field(max_length=65536, description="What the user said")
    channel: str = Field(description="Id of the connection that sent it (orders its turns)")
    seq: int = Field(ge=1, description="Position of this turn among the channel's turns")


class TurnAnswered(Event):
    """The dialog service answered a turn (causation_id is the TurnReceived's event_id)."""

    project_key: UUID = Field(description="The project (bot) that answered")
    session_id: str = Field(description="Conversation key the answer belongs to")
    turn_event_id: UUID = Field(description="event_id of the TurnReceived answered")
    text: str = Field(description="The bot's answer")
    engine: Literal["aiml", "fallback"] = Field(description="Which engine produced the answer")
    content_version: int | None = Field(None, description="Bot content version that answered")
