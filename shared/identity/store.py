"""Projects in Postgres: create, find, authenticate, rotate. Raw asyncpg: each statement is a
constant of sql.py, run on the pool of the service that uses the store."""

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from uuid import UUID, uuid4

import asyncpg

from ..db import Database
from . import sql
from .models import DEFAULT_FALLBACK, Project
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


class ProjectLookup(Protocol):
    """What the protocols ask of the projects: find one, and check a client's secret."""

    async def get(self, key: UUID) -> Project | None: ...
    async def authenticate(self, key: str, secret: str) -> Project | None: ...
    async def by_secret(self, secret: str) -> Project | None: ...


def project_of(record: Mapping[str, Any]) -> Project:
    """A `projects` row (sql.PROJECT's columns) as the model the services use."""
    return Project(**{**record, "settings": json.loads(record["settings"])})


def _found(record: Mapping[str, Any] | None) -> Project | None:
    return None if record is None else project_of(record)


class ProjectStore:
    """Persistence of projects behind a small interface."""

    def __init__(self, database: Database) -> None:
        self._db = database

    @property
    def database(self) -> Database:
        """The pool (for stores of the same database: tokens, the audit log)."""
        return self._db

    async def create(self, name: str, *, title: str = "") -> NewProject:
        """Create a project with a fresh secret."""
        secret = new_secret()
        settings = json.dumps({"xparo_name": title or name})
        made = await self._db.pool.fetchrow(
            sql.CREATE_PROJECT,
            uuid4(),
            name,
            hash_secret(secret),
            secret_prefix(secret),
            title or name,
            DEFAULT_FALLBACK,
            settings,
        )
        if made is None:
            raise ProjectExists(name)
        return NewProject(project_of(made), secret)

    async def get(self, key: UUID) -> Project | None:
        """The project with `key`, or None."""
        return _found(await self._db.pool.fetchrow(sql.PROJECT_BY_KEY, key))

    async def find(self, ref: str) -> Project:
        """The project whose key or name is `ref`."""
        project = await self._by_ref(ref)
        if project is None:
            raise UnknownProject(ref)
        return project

    async def list(self) -> list[Project]:
        """Every project, by name."""
        return [project_of(r) for r in await self._db.pool.fetch(sql.PROJECTS)]

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
        project = _found(await self._db.pool.fetchrow(sql.PROJECT_BY_SECRET, hash_secret(secret)))
        return project if project and secret_matches(secret, project.secret_hash) else None

    async def rotate_secret(self, ref: str) -> NewProject:
        """Replace a project's secret; the old one stops working at once."""
        secret = new_secret()
        project = await self._by_ref(ref)
        if project is None:
            raise UnknownProject(ref)
        rotated = await self._db.pool.fetchrow(
            sql.ROTATE_SECRET, project.key, hash_secret(secret), secret_prefix(secret)
        )
        if rotated is None:  # deleted meanwhile
            raise UnknownProject(ref)
        return NewProject(project_of(rotated), secret)

    async def page(
        self, *, keys: Sequence[UUID] | None, limit: int, after: str | None = None
    ) -> Sequence[Project]:
        """Up to `limit` projects by name after the name `after`; only `keys` unless None."""
        listed = None if keys is None else list(keys)
        rows = await self._db.pool.fetch(sql.PROJECT_PAGE, listed, after, limit)
        return [project_of(r) for r in rows]

    async def update(self, key: UUID, **changes: str) -> Project:
        """Change a project's name or configuration (title, goal, rules, fallback...)."""
        unknown = set(changes) - set(sql.UPDATE_FIELDS)
        if unknown:
            raise ValueError(f"not a field a project's update changes: {sorted(unknown)}")
        name = changes.get("name")
        values = [changes.get(field) for field in sql.UPDATE_FIELDS]
        async with self._db.pool.acquire() as conn, conn.transaction():
            if name is not None and await conn.fetchval(sql.NAME_TAKEN, name, key):
                raise ProjectExists(name)
            try:
                changed = await conn.fetchrow(sql.UPDATE_PROJECT, key, *values)
            except asyncpg.UniqueViolationError:  # renamed meanwhile by another request
                raise ProjectExists(name or "") from None
        if changed is None:
            raise UnknownProject(str(key))
        return project_of(changed)

    async def set_setting(self, key: UUID, name: str, value: Any) -> Project:
        """Keep `value` under `name` in the project's settings (the console's alert thresholds,
        handoff triggers, ...); the other settings stay as they are."""
        changed = await self._db.pool.fetchrow(sql.SET_SETTING, key, name, json.dumps(value))
        if changed is None:
            raise UnknownProject(str(key))
        return project_of(changed)

    async def delete(self, key: UUID) -> bool:
        """Forget a project and its identity rows (tokens, credentials); False when unknown."""
        async with self._db.pool.acquire() as conn, conn.transaction():
            await conn.execute(sql.DELETE_PROJECT_TOKENS, key)
            await conn.execute(sql.DELETE_PROJECT_CREDENTIALS, key)
            return await conn.fetchval(sql.DELETE_PROJECT, key) is not None

    async def _by_ref(self, ref: str) -> Project | None:
        try:
            key = UUID(ref)
        except ValueError:
            return _found(await self._db.pool.fetchrow(sql.PROJECT_BY_NAME, ref))
        return await self.get(key)
