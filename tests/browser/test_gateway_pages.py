"""The gateway's front page (/) and its API documentation (/docs), in chromium against the real
stack, with every request that would leave the gateway's origin refused (as offline)."""

from collections.abc import Iterator
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import httpx
import pytest
from playwright.async_api import Page, Route, expect

from tests.support.backends import Backends
from tests.support.plugin import Stack, new_project

from .chat import ChatPage


@pytest.fixture(scope="module")
def chat_stack(backends: Backends, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A gateway and a dialog replica; its BESSER port answers a project of its own by default,
    as under make run, so that the front page's chat link (no project named) gets a bot."""
    default = new_project(backends)
    env = {"GATEWAY_BESSER_PROJECT": str(default.key)}
    running = Stack(backends, tmp_path_factory.mktemp("logs"), gateway_env=env).start(dialogs=1)
    yield running
    running.stop()


class References(HTMLParser):
    """Every URL an HTML page loads or links to, and whether it has inline scripts."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline_scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self.urls += [url for name in ("src", "href") if (url := found.get(name))]
        if tag == "script" and not found.get("src"):
            self.inline_scripts += 1
        assert not any(name.startswith("on") for name in found), (tag, found)


def references(html: str) -> References:
    parser = References()
    parser.feed(html)
    return parser


async def offline(page: Page, origin: str) -> list[str]:
    """Refuse every request to another origin than `origin`; the list fills with their URLs."""
    left: list[str] = []

    async def only_here(route: Route) -> None:
        url = route.request.url
        if url.startswith(origin) or url.startswith("data:"):
            await route.continue_()
        else:
            left.append(url)
            await route.abort("internetdisconnected")

    await page.route("**/*", only_here)
    return left


def test_docs_reference_only_local_assets(chat_stack: Stack) -> None:
    """/docs is Swagger UI from files the gateway serves (gzipped, cached), under a CSP without
    inline scripts; /redoc leads to it."""
    http = chat_stack.http_url()
    page = httpx.get(f"{http}/docs")
    assert page.status_code == 200
    assert "script-src 'self'" in page.headers["content-security-policy"]
    found = references(page.text)
    assert found.inline_scripts == 0
    assert found.urls and all(not urlsplit(url).netloc for url in found.urls), found.urls
    for url in found.urls:
        asset = httpx.get(urljoin(f"{http}/docs", url), headers={"Accept-Encoding": "gzip"})
        assert asset.status_code == 200, url
    bundle = httpx.get(urljoin(f"{http}/docs", next(u for u in found.urls if "bundle" in u)))
    assert bundle.headers["content-encoding"] == "gzip"
    assert "max-age=31536000" in bundle.headers["cache-control"]
    assert len(bundle.content) > 1_000_000
    redoc = httpx.get(f"{http}/redoc")
    assert redoc.status_code == 308
    assert urljoin(f"{http}/redoc", redoc.headers["location"]) == f"{http}/docs"
    assert httpx.get(f"{http}/docs/../main.py").status_code == 404


async def test_docs_render_the_api_offline(chat_stack: Stack, chat_page: ChatPage) -> None:
    """Swagger UI shows the gateway's operations with no request leaving the gateway, and a
    route's details open, without a console error."""
    page = chat_page.page
    http = chat_stack.http_url()
    left = await offline(page, http)
    await page.goto(f"{http}/docs")

    await expect(page.locator(".info .title")).to_contain_text("Switchboard gateway")
    me = page.locator(".opblock-summary-path[data-path='/admin/me']")
    await expect(me).to_be_visible()
    assert await page.locator(".opblock").count() > 20
    await me.click()
    await expect(page.get_by_role("button", name="Try it out")).to_be_visible()
    assert left == []
    assert not chat_page.errors, chat_page.errors


def test_front_page(chat_stack: Stack) -> None:
    """GET / answers a page (no script, under a CSP) naming the console, the chat page, the
    docs and each protocol's endpoint on this gateway, the BESSER port included."""
    http = chat_stack.http_url()
    page = httpx.get(f"{http}/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in page.headers["content-security-policy"]
    found = references(page.text)
    assert found.inline_scripts == 0 and "<script" not in page.text
    assert {"console/", "chat/", "docs"} <= set(found.urls)
    ws = http.replace("http://", "ws://")
    besser = chat_stack.gateway.env["GATEWAY_BESSER_PORT"]
    for endpoint in [
        f"{ws}/chatbot_api/{{secret}}/{{project}}/",
        f"{ws}/ws/chatbot/{{secret}}/{{project}}/",
        f"{ws}/socket",
        f"{http}/sandbox/chat?botid={{project}}",
        f"ws://127.0.0.1:{besser}/?project={{project}}",
        f"{http}/api/telemetry/",
    ]:
        assert endpoint.replace("&", "&amp;") in page.text, endpoint
    for url in found.urls:
        assert httpx.get(urljoin(f"{http}/", url), follow_redirects=True).status_code == 200, url
    hostile = httpx.get(f"{http}/", headers={"Host": 'x"><script>alert(1)</script>'})
    assert hostile.status_code == 200 and "<script" not in hostile.text


async def test_front_page_leads_to_each_page(chat_stack: Stack, chat_page: ChatPage) -> None:
    """From the front page, a click reaches the console, the chat page and the docs, with no
    console error on the way."""
    page = chat_page.page
    http = chat_stack.http_url()
    left = await offline(page, http)
    for name, title in [
        ("Operator console", "Switchboard console"),
        ("Web chat", "Switchboard chat"),
        ("API documentation", "Switchboard gateway API"),
    ]:
        await page.goto(f"{http}/")
        await expect(page.get_by_role("heading", name="Protocol endpoints")).to_be_visible()
        await page.get_by_role("link", name=name).click()
        await expect(page).to_have_title(title)
        if name == "Web chat":
            await expect(page.locator("#status")).to_have_attribute("data-state", "connected")
    assert left == []
    assert not chat_page.errors, chat_page.errors
