"""Refuse NUL characters in HTTP requests before any route sees them.

Postgres text and JSONB cannot hold U+0000, so a NUL that reached a query or a stored field
would fail deep inside a service (a server error, or a service answering nothing) instead of
being the client's mistake. No field of this API has a use for NUL: a query string holding one,
or a JSON body (up to MAX_JSON_BYTES; larger ones are uploads the services parse themselves)
with one in any key or string, is answered 422 problem+json.
"""

import json
from typing import Any
from urllib.parse import unquote_to_bytes

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .problems import problem

MAX_JSON_BYTES = 1024 * 1024


def has_nul(value: Any) -> bool:
    """Whether any key or string inside a decoded JSON value contains NUL."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(has_nul(k) or has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(has_nul(v) for v in value)
    return False


class NulGuard:
    """Pure ASGI middleware (WebSockets and streamed responses pass untouched)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if b"\x00" in unquote_to_bytes(scope.get("query_string", b"")):
            await problem(422, "query: NUL characters are not allowed")(scope, receive, send)
            return
        headers = dict(scope.get("headers", []))
        json_body = headers.get(b"content-type", b"").split(b";")[0].strip().endswith(b"json")
        length = headers.get(b"content-length", b"")
        if not json_body or not length.isdigit() or int(length) > MAX_JSON_BYTES:
            await self.app(scope, receive, send)
            return
        messages, body = await _read(receive)
        try:
            nul = has_nul(json.loads(body))
        except (ValueError, RecursionError):
            nul = False  # not JSON: the route answers that in its own words
        if nul:
            await problem(422, "body: NUL characters are not allowed")(scope, receive, send)
            return
        await self.app(scope, _replay(messages, receive), send)


async def _read(receive: Receive) -> tuple[list[Message], bytes]:
    messages: list[Message] = []
    chunks: list[bytes] = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return messages, b"".join(chunks)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replay() -> Message:
        return pending.pop(0) if pending else await receive()

    return replay
