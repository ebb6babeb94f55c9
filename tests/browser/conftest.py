"""Browser tests: Debian's chromium driven by Playwright, against the real stack.

A failing test gets a screenshot of each page it opened, and the page's console, in its report.
"""

from collections.abc import AsyncIterator, Generator, Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from playwright.async_api import Browser, BrowserContext

from tests.support.backends import Backends
from tests.support.plugin import Stack, TestProject

from .chat import (
    VIEWPORT,
    ChatPage,
    PageOpener,
    launch_chromium,
    open_chat_page,
    report_failure,
    upload_machine,
)
from .console import CONSOLE_VIEWPORT, admin_token_named

WEATHER_MACHINE = Path(__file__).parents[2] / "eval" / "weather_machine.yaml"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item,
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Keep the call's report on the test item, for the page fixtures' teardown."""
    report = yield
    if report.when == "call":
        item.call_report = report  # type: ignore[attr-defined]
    return report


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    """One chromium for the session (each test gets its own context: fresh localStorage)."""
    async for found in launch_chromium():
        yield found


@pytest.fixture
async def open_page(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[PageOpener]:
    """Opens pages, each in a fresh context of the given browser (its own localStorage, so its
    own session); on failure their screenshots and consoles go in the report."""
    opened: list[tuple[BrowserContext, ChatPage]] = []

    async def opener(browser: Browser, **options: Any) -> ChatPage:
        context = await browser.new_context(**{"viewport": VIEWPORT, **options})
        chat = await open_chat_page(context, tmp_path)
        opened.append((context, chat))
        return chat

    yield opener
    for n, (context, chat) in enumerate(opened):
        await report_failure(request, chat, str(n))
        await context.close()


@pytest.fixture
async def chat_page(browser: Browser, open_page: PageOpener) -> ChatPage:
    """A desktop-sized page in a fresh browser context."""
    return await open_page(browser)


@pytest.fixture(scope="module")
def chat_stack(backends: Backends, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A gateway (with its BESSER port), a dialog and a media replica for one module."""
    running = Stack(backends, tmp_path_factory.mktemp("logs")).start(dialogs=1, media=1)
    yield running
    running.stop()


@pytest.fixture
def weather_bot(chat_stack: Stack, project: TestProject, admin_token: str) -> TestProject:
    """A fresh project whose bot is eval/weather_machine.yaml."""
    machine = WEATHER_MACHINE.read_bytes()
    upload_machine(chat_stack, project, admin_token, machine, "application/yaml")
    return project


@pytest.fixture(scope="module")
def console_stack(backends: Backends, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A gateway, a dialog and a telemetry replica (10 s online window), for one module."""
    services = {"TELEMETRY_ONLINE_WINDOW_S": "10"}
    running = Stack(backends, tmp_path_factory.mktemp("logs"), service_env=services)
    yield running.start(dialogs=1, telemetry=1)
    running.stop()


@pytest.fixture(scope="module")
def operator_token(backends: Backends) -> str:
    """An admin token for every project, named like a person (the console shows the name)."""
    return admin_token_named(backends, f"dana-{uuid4().hex[:4]}")


@pytest.fixture
async def console(browser: Browser, open_page: PageOpener) -> ChatPage:
    """A desktop-sized console page in a fresh browser context (fresh sessionStorage: signed
    out)."""
    return await open_page(browser, viewport=CONSOLE_VIEWPORT)
