"""One content version: read as the contract every reader gets, the version a stage answers
from, and the next version appended under the project's lock."""

from typing import Any
from uuid import UUID

import asyncpg

from shared.contracts import BotContent
from shared.contracts.content import ContentFile
from shared.contracts.knowledge import DEFAULT_CHAIN, Chain, Faq, Intents, Stage
from shared.contracts.machine import StateMachine

from ..models import BotContentRow
from ..rows import Executor, values
from . import sql
from .manifest import AIML, BEHAVIORS, DOCUMENTS, keep_texts, listed, manifest

EMPTY = BotContent(version=0, aiml="", maps="", sets="", properties="")
MAX_CHANGE_CHARS = 64  # the `change` column's width


async def locked_newest(conn: asyncpg.Connection, project_key: UUID) -> BotContentRow | None:
    """The newest version, with the project's content locked until the transaction ends."""
    await lock_content(conn, project_key)
    current = await stage_version(conn, project_key, "test")
    return await version_row(conn, project_key, current) if current else None


async def version_row(db: Executor, project_key: UUID, version: int) -> BotContentRow | None:
    """One stored version, or None."""
    found = await db.fetchrow(sql.VERSION, project_key, version)
    return None if found is None else BotContentRow(**dict(found))


async def add_version(
    conn: asyncpg.Connection,
    previous: BotContentRow | None,
    project_key: UUID,
    correlation_id: UUID,
    *,
    change: str,
    texts: list[str],
    fields: dict[str, Any],
    file_changes: dict[str, list[ContentFile]] | None = None,
) -> BotContentRow:
    """The version after `previous`: its content with `fields` replaced and the file kinds of
    `file_changes` replaced in its manifest, once `texts` are kept."""
    base = {name: getattr(previous, name) for name in CONTENT_FIELDS} if previous else {}
    if file_changes:
        fields = {**fields, "files": manifest(previous, **file_changes)}
    await keep_texts(conn, project_key, texts)
    row = BotContentRow(
        **(base | fields),
        project_key=project_key,
        version=(previous.version if previous else 0) + 1,
        correlation_id=correlation_id,
        change=change[:MAX_CHANGE_CHARS],
    )
    row.created_at = await conn.fetchval(sql.ADD_VERSION, *values(row, sql.ADD_VERSION_COLUMNS))
    return row


CONTENT_FIELDS = sql.CONTENT_FIELDS


def content_of(row: BotContentRow, *, aiml: str = "") -> BotContent:
    """A stored version as the contract every reader gets (`aiml`: its one file's text)."""
    return BotContent(
        version=row.version,
        aiml=aiml,
        aiml_files=listed(row, AIML),
        behaviors=listed(row, BEHAVIORS),
        documents=listed(row, DOCUMENTS),
        maps=row.maps,
        sets=row.sets,
        properties=row.properties,
        faq=Faq.model_validate(row.faq) if row.faq else Faq(),
        intents=Intents.model_validate(row.intents) if row.intents else Intents(),
        machine=StateMachine.model_validate(row.machine) if row.machine else None,
        chain=Chain.model_validate(row.chain) if row.chain else DEFAULT_CHAIN,
    )


async def lock_content(conn: asyncpg.Connection, project_key: UUID) -> None:
    """Serialise content changes of one project until the transaction ends."""
    await conn.execute(sql.LOCK, str(project_key))


async def stage_version(db: Executor, project_key: UUID, stage: Stage) -> int:
    """The version a stage answers from: test the newest, release the last published (0: none)."""
    query = sql.TEST_VERSION if stage == "test" else sql.RELEASE_VERSION
    return int(await db.fetchval(query, project_key))
