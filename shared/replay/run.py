"""Running one service's replay: settings, the steps, the command line."""

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated
from uuid import UUID

import asyncpg
import nats
import typer
from nats.js import JetStreamContext
from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared import subjects
from shared.contracts.project import ProjectDeleted
from shared.db import libpq_url
from shared.forget import forget_project

from .compare import TableCheck, compare_schemas, report
from .schemas import ReplayError, fresh_schema
from .streams import StreamRead, oldest_message, project_subjects, stream_messages, timestamp


class ReplaySettings(BaseSettings):
    """Where the live stack is: NATS_URL and DATABASE_URL, else what `make run` started."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    nats_url: str = Field("nats://127.0.0.1:4222", description="NATS server(s)")
    database_url: str | None = Field(
        None, description="Postgres URL; unset: the embedded Postgres of `make run`"
    )
    data_dir: Path = Field(
        Path(".data"), alias="SWITCHBOARD_DATA", description="Data folder of `make run`"
    )

    def database(self) -> str:
        """DATABASE_URL, or the Unix socket `make run`'s embedded Postgres listens on."""
        if self.database_url:
            return self.database_url
        pid_file = self.data_dir / "postgres" / "postmaster.pid"
        try:
            socket_dir = pid_file.read_text().splitlines()[4]  # line 5: the socket folder
        except (OSError, IndexError) as err:
            raise ReplayError(
                f"DATABASE_URL is not set and no running `make run` Postgres in {pid_file}"
            ) from err
        return f"postgresql://postgres@/switchboard?host={socket_dir}"


Rebuild = Callable[[JetStreamContext, str, str, UUID | None], Awaitable[list[StreamRead]]]


@dataclass(frozen=True)
class Projection:
    """One service's projections: its live schema, the tables a replay rebuilds, how they are
    compared, and `rebuild(js, database_url, into, project)`, which reads the streams and
    writes through the service's own store code into schema `into`."""

    service: str
    live: str
    streams: tuple[str, ...]
    checks: tuple[TableCheck, ...]
    rebuild: Rebuild

    @property
    def tables(self) -> list[str]:
        return [check.table for check in self.checks]


async def forget_deleted(
    js: JetStreamContext, database_url: str, *, into: str, project: UUID | None
) -> StreamRead:
    """What the live service does on `ProjectDeleted` (CONFIG), done to the replay schema:
    every row of a deleted project goes."""
    progress = StreamRead(subjects.CONFIG_STREAM)
    filters = project_subjects([subjects.PROJECT_DELETED_ALL], project)
    async for msg in stream_messages(js, subjects.CONFIG_STREAM, filters, progress):
        try:
            deleted = ProjectDeleted.model_validate_json(msg.data)
        except ValidationError:
            progress.skip("malformed")
            continue
        await forget_project(database_url, schema=into, project=deleted.project_key)
    return progress


async def replay(
    projection: Projection,
    *,
    into: str,
    project: UUID | None,
    compare: bool,
    show: int,
    settings: ReplaySettings | None = None,
) -> int:
    """Rebuild `projection` into schema `into`, print what was read (and with `compare` how
    the tables differ from the live ones); 1 when they differ, else 0."""
    settings = settings or ReplaySettings()
    database_url = settings.database()
    nc = await nats.connect(settings.nats_url)
    try:
        js = nc.jetstream()
        for stream in projection.streams:
            oldest = await oldest_message(js, stream)
            if oldest is None:
                print(f"{stream} holds no messages")
            else:
                since = timestamp(oldest)
                print(f"{stream} holds messages since {since}; older ones cannot be rebuilt")
        conn = await asyncpg.connect(libpq_url(database_url))
        try:
            await fresh_schema(conn, live=projection.live, into=into, tables=projection.tables)
        finally:
            await conn.close()
        reads = await projection.rebuild(js, database_url, into, project)
        reads.append(await forget_deleted(js, database_url, into=into, project=project))
    finally:
        await nc.close()
    whose = f"project {project}" if project else "every project"
    print(f"rebuilt {projection.service} ({whose}) into schema {into}:")
    for read in reads:
        print("  " + read.line())
    if not compare:
        return 0
    diffs = await compare_schemas(
        database_url,
        projection.checks,
        live=projection.live,
        rebuilt=into,
        project=project,
        show=show,
    )
    print("\n".join(report(diffs, projection.checks)))
    return 0 if all(d.equal for d in diffs) else 1


def command_line(projection: Projection) -> typer.Typer:
    """`python -m services.<service>.replay [--into S] [--project K] [--compare]`."""
    app = typer.Typer(add_completion=False)

    @app.command(help=f"Rebuild the {projection.service} projections from JetStream.")
    def main(
        into: Annotated[
            str, typer.Option(help="Schema to rebuild into (dropped and made anew)")
        ] = f"replay_{projection.live}",
        project: Annotated[UUID | None, typer.Option(help="Only this project (its key)")] = None,
        compare: Annotated[
            bool, typer.Option(help="Compare with the live tables; exit 1 when they differ")
        ] = False,
        show: Annotated[int, typer.Option(help="Differing rows shown per table and side")] = 5,
    ) -> None:
        try:
            code = asyncio.run(
                replay(projection, into=into, project=project, compare=compare, show=show)
            )
        except ReplayError as err:
            typer.echo(f"error: {err}", err=True)
            raise typer.Exit(2) from err
        raise typer.Exit(code)

    return app
