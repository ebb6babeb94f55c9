"""The operator console (`/console/`): a static single-page app over the admin HTTP API.

The page is plain JS modules and CSS under `static/console/`, with no build step and nothing
from a CDN. It holds the admin token in sessionStorage and calls `/admin/...` on this origin,
so its CSP needs no other host. It asks `/console/config.json` where the RSVP chat route is (for
"try it") and which plotly bundle to load; plotly is the one the chat page serves, from the
installed Python package.
"""

from pathlib import Path

from fastapi import APIRouter

from ..config import GatewaySettings
from .chat_page import plotly_bundle, static_page_router
from .page_headers import page_headers

STATIC_DIR = Path(__file__).parent / "static" / "console"

# Plotly injects <style> elements, hence 'unsafe-inline' for styles only. Every call (the admin
# API, the RSVP chat route, the event stream) goes to this origin: connect-src 'self'.
PAGE_HEADERS = page_headers(
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
    "form-action 'none'",
)


def console_page_router(settings: GatewaySettings) -> APIRouter:
    """`GET /console/`: its config says where "try it" sends questions and which plotly bundle
    to load."""
    return static_page_router(
        "/console",
        STATIC_DIR,
        PAGE_HEADERS,
        lambda: {
            "rsvp_endpoint": settings.rsvp_endpoint,
            "besser_port": settings.besser_port,
            "plotly_version": plotly_bundle()[1],
        },
    )
