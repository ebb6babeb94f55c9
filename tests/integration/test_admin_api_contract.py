"""The admin API as a whole, walked from its own OpenAPI document, so a route added later is
covered without anyone remembering to: every route checks the token's scope, and no generated
request (schemathesis) gets a server error."""

import asyncio
import os
import re
import time
from collections.abc import Iterator
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.core.result import Ok

from shared.db import opened
from shared.identity import TokenStore
from tests.support.backends import Backends
from tests.support.plugin import Stack, TestProject, new_project

# Admin routes about no single project: each filters what it shows by the token's scope, which
# their own tests check (test_admin_projects.py). A new one must be added here knowingly.
UNSCOPED = {
    ("GET", "/admin/me"),
    ("GET", "/admin/projects"),
    ("POST", "/admin/projects"),
    ("GET", "/admin/audit"),
    ("GET", "/admin/cluster"),
}
# A value of the right shape for each path parameter (the scope check comes before any lookup).
PATH_VALUES = {
    "robot": "robot-1",
    "session": "session-1",
    "version": "1",
    "command_id": str(uuid4()),
    "name": "MainTree",
}
# Streams never end; the live feed has its own tests.
NOT_FUZZED = {("GET", "/admin/projects/{project}/events")}
EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "12"))


@pytest.fixture(scope="module")
def api_stack(backends: Backends, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    running = Stack(backends, tmp_path_factory.mktemp("logs"))
    yield running.start(dialogs=1, telemetry=1, schedules=1, media=1)
    running.stop()


@pytest.fixture(scope="module")
def openapi(api_stack: Stack) -> dict[str, Any]:
    spec: dict[str, Any] = httpx.get(f"{api_stack.http_url()}/openapi.json").json()
    return spec


def admin_routes(spec: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (method.upper(), path)
        for path, operations in spec["paths"].items()
        if path.startswith("/admin")
        for method in operations
    ]


def scoped_token(backends: Backends, project: UUID) -> str:
    async def create() -> str:
        async with opened(backends.database_url) as database:
            store = TokenStore(database)
            made = await store.create_admin(f"scope-{uuid4().hex}", projects=[project])
            return made.secret

    return asyncio.run(create())


def _request(method: str, path: str, project: UUID) -> tuple[str, str]:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        return str(project) if name == "project" else PATH_VALUES[name]

    return method, re.sub(r"\{(\w+)\}", value, path)


def test_every_admin_route_refuses_a_token_of_another_project(
    api_stack: Stack, openapi: dict[str, Any], backends: Backends, project: TestProject
) -> None:
    """A token for project A gets 403 on every route of project B, and every admin route
    wants a token at all (401)."""
    other = new_project(backends)
    token_a = scoped_token(backends, project.key)
    routes = admin_routes(openapi)
    project_routes = [r for r in routes if r not in UNSCOPED]
    assert set(routes) - set(project_routes) == UNSCOPED, "an unscoped admin route was added"
    assert len(project_routes) > 30
    problems: list[tuple[object, ...]] = []
    with httpx.Client(base_url=api_stack.http_url(), timeout=30) as http:
        for method, template in project_routes:
            assert template.startswith("/admin/projects/{project}"), template
            verb, url = _request(method, template, other.key)
            foreign = http.request(verb, url, headers={"Authorization": f"Bearer {token_a}"})
            anonymous = http.request(verb, url)
            if foreign.status_code != 403 or anonymous.status_code != 401:
                problems.append((method, template, foreign.status_code, anonymous.status_code))
            elif foreign.headers["content-type"] != "application/problem+json":
                problems.append((method, template, "not problem+json"))
        for method, template in sorted(UNSCOPED):
            anonymous = http.request(method, template)
            if anonymous.status_code != 401:
                problems.append((method, template, anonymous.status_code))
        deployment = http.get("/admin/cluster", headers={"Authorization": f"Bearer {token_a}"})
        if deployment.status_code != 403:  # consumer names carry other projects' robots
            problems.append(("GET", "/admin/cluster", deployment.status_code))
    assert problems == []


@pytest.mark.timeout(900)
def test_no_generated_request_gets_a_server_error(
    api_stack: Stack, openapi: dict[str, Any], admin_token: str, project: TestProject
) -> None:
    """Schemathesis generates requests for every operation of the gateway's OpenAPI (admin,
    RSVP, XPARO REST, robot REST), on a real project with a real token: none answers 5xx."""
    schema = schemathesis.openapi.from_dict(openapi)
    base_url = api_stack.http_url()
    headers = {"Authorization": f"Bearer {admin_token}"}
    failures: list[str] = []
    checked = 0
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        operation = result.ok()
        if (operation.method.upper(), operation.path) in NOT_FUZZED:
            continue
        fixed = {"project": str(project.key)} if "{project}" in operation.path else {}
        strategy = operation.as_strategy(path_parameters=fixed, headers=headers)

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=strategy)
        def run(case: Any) -> None:
            response = case.call(base_url=base_url, timeout=60)
            if response.status_code >= 500:
                failures.append(
                    f"{case.method} {case.formatted_path} {case.query} -> "
                    f"{response.status_code} {response.text[:200]}"
                )

        started = time.monotonic()
        run()
        print(f"{operation.method.upper()} {operation.path}: {time.monotonic() - started:.1f}s")
        checked += 1
    assert checked > 35
    assert failures == []
