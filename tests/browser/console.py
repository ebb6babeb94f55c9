"""Driving the operator console (/console/) in chromium, and a simulated robot beside it.

Waits poll with page.evaluate: Playwright's wait_for_function builds its predicate with eval,
which the console's CSP forbids.
"""

import asyncio
import contextlib
import json
import math
import os
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from uuid import UUID

import httpx
import websockets
from nats.js import JetStreamContext
from PIL import Image
from playwright.async_api import Page, ViewportSize, expect

from shared.contracts import TelemetrySampled
from shared.db import opened
from shared.identity import TokenStore
from tests.support.backends import Backends
from tests.support.plugin import Stack, TestProject
from tests.support.telemetry import publish_samples

# Wide enough for the two-column pages: the screenshots go in the README's console tour.
CONSOLE_VIEWPORT: ViewportSize = {"width": 1360, "height": 860}


WARD_AIML = """<?xml version="1.0" encoding="UTF-8"?>
<aiml version="2.0">
  <category>
    <pattern>HELLO</pattern>
    <template>Hello! I am the ward assistant. Ask me about visiting hours.</template>
  </category>
  <category>
    <pattern>WHEN ARE VISITING HOURS</pattern>
    <template>Visiting hours are 10:00 to 20:00, every day.</template>
  </category>
</aiml>
"""


def console_url(stack: Stack, hash_route: str = "") -> str:
    return f"{stack.http_url()}/console/{hash_route}"


async def sign_in(page: Page, url: str, token: str) -> None:
    """Open the console at `url` and sign in with `token` (the route in `url` is kept)."""
    await page.goto(url)
    await page.get_by_label("Admin token").fill(token)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator("#shell")).to_have_attribute("data-signed-in", "true")


async def signed_in(page: Page, stack: Stack, token: str, route: str = "") -> None:
    """Open the console of `stack` at `route` (e.g. "#/projects") and sign in with `token`."""
    await sign_in(page, console_url(stack, route), token)


async def open_route(page: Page, stack: Stack, route: str) -> None:
    """Go to `route` of a signed-in console by its address (as a bookmark would)."""
    await page.goto(console_url(stack, route))


async def go_to(page: Page, name: str) -> None:
    """Follow the navigation's link to page `name` (its data-page: inbox, robots, ...)."""
    await page.locator(f".nav__link[data-page={name}]").click()


def admin_token_named(
    backends: Backends, name: str, role: Literal["admin", "viewer"] = "admin"
) -> str:
    """A token for every project with `role`, named like a person (the console shows it)."""

    async def create() -> str:
        async with opened(backends.database_url) as database:
            store = TokenStore(database)
            return (await store.create_admin(name, projects=None, role=role)).secret

    return asyncio.run(create())


async def save_aiml(
    client: httpx.AsyncClient, stack: Stack, token: str, project: TestProject, aiml: str
) -> None:
    """Put `aiml` as the project's AIML through the admin API (a new test version)."""
    saved = await client.put(
        f"{stack.http_url()}/admin/projects/{project.key}/aiml",
        content=aiml,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/xml"},
    )
    assert saved.status_code == 200, saved.text


async def sandbox_ask(
    client: httpx.AsyncClient, stack: Stack, project: TestProject, uid: str, q: str
) -> httpx.Response:
    """User `uid` asks the project `q` on RSVP's sandbox endpoint."""
    query = {"botid": str(project.key), "token": project.secret, "uid": uid, "q": q}
    return await client.get(f"{stack.http_url()}/sandbox/chat", params=query)


async def until(
    page: Page, script: str, check: Callable[[Any], bool], *, within_s: float = 30, what: str = ""
) -> Any:
    """Evaluate `script` in the page until `check` holds for its value; that value."""
    deadline = time.monotonic() + within_s
    value = None
    while time.monotonic() < deadline:
        value = await page.evaluate(script)
        if check(value):
            return value
        await asyncio.sleep(0.2)
    raise AssertionError(f"{what or script} never held; last value {value!r}")


def keep_for_docs(shot: Path, name: str) -> None:
    """With CONSOLE_SCREENSHOTS set, copy a screenshot there as console-<name>.png."""
    folder = os.environ.get("CONSOLE_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        Image.open(shot).save(Path(folder) / f"console-{name}.png", optimize=True)


async def screenshot(page: Page, shots: Path, name: str) -> Path:
    """A viewport screenshot under the test's tmp dir, also kept for the docs when asked."""
    await page.mouse.move(0, 0)  # no hover highlight in the picture
    await page.evaluate("() => document.getElementById('toasts').replaceChildren()")
    path = shots / f"console-{name}.png"
    await page.screenshot(path=path)
    keep_for_docs(path, name)
    return path


async def create_project(page: Page, name: str, title: str) -> TestProject:
    """Create a project with the "New project" dialog; its key and the secret shown once (its
    Copy button a light one on the dark secret box: plainly visible)."""
    await page.locator("#new-project").click()
    await page.get_by_label("Name").fill(name)
    await page.get_by_label("Title").fill(title)
    await page.get_by_role("button", name="Create project").click()
    secret = await page.locator("#project-secret").inner_text()
    copy_button, box = await page.evaluate(
        "() => [getComputedStyle(document.getElementById('secret-copy')).backgroundColor,"
        " getComputedStyle(document.querySelector('.secret')).backgroundColor]"
    )
    assert (copy_button, box) == ("rgb(255, 255, 255)", "rgb(15, 23, 41)"), "Copy hard to see"
    key = await page.locator(".secret-box .facts code").inner_text()
    await page.locator("#secret-done").click()
    await expect(page.locator("#title")).to_have_text("Content")
    return TestProject(UUID(key), secret)


async def fill_editor(page: Page, text: str) -> None:
    """Type `text` into the content editor once the stored content has loaded into it."""
    await expect(page.locator(".editor")).to_have_attribute("data-ready", "true")
    await page.locator("#content-text").fill(text)


async def chart_values(page: Page) -> Any:
    """The averages plotted on the telemetry chart (plotly keeps its traces on the element)."""
    return await page.evaluate(
        "() => { const el = document.getElementById('telemetry-chart');"
        " return el && el.data && el.data.length > 2 ? el.data[2].y : null; }"
    )


def ward_metrics(at: datetime) -> dict[str, float]:
    """A robot's figures at a moment: smooth curves of time, so a backfilled history and the
    live samples that follow it join up on the chart."""
    t = at.timestamp()
    return {
        "cpu_usage": round(42 + 22 * math.sin(t / 23) + 6 * math.sin(t / 5), 2),
        "battery": round(80 + 15 * math.cos(t / 300), 2),
        "temperature": round(38 + 3 * math.sin(t / 40), 2),
    }


async def backfill(
    js: JetStreamContext, project: UUID, robot: str, *, minutes: float, step_s: float = 3
) -> None:
    """Telemetry `robot` sent over the last `minutes`, published as the gateway publishes it."""
    now = datetime.now(UTC)
    count = int(minutes * 60 / step_s)
    samples = []
    for n in range(count, 0, -1):
        at = now - timedelta(seconds=n * step_s)
        samples.append(
            TelemetrySampled.first(
                project_key=project, robot_id=robot, received_at=at, metrics=ward_metrics(at)
            )
        )
    await publish_samples(js, samples)


@dataclass
class Robot:
    """A robot on the XPARO typed API: sends telemetry while running, acknowledges commands."""

    url: str
    every_s: float = 0.3
    sent: int = 0
    commands: list[dict[str, Any]] = field(default_factory=list)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator["Robot"]:
        async with websockets.connect(self.url) as ws:
            tasks = [asyncio.create_task(self._send(ws)), asyncio.create_task(self._read(ws))]
            try:
                yield self
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

    async def _send(self, ws: Any) -> None:
        while True:
            frame = {"type": "telemetry", "data": ward_metrics(datetime.now(UTC))}
            await ws.send(json.dumps(frame))
            self.sent += 1
            await asyncio.sleep(self.every_s)

    async def _read(self, ws: Any) -> None:
        async for raw in ws:
            frame = json.loads(raw)
            command_id = (frame.get("data") or {}).get("command_id")
            if command_id:
                self.commands.append(frame)
                await ws.send(json.dumps({"type": "ack", "data": {"command_id": command_id}}))
