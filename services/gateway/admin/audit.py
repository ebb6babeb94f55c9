"""The audit log of the admin API: every change an operator makes, and the routes to read it.

A middleware records each successful request that is not a read (any method but GET, HEAD,
OPTIONS) under /admin, before its response leaves, with the admin token's name (left on the
request state by auth.py), the route template, the concrete path and the project. Being a
middleware, a route added later is audited without anyone remembering to.
"""

import logging
from datetime import datetime
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.contracts.paging import BadCursor
from shared.identity import AdminToken, AuditEntry, AuditStore

from .auth import READS, AdminDep, ProjectAdminDep, covered
from .deps import AuditDep
from .paging import DEFAULT_LIMIT, Cursor, Limit, bad_cursor, link_next

log = logging.getLogger(__name__)


class AuditMiddleware:
    """Records successful admin changes (pure ASGI, so streamed responses pass untouched)."""

    def __init__(self, app: ASGIApp, *, store: AuditStore) -> None:
        self.app = app
        self.store = store

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] in READS
            or not scope["path"].startswith("/admin/")
        ):
            await self.app(scope, receive, send)
            return

        async def audited_send(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] < 400:
                await self._record(scope, message["status"])
            await send(message)

        await self.app(scope, receive, audited_send)

    async def _record(self, scope: Scope, status: int) -> None:
        state = scope.get("state", {})
        token: AdminToken | None = state.get("admin_token")
        if token is None:  # not an authenticated route: nothing was changed by anyone
            return
        route = _route_path(scope)
        query = scope.get("query_string", b"").decode("latin-1")
        target = scope["path"] + (f"?{query}" if query else "")
        try:
            await self.store.record(
                actor=f"admin:{token.name}",
                action=f"{scope['method']} {route}",
                target=target,
                status=status,
                project_key=state.get("admin_project") or state.get("audit_project"),
                details=state.get("audit_details") or {},
            )
        except Exception:  # the change is made: refusing the answer now would hide it
            log.exception("audit entry for %s %s not written", scope["method"], target)


def _route_path(scope: Scope) -> str:
    """The route template that matched (`/admin/projects/{project}/faq`). A token on the state
    means a route's dependency ran, so FastAPI has put that route in the scope. FastAPI keeps
    included routers nested, and a route of one knows only its own part of the template
    (`/aiml`): the prefixes of the routers it was included through come first."""
    template = getattr(scope.get("route"), "path", None)
    if not isinstance(template, str):
        return str(scope["path"])
    included = (scope.get("fastapi") or {}).get("included_router")
    prefix = getattr(getattr(included, "include_context", None), "prefix", "")
    if isinstance(prefix, str) and not template.startswith(prefix):
        return prefix + template
    return template


class AuditItem(BaseModel):
    """One change: who made it, what and when."""

    at: datetime
    actor: str = Field(description="admin:<token name>, or cli:<user> for the command line")
    project_key: UUID | None
    action: str = Field(description="Method and route, e.g. PUT /admin/projects/{project}/faq")
    target: str = Field(description="The concrete path and query")
    status: int
    details: dict[str, Any]


class AuditList(BaseModel):
    """A page of the audit log, newest first."""

    items: list[AuditItem]
    next: str | None = Field(description="Cursor of the next page; null on the last")


def _item(entry: AuditEntry) -> AuditItem:
    assert entry.at is not None
    return AuditItem(
        at=entry.at,
        actor=entry.actor,
        project_key=entry.project_key,
        action=entry.action,
        target=entry.target,
        status=entry.status,
        details=entry.details,
    )


router = APIRouter(tags=["audit"])


@router.get("/admin/audit", response_model=AuditList)
async def all_changes(
    request: Request,
    response: Response,
    token: AdminDep,
    audit: AuditDep,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> AuditList:
    """Every change this token may see (a project-scoped token: its projects' only)."""
    return await _page(request, response, audit, covered(token), limit, cursor)


@router.get("/admin/projects/{project}/audit", response_model=AuditList)
async def project_changes(
    request: Request,
    response: Response,
    admin: ProjectAdminDep,
    audit: AuditDep,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> AuditList:
    """The changes made to one project, newest first."""
    return await _page(request, response, audit, [admin.project], limit, cursor)


async def _page(
    request: Request,
    response: Response,
    audit: AuditStore,
    keys: list[UUID] | None,
    limit: int,
    cursor: str | None,
) -> AuditList:
    """A page of the changes to `keys` (None: every project)."""
    try:
        found = await audit.page(projects=keys, limit=limit, cursor=cursor)
    except BadCursor as err:
        raise bad_cursor(err) from err
    link_next(request, response, found.next)
    return AuditList(items=[_item(e) for e in found.entries], next=found.next)
