"""Bot content versions and the release stage's publications, in Postgres: raw asyncpg, each
statement a constant of sql.py, on the dialog's pool (services/dialog/db.py)."""

from typing import Any
from uuid import UUID

from pydantic import BaseModel

from shared.contracts import BotContent, SaveBotContent
from shared.contracts.content import (
    MAX_INLINE_AIML,
    AimlFile,
    ContentFile,
    SaveBehavior,
    SaveDocument,
    SaveKnowledge,
    VersionInfo,
    VersionList,
    VersionRef,
)
from shared.contracts.knowledge import Stage
from shared.db import Database

from ..models import BotContentRow
from . import sql
from .manifest import AIML, BEHAVIORS, DOCUMENTS, described, listed, texts_of
from .port import save_as_one_file
from .versions import (
    CONTENT_FIELDS,
    EMPTY,
    add_version,
    content_of,
    lock_content,
    locked_newest,
    stage_version,
    version_row,
)


class ContentStore:
    """Versions of each project's bot content, and the release stage's publications.

    A version is never changed: every save appends one (copying what it does not replace),
    under a per-project advisory lock so concurrent saves get consecutive numbers. Files
    (AIML, behaviour trees) are listed per version and their texts kept once per digest.
    """

    def __init__(self, database: Database) -> None:
        self._db = database

    async def get(
        self, project_key: UUID, *, stage: Stage = "test", version: int | None = None
    ) -> BotContent:
        """A stage's content, or one version's; EMPTY when there is none. The AIML text is
        included only for one small file (see BotContent)."""
        row = await self.row(project_key, stage if version is None else version)
        if row is None:
            return EMPTY
        files = listed(row, AIML)
        inline = len(files) == 1 and files[0].size <= MAX_INLINE_AIML
        found = await self.texts(project_key, [files[0].sha256]) if inline else {}
        return content_of(row, aiml=found.get(files[0].sha256, "") if inline else "")

    async def row(self, project_key: UUID, ref: VersionRef) -> BotContentRow | None:
        """The version a stage answers from, or a numbered one (None: none, or version 0)."""
        pool = self._db.pool
        version = ref if isinstance(ref, int) else await stage_version(pool, project_key, ref)
        return await version_row(pool, project_key, version) if version else None

    async def texts(self, project_key: UUID, digests: list[str]) -> dict[str, str]:
        """Stored file texts by digest."""
        return await texts_of(self._db.pool, project_key, digests)

    async def aiml_files(self, project_key: UUID, version: int) -> list[AimlFile]:
        """A version's AIML files with their texts, in load order."""
        row = await self.row(project_key, version)
        files = listed(row, AIML)
        texts = await self.texts(project_key, [f.sha256 for f in files])
        return [AimlFile(name=f.name, text=texts[f.sha256]) for f in files]

    async def save(self, command: SaveBotContent, categories: int) -> BotContentRow:
        return await save_as_one_file(self, command, categories)

    async def save_aiml(
        self,
        project_key: UUID,
        correlation_id: UUID,
        files: list[tuple[AimlFile, int]],
        *,
        categories: int,
        **fields: Any,
    ) -> BotContentRow:
        """Store AIML files (each with its own category count) as every AIML file of the next
        version, which answers from `categories` categories in all."""
        entries = [described(file.name, file.text, count) for file, count in files]
        return await self._append(
            project_key,
            correlation_id,
            change=AIML,
            texts=[file.text for file, _ in files],
            file_changes={AIML: entries},
            categories=categories,
            **fields,
        )

    async def save_knowledge(self, command: SaveKnowledge) -> BotContentRow:
        """Store a new FAQ, intents, state machine, chain, maps, sets and/or properties as the
        next version."""
        changes: dict[str, Any] = {}
        if command.faq is not None:
            changes |= {"faq": _dump(command.faq), "faq_groups": len(command.faq.groups)}
        if command.intents is not None:
            intents = command.intents
            changes |= {"intents": _dump(intents), "intent_count": len(intents.intents)}
        if command.machine is not None:
            machine = command.machine
            changes |= {"machine": _dump(machine), "machine_states": len(machine.states)}
        if command.chain is not None:
            changes["chain"] = _dump(command.chain)
        for name in ("maps", "sets", "properties"):
            if (text := getattr(command, name)) is not None:
                changes[name] = text
        change = "+".join(
            k
            for k in ("faq", "intents", "machine", "chain", "maps", "sets", "properties")
            if getattr(command, k) is not None
        )
        return await self._append(
            command.project_key, command.correlation_id, change=change, **changes
        )

    async def save_behavior(self, command: SaveBehavior) -> BotContentRow | None:
        """Store (or remove) one behaviour tree as the next version; None when a tree to
        remove is not there."""
        return await self._save_file(
            command.project_key, command.correlation_id, BEHAVIORS, command.name, command.xml
        )

    async def save_document(self, command: SaveDocument, text: str | None) -> BotContentRow | None:
        """Store (or, `text` None, remove) one document's extracted text as the next version;
        None when a document to remove is not there."""
        return await self._save_file(
            command.project_key, command.correlation_id, DOCUMENTS, command.name, text
        )

    async def _save_file(
        self, key: UUID, correlation_id: UUID, kind: str, name: str, text: str | None
    ) -> BotContentRow | None:
        """Store (or, `text` None, remove) one named file of `kind` as the next version."""
        async with self._db.pool.acquire() as conn, conn.transaction():
            previous = await locked_newest(conn, key)
            current = listed(previous, kind)
            kept = [entry for entry in current if entry.name != name]
            if text is None and len(kept) == len(current):
                return None
            if text is not None:
                kept = sorted([*kept, described(name, text)], key=lambda e: e.name)
            what = "behavior" if kind == BEHAVIORS else "document"
            change = f"{what} {name}" if text is not None else f"remove {what} {name}"
            return await add_version(
                conn,
                previous,
                key,
                correlation_id,
                change=change,
                texts=[text] if text is not None else [],
                file_changes={kind: kept},
                fields={},
            )

    async def restore(
        self, project_key: UUID, version: int, correlation_id: UUID
    ) -> BotContentRow | None:
        """A new version with `version`'s content; None when that version does not exist."""
        old = await self.row(project_key, version)
        if old is None:
            return None
        copied = {name: getattr(old, name) for name in CONTENT_FIELDS}
        return await self._append(
            project_key, correlation_id, change=f"restore of version {version}", **copied
        )

    async def publish(
        self, project_key: UUID, version: int | None, correlation_id: UUID
    ) -> int | None:
        """Point the release stage at `version` (the newest when None); None when missing.
        Publishing an older version than the release is how the release is rolled back."""
        async with self._db.pool.acquire() as conn, conn.transaction():
            await lock_content(conn, project_key)
            if version is None:
                version = await stage_version(conn, project_key, "test")
            if not version or await version_row(conn, project_key, version) is None:
                return None
            await conn.execute(sql.PUBLISH, project_key, version, correlation_id)
        return version

    async def versions(self, project_key: UUID, limit: int) -> VersionList:
        """The newest `limit` versions, and the version each stage answers from."""
        async with self._db.pool.acquire() as conn, conn.transaction(readonly=True):
            test = await stage_version(conn, project_key, "test")
            release = await stage_version(conn, project_key, "release")
            rows = await conn.fetch(sql.VERSIONS, project_key, limit)
        versions = [
            VersionInfo(
                version=row["version"],
                created_at=row["created_at"],
                change=row["change"],
                categories=row["categories"],
                faq_groups=row["faq_groups"],
                intents=row["intent_count"],
                machine_states=row["machine_states"],
                released_at=row["released_at"],
            )
            for row in rows
        ]
        return VersionList(test=test, release=release, versions=versions)

    async def _append(
        self,
        project_key: UUID,
        correlation_id: UUID,
        *,
        change: str,
        texts: list[str] | None = None,
        file_changes: dict[str, list[ContentFile]] | None = None,
        **fields: Any,
    ) -> BotContentRow:
        async with self._db.pool.acquire() as conn, conn.transaction():
            previous = await locked_newest(conn, project_key)
            return await add_version(
                conn,
                previous,
                project_key,
                correlation_id,
                change=change,
                texts=texts or [],
                file_changes=file_changes,
                fields=fields,
            )


def _dump(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json", exclude_defaults=True)
