"""Dialog replicas' turn paths in process on the test Postgres, so the partition and clock tests
can run two side by side without service processes (the `dialog_replicas` fixture, conftest.py)."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from services.dialog.application import DialogApp
from services.dialog.content.store import ContentStore
from services.dialog.db import dialog_database
from services.dialog.sessions.store import PgSessions
from services.dialog.turns.owners import PartitionedTurns
from services.dialog.turns.store import PgTurnBatches
from shared.db import Database
from shared.identity import ProjectStore


@dataclass
class Replica:
    """A dialog replica's turn path, in process."""

    app: DialogApp
    db: Database
    turns: PartitionedTurns | None = None


@asynccontextmanager
async def in_process(database_url: str, count: int = 2) -> AsyncIterator[list[Replica]]:
    """`count` replicas, each with its own dialog pool (turns, requests and projects, as the
    service has); stopped (their partitioned turns too, if a test started them) and closed on
    exit."""
    made: list[Replica] = []
    try:
        for _ in range(count):
            db = dialog_database(database_url, max_size=4)
            await db.open()
            app = DialogApp(
                content=ContentStore(db),
                turns=PgTurnBatches(db),
                sessions=PgSessions(db),
                projects=ProjectStore(db),
            )
            made.append(Replica(app, db))
        yield made
    finally:
        for replica in made:
            if replica.turns is not None:
                await replica.turns.stop()
            await replica.db.close()
