"""The turn path's persistence: raw asyncpg with prepared statements, one transaction per batch.

A batch reads the stored turns and the sessions it needs in two statements, and writes back in
one transaction: the sessions it changed (each only if its version is still the one it read:
the fence), then its transcript rows by COPY into a per-connection staging table and one
`INSERT … ON CONFLICT (turn_event_id) DO NOTHING`. No pre-ping: a dead connection fails the
batch, which JetStream delivers again after a back-off.
"""

import json
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

import asyncpg

from shared.contracts.knowledge import Stage
from shared.db import Database

from ..models import TurnRow
from ..sessions.store import MAX_SAID
from .partitions import Claim, check_claim
from .statements import (
    CREATE_STAGING,
    INSERT_SESSIONS,
    INSERT_TURN_ROWS,
    INSERT_TURNS,
    LAST_ROW,
    LOAD_DELETED,
    LOAD_SESSIONS,
    RELEASE_VERSION,
    SAID_SINCE,
    STAGING,
    STORED,
    TEST_VERSION,
    TURN_COLUMNS,
    UPDATE_SESSIONS,
)

SessionKey = tuple[UUID, str]
COPY_FROM = 32  # rows: from this many on, COPY is the cheaper way in


@dataclass(slots=True)
class TurnRecord:
    """A transcript row as the turn path makes and writes it: a plain object, as making a
    TurnRow (an ORM-instrumented model) cost ~6 % of the dialog's time under load."""

    turn_event_id: UUID
    reply_event_id: UUID
    correlation_id: UUID
    project_key: UUID
    session_id: str
    protocol: str
    question: str
    answer: str
    engine: str
    content_version: int | None
    received_at: datetime
    answered_at: datetime
    engine_ms: float
    stage: str
    details: dict[str, Any] | None
    kind: str = "turn"

    def as_row(self) -> TurnRow:
        """The same row as the ORM model (for the ORM's writers: replay)."""
        return TurnRow(**asdict(self))


@dataclass(slots=True)
class SessionState:
    """A session as the turn path reads, changes and writes it: a plain object, as making a
    SessionRow (an ORM-instrumented model) took ~0.35 ms and setting a field on one ~2 µs."""

    project_key: UUID
    session_id: str
    protocol: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)
    channel: str = ""
    seq: int = 0
    channels: list[list[Any]] = field(default_factory=list)
    last_at: datetime | None = None
    handoff: str | None = None
    version: int = 0

    @classmethod
    def of(cls, row: Any) -> "SessionState":
        """The state of a session row (a SessionRow, an asyncpg record, a mapping)."""
        get = row.__getitem__ if isinstance(row, asyncpg.Record | dict) else row.__getattribute__
        return cls(**{f: get(f) for f in SESSION_FIELDS})


SESSION_FIELDS = tuple(f.name for f in fields(SessionState))


class AlreadyStored(Exception):
    """A batch's turn was stored before (delivered again, and not looked up as a repeat): the
    batch's transaction is undone, nothing of it was published, and it is answered again with
    its turns looked up first. The turns' unique key is what guards against a repeat."""

    def __init__(self, repeats: int) -> None:
        super().__init__(f"{repeats} turns of the batch were stored before")
        self.repeats = repeats


@dataclass
class Changed:
    """A session as a batch leaves it, and the version it read (None: it was new)."""

    row: SessionState
    read: int | None


class TurnWrite(Protocol):
    """One batch's transaction: committed when its block ends without an error."""

    async def save(
        self, sessions: Sequence[Changed], turns: Sequence[TurnRecord]
    ) -> set[SessionKey]:
        """Write the sessions still at the version they were read at, and the turns of those;
        answer the sessions refused (changed meanwhile: their turns are not written). Raises
        AlreadyStored (the transaction is then undone) when one of those turns is stored
        already."""
        ...


class TurnBatches(Protocol):
    """What answering a batch of turns reads and writes."""

    async def stored(self, turn_event_ids: Sequence[UUID]) -> dict[UUID, TurnRow]: ...
    async def read_sessions(
        self, keys: Sequence[SessionKey]
    ) -> dict[SessionKey, SessionState | None]:
        """The sessions that exist, and None for each deleted one (a new one is absent)."""
        ...

    async def content_version(self, project_key: UUID, stage: Stage) -> int: ...
    async def said_since(self, project_key: UUID, session_id: str) -> list[str]: ...
    async def last_row(self, project_key: UUID, session_id: str) -> TurnRow | None: ...
    def write(self, claim: Claim | None = None) -> AbstractAsyncContextManager[TurnWrite]:
        """One transaction; with `claim`, refused as a whole (Fenced) unless the claim still
        owns its partition."""
        ...


def _jsonb_out(value: Any) -> bytes:
    return b"\x01" + json.dumps(value).encode()  # jsonb's binary format: version 1, then text


def _jsonb_in(data: bytes) -> Any:
    return json.loads(data[1:])


def _json_out(value: Any) -> bytes:
    return json.dumps(value).encode()  # json's binary format is its text: key order kept


def _json_in(data: bytes) -> Any:
    return json.loads(data)


async def prepare_connection(conn: asyncpg.Connection) -> None:
    """json and jsonb as Python values (binary, as COPY needs), and the connection's own
    staging table."""
    await conn.set_type_codec(
        "jsonb", encoder=_jsonb_out, decoder=_jsonb_in, schema="pg_catalog", format="binary"
    )
    await conn.set_type_codec(  # turn details are json (dialog_0008), so authors' order stays
        "json", encoder=_json_out, decoder=_json_in, schema="pg_catalog", format="binary"
    )
    await conn.execute(CREATE_STAGING)


async def keep_connection(conn: asyncpg.Connection) -> None:
    """Nothing to reset when a connection goes back to the pool: the turn path sets no session
    state (its staging table empties itself at commit), so the reset's round trip (7 % of a
    dialog's samples under load) is saved."""


def _keys(keys: Sequence[SessionKey]) -> tuple[list[UUID], list[str]]:
    return [k[0] for k in keys], [k[1] for k in keys]


def _changes(changed: Sequence[Changed]) -> list[list[Any]]:
    rows = [c.row for c in changed]
    return [
        [r.project_key for r in rows],
        [r.session_id for r in rows],
        [r.protocol for r in rows],
        [json.dumps(r.data) for r in rows],
        [json.dumps(r.state) for r in rows],
        [r.channel for r in rows],
        [r.seq for r in rows],
        [json.dumps(r.channels) for r in rows],
        [r.last_at for r in rows],
        [c.read or 0 for c in changed],
    ]


class PgTurnWrite:
    """TurnWrite over one asyncpg connection inside a transaction."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def save(
        self, sessions: Sequence[Changed], turns: Sequence[TurnRecord]
    ) -> set[SessionKey]:
        # Sorted, so two writers lock the rows they share in one order (no deadlock).
        ordered = sorted(sessions, key=lambda c: (c.row.project_key, c.row.session_id))
        old = [c for c in ordered if c.read is not None]
        new = [c for c in ordered if c.read is None]
        written: set[SessionKey] = set()
        for statement, group in ((UPDATE_SESSIONS, old), (INSERT_SESSIONS, new)):
            if group:
                rows = await self._conn.fetch(statement, *_changes(group))
                written.update((r["project_key"], r["session_id"]) for r in rows)
        refused = {(c.row.project_key, c.row.session_id) for c in ordered} - written
        records = [
            (n, *(getattr(t, c) for c in TURN_COLUMNS))
            for n, t in enumerate(turns)
            if (t.project_key, t.session_id) not in refused
        ]
        if records:
            inserted = await self._insert(records)
            if inserted < len(records):
                raise AlreadyStored(len(records) - inserted)
        return refused

    async def _insert(self, records: list[tuple[Any, ...]]) -> int:
        """Insert the rows (each: its order, then TURN_COLUMNS); how many went in."""
        if len(records) >= COPY_FROM:
            await self._conn.copy_records_to_table(
                STAGING, columns=("ord", *TURN_COLUMNS), records=records
            )
            status = await self._conn.execute(INSERT_TURNS)
        else:
            columns = [list(column) for column in zip(*records, strict=True)][1:]
            details = TURN_COLUMNS.index("details")
            columns[details] = [None if d is None else json.dumps(d) for d in columns[details]]
            status = await self._conn.execute(INSERT_TURN_ROWS, *columns)
        return int(status.rpartition(" ")[2])  # "INSERT 0 <rows>"


class PgTurnBatches:
    """TurnBatches over the dialog's asyncpg pool."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def stored(self, turn_event_ids: Sequence[UUID]) -> dict[UUID, TurnRow]:
        rows = await self._db.pool.fetch(STORED, list(turn_event_ids))
        return {r["turn_event_id"]: TurnRow(**dict(r)) for r in rows}

    async def read_sessions(
        self, keys: Sequence[SessionKey]
    ) -> dict[SessionKey, SessionState | None]:
        async with self._db.pool.acquire() as conn:
            rows = await conn.fetch(LOAD_SESSIONS, *_keys(keys))
            found: dict[SessionKey, SessionState | None] = {
                (r["project_key"], r["session_id"]): SessionState.of(r) for r in rows
            }
            missing = [k for k in keys if k not in found]
            if missing:
                for r in await conn.fetch(LOAD_DELETED, *_keys(missing)):
                    found[(r["project_key"], r["session_id"])] = None
        return found

    async def content_version(self, project_key: UUID, stage: Stage) -> int:
        query = TEST_VERSION if stage == "test" else RELEASE_VERSION
        return int(await self._db.pool.fetchval(query, project_key))

    async def said_since(self, project_key: UUID, session_id: str) -> list[str]:
        rows = await self._db.pool.fetch(SAID_SINCE, project_key, session_id, MAX_SAID)
        return [r["answer"] for r in reversed(rows)]

    async def last_row(self, project_key: UUID, session_id: str) -> TurnRow | None:
        row = await self._db.pool.fetchrow(LAST_ROW, project_key, session_id)
        return None if row is None else TurnRow(**dict(row))

    @asynccontextmanager
    async def write(self, claim: Claim | None = None) -> AsyncIterator[PgTurnWrite]:
        async with self._db.pool.acquire() as conn, conn.transaction():
            if claim is not None:
                await check_claim(conn, claim)
            yield PgTurnWrite(conn)
