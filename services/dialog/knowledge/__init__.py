"""The dialog service's knowledge engines (RSVP-style), pure code: FAQ retrieval over
paraphrase groups, and NLU intents with slots filled from entities (cities, dates, times,
numbers, custom vocabularies) over several turns.

The content and result types are the contracts of shared.contracts.knowledge. Nothing here
reads the clock, the network or a database; warm_up() loads the dictionaries ahead of time.
"""

from .entities import CustomEntity, extract, warm_up
from .faq import FaqIndex
from .nlu import NluModel, Understood, intent_id, render
from .text import Found, normalise, tokenise

__all__ = [
    "CustomEntity",
    "FaqIndex",
    "Found",
    "NluModel",
    "Understood",
    "extract",
    "intent_id",
    "normalise",
    "render",
    "tokenise",
    "warm_up",
]
