"""Chat turns: what a user said and what the bot answered (or said first)."""

from typing import Literal
from uuid import UUID

from pydantic import Field

from .base import Contract, Event
from .knowledge import FaqMatch, IntentMatch, Lang, Stage

Protocol = Literal["xparo", "xparo-typed", "aida", "rsvp", "besser"]
# What an image turn says to the AIML (a bot answers images with <pattern>XIMAGE</pattern>).
IMAGE_INPUT = "XIMAGE"


class TurnReceived(Event):
    """A user's message reached a gateway and waits for an answer."""

    project_key: UUID = Field(description="The project (bot) the message is for")
    session_id: str = Field(description="Conversation key; replies go to chat.reply.<p>.<session>")
    protocol: Protocol = Field(description="Wire protocol the user speaks")
    text: str = Field(max_length=65536, description="What the user said")
    image: UUID | None = Field(None, description="An image the user sent (media id) instead")
    channel: str = Field(description="Id of the connection that sent it (orders its turns)")
    seq: int = Field(ge=1, description="Position of this turn among the channel's turns")
    stage: Stage = Field("test", description="Content stage that answers (RSVP's `stage`)")
    lang: Lang = Field("en", description="Language of the question (RSVP's `lang`)")
    skill: str | None = Field(None, max_length=100, description="Only this FAQ/NLU skill answers")


class TurnAnswered(Event):
    """The dialog service answered a turn (causation_id is the TurnReceived's event_id)."""

    project_key: UUID = Field(description="The project (bot) that answered")
    session_id: str = Field(description="Conversation key the answer belongs to")
    turn_event_id: UUID = Field(description="event_id of the TurnReceived answered")
    text: str = Field(description="The bot's answer")
    engine: Literal["aiml", "faq", "nlu", "fallback"] = Field(
        description="Which engine produced the answer"
    )
    content_version: int | None = Field(None, description="Bot content version that answered")
    protocol: Protocol | None = Field(None, description="Protocol of the session (who shows it)")
    stage: Stage = Field("test", description="Content stage that answered")
    faq: FaqMatch | None = Field(None, description="The FAQ's candidates (engine faq)")
    intent: IntentMatch | None = Field(None, description="Intent and slots (engine nlu)")
    url: str | None = Field(None, description="Media URL of the matched answer")
    image: str | None = Field(None, description="Image URL of the matched answer")
    action: str | None = Field(None, description="Instruction for a robot from the answer")


class SayToSession(Contract):
    """Command: the bot speaks first in a session (an operator, a schedule)."""

    project_key: UUID
    session_id: str = Field(min_length=1, max_length=128)
    text: str = Field(min_length=1, max_length=65536)
    source: Literal["operator", "schedule"]
    correlation_id: UUID


class BotSpoke(Event):
    """The bot said something nobody asked for (published on chat.reply like answers)."""

    kind: Literal["spoke"] = "spoke"
    project_key: UUID
    session_id: str
    text: str
    source: Literal["operator", "schedule"]
    protocol: Protocol | None = Field(None, description="Protocol of the session (who shows it)")


# What chat.reply.<project>.<session> carries (TurnAnswered has no `kind`; extra=forbid tells
# the two apart).
ChatReply = TurnAnswered | BotSpoke
