"""The replay's own schema: empty copies of the live tables, and raw SQL pointed at it."""

import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import asyncpg

from shared.db import Database

_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
# Only a schema carrying this comment (one that a replay made) is ever dropped by a replay.
REPLAY_MARK = "switchboard replay of "


class ReplayError(Exception):
    """A replay that cannot run as asked (a target schema it must not touch, ...)."""


def quoted(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


async def fresh_schema(
    conn: asyncpg.Connection, *, live: str, into: str, tables: Sequence[str]
) -> None:
    """Create schema `into` with empty copies of `live`'s `tables` (columns, defaults,
    identities, constraints, indexes: `LIKE ... INCLUDING ALL`; foreign keys are not copied).

    A schema of that name is dropped first only if a replay made it: a typo in INTO never
    drops a live schema."""
    if not _SCHEMA_NAME.match(into) or into == live:
        raise ReplayError(f"{into!r} cannot hold a replay of {live!r}: name another schema")
    async with conn.transaction():
        found = await conn.fetchrow(
            "SELECT coalesce(obj_description(oid, 'pg_namespace'), '') AS comment"
            " FROM pg_namespace WHERE nspname = $1",
            into,
        )
        if found is not None and not found["comment"].startswith(REPLAY_MARK):
            raise ReplayError(f"schema {into!r} exists and is not a replay: name another schema")
        await conn.execute(f"DROP SCHEMA IF EXISTS {quoted(into)} CASCADE")
        await conn.execute(f"CREATE SCHEMA {quoted(into)}")
        mark = (REPLAY_MARK + live).replace("'", "''")
        await conn.execute(f"COMMENT ON SCHEMA {quoted(into)} IS '{mark}'")
        for table in tables:
            await conn.execute(
                f"CREATE TABLE {quoted(into)}.{quoted(table)} "
                f"(LIKE {quoted(live)}.{quoted(table)} INCLUDING ALL)"
            )


def translate_sql(statement: str, schema_map: Mapping[str, str]) -> str:
    """`statement` with every `<schema>.` of the map renamed: SQLAlchemy's
    `schema_translate_map`, for raw SQL text (which SQLAlchemy leaves alone). Textual: a
    string literal holding `<schema>.` is renamed too."""
    for live, into in schema_map.items():
        statement = re.sub(rf"\b{re.escape(live)}\.", f"{into}.", statement)
    return statement


class TranslatingConnection:
    """An asyncpg connection whose SQL text is run through `translate_sql` (what a store that
    writes raw SQL needs to write into a replay schema through its own code)."""

    def __init__(self, conn: Any, schema_map: Mapping[str, str]) -> None:
        self._conn = conn
        self._map = dict(schema_map)

    def transaction(self, **options: Any) -> Any:
        return self._conn.transaction(**options)

    async def execute(self, statement: str, *args: Any, **options: Any) -> Any:
        return await self._conn.execute(translate_sql(statement, self._map), *args, **options)

    async def fetch(self, statement: str, *args: Any, **options: Any) -> Any:
        return await self._conn.fetch(translate_sql(statement, self._map), *args, **options)

    async def fetchval(self, statement: str, *args: Any, **options: Any) -> Any:
        return await self._conn.fetchval(translate_sql(statement, self._map), *args, **options)

    async def copy_records_to_table(self, table: str, **options: Any) -> Any:
        return await self._conn.copy_records_to_table(table, **self._translated(options))

    async def copy_to_table(self, table: str, **options: Any) -> Any:
        return await self._conn.copy_to_table(table, **self._translated(options))

    def _translated(self, options: dict[str, Any]) -> dict[str, Any]:
        schema = options.get("schema_name")
        return {**options, "schema_name": self._map.get(schema, schema) if schema else schema}


class _Acquired:
    def __init__(self, pool: Any, schema_map: Mapping[str, str]) -> None:
        self._acquire = pool.acquire()
        self._map = schema_map

    async def __aenter__(self) -> TranslatingConnection:
        return TranslatingConnection(await self._acquire.__aenter__(), self._map)

    async def __aexit__(self, *exc: object) -> None:
        await self._acquire.__aexit__(*exc)


class TranslatingPool:
    """An asyncpg pool handing out TranslatingConnections."""

    def __init__(self, pool: Any, schema_map: Mapping[str, str]) -> None:
        self._pool = pool
        self._map = dict(schema_map)

    def acquire(self) -> _Acquired:
        return _Acquired(self._pool, self._map)

    async def fetch(self, statement: str, *args: Any) -> Any:
        return await self._pool.fetch(translate_sql(statement, self._map), *args)

    async def fetchval(self, statement: str, *args: Any) -> Any:
        return await self._pool.fetchval(translate_sql(statement, self._map), *args)


class TranslatingDatabase(Database):
    """A Database whose pool (and per-connection `init`) speaks through `translate_sql`: a
    store over it writes into the replay schema with its own statements."""

    def __init__(
        self,
        database_url: str,
        schema_map: Mapping[str, str],
        *,
        init: Callable[[Any], Awaitable[None]] | None = None,
    ) -> None:
        self._map = dict(schema_map)
        self._inner_init = init
        super().__init__(database_url, max_size=2, init=self._translated_init)

    async def _translated_init(self, conn: Any) -> None:
        if self._inner_init is not None:
            await self._inner_init(TranslatingConnection(conn, self._map))

    @property
    def pool(self) -> Any:
        return TranslatingPool(super().pool, self._map)


# --- comparing -----------------------------------------------------------------------------
