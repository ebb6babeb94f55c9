"""Bot content versions and the release stage's publications, in Postgres."""

from typing import Any
from uuid import UUID

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.contracts import BotContent, SaveBotContent
from shared.contracts.content import SaveKnowledge, VersionInfo, VersionList
from shared.contracts.knowledge import DEFAULT_CHAIN, Chain, Faq, Intents, Stage
from shared.contracts.machine import StateMachine
from shared.db import transaction

from .models import BotContentRow, ReleaseRow

EMPTY = BotContent(version=0, aiml="", maps="", sets="", properties="")


class ContentStore:
    """Versions of each project's bot content, and the release stage's publications.

    A version is never changed: every save appends one (copying what it does not replace),
    under a per-project advisory lock so concurrent saves get consecutive numbers.
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def get(
        self, project_key: UUID, *, stage: Stage = "test", version: int | None = None
    ) -> BotContent:
        """A stage's content, or one version's; EMPTY when there is none."""
        async with self._sessions() as session:
            if version is None:
                version = await stage_version(session, project_key, stage)
            row = await session.get(BotContentRow, (project_key, version)) if version else None
        return content_of(row) if row else EMPTY

    async def save(self, command: SaveBotContent, categories: int) -> BotContentRow:
        """Store `command` as the next version; None fields keep the current value."""
        return await self._append(
            command.project_key,
            command.correlation_id,
            change="aiml",
            aiml=command.aiml,
            categories=categories,
            **{
                name: value
                for name in ("maps", "sets", "properties")
                if (value := getattr(command, name)) is not None
            },
        )

    async def save_knowledge(self, command: SaveKnowledge) -> BotContentRow:
        """Store a new FAQ, intents, state machine and/or chain as the next version."""
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
        change = "+".join(
            k for k in ("faq", "intents", "machine", "chain") if getattr(command, k) is not None
        )
        return await self._append(
            command.project_key, command.correlation_id, change=change, **changes
        )

    async def restore(
        self, project_key: UUID, version: int, correlation_id: UUID
    ) -> BotContentRow | None:
        """A new version with `version`'s content; None when that version does not exist."""
        async with self._sessions() as session:
            old = await session.get(BotContentRow, (project_key, version))
        if old is None:
            return None
        copied = {name: getattr(old, name) for name in _CONTENT_FIELDS}
        return await self._append(
            project_key, correlation_id, change=f"restore of version {version}", **copied
        )

    async def publish(
        self, project_key: UUID, version: int | None, correlation_id: UUID
    ) -> int | None:
        """Point the release stage at `version` (the newest when None); None when missing."""
        async with transaction(self._sessions) as session:
            await _lock(session, project_key)
            if version is None:
                version = await stage_version(session, project_key, "test")
            if not version or await session.get(BotContentRow, (project_key, version)) is None:
                return None
            session.add(
                ReleaseRow(project_key=project_key, version=version, correlation_id=correlation_id)
            )
        return version

    async def versions(self, project_key: UUID, limit: int) -> VersionList:
        """The newest `limit` versions, and the version each stage answers from."""
        async with self._sessions() as session:
            test = await stage_version(session, project_key, "test")
            release = await stage_version(session, project_key, "release")
            released = (
                select(ReleaseRow.version, func.max(ReleaseRow.published_at).label("at"))
                .where(ReleaseRow.project_key == project_key)
                .group_by(col(ReleaseRow.version))
                .subquery()
            )
            rows = await session.exec(
                select(BotContentRow, released.c.at)
                .outerjoin(released, released.c.version == BotContentRow.version)
                .where(BotContentRow.project_key == project_key)
                .order_by(col(BotContentRow.version).desc())
                .limit(limit)
            )
            versions = [
                VersionInfo(
                    version=row.version,
                    created_at=row.created_at,
                    change=row.change,
                    categories=row.categories,
                    faq_groups=row.faq_groups,
                    intents=row.intent_count,
                    machine_states=row.machine_states,
                    released_at=at,
                )
                for row, at in rows.all()
            ]
        return VersionList(test=test, release=release, versions=versions)

    async def _append(
        self, project_key: UUID, correlation_id: UUID, *, change: str, **fields: Any
    ) -> BotContentRow:
        async with transaction(self._sessions) as session:
            await _lock(session, project_key)
            current = await stage_version(session, project_key, "test")
            previous = await session.get(BotContentRow, (project_key, current)) if current else None
            base = {name: getattr(previous, name) for name in _CONTENT_FIELDS} if previous else {}
            row = BotContentRow(
                **(base | fields),
                project_key=project_key,
                version=current + 1,
                correlation_id=correlation_id,
                change=change,
            )
            session.add(row)
        return row


_CONTENT_FIELDS = (
    "aiml",
    "maps",
    "sets",
    "properties",
    "categories",
    "faq",
    "intents",
    "chain",
    "machine",
    "faq_groups",
    "intent_count",
    "machine_states",
)


def content_of(row: BotContentRow) -> BotContent:
    """A stored version as the contract every reader gets."""
    return BotContent(
        version=row.version,
        aiml=row.aiml,
        maps=row.maps,
        sets=row.sets,
        properties=row.properties,
        faq=Faq.model_validate(row.faq) if row.faq else Faq(),
        intents=Intents.model_validate(row.intents) if row.intents else Intents(),
        machine=StateMachine.model_validate(row.machine) if row.machine else None,
        chain=Chain.model_validate(row.chain) if row.chain else DEFAULT_CHAIN,
    )


def _dump(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json", exclude_defaults=True)


async def _lock(session: AsyncSession, project_key: UUID) -> None:
    """Serialise content changes of one project until the transaction ends."""
    await session.exec(select(func.pg_advisory_xact_lock(func.hashtext(str(project_key)))))


async def stage_version(session: AsyncSession, project_key: UUID, stage: Stage) -> int:
    """The version a stage answers from: test the newest, release the last published (0: none)."""
    if stage == "test":
        query = select(func.coalesce(func.max(BotContentRow.version), 0)).where(
            BotContentRow.project_key == project_key
        )
    else:
        query = select(func.coalesce(func.max(ReleaseRow.version), 0)).where(
            ReleaseRow.id
            == select(func.max(ReleaseRow.id))
            .where(ReleaseRow.project_key == project_key)
            .scalar_subquery()
        )
    rows = await session.exec(query)
    return int(rows.one())
