"""Driving chromium: Debian's own binary (Playwright cannot download a browser here).

Playwright's async API, on the session's event loop: its sync API keeps a loop running in
the test thread, where the stack's fixtures (asyncio.run) could no longer run.
"""

import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from playwright.async_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    ViewportSize,
    async_playwright,
    expect,
)

from tests.support.plugin import Stack, TestProject

VIEWPORT: ViewportSize = {"width": 900, "height": 1000}
TIMEOUT_MS = 30_000  # a fresh stack's first answer builds the project's machine
expect.set_options(timeout=TIMEOUT_MS)


async def launch_chromium(*args: str) -> AsyncIterator[Browser]:
    """Debian's chromium, headless, with extra command-line `args` (skips if it is missing)."""
    executable = shutil.which("chromium")
    if executable is None:
        pytest.skip("chromium is not installed (make test installs it with apt)")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=executable, headless=True, args=["--no-sandbox", *args]
        )
        yield browser
        await browser.close()


@dataclass
class ChatPage:
    """A page, where its screenshots go, and what its console said."""

    page: Page
    shots: Path
    console: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def on_console(self, message: ConsoleMessage) -> None:
        self.console.append(f"{message.type}: {message.text}")
        if message.type == "error":
            self.errors.append(message.text)

    async def screenshot(self, name: str) -> Path:
        """A PNG of the viewport, kept under the test's tmp dir."""
        path = self.shots / f"{name}.png"
        await self.page.screenshot(path=path)
        return path


PageOpener = Callable[..., Awaitable[ChatPage]]
"""The `open_page` fixture: `await open_page(browser, **context_options)`."""


async def open_chat_page(context: BrowserContext, shots: Path) -> ChatPage:
    """A new page in `context`, recording its console."""
    page = await context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    chat = ChatPage(page, shots)
    page.on("console", chat.on_console)
    page.on("pageerror", lambda error: chat.errors.append(f"page error: {error}"))
    return chat


async def report_failure(request: pytest.FixtureRequest, chat: ChatPage, name: str) -> None:
    """If the test failed, add a screenshot and the page's console to its report."""
    report: pytest.TestReport | None = getattr(request.node, "call_report", None)
    if report is None or not report.failed:
        return
    try:
        shot = str(await chat.screenshot(f"failure-{name}"))
    except Exception as err:  # the page itself may be what failed
        shot = f"none ({err})"
    console = "\n".join(chat.console[-50:])
    report.sections.append((f"chat page {name}", f"screenshot: {shot}\nconsole:\n{console}"))


def upload_machine(
    stack: Stack, project: TestProject, admin_token: str, body: bytes, content_type: str
) -> None:
    """Make `body` (a state machine, YAML or JSON) the project's bot, through the admin API."""
    response = httpx.put(
        f"{stack.http_url()}/admin/projects/{project.key}/machine",
        content=body,
        headers={"Authorization": f"Bearer {admin_token}", "Content-Type": content_type},
        timeout=60,
    )
    assert response.status_code < 300, response.text
