"""The operator console (`/console/`): a static single-page app over the admin HTTP API.

The page is plain JS modules and CSS under `static/console/`, with no build step and nothing
from a CDN. It holds the admin token in sessionStorage and calls `/admin/...` on this origin,
so its CSP needs no other host. It asks `/console/config.json` where the RSVP chat route is (for
"try it") and which plotly bundle to load; plotly is the one the chat page serves, from the
installed Python package.
"""

from pathlib import Path

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse
from starlette.staticfiles import StaticFiles

from .chat_page import READ, plotly_bundle, plotly_response
from .config import GatewaySettings

STATIC_DIR = Path(__file__).parent / "static" / "console"

# Plotly injects <style> elements, hence 'unsafe-inline' for styles only. Every call (the admin
# API, the RSVP chat route, the event stream) goes to this origin: connect-src 'self'.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'none'",
    ]
)
PAGE_HEADERS = {
    "Cache-Control": "no-cache",
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}


def console_page_router(settings: GatewaySettings) -> APIRouter:
    """`GET /console/`: the console, its assets, its config and plotly's bundle."""
    router = APIRouter(prefix="/console", tags=["console"], include_in_schema=False)
    assets = StaticFiles(directory=STATIC_DIR)

    @router.get("")
    async def console_root() -> RedirectResponse:
        """The console's assets are relative to /console/, so the slash matters."""
        return RedirectResponse("/console/", status_code=308)

    @router.api_route("/", methods=READ)
    async def console_page() -> FileResponse:
        """The console's one HTML page (its views are hash routes)."""
        return FileResponse(STATIC_DIR / "index.html", headers=PAGE_HEADERS)

    @router.get("/config.json")
    async def console_config() -> JSONResponse:
        """Where "try it" sends questions, and which plotly bundle to ask for."""
        body = {
            "rsvp_endpoint": settings.rsvp_endpoint,
            "besser_port": settings.besser_port,
            "plotly_version": plotly_bundle()[1],
        }
        return JSONResponse(body, headers={"Cache-Control": "no-cache"})

    @router.api_route("/vendor/plotly.min.js", methods=READ)
    async def plotly_js(request: Request) -> Response:
        """Plotly's bundle (the same file as /chat/'s)."""
        return await plotly_response(request)

    @router.api_route("/{asset:path}", methods=READ)
    async def console_asset(asset: str, request: Request) -> Response:
        """A file under static/console/ (StaticFiles refuses paths that leave the folder)."""
        response = await assets.get_response(asset, request.scope)
        response.headers.setdefault("Cache-Control", "no-cache")
        for name, value in PAGE_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    return router
