"""Every message that crosses a process boundary, one module per area."""

from .base import Contract, Event, utcnow
from .chat import TurnAnswered, TurnReceived
from .content import (
    AimlProblem,
    BotContent,
    BotContentRejected,
    BotContentSaved,
    ConfigChanged,
    GetBotContent,
    SaveBotContent,
    SaveReply,
)

__all__ = [
    "AimlProblem",
    "BotContent",
    "BotContentRejected",
    "BotContentSaved",
    "ConfigChanged",
    "Contract",
    "Event",
    "GetBotContent",
    "SaveBotContent",
    "SaveReply",
    "TurnAnswered",
    "TurnReceived",
    "utcnow",
]
