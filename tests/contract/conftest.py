"""The contract tier: each port's behaviour, one test run against the in-memory fake the
component tests use and against the Postgres store the service runs on (eventsourcing's habit).

A test takes its port from a fixture parametrized over `memory` and `postgres`; the Postgres
side is the session's migrated test database (`backends`), with pools opened once per module.
Where the two differ, the fake is wrong: Postgres is what the services run on."""

from collections.abc import AsyncIterator

import pytest

from services.dialog.content.store import ContentStore
from services.dialog.conversations.store import PgConversations
from services.dialog.db import dialog_database
from services.dialog.sessions.store import PgSessions
from services.dialog.turns.store import PgTurnBatches
from shared.db import Database
from tests.support.backends import Backends
from tests.support.memory_conversations import MemoryConversations
from tests.support.memory_dialog import MemoryContent, MemorySessions, MemoryTurns

from .stores import BACKENDS, DialogStores


@pytest.fixture(scope="module")
async def dialog_db(backends: Backends) -> AsyncIterator[Database]:
    """The dialog's pool, as the service opens it (json codecs, the turn path's staging
    table, the dialog schema as search path)."""
    db = dialog_database(backends.database_url, max_size=2)
    await db.open()
    yield db
    await db.close()


@pytest.fixture(params=BACKENDS)
def dialog(
    request: pytest.FixtureRequest,
) -> DialogStores:
    """The dialog's ports (content, turns, sessions, conversations) over one set of rows, in
    memory or on Postgres."""
    if request.param == "memory":
        content = MemoryContent()
        turns = MemoryTurns(content)
        return DialogStores(
            content=content,
            turns=turns,
            sessions=MemorySessions(turns),
            conversations=MemoryConversations(turns),
        )
    dialog_db = request.getfixturevalue("dialog_db")
    return DialogStores(
        content=ContentStore(dialog_db),
        turns=PgTurnBatches(dialog_db),
        sessions=PgSessions(dialog_db),
        conversations=PgConversations(dialog_db),
    )
