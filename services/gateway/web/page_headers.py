"""The headers every built-in page (front page, docs, console, chat) is served with: its own
Content-Security-Policy, never cached stale, no referrer, no sniffing, and no framing unless the
page is meant to be embedded; and how their static files are served."""

from fastapi import HTTPException, Request, Response
from starlette.staticfiles import StaticFiles


def page_headers(*directives: str, framed: bool = False) -> dict[str, str]:
    """Headers for a page whose CSP is `directives`; `framed`: it may be embedded (the chat
    page's CSP then names its own frame-ancestors)."""
    headers = {
        "Cache-Control": "no-cache",
        "Content-Security-Policy": "; ".join(directives),
        # Page URLs can carry a project token: never hand it to the sites a page links to.
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
    }
    if not framed:
        headers["X-Frame-Options"] = "DENY"
    return headers


async def static_asset(assets: StaticFiles, path: str, request: Request) -> Response:
    """A page's file under its static folder, never its template (index.html): StaticFiles
    refuses paths that leave the folder; not cached stale, never sniffed."""
    if path == "index.html":
        raise HTTPException(404)
    response = await assets.get_response(path, request.scope)
    response.headers.setdefault("Cache-Control", "no-cache")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    return response
