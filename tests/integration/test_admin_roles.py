"""Read-only admin tokens (role viewer): every read of the admin API, no change. The routes are
taken from the gateway app itself, so a route added later is covered without anyone remembering
to."""

import asyncio
import re
from collections.abc import Iterator
from uuid import UUID, uuid4

import httpx
import pytest
from fastapi.routing import APIRoute, APIWebSocketRoute, iter_route_contexts

from services.gateway.main import create_app
from shared.db import opened
from shared.identity import AdminRole, TokenStore
from tests.support.backends import Backends
from tests.support.plugin import Stack, TestProject

# A value of the right shape for each path parameter other than the project.
PATH_VALUES = {
    "robot": "robot-1",
    "session": "session-1",
    "version": "1",
    "command_id": str(uuid4()),
    "name": "MainTree",
}
READS = {"GET", "HEAD"}


@pytest.fixture(scope="module")
def role_stack(backends: Backends, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A gateway and the services its admin reads ask (dialog, telemetry, schedule)."""
    running = Stack(backends, tmp_path_factory.mktemp("logs"))
    yield running.start(dialogs=1, telemetry=1, schedules=1)
    running.stop()


def token(backends: Backends, role: AdminRole) -> str:
    """An admin token for every project with `role`."""

    async def create() -> str:
        async with opened(backends.database_url) as database:
            store = TokenStore(database)
            made = await store.create_admin(f"{role}-{uuid4().hex}", projects=None, role=role)
            return made.secret

    return asyncio.run(create())


def app_admin_routes() -> list[tuple[str, str]]:
    """(method, path) of every HTTP route under /admin of the gateway app (in the OpenAPI
    document or not)."""
    app = create_app()
    routes = list(iter_route_contexts(app.routes))  # included routers' too
    admin = [r for r in routes if (r.path or "").startswith("/admin")]
    sockets = [r.path for r in admin if isinstance(r.original_route, APIWebSocketRoute)]
    sockets += [path for path in app.state.sockets.paths if path.startswith("/admin")]
    assert sockets == [], "an admin WebSocket route: guard it knowingly"
    return sorted(
        (method, str(route.path))
        for route in admin
        if isinstance(route.original_route, APIRoute)
        for method in route.methods or ()
    )


def url(template: str, project: UUID) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        return str(project) if name == "project" else PATH_VALUES[name]

    return re.sub(r"\{(\w+)\}", value, template)


def status(http: httpx.Client, method: str, path: str, secret: str) -> tuple[int, str, str]:
    """Status, content type and body start of a request (streamed: the live feed never ends)."""
    headers = {"Authorization": f"Bearer {secret}"}
    with http.stream(method, path, headers=headers) as answer:
        kind = answer.headers.get("content-type", "")
        body = b"" if kind.startswith("text/event-stream") else answer.read()
        return answer.status_code, kind, body.decode()[:300]


def test_every_admin_write_refuses_a_viewer_and_every_read_lets_it_in(
    role_stack: Stack, backends: Backends, project: TestProject
) -> None:
    """On every admin route of the app, a viewer's token gets 403 (problem+json) for anything
    but a read and is not refused a read, while an admin token is not refused the writes."""
    viewer, admin = token(backends, "viewer"), token(backends, "admin")
    routes = app_admin_routes()
    writes = [(m, p) for m, p in routes if m not in READS]
    reads = [(m, p) for m, p in routes if m in READS]
    assert len(writes) > 15 and len(reads) > 20
    nowhere = uuid4()  # the admin token's writes go to no project: nothing is changed
    problems: list[tuple[object, ...]] = []
    with httpx.Client(base_url=role_stack.http_url(), timeout=30) as http:
        for method, template in writes:
            code, kind, body = status(http, method, url(template, project.key), viewer)
            if code != 403 or kind != "application/problem+json" or "read-only" not in body:
                problems.append(("viewer", method, template, code, body))
            code, _, body = status(http, method, url(template, nowhere), admin)
            if code in {401, 403}:
                problems.append(("admin", method, template, code, body))
        for method, template in reads:
            code, _, body = status(http, method, url(template, project.key), viewer)
            if code in {401, 403}:
                problems.append(("viewer read", method, template, code, body))
    assert problems == []


def test_a_viewer_sees_a_project_and_cannot_change_it(
    role_stack: Stack, backends: Backends, project: TestProject
) -> None:
    """/admin/me names the role; a viewer reads the project, and its refused rename changes
    nothing; an admin's rename of the same project works."""
    viewer, admin = token(backends, "viewer"), token(backends, "admin")
    base = f"{role_stack.http_url()}/admin"

    def as_(secret: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {secret}"}

    me = httpx.get(f"{base}/me", headers=as_(viewer), timeout=10).json()
    assert me["role"] == "viewer" and me["projects"] is None
    assert httpx.get(f"{base}/me", headers=as_(admin), timeout=10).json()["role"] == "admin"
    before = httpx.get(f"{base}/projects/{project.key}", headers=as_(viewer), timeout=10)
    assert before.status_code == 200
    refused = httpx.patch(
        f"{base}/projects/{project.key}", json={"title": "viewer was here"}, headers=as_(viewer)
    )
    assert refused.status_code == 403 and refused.json()["status"] == 403
    after = httpx.get(f"{base}/projects/{project.key}", headers=as_(viewer), timeout=10).json()
    assert after == before.json()
    changed = httpx.patch(
        f"{base}/projects/{project.key}", json={"title": "admin was here"}, headers=as_(admin)
    )
    assert changed.status_code == 200 and changed.json()["title"] == "admin was here"
