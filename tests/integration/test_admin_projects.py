"""The admin API for projects end to end: who am I, create, list in pages, configure, rotate,
delete with every service forgetting the project's rows, and the audit log of all of it."""

import asyncio
import io
import json
from collections.abc import AsyncIterator, Iterator
from functools import partial
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import httpx
import pytest
from nats.aio.client import Client as NatsClient
from PIL import Image

from shared import subjects
from shared.contracts import TelemetrySampled, utcnow
from tests.support.backends import Backends
from tests.support.plugin import Stack, TestProject, new_project

from .admin import scoped_token

SCHEMAS = ("dialog", "telemetry", "schedule", "media")


@pytest.fixture(scope="module")
def full_stack(backends: Backends, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A gateway and one replica of every service (deletion reaches all of them)."""
    running = Stack(backends, tmp_path_factory.mktemp("logs"))
    yield running.start(dialogs=1, telemetry=1, schedules=1, media=1)
    running.stop()


def client(stack: Stack, token: str) -> httpx.Client:
    return httpx.Client(
        base_url=stack.http_url(), headers={"Authorization": f"Bearer {token}"}, timeout=30
    )


def ask(stack: Stack, key: UUID | str, secret: str, q: str, uid: str = "u1") -> httpx.Response:
    params = {"botid": str(key), "token": secret, "uid": uid, "q": q}
    return httpx.get(f"{stack.http_url()}/sandbox/chat", params=params, timeout=15)


def test_me_names_the_token_and_its_scope(
    full_stack: Stack, backends: Backends, admin_token: str, project: TestProject
) -> None:
    everything = client(full_stack, admin_token).get("/admin/me")
    assert everything.status_code == 200 and everything.json()["projects"] is None
    scoped = client(full_stack, scoped_token(backends, project.key)).get("/admin/me").json()
    assert scoped["projects"] == [str(project.key)] and scoped["name"].startswith("scoped-")
    missing = httpx.get(f"{full_stack.http_url()}/admin/me")
    assert missing.status_code == 401
    assert missing.headers["content-type"] == "application/problem+json"
    assert client(full_stack, "sbadm_forged").get("/admin/me").status_code == 401


def test_created_project_answers_with_the_secret_shown_once(
    full_stack: Stack, admin_token: str
) -> None:
    admin = client(full_stack, admin_token)
    name = f"shop-{uuid4().hex[:8]}"
    made = admin.post("/admin/projects", json={"name": name, "title": "Shop bot"})
    assert made.status_code == 201, made.text
    body = made.json()
    key, secret = body["project"]["key"], body["secret"]
    assert body["project"]["secret_prefix"] == secret[:8]
    assert ask(full_stack, key, secret, "hello").json()["status"] == 0
    assert ask(full_stack, key, "0" * 64, "hello").json()["status"] == -1
    shown = admin.get(f"/admin/projects/{key}").json()
    assert shown["title"] == "Shop bot" and "secret" not in shown
    again = admin.post("/admin/projects", json={"name": name})
    assert again.status_code == 409 and name in again.json()["detail"]
    bad = admin.post("/admin/projects", json={"name": "../etc/passwd"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["loc"][-1] == "name"


def test_a_scoped_token_lists_only_its_projects_and_cannot_create(
    full_stack: Stack, backends: Backends
) -> None:
    mine = [new_project(backends) for _ in range(3)]
    new_project(backends)  # not covered
    token = scoped_token(backends, *(p.key for p in mine))
    admin = client(full_stack, token)
    seen: list[str] = []
    url: str | None = "/admin/projects?limit=2"
    while url:
        page = admin.get(url)
        assert page.status_code == 200, page.text
        seen += [p["key"] for p in page.json()["items"]]
        url = page.headers.get("link", "").partition(">")[0].lstrip("<") or None
        assert (url is None) == (page.json()["next"] is None)
    assert sorted(seen) == sorted(str(p.key) for p in mine)
    assert admin.post("/admin/projects", json={"name": f"x-{uuid4().hex}"}).status_code == 403
    forged = admin.get("/admin/projects", params={"cursor": "bm90IG91cnM"})
    assert forged.status_code == 422 and forged.json()["detail"].startswith("cursor")


def test_configure_rename_and_rotate(
    full_stack: Stack, admin_token: str, project: TestProject, other_project: TestProject
) -> None:
    admin = client(full_stack, admin_token)
    path = f"/admin/projects/{project.key}"
    name = f"renamed-{uuid4().hex[:8]}"
    changed = admin.patch(path, json={"name": name, "fallback": "Ask the front desk."})
    assert changed.status_code == 200, changed.text
    assert changed.json()["name"] == name and changed.json()["fallback"] == "Ask the front desk."
    taken = admin.get(f"/admin/projects/{other_project.key}").json()["name"]
    assert admin.patch(path, json={"name": taken}).status_code == 409
    assert admin.patch(path, json={"goal": "a\x00b"}).status_code == 422
    assert admin.get(path).json()["name"] == name
    rotated = admin.post(f"{path}/secret")
    assert rotated.status_code == 200
    new_secret = rotated.json()["secret"]
    assert ask(full_stack, project.key, project.secret, "hi").json()["status"] == -1
    assert ask(full_stack, project.key, new_secret, "hi").json()["status"] == 0


def test_every_change_is_in_the_audit_log_with_who_made_it(
    full_stack: Stack, backends: Backends, admin_token: str, project: TestProject
) -> None:
    admin = client(full_stack, admin_token)
    path = f"/admin/projects/{project.key}"
    admin.patch(path, json={"title": "Front desk"}).raise_for_status()
    admin.put(f"{path}/chain", json={"steps": [{"engine": "aiml"}]}).raise_for_status()
    aiml = "<category><pattern>HI</pattern><template>Hello</template></category>"
    headers = {"content-type": "application/xml"}
    admin.put(f"{path}/aiml", content=aiml, headers=headers).raise_for_status()
    admin.post(f"{path}/secret").raise_for_status()
    assert admin.patch(path, json={"name": "bad name!"}).status_code == 422  # not a change
    admin.get(path).raise_for_status()  # reads are not changes
    me = admin.get("/admin/me").json()["name"]
    log = admin.get(f"{path}/audit").json()["items"]
    assert [e["action"] for e in log] == [  # a route of a nested router is named whole too
        "POST /admin/projects/{project}/secret",
        "PUT /admin/projects/{project}/aiml",
        "PUT /admin/projects/{project}/chain",
        "PATCH /admin/projects/{project}",
    ]
    assert {e["actor"] for e in log} == {f"admin:{me}"}
    assert log[3]["details"] == {"fields": ["title"]} and log[0]["target"] == f"{path}/secret"
    other = scoped_token(backends, new_project(backends).key)
    assert client(full_stack, other).get(f"{path}/audit").status_code == 403
    assert all(
        e["project_key"] != str(project.key)
        for e in client(full_stack, other).get("/admin/audit").json()["items"]
    )


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(out, format="PNG")
    return out.getvalue()


async def _rows(pg: asyncpg.Connection, key: UUID) -> dict[str, int]:
    """Rows of `key` in every service table that has a project_key column."""
    tables = await pg.fetch(
        "SELECT table_schema, table_name FROM information_schema.columns "
        "WHERE column_name = 'project_key' AND table_schema = ANY($1::text[])",
        list(SCHEMAS),
    )
    counts = {}
    for t in tables:
        name = f'"{t["table_schema"]}"."{t["table_name"]}"'
        counts[name] = await pg.fetchval(
            f"SELECT count(*) FROM {name} WHERE project_key = $1",  # noqa: S608 (catalogue names)
            key,
        )
    return counts


async def test_deleting_a_project_forgets_it_everywhere_and_keeps_the_audit(
    full_stack: Stack,
    admin_token: str,
    project: TestProject,
    other_project: TestProject,
    pg: asyncpg.Connection,
    nc: NatsClient,
) -> None:
    admin = httpx.AsyncClient(
        base_url=full_stack.http_url(), headers={"Authorization": f"Bearer {admin_token}"}
    )
    path = f"/admin/projects/{project.key}"
    for p in (project, other_project):  # rows in every service, for both projects
        put = await admin.put(
            f"/admin/projects/{p.key}/aiml",
            content=b"<aiml><category><pattern>*</pattern><template>ok</template></category></aiml>",
            headers={"content-type": "application/xml"},
        )
        assert put.status_code == 200, put.text
        assert (await asyncio.to_thread(ask, full_stack, p.key, p.secret, "hi")).json()[
            "status"
        ] == 0
        image = await admin.post(
            f"/content/image/{p.key}/u1", files={"file": ("dot.png", _png(), "image/png")}
        )
        assert image.status_code == 200, image.text
        schedule = {"patrol": {"cron": "0 3 * * *", "timezone": "UTC"}}
        assert (
            await admin.put(f"/admin/projects/{p.key}/robots/r1/schedule", json=schedule)
        ).status_code == 200
        sample = TelemetrySampled.first(
            project_key=p.key, robot_id="r1", received_at=utcnow(), metrics={"battery": 0.5}
        )
        await nc.jetstream().publish(
            subjects.telemetry_sample(project=p.key, robot="r1"), sample.model_dump_json().encode()
        )
    filled = (
        '"dialog"."turns"',
        '"telemetry"."samples"',
        '"media"."images"',
        '"schedule"."entries"',
        '"telemetry"."commands"',  # the schedule's push to the robot
    )
    for p in (project, other_project):  # settled: the schedule's command is recorded too
        await _until(partial(_rows, pg, p.key), lambda rows: all(rows[t] for t in filled))
    before_other = await _rows(pg, other_project.key)

    wrong = await admin.delete(path, params={"confirm": "not its name"})
    assert wrong.status_code == 409
    name = (await admin.get(path)).json()["name"]
    deleted = await admin.delete(path, params={"confirm": name})
    assert deleted.status_code == 202, deleted.text
    assert (await admin.get(path)).status_code == 404
    refused = await asyncio.to_thread(ask, full_stack, project.key, project.secret, "hi")
    assert refused.json()["status"] == -1
    gone = await _until(lambda: _rows(pg, project.key), lambda rows: not any(rows.values()))
    assert set(gone) >= set(filled)
    assert await _rows(pg, other_project.key) == before_other
    audit = (await admin.get("/admin/audit", params={"limit": 1000})).json()["items"]
    assert any(
        e["action"] == "DELETE /admin/projects/{project}" and e["project_key"] == str(project.key)
        for e in audit
    )
    await admin.aclose()


async def _until(read: Any, done: Any, timeout_s: float = 20.0) -> Any:
    """Poll `read()` until `done(value)` (services commit after they answer)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        value = await read()
        if done(value) or asyncio.get_running_loop().time() > deadline:
            assert done(value), value
            return value
        await asyncio.sleep(0.2)


async def _read_events(
    lines: AsyncIterator[str], kinds: set[str], found: list[dict[str, Any]]
) -> None:
    """Collect SSE events of `kinds` into `found` until one of each arrived."""
    kind = ""
    async for line in lines:
        if line.startswith("event: "):
            kind = line.removeprefix("event: ")
        elif line.startswith("data: ") and kind in kinds:
            found.append({"kind": kind, **json.loads(line.removeprefix("data: "))})
            if {e["kind"] for e in found} >= kinds:
                return


async def test_live_feed_shows_this_projects_turns_replies_and_telemetry_only(
    full_stack: Stack,
    admin_token: str,
    project: TestProject,
    other_project: TestProject,
    nc: NatsClient,
) -> None:
    headers = {"Authorization": f"Bearer {admin_token}"}
    async with httpx.AsyncClient(base_url=full_stack.http_url(), headers=headers) as admin:
        url = f"/admin/projects/{project.key}/events"
        async with admin.stream("GET", url, timeout=30) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            lines = response.aiter_lines()
            assert await anext(lines) == ": connected"  # sent once its subscriptions are made
            found: list[dict[str, Any]] = []
            reader = asyncio.create_task(_read_events(lines, {"turn", "reply", "telemetry"}, found))
            other = other_project
            await asyncio.to_thread(ask, full_stack, other.key, other.secret, "not mine", "x9")
            await asyncio.to_thread(ask, full_stack, project.key, project.secret, "hello", "s7")
            sample = TelemetrySampled.first(
                project_key=project.key, robot_id="r2", received_at=utcnow(), metrics={"cpu": 3.0}
            )
            subject = subjects.telemetry_sample(project=project.key, robot="r2")
            await nc.jetstream().publish(subject, sample.model_dump_json().encode())
            await asyncio.wait_for(reader, 20)
    turns = [e for e in found if e["kind"] == "turn"]
    assert [(t["session_id"], t["text"], t["protocol"]) for t in turns] == [("s7", "hello", "rsvp")]
    reply = next(e for e in found if e["kind"] == "reply")
    assert reply["session_id"] == "s7" and reply["source"] == "bot" and reply["engine"]
    telemetry = next(e for e in found if e["kind"] == "telemetry")
    assert telemetry["robot_id"] == "r2" and telemetry["metrics"] == {"cpu": 3.0}
