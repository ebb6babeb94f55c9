"""Admin tokens and robot REST tokens: random, stored only as hashes, checked in constant time."""

import secrets
from dataclasses import dataclass
from uuid import UUID

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from ..db import transaction
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


class TokenStore:
    """Persistence of admin and robot tokens behind a small interface."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

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
        scope = None if projects is None else [str(p) for p in projects]
        async with transaction(self._sessions) as session:
            found = (await session.exec(select(AdminToken).where(AdminToken.name == name))).first()
            if found is not None and not replace:
                raise TokenExists(name)
            if found is not None:
                await session.delete(found)
                await session.flush()
            token = AdminToken(
                name=name,
                token_hash=hash_secret(secret),
                token_prefix=secret_prefix(secret),
                projects=scope,
                role=role,
            )
            session.add(token)
        return NewAdminToken(token, secret)

    async def admins(self) -> list[AdminToken]:
        """Every admin token (hashes and prefixes only), oldest first."""
        async with self._sessions() as session:
            rows = await session.exec(select(AdminToken).order_by(AdminToken.created_at))  # type: ignore[arg-type]
            return list(rows.all())

    async def revoke_admin(self, name: str) -> bool:
        """Delete the admin token called `name`; it stops working on the next request (tokens
        are looked up per request, never cached). False when there is none of that name."""
        async with transaction(self._sessions) as session:
            found = (await session.exec(select(AdminToken).where(AdminToken.name == name))).first()
            if found is None:
                return False
            await session.delete(found)
        return True

    async def admin(self, secret: str) -> AdminToken | None:
        """The admin token whose secret is `secret`, or None."""
        async with self._sessions() as session:
            rows = await session.exec(
                select(AdminToken).where(AdminToken.token_hash == hash_secret(secret))
            )
            token = rows.first()
        stored = token.token_hash if token else None
        return token if secret_matches(secret, stored) else None

    async def issue_robot_token(self, *, project: UUID, robot_id: str) -> str:
        """A new REST token for one robot; its previous token stops working."""
        secret = secrets.token_hex(32)
        async with transaction(self._sessions) as session:
            await session.exec(
                delete(RobotToken).where(
                    RobotToken.project_key == project,  # type: ignore[arg-type]
                    RobotToken.robot_id == robot_id,  # type: ignore[arg-type]
                )
            )
            session.add(
                RobotToken(
                    token_hash=hash_secret(secret),
                    project_key=project,
                    robot_id=robot_id,
                    token_prefix=secret_prefix(secret),
                )
            )
        return secret

    async def robot(self, secret: str) -> RobotToken | None:
        """The robot token whose secret is `secret`, or None."""
        async with self._sessions() as session:
            token = await session.get(RobotToken, hash_secret(secret))
        stored = token.token_hash if token else None
        return token if secret_matches(secret, stored) else None

    async def issue_credential(self, *, project: UUID, robot_id: str) -> str | None:
        """A credential for a robot seen for the first time; None when it has one already."""
        secret = secrets.token_hex(32)
        row = RobotCredential(
            secret_hash=hash_secret(secret),
            project_key=project,
            robot_id=robot_id,
            secret_prefix=secret_prefix(secret),
        )
        async with transaction(self._sessions) as session:
            found = await session.exec(
                select(RobotCredential).where(
                    RobotCredential.project_key == project, RobotCredential.robot_id == robot_id
                )
            )
            if found.first() is not None:
                return None
            session.add(row)
        return secret

    async def credential(self, project: UUID, secret: str) -> RobotCredential | None:
        """The robot credential `secret` of `project`, or None."""
        async with self._sessions() as session:
            found = await session.get(RobotCredential, hash_secret(secret))
        stored = found.secret_hash if found and found.project_key == project else None
        return found if secret_matches(secret, stored) else None

    async def revoke_credential(self, *, project: UUID, robot_id: str) -> bool:
        """Revoke a robot's credential (it falls back to the project secret); False if none."""
        async with transaction(self._sessions) as session:
            result = await session.exec(
                delete(RobotCredential).where(
                    RobotCredential.project_key == project,  # type: ignore[arg-type]
                    RobotCredential.robot_id == robot_id,  # type: ignore[arg-type]
                )
            )
        return bool(result.rowcount)
