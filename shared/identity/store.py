"""Projects in Postgres: create, find, authenticate, rotate."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from ..db import transaction
from .models import Project, RobotCredential, RobotToken
from .secrets import hash_secret, new_secret, secret_matches, secret_prefix


class IdentityError(Exception):
    """Root of the identity errors."""


class UnknownProject(IdentityError):
    """No project has this key or name."""

    def __init__(self, ref: str) -> None:
        super().__init__(f"no project {ref!r}")
        self.ref = ref


class ProjectExists(IdentityError):
    """A project with this name exists already."""

    def __init__(self, name: str) -> None:
        super().__init__(f"a project named {name!r} exists already")
        self.name = name


@dataclass(frozen=True)
class NewProject:
    """A project just created or rotated: the only time its secret is seen in clear."""

    project: Project
    secret: str


class ProjectStore:
    """Persistence of projects behind a small interface."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        """The session factory (for stores of the same database)."""
        return self._sessions

    async def create(self, name: str, *, title: str = "") -> NewProject:
        """Create a project with a fresh secret."""
        secret = new_secret()
        async with transaction(self._sessions) as session:
            if await self._by_name(session, name) is not None:
                raise ProjectExists(name)
            project = Project(
                name=name,
                title=title or name,
                secret_hash=hash_secret(secret),
                secret_prefix=secret_prefix(secret),
                settings={"xparo_name": title or name},
            )
            session.add(project)
        return NewProject(project, secret)

    async def get(self, key: UUID) -> Project | None:
        """The project with `key`, or None."""
        async with self._sessions() as session:
            return await session.get(Project, key)

    async def find(self, ref: str) -> Project:
        """The project whose key or name is `ref`."""
        async with self._sessions() as session:
            project = await self._by_ref(session, ref)
        if project is None:
            raise UnknownProject(ref)
        return project

    async def list(self) -> list[Project]:
        """Every project, by name."""
        async with self._sessions() as session:
            rows = await session.exec(select(Project).order_by(Project.name))
            return list(rows.all())

    async def authenticate(self, key: str, secret: str) -> Project | None:
        """The project if `secret` is its secret; None otherwise (same cost either way)."""
        try:
            project_key = UUID(key)
        except ValueError:
            project_key = None
        project = await self.get(project_key) if project_key else None
        stored = project.secret_hash if project else None
        return project if secret_matches(secret, stored) else None

    async def by_secret(self, secret: str) -> Project | None:
        """The project whose secret is `secret` (RSVP callers may omit the bot id).

        Looked up by the secret's SHA-256: a 256-bit random secret cannot be guessed from how
        long a lookup of its hash takes, and the match is confirmed in constant time.
        """
        async with self._sessions() as session:
            rows = await session.exec(
                select(Project).where(Project.secret_hash == hash_secret(secret))
            )
            project = rows.first()
        return project if project and secret_matches(secret, project.secret_hash) else None

    async def rotate_secret(self, ref: str) -> NewProject:
        """Replace a project's secret; the old one stops working at once."""
        secret = new_secret()
        async with transaction(self._sessions) as session:
            project = await self._by_ref(session, ref)
            if project is None:
                raise UnknownProject(ref)
            project.secret_hash = hash_secret(secret)
            project.secret_prefix = secret_prefix(secret)
            session.add(project)
        return NewProject(project, secret)

    async def page(
        self, *, keys: Sequence[UUID] | None, limit: int, after: str | None = None
    ) -> Sequence[Project]:
        """Up to `limit` projects by name after the name `after`; only `keys` unless None."""
        query = select(Project).order_by(col(Project.name)).limit(limit)
        if keys is not None:
            query = query.where(col(Project.key).in_(keys))
        if after is not None:
            query = query.where(col(Project.name) > after)
        async with self._sessions() as session:
            return (await session.exec(query)).all()

    async def update(self, key: UUID, **changes: str) -> Project:
        """Change a project's name or configuration (title, goal, rules, fallback...)."""
        async with transaction(self._sessions) as session:
            project = await session.get(Project, key, with_for_update=True)
            if project is None:
                raise UnknownProject(str(key))
            name = changes.get("name")
            renamed = name is not None and name != project.name
            if renamed and await self._by_name(session, name or "") is not None:
                raise ProjectExists(name or "")
            for field, value in changes.items():
                setattr(project, field, value)
            session.add(project)
        return project

    async def set_setting(self, key: UUID, name: str, value: Any) -> Project:
        """Keep `value` under `name` in the project's settings (the console's alert thresholds,
        handoff triggers, ...); the other settings stay as they are."""
        async with transaction(self._sessions) as session:
            project = await session.get(Project, key, with_for_update=True)
            if project is None:
                raise UnknownProject(str(key))
            project.settings = {**project.settings, name: value}
            session.add(project)
        return project

    async def delete(self, key: UUID) -> bool:
        """Forget a project and its identity rows (tokens, credentials); False when unknown."""
        async with transaction(self._sessions) as session:
            for model in (RobotToken, RobotCredential):
                await session.exec(delete(model).where(col(model.project_key) == key))
            project = await session.get(Project, key)
            if project is None:
                return False
            await session.delete(project)
        return True

    async def _by_ref(self, session: AsyncSession, ref: str) -> Project | None:
        try:
            return await session.get(Project, UUID(ref))
        except ValueError:
            return await self._by_name(session, ref)

    @staticmethod
    async def _by_name(session: AsyncSession, name: str) -> Project | None:
        rows = await session.exec(select(Project).where(Project.name == name))
        return rows.first()
