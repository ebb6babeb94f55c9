"""Admin API authentication: `Authorization: Bearer <admin token>`, scoped to projects.

Both dependencies leave the token (and the project) on the request's state, which is where the
audit log (audit.py) reads who made a change. Both refuse a viewer's (read-only) token on any
request but a read, here and only here: every admin route depends on one of them, and
tests/integration/test_admin_roles.py walks the app's routes so a new one cannot forget it.
"""

from collections.abc import Awaitable, Callable
from typing import Annotated
from uuid import UUID

from fastapi import Header, Path, Request

from shared.identity import AdminToken, ProjectStore, TokenStore

from .edge.problems import Problem

READS = frozenset({"GET", "HEAD", "OPTIONS"})
AdminScope = Callable[..., Awaitable[tuple[UUID, AdminToken]]]
AdminAuth = Callable[..., Awaitable[AdminToken]]


def admin_token(tokens: TokenStore) -> AdminAuth:
    """The dependency of routes about no single project: any valid admin token."""

    async def authenticate(
        request: Request,
        authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
    ) -> AdminToken:
        """The admin token sent as a bearer token (401 when missing or unknown)."""
        scheme, _, secret = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise Problem(401, "send Authorization: Bearer <admin token>")
        token = await tokens.admin(secret.strip())
        if token is None:
            raise Problem(401, "unknown admin token")
        if token.read_only and request.method not in READS:
            raise Problem(403, "this admin token is read-only (viewer): it may look, not change")
        request.state.admin_token = token
        return token

    return authenticate


def admin_scope(projects: ProjectStore, tokens: TokenStore) -> AdminScope:
    """The dependency every /admin/projects/{project} route uses: the project, once the admin
    token covers it (403 when it does not, 404 when no such project exists)."""
    authenticate = admin_token(tokens)

    async def scope(
        request: Request,
        project: Annotated[UUID, Path(description="Project key")],
        authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
    ) -> tuple[UUID, AdminToken]:
        """The project, once the admin token is checked against it."""
        token = await authenticate(request, authorization)
        if not token.allows(project):
            raise Problem(403, "this admin token does not cover this project")
        if await projects.get(project) is None:
            raise Problem(404, f"no project {project}")
        request.state.admin_project = project
        return project, token

    return scope
