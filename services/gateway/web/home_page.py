"""The gateway's front page (`GET /`): where the console, the chat page, the API docs and each
protocol's endpoint are, so that a browser pointed at the gateway lands somewhere useful.

Rendered on the server from `static/home/index.html` (this host's URLs and the BESSER port
filled in, HTML-escaped), with no script at all and a CSP that allows none.
"""

from functools import cache
from html import escape
from pathlib import Path
from string import Template

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

from ..config import GatewaySettings
from .chat_page import READ
from .page_headers import page_headers, static_asset

STATIC_DIR = Path(__file__).parent / "static" / "home"

PAGE_HEADERS = page_headers(
    "default-src 'none'",
    "style-src 'self'",
    "img-src 'self'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
    "form-action 'none'",
)


@cache
def page_template() -> Template:
    return Template((STATIC_DIR / "index.html").read_text(encoding="utf-8"))


def besser_cell(request: Request, port: int) -> str:
    """Where BESSER clients connect (the platform's own port), or that it is off."""
    if not port:
        return "off (<code>GATEWAY_BESSER_PORT=0</code>)"
    host = request.url.hostname or "127.0.0.1"
    host = f"[{host}]" if ":" in host else host
    url = escape(f"ws://{host}:{port}/?project={{project}}&token={{secret}}")
    return f"<code>{url}</code> (any path; without them, the default project answers)"


def render(request: Request, settings: GatewaySettings) -> str:
    """The page, with this gateway's URLs as the browser reached it."""
    http = f"{request.url.scheme}://{request.url.netloc}"
    ws = ("wss" if request.url.scheme == "https" else "ws") + f"://{request.url.netloc}"
    return page_template().substitute(
        http=escape(http),
        ws=escape(ws),
        rsvp=escape(settings.rsvp_endpoint),
        besser=besser_cell(request, settings.besser_port),
    )


def home_page_router(settings: GatewaySettings) -> APIRouter:
    """`GET /` and the page's stylesheet and icon under `/home/`."""
    router = APIRouter(include_in_schema=False)
    assets = StaticFiles(directory=STATIC_DIR)

    @router.api_route("/", methods=READ)
    async def home(request: Request) -> HTMLResponse:
        """The front page."""
        return HTMLResponse(render(request, settings), headers=PAGE_HEADERS)

    @router.api_route("/home/{path:path}", methods=READ)
    async def asset(path: str, request: Request) -> Response:
        """The page's stylesheet and icon (not its template)."""
        return await static_asset(assets, path, request)

    return router
