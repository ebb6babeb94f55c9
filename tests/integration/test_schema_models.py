"""The SQLModel models of the dialog, telemetry, schedule and media declare exactly the tables their
migrations create: the migrated test database has no column, type, nullability, default,
index or constraint the models do not name, and the models none the database lacks."""

from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Column, Integer, MetaData, Table, Uuid
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import SQLModel

from services.dialog import models as dialog_models
from services.media import models as media_models
from services.schedule import models as schedule_models
from services.telemetry import models as telemetry_models
from shared.settings import asyncpg_url
from tests.support.backends import Backends

SCHEMAS = {
    dialog_models.SCHEMA: dialog_models,
    media_models.SCHEMA: media_models,
    schedule_models.SCHEMA: schedule_models,
    telemetry_models.SCHEMA: telemetry_models,
}


def _differences(
    connection: Connection, schema: str, metadata: MetaData = SQLModel.metadata
) -> list[Any]:
    """What alembic's autogenerate would change to make the database match the models."""

    def include_name(name: str | None, type_: str, parents: dict[str, str | None]) -> bool:
        return name == schema if type_ == "schema" else True

    def include_object(obj: Any, name: str | None, type_: str, reflected: bool, other: Any) -> bool:
        table = obj if type_ == "table" else getattr(obj, "table", None)
        return table is None or getattr(table, "schema", None) == schema

    context = MigrationContext.configure(
        connection,
        opts={
            "include_schemas": True,
            "include_name": include_name,
            "include_object": include_object,
            "compare_type": True,
            "compare_server_default": True,
        },
    )
    return list(compare_metadata(context, metadata))


async def _compared(backends: Backends, schema: str, metadata: MetaData) -> list[Any]:
    engine = create_async_engine(asyncpg_url(backends.database_url))
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_differences, schema, metadata)
    finally:
        await engine.dispose()


@pytest.mark.parametrize("schema", sorted(SCHEMAS))
async def test_the_models_declare_what_the_migrations_create(
    backends: Backends, schema: str
) -> None:
    """Each service's models and its migrated schema agree table by table, column by column."""
    assert schema in {table.schema for table in SQLModel.metadata.tables.values()}
    assert await _compared(backends, schema, SQLModel.metadata) == []


async def test_a_model_that_differs_from_its_table_is_seen(backends: Backends) -> None:
    """The comparison is not vacuous: a column the models lack, and one of another type, are
    reported."""
    wrong = MetaData()
    Table(
        "entries",
        wrong,
        Column("id", Uuid(), primary_key=True),
        Column("project_key", Integer(), nullable=False),
        schema="schedule",
    )
    found = [repr(change) for change in await _compared(backends, "schedule", wrong)]
    assert any("remove_column" in change and "'robot_id'" in change for change in found)
    assert any("modify_type" in change and "'project_key'" in change for change in found)
