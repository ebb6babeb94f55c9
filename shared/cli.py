"""`switchboard` (or `python -m shared.cli`): migrations and projects from the command line.

The database is DATABASE_URL, else the embedded Postgres of a running `make run`. When there is
no database to talk to, a command says so in one line and exits 1: never a traceback.
"""

import asyncio
import getpass
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, TypeVar
from uuid import UUID

import asyncpg
import typer
from nats.aio.client import Client as NatsClient
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import exc

from . import subjects
from .broker import ONE_TRY, servers_of
from .contracts.project import ProjectChanged
from .db import opened
from .devstack.running import NoRunningStack, database_url, nats_url
from .identity import (
    AdminRole,
    AdminToken,
    AuditStore,
    IdentityError,
    NewProject,
    ProjectStore,
    TokenStore,
)
from .migrations import upgrade

app = typer.Typer(help="Switchboard administration", no_args_is_help=True)
projects = typer.Typer(help="Create, list and re-key projects", no_args_is_help=True)
app.add_typer(projects, name="project")
admin_tokens = typer.Typer(help="Tokens for the admin HTTP API", no_args_is_help=True)
app.add_typer(admin_tokens, name="admin-token")
T = TypeVar("T")
ANNOUNCE_WAIT_S = 5.0


class CliSettings(BaseSettings):
    """Where the database and NATS are: DATABASE_URL / NATS_URL, else the running `make run`'s
    (of SWITCHBOARD_DATA)."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    database_url: str | None = Field(None, description="Postgres URL; unset: `make run`'s")
    nats_url: str | None = Field(None, description="NATS URL; unset: `make run`'s")
    data_dir: Path | None = Field(
        None, alias="SWITCHBOARD_DATA", description="Data folder of `make run` (default .data)"
    )


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


def _short(err: BaseException) -> str:
    """The first line of an error, without the driver's class names."""
    text = str(getattr(err, "orig", None) or err).strip().splitlines()
    return text[0] if text else type(err).__name__


@contextmanager
def _database(action: str) -> Iterator[str]:
    """The database URL, and every way of not reaching it turned into one line and exit 1."""
    settings = CliSettings()
    try:
        url = database_url(settings.database_url, settings.data_dir)
    except NoRunningStack as err:
        raise _fail(str(err)) from None
    where = "DATABASE_URL" if settings.database_url else "the `make run` database"
    try:
        yield url
    except IdentityError as err:
        raise _fail(str(err)) from None
    except (exc.ProgrammingError, asyncpg.UndefinedTableError) as err:
        if "does not exist" not in str(err):
            raise _fail(f"{action} failed: {_short(err)}") from None
        raise _fail(f"{where} has no Switchboard tables yet: run `switchboard migrate`") from None
    except (
        OSError,
        ValueError,
        exc.DBAPIError,
        asyncpg.PostgresError,
        asyncpg.InterfaceError,
    ) as err:
        raise _fail(f"cannot reach {where}: {_short(err)}") from None


def _with_store(action: Callable[[ProjectStore], Awaitable[T]]) -> T:
    async def run(url: str) -> T:
        async with opened(url) as database:
            return await action(ProjectStore(database))

    with _database("the command") as url:
        return asyncio.run(run(url))


async def _audit(store: ProjectStore, action: str, project: UUID | None, **details: str) -> None:
    """Record a change made from the command line (the admin API records its own)."""
    await AuditStore(store.database).record(
        actor=f"cli:{getpass.getuser()}",
        action=action,
        target="switchboard " + action,
        status=0,
        project_key=project,
        details=details,
    )


@app.command()
def migrate() -> None:
    """Apply every pending database migration (DATABASE_URL, or `make run`'s database)."""
    with _database("migrate") as url:
        upgrade(url)
    typer.echo("database is up to date")


@projects.command("create")
def create(
    name: str, title: str = typer.Option("", help="Shown to clients as the bot's title")
) -> None:
    """Create a project; its secret is printed once and never stored in clear."""

    async def create(store: ProjectStore) -> NewProject:
        made = await store.create(name, title=title)
        await _audit(store, "project create", made.project.key)
        return made

    made = _with_store(create)
    typer.echo(f"PROJECT_KEY={made.project.key}\nPROJECT_SECRET={made.secret}")


@projects.command("list")
def list_projects() -> None:
    """List projects (key, name, secret prefix)."""
    for p in _with_store(lambda store: store.list()):
        typer.echo(f"{p.key}  {p.name:<30} {p.secret_prefix}…")


@projects.command("rotate-secret")
def rotate_secret(project: str = typer.Argument(help="Project key or name")) -> None:
    """Give a project a new secret; the old one stops working at once."""

    async def rotate(store: ProjectStore) -> NewProject:
        made = await store.rotate_secret(project)
        await _audit(store, "project rotate-secret", made.project.key)
        if not await _announce(ProjectChanged.first(project_key=made.project.key, change="secret")):
            typer.echo(
                "warning: NATS did not take the announcement; running gateways refuse the old "
                "secret once GATEWAY_IDENTITY_CACHE_S (60 s) has passed",
                err=True,
            )
        return made

    made = _with_store(rotate)
    typer.echo(f"PROJECT_KEY={made.project.key}\nPROJECT_SECRET={made.secret}")


async def _announce(change: ProjectChanged) -> bool:
    """Tell the running gateways (core NATS) to forget what they cached of the project; False
    when NATS did not take it within a few seconds."""
    client = NatsClient()
    settings = CliSettings()

    async def quiet(_err: Exception) -> None:
        return None

    async def publish() -> None:
        await client.connect(
            servers=servers_of(nats_url(settings.nats_url, settings.data_dir)),
            error_cb=quiet,
            **ONE_TRY,  # a probe's: two tries, not nats-py's sixty
        )
        subject = subjects.project_changed(change.project_key)
        await client.publish(subject, change.model_dump_json().encode())
        await client.flush(timeout=2)

    try:
        await asyncio.wait_for(publish(), ANNOUNCE_WAIT_S)
        return True
    except Exception:  # NATS unreachable: the gateways' cache expires on its own
        return False
    finally:
        if client.is_connected:
            await client.close()


@admin_tokens.command("create")
def create_admin_token(
    name: str,
    project: Annotated[
        list[str] | None,
        typer.Option(help="Limit the token to this project (key or name); repeat for several"),
    ] = None,
    read_only: Annotated[
        bool,
        typer.Option(
            "--read-only", help="A viewer's token: it reads everything it covers, changes nothing"
        ),
    ] = False,
) -> None:
    """Create an admin token (all projects unless --project is given); printed once."""
    role: AdminRole = "viewer" if read_only else "admin"

    async def create(store: ProjectStore) -> str:
        keys = [(await store.find(ref)).key for ref in project or []] or None
        made = await TokenStore(store.database).create_admin(name, projects=keys, role=role)
        scope = "every project" if keys is None else ", ".join(str(k) for k in keys)
        await _audit(store, f"admin-token create {name}", None, scope=scope, role=role)
        return made.secret

    typer.echo(f"ADMIN_TOKEN={_with_store(create)}")


@admin_tokens.command("list")
def list_admin_tokens() -> None:
    """Admin tokens by name, with the start of each (never the token), their role (admin, or
    viewer: read-only) and the projects they cover."""

    async def listed(store: ProjectStore) -> list[AdminToken]:
        return await TokenStore(store.database).admins()

    for token in _with_store(listed):
        scope = "every project" if token.projects is None else ", ".join(token.projects)
        typer.echo(f"{token.name:<30} {token.token_prefix}…  {token.role:<6}  {scope}")


@admin_tokens.command("revoke")
def revoke_admin_token(name: str) -> None:
    """Delete the admin token `name`: it stops working on the next request."""

    async def revoke(store: ProjectStore) -> bool:
        gone = await TokenStore(store.database).revoke_admin(name)
        if gone:
            await _audit(store, f"admin-token revoke {name}", None)
        return gone

    if not _with_store(revoke):
        typer.echo(f"error: no admin token named {name!r}", err=True)
        raise typer.Exit(1)
    typer.echo(f"revoked {name}")


if __name__ == "__main__":
    app()
