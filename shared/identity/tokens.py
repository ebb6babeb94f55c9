"""Admin tokens and robot REST tokens: random, stored only as hashes, checked in constant time.
Raw asyncpg: each statement is a constant of sql.py."""

import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid4

from ..db import Database
from . import sql
from .models import AdminRole, AdminToken, RobotCredential, RobotToken
from .secrets import hash_secret, secret_matches, secret_prefix
from .store import IdentityError

ADMIN_PREFIX = "sbadm_"


class TokenExists(IdentityError):
    """An admin token with this name exists already."""

    def __init__(self, name: str) -> None:
        super().__init__(f"an admin token named {name!r} exists already")
        self.name = name


@dataclass(frozen=True)
class NewAdminToken:
    """An admin token just created: the only time it is seen in clear."""

    token: AdminToken
    secret: str


def admin_token_of(record: Mapping[str, Any]) -> AdminToken:
    """An `admin_tokens` row (sql.ADMIN's columns) as the model the services use."""
    scope = record["projects"]
    return AdminToken(**{**record, "projects": None if scope is None else json.loads(scope)})


class TokenStore:
    """Persistence of admin and robot tokens behind a small interface."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def create_admin(
        self,
        name: str,
        *,
        projects: list[UUID] | None,
        replace: bool = False,
        role: AdminRole = "admin",
    ) -> NewAdminToken:
        """A new admin token for every project (None) or for `projects` only; `role` viewer
        makes it read-only.

        With `replace`, an existing token of that name is revoked instead of refusing.
        """
        secret = ADMIN_PREFIX + secrets.token_hex(32)
        scope = None if projects is None else json.dumps([str(p) for p in projects])
        row = (uuid4(), name, hash_secret(secret), secret_prefix(secret), scope, role)
        async with self._db.pool.acquire() as conn, conn.transaction():
            if replace:
                await conn.execute(sql.REVOKE_ADMIN, name)
            made = await conn.fetchrow(sql.CREATE_ADMIN, *row)
        if made is None:
            raise TokenExists(name)
        return NewAdminToken(admin_token_of(made), secret)

    async def admins(self) -> list[AdminToken]:
        """Every admin token (hashes and prefixes only), oldest first."""
        return [admin_token_of(r) for r in await self._db.pool.fetch(sql.ADMINS)]

    async def revoke_admin(self, name: str) -> bool:
        """Delete the admin token called `name`; it stops working on the next request (tokens
        are looked up per request, never cached). False when there is none of that name."""
        return await self._db.pool.fetchval(sql.REVOKE_ADMIN, name) is not None

    async def admin(self, secret: str) -> AdminToken | None:
        """The admin token whose secret is `secret`, or None."""
        found = await self._db.pool.fetchrow(sql.ADMIN_BY_HASH, hash_secret(secret))
        token = None if found is None else admin_token_of(found)
        stored = token.token_hash if token else None
        return token if secret_matches(secret, stored) else None

    async def issue_robot_token(self, *, project: UUID, robot_id: str) -> str:
        """A new REST token for one robot; its previous token stops working."""
        secret = secrets.token_hex(32)
        async with self._db.pool.acquire() as conn, conn.transaction():
            await conn.execute(sql.DROP_ROBOT_TOKENS, project, robot_id)
            await conn.execute(
                sql.ISSUE_ROBOT_TOKEN, hash_secret(secret), project, robot_id, secret_prefix(secret)
            )
        return secret

    async def robot(self, secret: str) -> RobotToken | None:
        """The robot token whose secret is `secret`, or None."""
        found = await self._db.pool.fetchrow(sql.ROBOT_TOKEN, hash_secret(secret))
        token = None if found is None else RobotToken(**found)
        stored = token.token_hash if token else None
        return token if secret_matches(secret, stored) else None

    async def issue_credential(self, *, project: UUID, robot_id: str) -> str | None:
        """A credential for a robot seen for the first time; None when it has one already."""
        secret = secrets.token_hex(32)
        made = await self._db.pool.fetchval(
            sql.ISSUE_CREDENTIAL, hash_secret(secret), project, robot_id, secret_prefix(secret)
        )
        return None if made is None else secret

    async def credential(self, project: UUID, secret: str) -> RobotCredential | None:
        """The robot credential `secret` of `project`, or None."""
        row = await self._db.pool.fetchrow(sql.CREDENTIAL, hash_secret(secret))
        found = None if row is None else RobotCredential(**row)
        stored = found.secret_hash if found and found.project_key == project else None
        return found if secret_matches(secret, stored) else None

    async def revoke_credential(self, *, project: UUID, robot_id: str) -> bool:
        """Revoke a robot's credential (it falls back to the project secret); False if none."""
        return bool(await self._db.pool.fetch(sql.REVOKE_CREDENTIAL, project, robot_id))
