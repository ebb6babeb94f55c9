"""The gateway's WebSocket server: uvicorn's `ws=` protocol, routed without ASGI.

uvicorn parses every request (HTTP/1.1 with head limits, http_limits.py) and serves HTTP routes
through FastAPI as before. An upgrade request is handed to `SocketPort.protocol` instead of
uvicorn's own WebSocket protocol: the path picks a route, whose handler sees the handshake
(path parameters, query, headers), refuses it (HTTP 403, before the handshake completes, as each
platform refuses) or accepts it and starts its adapter on the socket (connection.py). Nothing
per socket goes through ASGI, Starlette or FastAPI: measured with 10,000 idle sockets, uvicorn's
WebSocket protocol with its queue and the ASGI app's coroutines parked in `receive` cost ~38
KiB of the 48 KiB a socket took (bench/connections.py, README "Performance").

permessage-deflate is declined unless GATEWAY_WS_PER_MESSAGE_DEFLATE (browsers always offer it,
and a compressor and decompressor cost ~33 KiB per socket). Keepalive pings go out from one
timer per port (`KeepAlive`), not one per socket.
"""

import asyncio
import logging
import random
import struct
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import unquote

from starlette.datastructures import Headers, QueryParams
from starlette.routing import compile_path
from websockets.extensions.base import ServerExtensionFactory
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory
from websockets.http11 import Request, Response

from .errors import GatewayError
from .limits import UNLIMITED, Limits
from .metrics import SocketMeter
from .sockets import Socket

log = logging.getLogger(__name__)
Handler = Callable[["Handshake"], Awaitable[None]]


class Gone(GatewayError):
    """The client left during the handshake: there is no socket to accept."""


class Handshake:
    """An upgrade request its route's handler decides on: `refuse` (HTTP 403) or `accept`."""

    __slots__ = (
        "_request",
        "_response",
        "_sock",
        "headers",
        "path_params",
        "port",
        "protocol",
        "query_params",
    )

    def __init__(
        self,
        sock: Socket,
        port: "SocketPort",
        request: Request,
        response: Response,
        path_params: dict[str, str],
        protocol: str,
    ) -> None:
        self._sock = sock
        self._request = request
        self._response = response
        self.port = port
        self.path_params = path_params
        self.query_params = QueryParams(request.path.partition("?")[2])
        self.headers = Headers(  # Starlette's: the first of repeated headers, case-insensitive
            raw=[
                (name.lower().encode("latin-1"), value.encode("latin-1"))
                for name, value in request.headers.raw_items()
            ]
        )
        self.protocol = protocol  # its connections and frames are counted under this name

    @property
    def path(self) -> str:
        return self._request.path.partition("?")[0]

    @property
    def subprotocols(self) -> list[str]:
        """The sub-protocols the client offered, in its order."""
        offered = self._request.headers.get_all("Sec-WebSocket-Protocol")
        return [name.strip() for header in offered for name in header.split(",")]

    @property
    def client(self) -> str:
        return self._sock.peer()

    def refuse(self) -> None:
        """Answer HTTP 403 and close: the client never gets a socket."""
        sock = self._sock
        if sock.transport is None or sock.transport.is_closing():
            return
        wire = sock.wire
        log.info('%s - "WebSocket %s" 403', sock.peer(), self.path)
        wire.send_response(wire.reject(403, ""))
        sock.flush_wire()  # the answer, then the end of the stream: the connection closes

    def accept(self, max_bytes: int, subprotocol: str | None = None) -> Socket:
        """Answer 101: from now on the socket reads frames (over `max_bytes`: closed 1009)."""
        sock = self._sock
        if sock.transport is None or sock.transport.is_closing():
            raise Gone
        response = self._response
        del response.headers["Date"]
        for name, value in self.port.default_headers:
            response.headers[name] = value
        if subprotocol:
            response.headers["Sec-WebSocket-Protocol"] = subprotocol
        sock.wire.send_response(response)
        sock.flush_wire()
        sock.accepted(SocketMeter(self.protocol), max_bytes)
        self.port.keepalive.add(sock)
        return sock


class SocketPort:
    """What every socket of one port shares: its routes, limits and wire settings."""

    def __init__(
        self,
        *,
        limits: Limits = UNLIMITED,
        max_size: int = 2**20,
        deflate: bool = False,
        ping_interval_s: float = 20.0,
        ping_timeout_s: float = 20.0,
    ) -> None:
        self.limits = limits
        self.max_size = max_size
        self.extensions: list[ServerExtensionFactory] | None = (
            [  # uvicorn's settings: 4 KiB windows, a small memory level
                ServerPerMessageDeflateFactory(
                    server_max_window_bits=12,
                    client_max_window_bits=12,
                    compress_settings={"memLevel": 5},
                )
            ]
            if deflate
            else None
        )
        self.keepalive = KeepAlive(ping_interval_s, ping_timeout_s)
        self.default_headers: list[tuple[str, str]] = []
        self._routes: list[tuple[Any, str, Handler]] = []
        self.paths: list[str] = []  # the WebSocket routes served, as given to `route`
        self._connections: set[Any] | None = None  # uvicorn's: closed on shutdown
        self._tasks: set[asyncio.Task[Any]] | None = None  # uvicorn's: awaited on shutdown
        self.protocol: type[Socket] = type(
            "GatewaySocket", (Socket,), {"__slots__": (), "port": self}
        )

    def route(self, path: str, handler: Handler, *, protocol: str) -> None:
        """Serve WebSockets on `path` (Starlette's syntax: `{name}`, `{name:path}`)."""
        regex, _format, _convertors = compile_path(path)
        self._routes.append((regex, protocol, handler))
        self.paths.append(path)

    def joined(self, server_state: Any) -> None:
        self._connections = server_state.connections
        self._tasks = server_state.tasks
        self.default_headers = [
            (name.decode("latin-1"), value.decode("latin-1"))
            for name, value in server_state.default_headers
        ]

    def left(self, sock: Socket) -> None:
        if self._connections is not None:
            self._connections.discard(sock)

    def track(self, task: asyncio.Task[Any]) -> None:
        """uvicorn waits for these before it stops (adapters close their sessions)."""
        if self._tasks is not None:
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _match(self, path: str) -> tuple[dict[str, str], str, Handler] | None:
        for regex, protocol, handler in self._routes:
            found = regex.match(path)
            if found is not None:
                return found.groupdict(), protocol, handler
        return None

    def upgrade(self, sock: Socket, request: Request) -> None:
        """A handshake request: its route's handler decides, in a task of its own."""
        wire = sock.wire
        response = wire.accept(request)
        if response.status_code != 101:  # not a valid WebSocket handshake
            wire.send_response(response)
            sock.flush_wire()
            return
        path = unquote(request.path.partition("?")[0])
        route = self._match(path)
        if route is None:
            wire.send_response(wire.reject(403, ""))  # as Starlette answers an unknown path
            sock.flush_wire()
            return
        params, protocol, handler = route
        if self._connections is not None:
            self._connections.add(sock)
        handshake = Handshake(sock, self, request, response, params, protocol)
        task = asyncio.get_running_loop().create_task(_run(handler, handshake))
        self.track(task)
        sock.handshaking(task)


async def _run(handler: Handler, handshake: Handshake) -> None:
    sock = handshake._sock
    try:
        await handler(handshake)
    except Gone:
        pass
    except Exception:
        log.exception("WebSocket handler of %s failed", handshake.path)
        if sock.meter is None:  # not accepted yet: 500, as uvicorn answered
            if sock.transport is not None and not sock.transport.is_closing():
                sock.wire.send_response(sock.wire.reject(500, "Internal Server Error"))
                sock.flush_wire()
        else:
            await sock.close(1011, "internal error")
    finally:
        sock.handshake_over()


class KeepAlive:
    """WebSocket pings for every socket of a port from one timer: each socket is pinged
    `interval_s` after it opened (then after each ping), and closed with 1011 when its pong
    has not come `timeout_s` after the ping. Sockets join in time order and every socket waits
    the same interval, so two FIFO queues hold them in due order (no timer, no heap entry per
    socket)."""

    def __init__(self, interval_s: float, timeout_s: float) -> None:
        self.interval_s = interval_s
        self.timeout_s = timeout_s
        self._due: deque[Socket] = deque()  # by ping_at
        self._waiting: deque[tuple[float, Socket]] = deque()  # (pinged at, socket), by time
        self._timer: asyncio.TimerHandle | None = None

    def add(self, sock: Socket) -> None:
        loop = asyncio.get_running_loop()
        sock.ping_at = loop.time() + self.interval_s
        self._due.append(sock)
        if self._timer is None:
            self._timer = loop.call_at(sock.ping_at, self._tick)

    def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        due, waiting = self._due, self._waiting
        while waiting and waiting[0][0] + self.timeout_s <= now:
            pinged, sock = waiting.popleft()
            if sock.pinged == pinged:
                sock.unanswered()
        while due and due[0].ping_at <= now:
            sock = due.popleft()
            if sock.ended:
                continue
            if not sock.pinged and sock.ping(struct.pack("!I", random.getrandbits(32)), now):
                waiting.append((now, sock))
            sock.ping_at = now + self.interval_s
            due.append(sock)
        nearest = [due[0].ping_at] if due else []
        if waiting:
            nearest.append(waiting[0][0] + self.timeout_s)
        self._timer = loop.call_at(min(nearest), self._tick) if nearest else None
