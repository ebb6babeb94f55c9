"""The dialog service's knowledge engines (RSVP-style), pure code: FAQ retrieval over
paraphrase groups and NLU intents, each a classifier trained from the project's own examples
(kept by content hash), with slots filled from entities (cities, dates, times, numbers, custom
vocabularies) over several turns.

The content and result types are the contracts of shared.contracts.knowledge. Nothing here
reads the clock, the network or a database; warm_up() loads the dictionaries ahead of time.
"""

from .entities import CustomEntity, extract, warm_up
from .faq import FaqIndex
from .nlu import NluModel, Understood, intent_id
from .slots import render
from .text import Found, normalise, tokenise
from .trained import faq_index, nlu_model

__all__ = [
    "CustomEntity",
    "FaqIndex",
    "Found",
    "NluModel",
    "Understood",
    "extract",
    "faq_index",
    "intent_id",
    "nlu_model",
    "normalise",
    "render",
    "tokenise",
    "warm_up",
]
