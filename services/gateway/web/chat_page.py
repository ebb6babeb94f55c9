"""Switchboard's own web chat page (`/chat/`), a client of the BESSER WebSocket platform.

The page is static (`static/chat/`); it asks `/chat/config.json` where the BESSER port is.
Plotly's browser bundle comes from the installed Python `plotly` package, so no copy of it is
kept in the repository and its version is the locked one.
"""

import gzip
from collections.abc import Callable
from functools import cache
from importlib import metadata, resources
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool
from starlette.staticfiles import StaticFiles

from ..config import GatewaySettings
from .page_headers import page_headers

STATIC_DIR = Path(__file__).parent / "static" / "chat"
YEAR_S = 365 * 24 * 3600
READ = ["GET", "HEAD"]

# Plotly injects <style> elements, and DOMPurify keeps style attributes: styles stay inline.
# The socket is on another port than the page, hence ws:/wss: in connect-src.
PAGE_HEADERS = page_headers(
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "media-src 'self' data: blob:",
    "connect-src 'self' ws: wss:",
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'self'",
    "form-action 'none'",
    framed=True,
)


@cache
def plotly_bundle() -> tuple[Path, str]:
    """Where the installed plotly package keeps plotly.min.js, and that package's version."""
    path = Path(str(resources.files("plotly") / "package_data" / "plotly.min.js"))
    return path, metadata.version("plotly")


@cache
def gzipped(path: Path) -> bytes:
    """A vendored bundle gzipped once (plotly.min.js: 4.8 MB → about 1.4 MB on the wire)."""
    return gzip.compress(path.read_bytes(), compresslevel=6)


async def bundle_response(request: Request, path: Path, media_type: str) -> Response:
    """A large asset whose URL names its version (?v=…), so it may be cached for a year;
    gzipped when the client takes it."""
    headers = {
        "Cache-Control": f"public, max-age={YEAR_S}, immutable",
        "Vary": "Accept-Encoding",
        "X-Content-Type-Options": "nosniff",
    }
    if "gzip" not in request.headers.get("accept-encoding", ""):
        return FileResponse(path, media_type=media_type, headers=headers)
    body = await run_in_threadpool(gzipped, path)
    headers["Content-Encoding"] = "gzip"
    return Response(body, media_type=media_type, headers=headers)


async def plotly_response(request: Request) -> Response:
    """Plotly's bundle; pages ask for it with ?v=<version>."""
    return await bundle_response(request, plotly_bundle()[0], "text/javascript")


def static_page_router(
    prefix: str, directory: Path, headers: dict[str, str], config: Callable[[], dict[str, Any]]
) -> APIRouter:
    """A page served from `directory` at `prefix`/: the page, its config (`config()` as
    `config.json`, never cached), plotly's bundle and its other assets, each under `headers`."""
    router = APIRouter(prefix=prefix, tags=[prefix.strip("/")], include_in_schema=False)
    assets = StaticFiles(directory=directory)

    @router.get("")
    async def root() -> RedirectResponse:
        """The page's assets are relative to its folder, so the slash matters."""
        return RedirectResponse(f"{prefix}/", status_code=308)

    @router.api_route("/", methods=READ)
    async def page() -> FileResponse:
        """The page."""
        return FileResponse(directory / "index.html", headers=headers)

    @router.get("/config.json")
    async def page_config() -> JSONResponse:
        """What the page needs to know about this gateway."""
        return JSONResponse(config(), headers={"Cache-Control": "no-cache"})

    @router.api_route("/vendor/plotly.min.js", methods=READ)
    async def plotly_js(request: Request) -> Response:
        """Plotly's bundle; the page adds ?v=<version>, so it may be cached for a year."""
        return await plotly_response(request)

    @router.api_route("/{asset:path}", methods=READ)
    async def asset(asset: str, request: Request) -> Response:
        """A file under the page's folder (StaticFiles refuses paths that leave it)."""
        response = await assets.get_response(asset, request.scope)
        response.headers.setdefault("Cache-Control", "no-cache")
        for name, value in headers.items():
            response.headers.setdefault(name, value)
        return response

    return router


def chat_page_router(settings: GatewaySettings) -> APIRouter:
    """`GET /chat/`: the page finds the BESSER socket and the plotly bundle in its config."""
    return static_page_router(
        "/chat",
        STATIC_DIR,
        PAGE_HEADERS,
        lambda: {"besser_port": settings.besser_port, "plotly_version": plotly_bundle()[1]},
    )
