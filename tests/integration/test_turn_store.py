"""The turn path's batch writes on real Postgres: the session version fence, transcript rows
written once and in order, deleted sessions never recreated."""

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from uuid import UUID, uuid4

import pytest

from services.dialog.db import dialog_database
from services.dialog.models import SessionRow
from services.dialog.sessions.store import PgSessions
from services.dialog.turns.store import (
    AlreadyStored,
    Changed,
    PgTurnBatches,
    SessionState,
    TurnRecord,
)
from shared.db import Database
from tests.support.backends import Backends


def _turn(project: UUID, session: str, answer: str) -> TurnRecord:
    now = datetime.now(UTC)
    return TurnRecord(
        turn_event_id=uuid4(),
        reply_event_id=uuid4(),
        correlation_id=uuid4(),
        project_key=project,
        session_id=session,
        protocol="xparo",
        question="q",
        answer=answer,
        engine="aiml",
        received_at=now,
        answered_at=now,
        engine_ms=0.1,
        content_version=None,
        stage="test",
        details={"event": "text"},
    )


def _session(project: UUID, session: str, **state: str) -> SessionState:
    return SessionState(
        project_key=project, session_id=session, protocol="xparo", state=dict(state)
    )


@pytest.fixture
async def db(backends: Backends) -> AsyncIterator[Database]:
    """The dialog's pool (the turn path's and the request stores') on the test database."""
    opened = dialog_database(backends.database_url, max_size=4)
    await opened.open()
    yield opened
    await opened.close()


@pytest.fixture
def store(db: Database) -> PgTurnBatches:
    return PgTurnBatches(db)


async def _write(
    store: PgTurnBatches, changed: list[Changed], rows: list[TurnRecord]
) -> set[object]:
    async with store.write() as write:
        return set(await write.save(changed, rows))


async def test_a_batch_that_read_a_session_before_it_changed_is_refused(
    store: PgTurnBatches, db: Database
) -> None:
    """Data merged into a session after a batch read it refuses that batch's write for it (its
    turn rows are not stored, the merge is kept); the same write from a fresh read goes in."""
    project = uuid4()
    await _write(store, [Changed(_session(project, "s", name="Ada"), None)], [])
    [read] = (await store.read_sessions([(project, "s")])).values()
    assert read is not None
    await PgSessions(db).merge(project, "s", data={"vip": 1}, state={})
    read.state = {"name": "Grace"}
    stale = _turn(project, "s", "from the stale read")
    assert await _write(store, [Changed(read, read.version)], [stale]) == {(project, "s")}
    [now] = (await store.read_sessions([(project, "s")])).values()
    assert now is not None and (now.data, now.state) == ({"vip": 1}, {"name": "Ada"})
    assert await store.stored([stale.turn_event_id]) == {}
    now.state = {"name": "Grace"}
    fresh = _turn(project, "s", "from the fresh read")
    assert await _write(store, [Changed(now, now.version)], [fresh]) == set()
    assert [r.answer for r in (await store.stored([fresh.turn_event_id])).values()] == [
        "from the fresh read"
    ]


async def test_two_writers_of_one_new_session_store_one_of_them(store: PgTurnBatches) -> None:
    """Two batches that both found a session new write at the same time: one is stored, the
    other refused (it answers again from the stored one)."""
    project = uuid4()
    writes = [
        _write(
            store,
            [Changed(_session(project, "new", by=str(n)), None)],
            [_turn(project, "new", str(n))],
        )
        for n in range(2)
    ]
    refused = await asyncio.gather(*writes)
    assert sorted(len(r) for r in refused) == [0, 1]
    [row] = (await store.read_sessions([(project, "new")])).values()
    assert row is not None and row.version == 1


async def test_a_deleted_session_is_never_recreated_by_a_batch(
    store: PgTurnBatches, db: Database
) -> None:
    """A session deleted after a batch read it: the batch's write is refused and the next read
    says deleted."""
    project = uuid4()
    await _write(store, [Changed(_session(project, "d"), None)], [])
    [read] = (await store.read_sessions([(project, "d")])).values()
    assert read is not None
    await PgSessions(db).delete(project, "d")
    late = _turn(project, "d", "late")
    assert await _write(store, [Changed(read, read.version)], [late]) == {(project, "d")}
    assert await _write(store, [Changed(_session(project, "d"), None)], [late]) == {(project, "d")}
    assert await store.read_sessions([(project, "d")]) == {(project, "d"): None}


async def test_a_batchs_rows_keep_their_order_and_a_repeat_is_stored_once(
    store: PgTurnBatches, backends: Backends
) -> None:
    """A batch's transcript rows are stored in batch order, a big batch's and a small one's
    (they go in differently); a batch writing a turn again (a redelivery not looked up) is
    undone as a whole: its session keeps the state it had."""
    project = uuid4()
    rows = [_turn(project, "o", str(n)) for n in range(53)]
    await _write(store, [Changed(_session(project, "o"), None)], rows[:50])
    [read] = (await store.read_sessions([(project, "o")])).values()
    assert read is not None
    await _write(store, [Changed(read, read.version)], rows[50:])
    [read] = (await store.read_sessions([(project, "o")])).values()
    assert read is not None
    moved = replace(read, state={"topic": "again"})
    with pytest.raises(AlreadyStored):
        await _write(store, [Changed(moved, read.version)], [_turn(project, "o", "new"), rows[1]])
    assert await store.read_sessions([(project, "o")]) == {(project, "o"): read}
    async with store._db.pool.acquire() as conn:
        answers = await conn.fetch(
            "SELECT answer, details FROM dialog.turns WHERE project_key = $1 ORDER BY id", project
        )
    assert [a["answer"] for a in answers] == [str(n) for n in range(53)]
    assert all(a["details"] == {"event": "text"} for a in answers)


async def test_a_session_opened_before_its_first_turn_takes_the_batchs_write(
    store: PgTurnBatches, db: Database
) -> None:
    """A session opened by request (AIDA: no turn yet, version 0) is written by the batch that
    read it, with its first turn."""
    project = uuid4()
    opened = SessionRow(project_key=project, session_id="opened", protocol="xparo")
    await PgSessions(db).create(opened)
    [read] = (await store.read_sessions([(project, "opened")])).values()
    assert read is not None and read.version == 0
    first = _turn(project, "opened", "hello")
    assert await _write(store, [Changed(read, read.version)], [first]) == set()
    assert list(await store.stored([first.turn_event_id])) == [first.turn_event_id]
