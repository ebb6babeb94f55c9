"""Admin API authentication: `Authorization: Bearer <admin token>`, scoped to projects.

`AdminDep` is any valid admin token (routes about no single project); `ProjectAdminDep` is the
token checked against the project the route's path names. Both leave the token (and the
project) on the request's state, which is where the audit log (audit.py) reads who made a
change. Both refuse a viewer's (read-only) token on any request but a read, here and only here:
every admin route depends on one of them, and tests/integration/test_admin_roles.py walks the
app's routes so a new one cannot forget it.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated
from uuid import UUID

from fastapi import Depends, Header, Path, Request

from shared.identity import AdminToken, Project, ProjectStore, TokenStore

from ..edge.problems import Problem
from .deps import ProjectsDep, TokensDep

READS = frozenset({"GET", "HEAD", "OPTIONS"})
PROJECT_ROUTES = "/admin/projects/{project}"  # the prefix of every route ProjectAdminDep guards
Authorization = Annotated[str | None, Header(include_in_schema=False)]
ProjectKey = Annotated[UUID, Path(description="Project key")]
AdminScope = Callable[..., Awaitable[tuple[UUID, AdminToken]]]


@dataclass(frozen=True)
class ProjectAdmin:
    """An admin token that covers `project`, which exists."""

    project: UUID
    token: AdminToken


async def current_admin(
    request: Request, tokens: TokensDep, authorization: Authorization = None
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


async def project_admin(
    request: Request,
    tokens: TokensDep,
    projects: ProjectsDep,
    project: ProjectKey,
    authorization: Authorization = None,
) -> ProjectAdmin:
    """The project, once the admin token covers it (403 when it does not, 404 when no such
    project exists). The token is checked here, not in a sub-dependency, so that a malformed
    project key is a 422 before anything else, as it always was."""
    token = await current_admin(request, tokens, authorization)
    if not token.allows(project):
        raise Problem(403, "this admin token does not cover this project")
    await existing_project(projects, project)
    request.state.admin_project = project
    return ProjectAdmin(project, token)


AdminDep = Annotated[AdminToken, Depends(current_admin)]
ProjectAdminDep = Annotated[ProjectAdmin, Depends(project_admin)]


async def existing_project(projects: ProjectStore, key: UUID) -> Project:
    """The project `key` (404 when there is none, or it was deleted meanwhile)."""
    project = await projects.get(key)
    if project is None:
        raise Problem(404, f"no project {key}")
    return project


def covered(token: AdminToken) -> list[UUID] | None:
    """The projects a token covers (None: every project)."""
    return None if token.projects is None else [UUID(p) for p in token.projects]


def admin_scope(projects: ProjectStore, tokens: TokenStore) -> AdminScope:
    """`project_admin` for a router built with its stores rather than reading the app's
    (the live feed, events.py), as (project, token)."""

    async def scope(
        request: Request, project: ProjectKey, authorization: Authorization = None
    ) -> tuple[UUID, AdminToken]:
        """The project, once the admin token is checked against it."""
        found = await project_admin(request, tokens, projects, project, authorization)
        return found.project, found.token

    return scope
