"""The API documentation (`/docs`): Swagger UI over `/openapi.json`, from files this gateway serves.

FastAPI's own `/docs` loads Swagger UI from a CDN, so it was blank without internet. The page is
static (`static/docs/`) with Swagger UI vendored from npm's `swagger-ui-dist` (SmartBear's own
build; see `static/docs/vendor/README.md`), set up by `docs.js` rather than an inline script so
that the page's CSP allows no inline script. ReDoc (`/redoc`) would need a CDN too: it sends
people to `/docs`.
"""

from pathlib import Path

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse, RedirectResponse
from starlette.staticfiles import StaticFiles

from .chat_page import READ, bundle_response
from .page_headers import page_headers, static_asset

STATIC_DIR = Path(__file__).parent / "static" / "docs"
BUNDLES = {"swagger-ui-bundle.js": "text/javascript", "swagger-ui.css": "text/css"}
"""The large vendored files: gzipped, cached for a year (the page names their version)."""

# Swagger UI sets inline styles; "Try it out" calls this origin only.
PAGE_HEADERS = page_headers(
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
    "form-action 'none'",
)


def docs_router() -> APIRouter:
    """`GET /docs` and its assets under `/docs/`; `/redoc` leads to `/docs`."""
    router = APIRouter(include_in_schema=False)
    assets = StaticFiles(directory=STATIC_DIR)

    @router.api_route("/docs", methods=READ)
    async def docs() -> FileResponse:
        """Swagger UI; its assets are relative to /docs (docs/…), as openapi.json is."""
        return FileResponse(STATIC_DIR / "index.html", headers=PAGE_HEADERS)

    @router.get("/docs/")
    async def docs_slash() -> RedirectResponse:
        """From /docs/ the page's relative asset paths would miss."""
        return RedirectResponse("../docs", status_code=308)

    @router.get("/redoc")
    async def redoc() -> RedirectResponse:
        """ReDoc is not served: the same API in Swagger UI."""
        return RedirectResponse("docs", status_code=308)

    @router.api_route("/docs/vendor/{name}", methods=READ)
    async def bundle(name: str, request: Request) -> Response:
        """Swagger UI's script and stylesheet, gzipped; other vendor files (licenses) too."""
        if name in BUNDLES:
            return await bundle_response(request, STATIC_DIR / "vendor" / name, BUNDLES[name])
        return await asset(f"vendor/{name}", request)

    @router.api_route("/docs/{path:path}", methods=READ)
    async def asset(path: str, request: Request) -> Response:
        """A file under static/docs/ (StaticFiles refuses paths that leave it)."""
        return await static_asset(assets, path, request)

    return router
