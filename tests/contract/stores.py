"""What the contract modules share: the two backends, a pool on the test database, and the
dialog's ports as one bundle (its fixture is in conftest.py)."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import asyncpg

from services.dialog.content.port import Content
from services.dialog.conversations.store import Conversations
from services.dialog.sessions.store import Sessions
from services.dialog.turns.store import TurnBatches
from shared.db import Database
from tests.support.backends import Backends

BACKENDS = ["memory", "postgres"]


async def open_database(
    backends: Backends, init: Callable[[asyncpg.Connection], Awaitable[None]] | None = None
) -> Database:
    """An asyncpg pool on the test database (the stores that speak asyncpg)."""
    db = Database(backends.database_url, max_size=2, init=init)
    await db.open()
    return db


@dataclass
class DialogStores:
    """The dialog's ports over one set of rows, as the dialog gets them."""

    content: Content
    turns: TurnBatches
    sessions: Sessions
    conversations: Conversations
