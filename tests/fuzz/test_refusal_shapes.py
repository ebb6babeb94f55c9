"""Every HTTP route of a real gateway refuses hostile requests in its protocol's own shape.

The routes are read from the app itself (so a new route is fuzzed the day it is added), and each
example is one request to one of them: path parameters right or hostile, hostile query strings
(some over the request-target limit), bodies that are garbage, truncated or deeply nested JSON,
numbers of 5,000 digits (a ValueError in `int()`), NUL characters, more than a frame's bytes,
under every content type, with the right credentials or none, sometimes with the wrong method or
a header over the limit. Whatever is refused must come back as the route's protocol promises:
XPARO's `{"error": {"message"}}` on `/chatbot_api/…` and `/api/…`, RSVP.ai's `status: -1` on
its chat route, AIDA's `{"errors": "…"}` on `/content/…`, a problem (RFC 9457) everywhere else,
and never a 500. FUZZ_SHAPE_EXAMPLES requests (default 300; derandomized, so a run repeats).
"""

import asyncio
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import httpx
import pytest
from fastapi.routing import APIRoute
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from starlette.routing import Mount

from services.gateway.main import create_app
from shared.db import opened
from shared.identity import TokenStore
from tests.support.backends import Backends
from tests.support.hostile import MAX_QUERY, encoded, garbage, hostile_strings, json_values
from tests.support.plugin import Stack, TestProject, new_project

from .driver import FUZZ_GATEWAY_ENV

EXAMPLES = int(os.environ.get("FUZZ_SHAPE_EXAMPLES", "300"))
MiB = 1024 * 1024
TIMEOUT_S = 30
TARGET_LIMIT = 32 * 1024  # lower than the default, so that httpx can send targets over it
CONTENT_TYPES = (
    None,
    "application/json",
    "application/json; charset=utf-16",
    "text/plain",
    "application/xml",
    "application/x-www-form-urlencoded",
    "multipart/form-data",
    "multipart/form-data; boundary=xyz",
    "image/png",
    "garbage/garbage",
)
SEGMENTS = ("..", "%00", "%ff", "%2e%2e%2fetc", "9" * 5000, "A" * 33_000, "*", "\u202e", "x y")
BODIES = (
    '{"cpu_usage": ' + "9" * 5000 + "}",
    "9" * 2 * MiB,
    '{"a": "\\u0000"}',
    "[" * 100_000,
    '{"initialize_api": {"device_id": "' + "r" * 300_000 + '"}}',
    "--xyz\r\nContent-Disposition: form-data; name=file\r\n\r\nabc\r\n--xyz--\r\n",
)


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    query: tuple[str, ...]  # the query parameters it declares


def http_routes() -> list[Route]:
    """Every HTTP route of the gateway: its OpenAPI document, and the mounted AIDA routes."""
    app = create_app()
    found: list[Route] = []
    for path, operations in app.openapi()["paths"].items():
        for method, operation in operations.items():
            query = [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"]
            found.append(Route(method.upper(), path, tuple(query)))
    for mount in app.routes:
        if isinstance(mount, Mount):
            for route in mount.routes:
                if isinstance(route, APIRoute):
                    methods = sorted(route.methods or ())
                    found += [Route(m, mount.path + route.path, ()) for m in methods]
    return found


ROUTES = http_routes()
FAMILIES = [
    [r for r in ROUTES if r.path.startswith(prefix)]
    for prefix in ("/chatbot_api/", "/api/", "/sandbox/chat", "/content/", "/admin/")
]
FAMILIES.append([r for r in ROUTES if not any(r in family for family in FAMILIES)])
MOSTLY = st.sampled_from([True] * 7 + [False])  # hypothesis favours 0 in st.integers


def expected_shape(path: str, status: int, answer: httpx.Response) -> str | None:
    """Why `answer` is not a refusal in `path`'s protocol shape (None: it is)."""
    try:
        body = answer.json()
    except ValueError:
        return f"not JSON: {answer.headers.get('content-type')} {answer.text[:200]!r}"
    if not isinstance(body, dict):
        return f"not an object: {body!r}"[:300]
    if path.startswith(("/chatbot_api/", "/api/")):
        error = body.get("error")
        ok = isinstance(error, dict) and isinstance(error.get("message"), str)
        return None if ok else f"not XPARO's error shape: {body!r}"[:300]
    if path == "/sandbox/chat":
        ok = body.get("status") == -1 and isinstance(body.get("message"), str)
        return None if ok else f"not RSVP's failure shape: {body!r}"[:300]
    if path.startswith("/content/"):
        ok = isinstance(body.get("errors"), str)
        return None if ok else f"not AIDA's error shape: {body!r}"[:300]
    content_type = answer.headers.get("content-type", "")
    ok = content_type.startswith("application/problem+json") and body.get("status") == status
    ok = ok and isinstance(body.get("detail"), str)
    return None if ok else f"not a problem: {content_type} {body!r}"[:300]


@dataclass
class Target:
    stack: Stack
    project: TestProject
    admin_token: str
    robot_token: str
    honest: TestProject  # one the fuzz is never told about (it rotates and deletes its own)


@pytest.fixture(scope="module")
def target(backends: Backends, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    """A gateway (services it asks give up after 1 s, request targets over TARGET_LIMIT
    refused) with one project and its tokens."""
    env = {**FUZZ_GATEWAY_ENV, "GATEWAY_REQUEST_TIMEOUT_S": "1", "GATEWAY_RSVP_WAIT_S": "2"}
    env["GATEWAY_HTTP_MAX_TARGET_BYTES"] = str(TARGET_LIMIT)
    running = Stack(backends, tmp_path_factory.mktemp("logs"), gateway_env=env).start(dialogs=1)
    project = new_project(backends)

    async def tokens() -> tuple[str, str]:
        async with opened(backends.database_url) as database:
            store = TokenStore(database)
            admin = (await store.create_admin("fuzz", projects=None)).secret
            robot = await store.issue_robot_token(project=project.key, robot_id="fuzz-bot")
            return admin, robot

    admin, robot = asyncio.run(tokens())
    yield Target(running, project, admin, robot, new_project(backends))
    running.stop()


@st.composite
def requests(draw: st.DrawFn, target: Target) -> tuple[str, str, dict[str, Any]]:
    """(method, path, httpx options) of one hostile request to one route."""
    route = draw(st.sampled_from(draw(st.sampled_from(FAMILIES))))  # each protocol as often
    path = route.path
    for name in [part[1:-1].split(":")[0] for part in path.split("/") if part.startswith("{")]:
        right = {"project": str(target.project.key), "bot": str(target.project.key)}
        right["secret"] = target.project.secret
        hostile = st.one_of(st.sampled_from(SEGMENTS), st.text(max_size=20).filter(bool))
        if name in right:
            value = draw(st.one_of(st.just(right[name]), st.just(right[name]), hostile))
        else:
            value = draw(hostile)
        path = path.replace("{" + name + "}", quote(value.encode("utf-8", "surrogatepass"), ""))
        path = path.replace("{" + name + ":path}", quote(value, ""))
    names = st.sampled_from([*route.query, "q", "limit", "botid", "token", "uid", "x"])
    params = draw(st.dictionaries(names, hostile_strings(), max_size=4))
    raw = {k: v.encode("utf-8", "surrogatepass") for k, v in params.items()}
    query = urlencode(raw, quote_via=quote)[: MAX_QUERY - len(path)]  # httpx: at most 64 KiB
    headers = {}
    if path.startswith("/admin") and draw(MOSTLY):
        headers["Authorization"] = f"Bearer {target.admin_token}"
    if path.startswith("/api/") and draw(MOSTLY):
        headers["Authorization"] = f"Bearer {target.robot_token}"
    if not draw(MOSTLY):
        headers["X-Big"] = "a" * (20 * 1024)
    content_type = draw(st.sampled_from(CONTENT_TYPES))
    if content_type:
        headers["Content-Type"] = content_type
    body = draw(st.one_of(st.none(), encoded(json_values()), garbage(), st.sampled_from(BODIES)))
    method = route.method if draw(MOSTLY) else draw(st.sampled_from(["PATCH", "PUT"]))
    content = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    return method, f"{path}?{query}" if query else path, {"headers": headers, "content": content}


def test_every_refusal_of_every_route_is_in_its_protocols_shape(target: Target) -> None:
    """Hostile requests to every HTTP route are refused in the route's protocol shape, never with
    a 500, and the gateway answers an honest request afterwards."""
    assert len(ROUTES) > 40  # the routes were found
    client = httpx.Client(base_url=target.stack.http_url(), timeout=TIMEOUT_S)

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        method, path, options = data.draw(requests(target))
        # Two of the 33,000-character segments make a URL httpx itself will not send (64 KiB).
        assume(len(path) < 65_000)
        answer = client.request(method, path, **options)
        status = answer.status_code
        where = f"{method} {path[:120]} ({len(path)} chars) → {status}"
        assert status < 500 or status in (503, 504), f"{where}: {answer.text[:300]}"
        if status >= 400:
            sent = answer.request.url.path  # as the server saw it ("a/../b" is "b")
            why = expected_shape(sent, status, answer)
            assert why is None, f"{where}: {why}"

    try:
        check()
    finally:
        client.close()
    params = {"botid": str(target.honest.key), "token": target.honest.secret, "uid": "honest"}
    honest = httpx.get(f"{target.stack.http_url()}/sandbox/chat", params={**params, "q": "hi"})
    assert honest.json()["status"] == 0, honest.text
