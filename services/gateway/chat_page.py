"""Switchboard's own web chat page (`/chat/`), a client of the BESSER WebSocket platform.

The page is static (`static/chat/`); it asks `/chat/config.json` where the BESSER port is.
Plotly's browser bundle comes from the installed Python `plotly` package, so no copy of it is
kept in the repository and its version is the locked one.
"""

import gzip
from functools import cache
from importlib import metadata, resources
from pathlib import Path

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool
from starlette.staticfiles import StaticFiles

from .config import GatewaySettings

STATIC_DIR = Path(__file__).parent / "static" / "chat"
YEAR_S = 365 * 24 * 3600
READ = ["GET", "HEAD"]

# Plotly injects <style> elements, and DOMPurify keeps style attributes: styles stay inline.
# The socket is on another port than the page, hence ws:/wss: in connect-src.
CONTENT_SECURITY_POLICY = "; ".join(
    [
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
    ]
)
PAGE_HEADERS = {
    "Cache-Control": "no-cache",
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    # The page URL carries the project token: never hand it to the sites a reply links to.
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


@cache
def plotly_bundle() -> tuple[Path, str]:
    """Where the installed plotly package keeps plotly.min.js, and that package's version."""
    path = Path(str(resources.files("plotly") / "package_data" / "plotly.min.js"))
    return path, metadata.version("plotly")


@cache
def plotly_gzipped() -> bytes:
    """plotly.min.js gzipped once (4.8 MB → about 1.4 MB on the wire)."""
    return gzip.compress(plotly_bundle()[0].read_bytes(), compresslevel=6)


async def plotly_response(request: Request) -> Response:
    """Plotly's bundle, gzipped when the client takes it; pages ask for it with ?v=<version>,
    so it may be cached for a year."""
    headers = {
        "Cache-Control": f"public, max-age={YEAR_S}, immutable",
        "Vary": "Accept-Encoding",
    }
    if "gzip" not in request.headers.get("accept-encoding", ""):
        return FileResponse(plotly_bundle()[0], media_type="text/javascript", headers=headers)
    body = await run_in_threadpool(plotly_gzipped)
    headers["Content-Encoding"] = "gzip"
    return Response(body, media_type="text/javascript", headers=headers)


def chat_page_router(settings: GatewaySettings) -> APIRouter:
    """`GET /chat/`: the page, its assets, its config and plotly's bundle."""
    router = APIRouter(prefix="/chat", tags=["chat page"], include_in_schema=False)
    assets = StaticFiles(directory=STATIC_DIR)

    @router.get("")
    async def chat_root() -> RedirectResponse:
        """The page's assets are relative to /chat/, so the slash matters."""
        return RedirectResponse("/chat/", status_code=308)

    @router.api_route("/", methods=READ)
    async def chat_page() -> FileResponse:
        """The chat page."""
        return FileResponse(STATIC_DIR / "index.html", headers=PAGE_HEADERS)

    @router.get("/config.json")
    async def chat_config() -> JSONResponse:
        """Where the page finds the BESSER socket, and which plotly bundle to ask for."""
        body = {"besser_port": settings.besser_port, "plotly_version": plotly_bundle()[1]}
        return JSONResponse(body, headers={"Cache-Control": "no-cache"})

    @router.api_route("/vendor/plotly.min.js", methods=READ)
    async def plotly_js(request: Request) -> Response:
        """Plotly's bundle; the page adds ?v=<version>, so it may be cached for a year."""
        return await plotly_response(request)

    @router.api_route("/{asset:path}", methods=READ)
    async def chat_asset(asset: str, request: Request) -> Response:
        """A file under static/chat/ (StaticFiles refuses paths that leave the folder)."""
        response = await assets.get_response(asset, request.scope)
        response.headers.setdefault("Cache-Control", "no-cache")
        for name, value in PAGE_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    return router
