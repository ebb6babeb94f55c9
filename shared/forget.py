"""Forgetting deleted projects: each service deletes its own rows when `ProjectDeleted` arrives.

Every table of the service's schema that has a `project_key` column is emptied of the project
(found from the catalogue, so a table added later is not forgotten), in one transaction, and
only then is the message acked: a service that is down or fails forgets on redelivery.
"""

import logging
from uuid import UUID

import asyncpg
from faststream import AckPolicy
from faststream.asgi import AsgiFastStream
from faststream.exceptions import NackMessage, RejectMessage
from faststream.nats import JStream, NatsBroker, NatsMessage, PullSub
from nats.js import JetStreamContext, api
from pydantic import ValidationError

from . import subjects
from .broker import undecoded
from .contracts.project import ProjectDeleted
from .db import libpq_url

log = logging.getLogger(__name__)
ACK_WAIT_S = 60.0
PROJECT_TABLES = """
    SELECT c.table_name FROM information_schema.columns c
    JOIN information_schema.tables t USING (table_schema, table_name)
    WHERE c.table_schema = $1 AND c.column_name = 'project_key' AND t.table_type = 'BASE TABLE'
    ORDER BY c.table_name
"""


async def forget_project(database_url: str, *, schema: str, project: UUID) -> int:
    """Delete `project`'s rows from every table of `schema`; the number of rows deleted.

    Tables that reference each other are retried in later passes (a referencing table's rows
    go first), each attempt inside a savepoint so a refused one leaves nothing behind.
    """
    connection = await asyncpg.connect(libpq_url(database_url))
    try:
        async with connection.transaction():
            left = [row["table_name"] for row in await connection.fetch(PROJECT_TABLES, schema)]
            deleted = 0
            while left:
                refused = []
                for table in left:
                    try:
                        async with connection.transaction():
                            status = await connection.execute(
                                f"DELETE FROM {_ident(schema)}.{_ident(table)} "  # noqa: S608 (catalogue names, quoted)
                                "WHERE project_key = $1",
                                project,
                            )
                    except asyncpg.ForeignKeyViolationError:
                        refused.append(table)
                        continue
                    deleted += int(status.rsplit(" ", 1)[-1])
                if len(refused) == len(left):
                    raise RuntimeError(f"{schema} tables {refused} are referenced by others")
                left = refused
        return deleted
    finally:
        await connection.close()


def _ident(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def forget_consumer(service: str) -> api.ConsumerConfig:
    """The service's consumer of project deletions, shared by its replicas."""
    return api.ConsumerConfig(
        name=subjects.forget_durable(service),
        durable_name=subjects.forget_durable(service),
        filter_subject=subjects.PROJECT_DELETED_ALL,
        ack_policy=api.AckPolicy.EXPLICIT,
        ack_wait=ACK_WAIT_S,
    )


async def ensure_forget_consumer(js: JetStreamContext, service: str) -> None:
    """Create (or update) the durable consumer before the subscriber binds to it."""
    await js.add_consumer(subjects.CONFIG_STREAM, config=forget_consumer(service))


def register_forgetting(
    broker: NatsBroker,
    *,
    service: str,
    schema: str,
    database_url: str,
    retry_delay_s: float = 2.0,
) -> None:
    """Subscribe `service` to project deletions: its rows in `schema` go, then the ack.

    The consumer must exist first (`ensure_forget_consumer` in the service's startup).
    """

    @broker.subscriber(
        subjects.PROJECT_DELETED_ALL,
        stream=JStream(name=subjects.CONFIG_STREAM, declare=False),
        durable=subjects.forget_durable(service),
        pull_sub=PullSub(batch_size=1, timeout=1.0),
        config=forget_consumer(service),
        ack_policy=AckPolicy.NACK_ON_ERROR,
        decoder=undecoded,
        description=f"Delete the {schema} rows of deleted projects",
    )
    async def on_project_deleted(msg: NatsMessage) -> None:
        try:
            event = ProjectDeleted.model_validate_json(msg.body)
        except ValidationError as err:
            log.error("terminating malformed ProjectDeleted %s: %s", msg.message_id, err)
            raise RejectMessage from err
        try:
            deleted = await forget_project(database_url, schema=schema, project=event.project_key)
        except (OSError, asyncpg.PostgresError, RuntimeError) as err:
            log.warning("project %s not forgotten yet, retrying: %r", event.project_key, err)
            raise NackMessage(delay=retry_delay_s) from err
        log.info("forgot %s (%s): %d %s rows", event.name, event.project_key, deleted, schema)


def forget_deleted_projects(
    app: AsgiFastStream, broker: NatsBroker, *, service: str, schema: str, database_url: str
) -> None:
    """Wire a service to forget deleted projects: the consumer is made once the streams exist
    (after make_service_app's own startup), the subscriber binds when the broker starts."""
    register_forgetting(broker, service=service, schema=schema, database_url=database_url)

    @app.on_startup
    async def prepare_forgetting() -> None:
        await ensure_forget_consumer(broker.connection.jetstream(), service)
