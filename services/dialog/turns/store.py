"""The turn path's persistence: raw asyncpg with prepared statements, one transaction per batch.

A batch reads the stored turns and the sessions it needs in two statements, and writes back in
one transaction: the sessions it changed (each only if its version is still the one it read:
the fence), then its transcript rows by COPY into a per-connection staging table and one
`INSERT … ON CONFLICT (turn_event_id) DO NOTHING`. No pre-ping: a dead connection fails the
batch, which JetStream delivers again after a back-off.
"""

# ruff: noqa: S608  (the statements are built from this module's own constants, never input)
import json
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

import asyncpg

from shared.contracts.knowledge import Stage
from shared.db import Database

from ..models import SessionRow, TurnRow
from ..sessions.store import MAX_SAID
from .partitions import Claim, check_claim

SessionKey = tuple[UUID, str]
TURN_COLUMNS = (
    "turn_event_id",
    "reply_event_id",
    "correlation_id",
    "project_key",
    "session_id",
    "protocol",
    "question",
    "answer",
    "engine",
    "content_version",
    "received_at",
    "answered_at",
    "engine_ms",
    "stage",
    "details",
    "kind",
)
SESSION_COLUMNS = (
    "x.project_key, x.session_id, x.protocol, x.data, x.state, x.channel, x.seq, x.channels,"
    " x.last_at, x.handoff, x.version"
)
_KEYS = "unnest($1::uuid[], $2::text[]) AS k(project_key, session_id)"
_MATCH = "x.project_key = k.project_key AND x.session_id = k.session_id"
LOAD_SESSIONS = f"SELECT {SESSION_COLUMNS} FROM dialog.sessions x JOIN {_KEYS} ON {_MATCH}"
LOAD_DELETED = (
    f"SELECT x.project_key, x.session_id FROM dialog.deleted_sessions x JOIN {_KEYS} ON {_MATCH}"
)
STORED = "SELECT * FROM dialog.turns WHERE turn_event_id = ANY($1::uuid[])"
LAST_ROW = (
    "SELECT * FROM dialog.turns WHERE project_key = $1 AND session_id = $2 ORDER BY id DESC LIMIT 1"
)
_CHANGES = (
    # jsonb travels as text: asyncpg would read a list value (channels) as an array dimension
    "unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int[],"
    " $8::text[], $9::timestamptz[], $10::bigint[])"
    " AS u(project_key, session_id, protocol, data, state, channel, seq, channels, last_at,"
    " version)"
)
# A session the batch read at version v is written only while it still is at v.
UPDATE_SESSIONS = f"""
    UPDATE dialog.sessions s SET protocol = u.protocol, data = u.data::jsonb,
        state = u.state::jsonb, channel = u.channel, seq = u.seq, channels = u.channels::jsonb,
        last_at = coalesce(u.last_at, now()),
        version = s.version + 1, updated_at = now()
    FROM {_CHANGES}
    WHERE s.project_key = u.project_key AND s.session_id = u.session_id AND s.version = u.version
    RETURNING s.project_key, s.session_id"""
# A session the batch found new is created only if nobody made (or deleted) it meanwhile.
INSERT_SESSIONS = f"""
    INSERT INTO dialog.sessions AS s
        (project_key, session_id, protocol, data, state, channel, seq, channels, last_at, version)
    SELECT u.project_key, u.session_id, u.protocol, u.data::jsonb, u.state::jsonb, u.channel,
        u.seq, u.channels::jsonb, coalesce(u.last_at, now()), 1
    FROM {_CHANGES}
    WHERE NOT EXISTS (SELECT 1 FROM dialog.deleted_sessions d
                      WHERE d.project_key = u.project_key AND d.session_id = u.session_id)
    ON CONFLICT (project_key, session_id) DO NOTHING
    RETURNING s.project_key, s.session_id"""
STAGING = "turns_in"
CREATE_STAGING = (
    f"CREATE TEMP TABLE IF NOT EXISTS {STAGING} ON COMMIT DELETE ROWS AS"
    f" SELECT 0::int AS ord, {', '.join(TURN_COLUMNS)} FROM dialog.turns WITH NO DATA"
)
INSERT_TURNS = (
    f"INSERT INTO dialog.turns ({', '.join(TURN_COLUMNS)})"
    f" SELECT {', '.join(TURN_COLUMNS)} FROM {STAGING} ORDER BY ord"
    " ON CONFLICT (turn_event_id) DO NOTHING"
)
# A small batch's rows go in one statement (one round trip; COPY and the INSERT from the staging
# table take three): in batch order, with the same guard.
_ROWS = (
    "unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::text[], $6::text[], $7::text[],"
    " $8::text[], $9::text[], $10::int[], $11::timestamptz[], $12::timestamptz[],"
    " $13::float8[], $14::text[], $15::text[], $16::text[])"
    f" WITH ORDINALITY AS u({', '.join(TURN_COLUMNS)}, ord)"
)
INSERT_TURN_ROWS = (
    f"INSERT INTO dialog.turns ({', '.join(TURN_COLUMNS)})"
    f" SELECT {', '.join('u.details::json' if c == 'details' else f'u.{c}' for c in TURN_COLUMNS)}"
    f" FROM {_ROWS} ORDER BY u.ord"
    " ON CONFLICT (turn_event_id) DO NOTHING"
)
COPY_FROM = 32  # rows: from this many on, COPY is the cheaper way in
TEST_VERSION = "SELECT coalesce(max(version), 0) FROM dialog.bot_content WHERE project_key = $1"
RELEASE_VERSION = (
    "SELECT coalesce(max(version), 0) FROM dialog.releases WHERE id ="
    " (SELECT max(id) FROM dialog.releases WHERE project_key = $1)"
)
# What was said first: by an operator or a schedule (kind said), or by a state machine whose
# condition the clock found true (a tick's answer), since the user's last turn.
SAID_SINCE = """
    SELECT answer FROM dialog.turns
    WHERE project_key = $1 AND session_id = $2
    AND (kind = 'said' OR (details ->> 'event' = 'tick' AND engine <> 'none')) AND id > coalesce(
        (SELECT max(id) FROM dialog.turns WHERE project_key = $1 AND session_id = $2
         AND kind = 'turn' AND coalesce(details ->> 'event', '') <> 'tick'), 0)
    ORDER BY id DESC LIMIT $3"""


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

    row: SessionRow
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
    ) -> dict[SessionKey, SessionRow | None]:
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


class KnownSessions:
    """The sessions of a partition as its owner last wrote them (no read before their next
    batch). Whatever else changes a session bumps its version, so a stale one here only costs
    a refused write, after which it is read again; a new owner starts empty."""

    def __init__(self, most: int = 50_000) -> None:
        self._rows: dict[SessionKey, SessionRow] = {}
        self._quiet: set[SessionKey] = set()  # their newest transcript row was written here
        self._most = most

    async def read(
        self, store: "TurnBatches", keys: Sequence[SessionKey]
    ) -> dict[SessionKey, SessionRow | None]:
        """The sessions of `keys`: those known from here, the others read from `store`."""
        found: dict[SessionKey, SessionRow | None] = {
            k: self._rows[k] for k in keys if k in self._rows
        }
        missing = [k for k in keys if k not in found]
        if missing:
            found.update(await store.read_sessions(missing))
        return found

    def quiet(self, key: SessionKey) -> bool:
        """Whether nothing was said in a known session since its newest turn, which this owner
        wrote (an operator's message bumps the version: the write is refused, the session read
        again and what was said looked up)."""
        return key in self._quiet and key in self._rows

    def written(
        self,
        changed: Sequence[Changed],
        refused: set[SessionKey],
        turns: Sequence[TurnRecord] = (),
    ) -> None:
        """Keep what a batch wrote (at the version the write gave it); forget the refused."""
        newest: dict[SessionKey, TurnRecord] = {}
        for t in turns:
            newest[(t.project_key, t.session_id)] = t
        # Quiet: the session's newest row is a user's turn. A machine's tick is said to the
        # user unasked, so RSVP must hear it with its next answer (SAID_SINCE counts it).
        with_turns = {
            key
            for key, t in newest.items()
            if t.kind == "turn" and (t.details or {}).get("event") != "tick"
        }
        for c in changed:
            key = (c.row.project_key, c.row.session_id)
            self._rows.pop(key, None)
            if key in refused:
                self._quiet.discard(key)
                continue
            c.row.version = 1 if c.read is None else c.read + 1
            self._rows[key] = c.row
            if key in with_turns:
                self._quiet.add(key)
            else:
                self._quiet.discard(key)
        while len(self._rows) > self._most:
            self._quiet.discard(next(iter(self._rows)))
            self._rows.pop(next(iter(self._rows)))

    def forget(self) -> None:
        """A batch failed half way: its sessions may hold answers that were not written."""
        self._rows.clear()
        self._quiet.clear()


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
    ) -> dict[SessionKey, SessionRow | None]:
        async with self._db.pool.acquire() as conn:
            rows = await conn.fetch(LOAD_SESSIONS, *_keys(keys))
            found: dict[SessionKey, SessionRow | None] = {
                (r["project_key"], r["session_id"]): SessionRow(**dict(r)) for r in rows
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
