"""Limits on request heads, enforced by the HTTP server of both gateway ports.

uvicorn parses HTTP/1.1 with httptools (llhttp) when it is installed, as here, and neither puts
any bound on a request's head: an 8 MiB header was buffered and answered 200. (h11, the
alternative, bounds only the whole head, with `h11_max_incomplete_event_size`, and answers a
plain-text 400; it counts no headers.) So both ports run `LimitedHttpTools`, uvicorn's httptools
protocol with counts kept as the parser goes:

- a header line (name and value) over `max_header_bytes`, more than `max_headers` headers, or a
  head over `max_head_bytes` in all → 431 Request Header Fields Too Large;
- a request target (path and query) over `max_target_bytes` → 414 URI Too Long (it must stay
  under httptools' own 65,535-byte URL limit, past which uvicorn answered a plain-text 400);
- a request the parser cannot read → 400.

The refusal is written in the shape of the route the path names (`protocols/shapes.py`: RSVP.ai's
`status: -1`, XPARO's `{"error": …}`, problems elsewhere): the app never sees the request, so
its routes cannot answer, but the path is read first and is enough to pick the shape. A
WebSocket handshake is an HTTP request like any other and is refused the same way (before the
upgrade, as every WebSocket client expects a refusal). The connection then reads and discards
what the client still sends until it stops (or `LINGER_S` passes), so a client busy sending 8
MiB still reads its answer instead of a reset; the server goes on serving other connections.
"""

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import httptools
import websockets.http11
from starlette.responses import Response
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from ..config import GatewaySettings
from .errors import GatewayError

log = logging.getLogger(__name__)
Refusal = Callable[[str, int, str], Response]  # (path, status, message) → the response
LINGER_S = 5.0  # how long a refused connection may go on sending before it is closed


@dataclass(frozen=True)
class HeadLimits:
    """How large a request head may be."""

    max_header_bytes: int = 16 * 1024
    max_head_bytes: int = 64 * 1024
    max_headers: int = 100
    max_target_bytes: int = 60 * 1024

    @classmethod
    def of(cls, settings: GatewaySettings) -> "HeadLimits":
        return cls(
            max_header_bytes=settings.http_max_header_bytes,
            max_head_bytes=settings.http_max_head_bytes,
            max_headers=settings.http_max_headers,
            max_target_bytes=settings.http_max_target_bytes,
        )


class HeadRefused(GatewayError):
    """A request head over a limit (raised inside a parser callback, which stops the parser)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class LimitedHttpTools(HttpToolsProtocol):
    """uvicorn's httptools protocol with `limits` on request heads (see the module docstring)."""

    limits: ClassVar[HeadLimits] = HeadLimits()
    refusal: ClassVar[Refusal]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.url = b""
        self._in_head = True
        self._head_bytes = 0
        self._headers = 0
        self._header_bytes = 0
        self._refused = False
        self._linger: asyncio.TimerHandle | None = None

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        self._head_bytes = self._headers = self._header_bytes = 0

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        limit = self.limits.max_target_bytes
        if len(self.url) > limit:
            raise HeadRefused(414, f"request target (path and query) over {limit} bytes")

    def on_header(self, name: bytes, value: bytes) -> None:
        line = len(name) + len(value) + 4  # ": " and CRLF
        self._headers += 1
        self._header_bytes += line
        limits = self.limits
        if line > limits.max_header_bytes:
            raise HeadRefused(431, f"a request header is over {limits.max_header_bytes} bytes")
        if self._headers > limits.max_headers:
            raise HeadRefused(431, f"more than {limits.max_headers} request headers")
        if self._header_bytes > limits.max_head_bytes:
            raise HeadRefused(431, f"request headers over {limits.max_head_bytes} bytes in all")
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        super().on_headers_complete()

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # lingering: what the client still sends is dropped
        self._unset_keepalive_if_required()
        if self._in_head:
            self._head_bytes += len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        except httptools.HttpParserError as err:
            refused = err.__context__
            if not isinstance(refused, HeadRefused):
                refused = HeadRefused(400, "invalid HTTP request")
            self._refuse(refused)
            return
        self._guard_partial_head()

    def _guard_partial_head(self) -> None:
        """Bound what the parser buffers of a head still incomplete (a header arrives whole in
        `on_header`, so an 8 MiB one would be read to its end before it could be counted)."""
        limits = self.limits
        if not self._in_head or self._head_bytes <= limits.max_target_bytes + limits.max_head_bytes:
            return
        if len(self.url) > limits.max_target_bytes:  # pragma: no cover (on_url sees it first)
            self._refuse(HeadRefused(414, f"request target over {limits.max_target_bytes} bytes"))
        else:
            self._refuse(HeadRefused(431, f"request headers over {limits.max_head_bytes} bytes"))

    def _refuse(self, refused: HeadRefused) -> None:
        self._refused = True
        busy = self.cycle is not None and not self.cycle.response_complete
        log.warning(
            "refused a request from %s: %s %s", _client(self.client), refused.status, refused
        )
        if busy:  # a pipelined request is still being answered: its answer would be cut
            self.transport.close()
            return
        path = self.url.split(b"?", 1)[0].decode("latin-1")
        response = type(self).refusal(path, refused.status, refused.message)
        head = [STATUS_LINE[refused.status]]
        for name, value in [*self.server_state.default_headers, *response.raw_headers]:
            head += [name, b": ", value, b"\r\n"]
        head += [b"connection: close\r\n\r\n", bytes(response.body)]
        self.transport.write(b"".join(head))
        self._linger = self.loop.call_later(LINGER_S, self.transport.close)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._linger is not None:
            self._linger.cancel()
        super().connection_lost(exc)


def _client(client: tuple[str, int] | None) -> str:
    return f"{client[0]}:{client[1]}" if client else "?"


def limited_http(limits: HeadLimits, refusal: Refusal) -> type[LimitedHttpTools]:
    """The HTTP protocol class (uvicorn's `http=`) of a port with `limits`, refusing as
    `refusal` renders it."""
    fit_websocket_parser(limits)
    return type(
        "LimitedHttpTools",
        (LimitedHttpTools,),
        {"limits": limits, "refusal": staticmethod(refusal)},
    )


def fit_websocket_parser(limits: HeadLimits) -> None:
    """Let the `websockets` library read every handshake line these limits let through.

    uvicorn hands a WebSocket handshake, already parsed by httptools, to `websockets`, which
    parses it again with its own limits (lines of 8,192 bytes, 128 headers; module globals read
    at each request, WEBSOCKETS_MAX_LINE_LENGTH only at import): a 10 KiB cookie would pass our
    limit and then fail the handshake with a 400 of the library's.
    """
    line = max(limits.max_header_bytes, limits.max_target_bytes + len("GET  HTTP/1.1")) + 2
    http11 = websockets.http11
    http11.MAX_LINE_LENGTH = max(http11.MAX_LINE_LENGTH, line)
    http11.MAX_NUM_HEADERS = max(http11.MAX_NUM_HEADERS, limits.max_headers)
