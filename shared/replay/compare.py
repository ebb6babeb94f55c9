"""Comparing a rebuilt schema with the live one, table by table, as multisets of rows."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import asyncpg

from shared.db import libpq_url

from .schemas import quoted


@dataclass(frozen=True)
class TableCheck:
    """How one table is compared. `exclude` names the columns a replay cannot rebuild (the
    reason with each); `expressions` compares a column through SQL instead (over alias `x`,
    the reason in a comment); `where` keeps only some rows (`{schema}` is either side's)."""

    table: str
    order: tuple[str, ...]
    exclude: Mapping[str, str] = field(default_factory=dict)
    expressions: Mapping[str, str] = field(default_factory=dict)
    where: str = ""


@dataclass(frozen=True)
class TableDiff:
    """Rows of one table on each side, and those found on one side only (first few)."""

    table: str
    live_rows: int
    rebuilt_rows: int
    only_live: int
    only_rebuilt: int
    examples_live: list[dict[str, Any]]
    examples_rebuilt: list[dict[str, Any]]

    @property
    def equal(self) -> bool:
        return self.only_live == 0 and self.only_rebuilt == 0


async def _columns(conn: asyncpg.Connection, schema: str, check: TableCheck) -> list[str]:
    names = await conn.fetch(
        "SELECT column_name FROM information_schema.columns"
        " WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position",
        schema,
        check.table,
    )
    return [r["column_name"] for r in names if r["column_name"] not in check.exclude]


def _side(schema: str, check: TableCheck, columns: list[str]) -> str:
    selected = ", ".join(
        f"{check.expressions.get(c, 'x.' + quoted(c))} AS {quoted(c)}" for c in columns
    )
    where = "($1::uuid IS NULL OR x.project_key = $1)"
    if check.where:
        where += " AND " + check.where.format(schema=quoted(schema))
    return f"SELECT {selected} FROM {quoted(schema)}.{quoted(check.table)} x WHERE {where}"  # noqa: S608 (catalogue names, quoted)


async def compare_table(
    conn: asyncpg.Connection,
    check: TableCheck,
    *,
    live: str,
    rebuilt: str,
    project: UUID | None,
    show: int,
) -> TableDiff:
    """Compare one table of two schemas (one project's rows, or all) as multisets of rows."""
    columns = await _columns(conn, live, check)
    columns += [c for c in check.expressions if c not in columns]
    mine, theirs = _side(live, check, columns), _side(rebuilt, check, columns)
    order = ", ".join(quoted(c) for c in check.order)

    async def count(side: str) -> int:
        return int(await conn.fetchval(f"SELECT count(*) FROM ({side}) s", project))  # noqa: S608

    async def only(left: str, right: str) -> tuple[int, list[dict[str, Any]]]:
        diff = f"({left}) EXCEPT ALL ({right})"
        n = int(await conn.fetchval(f"SELECT count(*) FROM ({diff}) d", project))  # noqa: S608
        rows = await conn.fetch(
            f"SELECT * FROM ({diff}) d ORDER BY {order} LIMIT {int(show)}",  # noqa: S608
            project,
        )
        return n, [dict(r) for r in rows]

    only_live, examples_live = await only(mine, theirs)
    only_rebuilt, examples_rebuilt = await only(theirs, mine)
    return TableDiff(
        table=check.table,
        live_rows=await count(mine),
        rebuilt_rows=await count(theirs),
        only_live=only_live,
        only_rebuilt=only_rebuilt,
        examples_live=examples_live,
        examples_rebuilt=examples_rebuilt,
    )


async def compare_schemas(
    database_url: str,
    checks: Sequence[TableCheck],
    *,
    live: str,
    rebuilt: str,
    project: UUID | None,
    show: int = 5,
) -> list[TableDiff]:
    """Compare every checked table of `live` with its copy in `rebuilt`."""
    conn = await asyncpg.connect(libpq_url(database_url))
    try:
        return [
            await compare_table(conn, c, live=live, rebuilt=rebuilt, project=project, show=show)
            for c in checks
        ]
    finally:
        await conn.close()


def report(diffs: Sequence[TableDiff], checks: Sequence[TableCheck]) -> list[str]:
    """Lines to print: a row count per table (live vs rebuilt), then the rows that differ, then
    the columns left out of the comparison and why."""
    lines = [f"{'table':<20} {'live':>8} {'rebuilt':>8} {'only live':>10} {'only rebuilt':>13}"]
    for d in diffs:
        lines.append(
            f"{d.table:<20} {d.live_rows:>8} {d.rebuilt_rows:>8} {d.only_live:>10}"
            f" {d.only_rebuilt:>13}  {'equal' if d.equal else 'DIFFERENT'}"
        )
    for d in diffs:
        lines += [f"  {d.table} only live: {row}" for row in d.examples_live]
        lines += [f"  {d.table} only rebuilt: {row}" for row in d.examples_rebuilt]
    for check in checks:
        for column, why in check.exclude.items():
            lines.append(f"  not compared: {check.table}.{column}: {why}")
    return lines


# --- running -------------------------------------------------------------------------------
