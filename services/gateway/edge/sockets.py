"""One WebSocket connection as uvicorn's asyncio protocol: the network, the handshake.

A `Socket` is the connection's asyncio protocol itself (uvicorn hands the upgraded transport to
it, wsserver.py), driving the `websockets` library's sans-I/O `ServerProtocol`: no ASGI app,
Starlette WebSocket, queue or task stays behind an idle socket. A task runs only while there is
work: the handshake (its route's handler, the adapter's start), then whenever frames arrive
(one task drains them in order and ends, inbox.py), and when the socket ends (the adapter's
`on_close`). What it sends, and its close, are outbox.py's.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any
from uuid import UUID

from websockets.frames import Frame
from websockets.http11 import Request
from websockets.protocol import CONNECTING, OPEN
from websockets.server import ServerProtocol

from .inbox import Adapter, Inbox
from .limits import Seat, SendBounds
from .metrics import SocketMeter
from .outbox import CLOSE_RESTART

if TYPE_CHECKING:
    from .connection import OpenSockets

WIRE_LOG = logging.getLogger("services.gateway.wire")
WIRE_LOG.setLevel(logging.WARNING)  # websockets says "connection open" at INFO for each socket


class Socket(Inbox):
    """One WebSocket connection: its wire protocol, its adapter, what waits to be written.

    uvicorn makes one for each upgraded connection (`ws=`, a subclass naming its `port`).
    """

    __slots__ = ("ping_at",)

    def __init__(self, *_: Any, server_state: Any = None, **__: Any) -> None:
        port = self.port
        if port is not None and server_state is not None:
            port.joined(server_state)
        self._ws = ServerProtocol(
            extensions=port.extensions if port else None,
            max_size=port.max_size if port else 2**20,
            logger=WIRE_LOG,
        )
        self._transport = None
        self._inbox = None  # made with the first frame
        self._task = None  # handshake, or draining the inbox
        self._parts = None  # a fragmented message being read
        self._parts_text = False
        self._queue = None  # frames the network did not take yet
        self._bytes = 0
        self._bounds = None  # its port's (tests set their own)
        self._paused = False  # the transport's buffer is full: frames wait in `_queue`
        self._reading_paused = False
        self._closing = False  # no more frames are sent (a close is under way)
        self._ended = False  # over for its adapter: nothing more is read or written
        self._timer = None  # close answer, or an overflow's drop
        self._sockets = None
        self._on_bytes = None
        self.adapter = None
        self.seat = None
        self.meter = None
        self.max_bytes = 0
        self.close_code = None
        self.ping_at = 0.0  # when the keepalive pings it next (wsserver.KeepAlive)
        self.pinged = 0.0  # when its unanswered ping went out (0: none)

    @classmethod
    def opened(
        cls,
        transport: asyncio.Transport,
        bounds: SendBounds | None = None,
        *,
        max_bytes: int = 2**20,
        protocol: str = "xparo",
    ) -> "Socket":
        """A socket already past its handshake (tests)."""
        sock = cls()
        sock._ws = ServerProtocol(state=OPEN, logger=WIRE_LOG)
        sock._bounds = bounds
        sock.connection_made(transport)
        sock.accepted(SocketMeter(protocol), max_bytes)
        return sock

    @property
    def ended(self) -> bool:
        """No more frames are read or written (closed, overflowed, or the client left)."""
        return self._ended

    @property
    def transport(self) -> asyncio.Transport | None:
        return self._transport

    # -- the network (asyncio.Protocol) --------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        ws = self._ws
        ws.receive_data(data)
        events = ws.events_received()
        self.flush_wire()
        for event in events:
            if isinstance(event, Frame):
                self._frame(event)
            elif isinstance(event, Request) and self.port is not None:
                self.port.upgrade(self, event)
        if ws.state is not OPEN and not self._ended and ws.state is not CONNECTING:
            self._end()  # the client closed, or broke the protocol (websockets answered it)

    def eof_received(self) -> bool | None:
        self._ws.receive_eof()
        self.flush_wire()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self._ws.receive_eof()
        self._cancel_timer()
        self._paused = False
        if self.port is not None:
            self.port.left(self)
        self._end()

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        self._write_queued()

    def shutdown(self) -> None:
        """uvicorn stops: whatever is still open is closed with 1012 (service restart)."""
        if self._transport is None or self._transport.is_closing():
            return
        if self._ws.state is CONNECTING:
            self._transport.close()
        elif self._ws.state is OPEN and not self._closing:
            self._close_now(CLOSE_RESTART, "")
        self._transport.close()

    # -- the handshake (wsserver.py) ------------------------------------------------------------

    def accepted(self, meter: SocketMeter, max_bytes: int) -> None:
        """The 101 answer was written: frames are read from now on (and counted on `meter`)."""
        if not self._ws.reader.buffer:  # the client waits for the 101: nothing is half-read
            # websockets' parser keeps the handshake request (headers and all, ~2.5 KiB) in a
            # local for the connection's life; a fresh one in the OPEN state reads the frames
            # the same way without it.
            self._ws.parser = self._ws.parse()
            next(self._ws.parser)
        self.meter = meter
        self.max_bytes = max_bytes

    def join_project(self, project: UUID) -> bool:
        """Count this socket as one of `project`'s; False when the project is at its cap (an
        AIDA socket names its bots only when it joins them)."""
        return self.seat is None or self.seat.join(project)

    def leave_project(self, project: UUID) -> None:
        """This socket no longer counts for `project` (an AIDA leave)."""
        if self.seat is not None:
            self.seat.leave(project)

    def attach(
        self,
        adapter: Adapter,
        seat: Seat,
        *,
        sockets: "OpenSockets | None",
        restart: int,
        on_bytes: Callable[[bytes], Awaitable[None]] | None,
    ) -> None:
        self.adapter = adapter
        self.seat = seat
        self._on_bytes = on_bytes
        if sockets is not None and not self._ended:
            self._sockets = sockets
            sockets.add(self, restart)

    @property
    def wire(self) -> ServerProtocol:
        return self._ws

    def handshaking(self, task: asyncio.Task[None]) -> None:
        self._task = task

    def handshake_over(self) -> None:
        """The handshake's task ends: frames that come later get a task of their own."""
        if self._task is asyncio.current_task():
            self._task = None

    def ping(self, payload: bytes, now: float) -> bool:
        """Send a keepalive ping (False: the socket is no longer open)."""
        if self._ws.state is not OPEN or self._transport is None or self._transport.is_closing():
            return False
        self._ws.send_ping(payload)
        self.flush_wire()
        self.pinged = now
        return True

    def unanswered(self) -> None:
        """No pong came in time: the connection is dead, close it (1011, as uvicorn does)."""
        if self._ws.state is OPEN:
            self._fail(1011, "keepalive ping timeout")
