"""Every refusal in the shape of the protocol whose route was asked.

Each protocol promises its clients one error shape: XPARO `{"error": {"command", "message"}}`
(its REST twin `/chatbot_api/…` and the robots' `/api/…`), RSVP.ai `{"status": -1, …}`, AIDA's
content routes `{"errors": "…"}`, and RFC 9457 problems everywhere else (admin API, health,
pages). Refusals made by the framework rather than by a route (FastAPI's validation errors and
body parsing, 404/405 from the router, the NUL guard, an exception's 500) come out as problems
or `{"detail": …}`; `ShapedRefusals` rewrites those into the route's own shape, and refuses in it
what no route should read: a request target over the limit (414) and, on the protocol routes,
a body over the frame limit (413). Refusals the HTTP server makes before any route runs
(oversize headers, request targets) use the same `Shapes` (see http_limits.py).
"""

import json
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..config import GatewaySettings
from ..edge.problems import MEDIA_TYPE as PROBLEM
from ..edge.problems import problem
from .rsvp.wire import failure_body, respond
from .xparo.refusals import error_frame

Render = Callable[[int, str], Response]
MAX_MESSAGE = 500  # characters of a framework's refusal text carried into the shape


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return None


def _xparo_shaped(body: bytes) -> bool:
    found = _json(body)
    return isinstance(found, dict) and isinstance(found.get("error"), dict)


def _rsvp_shaped(body: bytes) -> bool:
    found = _json(body)
    return isinstance(found, dict) and found.get("status") == -1


def _aida_shaped(body: bytes) -> bool:
    found = _json(body)
    return isinstance(found, dict) and isinstance(found.get("errors"), str)


@dataclass(frozen=True)
class Family:
    """The routes of one protocol: how they refuse, and how much body they read."""

    name: str
    render: Render
    shaped: Callable[[bytes], bool] | None  # None: problem+json is the shape
    body_cap: int | None = None  # None: the routes cap their own bodies


PROBLEMS = Family("problem", problem, None)


class Shapes:
    """Which family a path belongs to (the main port's routes)."""

    def __init__(self, settings: GatewaySettings) -> None:
        cap = settings.max_frame_bytes
        self._rsvp_path = f"/{settings.rsvp_endpoint}/chat"
        self.max_target_bytes = settings.http_max_target_bytes
        self.rsvp = Family("rsvp", lambda s, m: respond(failure_body(m), s), _rsvp_shaped, cap)
        self.xparo = Family(
            "xparo", lambda s, m: JSONResponse(error_frame(None, m), s), _xparo_shaped, cap
        )
        self.robot = Family(
            "robot", lambda s, m: JSONResponse({"error": {"message": m}}, s), _xparo_shaped, cap
        )
        self.aida = Family("aida", lambda s, m: JSONResponse({"errors": m}, s), _aida_shaped)

    def family(self, path: str) -> Family:
        if path.rstrip("/") == self._rsvp_path:
            return self.rsvp
        if path.startswith("/chatbot_api/"):
            return self.xparo
        if path.startswith("/api/"):
            return self.robot
        if path.startswith("/content/"):
            return self.aida
        return PROBLEMS

    def refusal(self, path: str, status: int, message: str) -> Response:
        """The refusal `path`'s protocol sends for `status`."""
        return self.family(path).render(status, message)


def problem_refusal(_path: str, status: int, message: str) -> Response:
    """The refusal of a port that serves no protocol route over plain HTTP (BESSER's)."""
    return problem(status, message)


def framework_message(status: int, content_type: str, body: bytes) -> str | None:
    """The reason a framework-made refusal gives (None: a route made it; leave it alone)."""
    if not body.strip():
        return HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "error"
    if content_type.startswith("text/plain"):
        return body.decode("utf-8", "replace").strip()[:MAX_MESSAGE]
    found = _json(body)
    if not isinstance(found, dict) or "detail" not in found:
        return None
    if not content_type.startswith(PROBLEM) and set(found) != {"detail"}:
        return None
    detail = found["detail"]
    if isinstance(detail, list) and detail and isinstance(detail[0], dict):  # FastAPI's 422
        where = ".".join(str(part) for part in detail[0].get("loc", []))
        detail = f"{where}: {detail[0].get('msg', 'invalid')}"
    return str(detail)[:MAX_MESSAGE]


class ShapedRefusals:
    """Pure ASGI middleware, outermost on the main port (WebSockets pass untouched)."""

    def __init__(self, app: ASGIApp, *, shapes: Shapes) -> None:
        self.app = app
        self.shapes = shapes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        family = self.shapes.family(path)
        target = len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"")
        if target > self.shapes.max_target_bytes:
            message = f"request target (path and query) over {self.shapes.max_target_bytes} bytes"
            await family.render(414, message)(scope, receive, send)
            return
        if family.body_cap is not None:
            messages = await _capped(scope, receive, family.body_cap)
            if messages is None:
                await family.render(413, f"body over {family.body_cap} bytes")(scope, receive, send)
                return
            receive = _replay(messages, receive)
        await self._shaped(family, scope, receive, send)

    async def _shaped(self, family: Family, scope: Scope, receive: Receive, send: Send) -> None:
        held: list[Message] = []  # a refusal's start, until its body says who made it
        started = False

        async def shaping_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if message["status"] >= 400:
                    held.append(message)
                    return
            elif held and message["type"] == "http.response.body":
                held.append(message)
                if message.get("more_body", False):
                    return
                await self._refusal(family, held, scope, receive, send)
                held.clear()
                return
            await send(message)

        try:
            await self.app(scope, receive, shaping_send)
        except Exception:
            if not started:  # the server logs the error (re-raised), the client gets its shape
                await family.render(500, "internal error")(scope, receive, send)
            raise

    async def _refusal(
        self, family: Family, held: list[Message], scope: Scope, receive: Receive, send: Send
    ) -> None:
        start, body = held[0], b"".join(m.get("body", b"") for m in held[1:])
        headers = [(k.lower(), v) for k, v in start.get("headers", [])]
        content_type = dict(headers).get(b"content-type", b"").decode("latin-1").lower()
        is_problem = content_type.startswith(PROBLEM)
        already = is_problem if family.shaped is None else family.shaped(body)
        message = None if already else framework_message(start["status"], content_type, body)
        if message is None:
            for part in held:
                await send(part)
            return
        shaped = family.render(start["status"], message)
        kept = [(k, v) for k, v in headers if k not in (b"content-type", b"content-length")]
        shaped.raw_headers = [*shaped.raw_headers, *kept]
        await shaped(scope, receive, send)


async def _capped(scope: Scope, receive: Receive, cap: int) -> list[Message] | None:
    """The request's messages when its body is at most `cap` bytes (None: it is larger)."""
    declared = dict(scope.get("headers", [])).get(b"content-length", b"")
    if declared.isdigit() and int(declared) > cap:
        return None
    messages: list[Message] = []
    size = 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return messages
        size += len(message.get("body", b""))
        if size > cap:
            return None
        if not message.get("more_body", False):
            return messages


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replay() -> Message:
        return pending.pop(0) if pending else await receive()

    return replay
