"""The WebSocket connection every adapter runs on: frames in, frames out without waiting, close.

A `Socket` is the connection's asyncio protocol itself (uvicorn hands the upgraded transport to
it, wsserver.py), driving the `websockets` library's sans-I/O `ServerProtocol`: no ASGI app,
Starlette WebSocket, queue or task stays behind an idle socket. A task runs only while there is
work: the handshake (its route's handler, the adapter's start), then whenever frames arrive
(one task drains them in order and ends), and when the socket ends (the adapter's `on_close`).
Reading is paused while frames wait for the adapter, so a client that sends faster than its
frames are handled is slowed by TCP, as before.

Frames go out at once while the network takes them; when the transport's buffer is full they
wait in a bounded queue written as it drains. When the queue would hold more than
GATEWAY_SEND_QUEUE_FRAMES frames or GATEWAY_SEND_QUEUE_BYTES bytes, the socket is closed with
1013 "try again later" and its queue dropped: the client reconnects (every client we serve does
after 1013) and the others never notice. 1013 rather than 1008: the client did nothing wrong (a
slow network, a paused tab), and 1008 already means "refused for good" here (a bad secret, a
deleted session).
"""

import asyncio
import json
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from websockets.exceptions import InvalidState
from websockets.frames import Frame, Opcode
from websockets.http11 import Request
from websockets.protocol import CONNECTING, OPEN
from websockets.server import ServerProtocol

from .limits import SEAT, UNLIMITED, Limits, Seat, SendBounds
from .metrics import SOCKET_METER, SocketMeter

if TYPE_CHECKING:
    from .wsserver import SocketPort

log = logging.getLogger(__name__)
CLOSE_TOO_BIG = 1009
CLOSE_RESTART = 1012  # "service restart": the client reconnects, to another replica
CLOSE_TRY_AGAIN = 1013
CLOSE_TIMEOUT_S = 10.0  # how long a client may take to answer our close frame (as uvicorn)
END = None  # in a socket's inbox: the socket ended, nothing after it is handled


class Adapter(Protocol):
    """A protocol adapter: started once, told about each text frame, and when the socket ends.

    A frame over the socket's rate (limits.py) is not run: `on_rate_limited` answers it in the
    protocol's own error shape instead.
    """

    async def start(self) -> None: ...
    async def on_frame(self, text: str) -> None: ...
    async def on_binary_error(self) -> None: ...
    async def on_close(self) -> None: ...
    async def on_rate_limited(self, frame: str | bytes, retry_after_s: float) -> None: ...


class _Out:
    """A frame waiting for the network (`text` None: the close frame)."""

    __slots__ = ("close", "size", "text", "written")

    def __init__(
        self,
        text: str | None,
        size: int,
        written: asyncio.Future[bool] | None,
        close: tuple[int, str] = (1000, ""),
    ) -> None:
        self.text = text
        self.size = size
        self.written = written
        self.close = close


class Socket(asyncio.Protocol):
    """One WebSocket connection: its wire protocol, its adapter, what waits to be written.

    uvicorn makes one for each upgraded connection (`ws=`, a subclass naming its `port`).
    """

    port: ClassVar["SocketPort | None"] = None  # routes, limits and wire settings of its port
    __slots__ = (
        "_bounds",
        "_bytes",
        "_closing",
        "_ended",
        "_inbox",
        "_on_bytes",
        "_parts",
        "_parts_text",
        "_paused",
        "_queue",
        "_reading_paused",
        "_sockets",
        "_task",
        "_timer",
        "_transport",
        "_ws",
        "adapter",
        "close_code",
        "max_bytes",
        "meter",
        "ping_at",
        "pinged",
        "seat",
    )

    def __init__(self, *_: Any, server_state: Any = None, **__: Any) -> None:
        port = self.port
        if port is not None and server_state is not None:
            port.joined(server_state)
        self._ws = ServerProtocol(
            extensions=port.extensions if port else None,
            max_size=port.max_size if port else 2**20,
            logger=WIRE_LOG,
        )
        self._transport: asyncio.Transport | None = None
        self._inbox: deque[str | bytes | int | None] | None = None  # made with the first frame
        self._task: asyncio.Task[None] | None = None  # handshake, or draining the inbox
        self._parts: list[bytes] | None = None  # a fragmented message being read
        self._parts_text = False
        self._queue: deque[_Out] | None = None  # frames the network did not take yet
        self._bytes = 0
        self._bounds: SendBounds | None = None  # its port's (tests set their own)
        self._paused = False  # the transport's buffer is full: frames wait in `_queue`
        self._reading_paused = False
        self._closing = False  # no more frames are sent (a close is under way)
        self._ended = False  # over for its adapter: nothing more is read or written
        self._timer: asyncio.TimerHandle | None = None  # close answer, or an overflow's drop
        self._sockets: OpenSockets | None = None
        self._on_bytes: Callable[[bytes], Awaitable[None]] | None = None
        self.adapter: Adapter | None = None
        self.seat: Seat | None = None
        self.meter: SocketMeter | None = None
        self.max_bytes = 0
        self.close_code: int | None = None
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
    def limits(self) -> Limits:
        return self.port.limits if self.port is not None else UNLIMITED

    @property
    def bounds(self) -> SendBounds:
        return self._bounds or self.limits.send

    @property
    def ended(self) -> bool:
        """No more frames are read or written (closed, overflowed, or the client left)."""
        return self._ended

    @property
    def open(self) -> bool:
        return self._ws.state is OPEN and not self._closing

    @property
    def transport(self) -> asyncio.Transport | None:
        return self._transport

    def peer(self) -> str:
        found = self._transport.get_extra_info("peername") if self._transport else None
        return f"{found[0]}:{found[1]}" if isinstance(found, tuple) else "?"

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

    def flush_wire(self) -> None:
        """Write what the wire protocol has to send; its end-of-stream closes the connection."""
        transport = self._transport
        if transport is None:
            return
        for chunk in self._ws.data_to_send():
            if chunk:
                transport.write(chunk)
            else:
                transport.close()
                self._cancel_timer()

    # -- frames in ----------------------------------------------------------------------------

    def _frame(self, frame: Frame) -> None:
        opcode = frame.opcode
        if opcode is Opcode.PONG:
            self.pinged = 0.0
            return
        if opcode is Opcode.TEXT or opcode is Opcode.BINARY:
            if not frame.fin:
                self._parts = [bytes(frame.data)]
                self._parts_text = opcode is Opcode.TEXT
                return
            self._message(bytes(frame.data), opcode is Opcode.TEXT)
        elif opcode is Opcode.CONT and self._parts is not None:
            self._parts.append(bytes(frame.data))
            if frame.fin:
                parts, self._parts = self._parts, None
                self._message(b"".join(parts), self._parts_text)

    def _message(self, data: bytes, text: bool) -> None:
        if self._ended or self._closing:
            return
        item: str | bytes | int = data
        if self.max_bytes and len(data) > self.max_bytes:
            item = len(data)  # too big: closed with 1009 in its turn
        elif text:
            try:
                item = data.decode()
            except UnicodeDecodeError:
                self._fail(1007, "invalid UTF-8 in a text frame")
                return
        self._take(item)

    def _take(self, item: str | bytes | int | None) -> None:
        """Queue `item` for the adapter; a task drains the inbox (reading pauses meanwhile)."""
        if self._inbox is None:
            self._inbox = deque()
        self._inbox.append(item)
        if item is not END and not self._reading_paused and self._transport is not None:
            self._reading_paused = True
            self._transport.pause_reading()
        if self._task is None and self.adapter is not None:
            self._task = self._spawn(self.drain())

    def _spawn(self, work: Any) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(work)
        if self.port is not None:
            self.port.track(task)
        return task

    async def drain(self) -> None:
        """Hand every waiting frame to the adapter, in order, until none waits (or the socket
        ended: then the adapter is told, and the socket's place given back)."""
        SEAT.set(self.seat)
        SOCKET_METER.set(self.meter)
        inbox = self._inbox
        try:
            while inbox:
                item = inbox.popleft()
                if item is END:
                    inbox.clear()
                    await self._over()
                    return
                try:
                    await self._handle(item)
                except Exception:
                    log.exception("socket %s: frame not handled", self.peer())
                    await self.close(1011, "internal error")
        finally:
            self._task = None
            self._resume_reading()

    async def _handle(self, item: str | bytes | int) -> None:
        adapter, meter, seat = self.adapter, self.meter, self.seat
        assert adapter is not None and meter is not None and seat is not None
        meter.frame_in()
        if isinstance(item, int):
            meter.error("too_big")
            await self.close(CLOSE_TOO_BIG, f"frame over {self.max_bytes} bytes")
            return
        if seat.frames is not None and (wait := seat.frames.take()):
            meter.error("rate_limited")
            await adapter.on_rate_limited(item, wait)
            return
        if isinstance(item, bytes):
            if self._on_bytes is not None:
                await self._on_bytes(item)
                return
            try:
                item = item.decode("utf-8")
            except UnicodeDecodeError:
                meter.error("binary")
                await adapter.on_binary_error()
                return
        await adapter.on_frame(item)

    async def _over(self) -> None:
        """The socket ended: its place is given back and its adapter told (once)."""
        adapter, self.adapter = self.adapter, None
        if self.seat is not None:
            self.seat.release()
        if self._sockets is not None:
            self._sockets.discard(self)
        if adapter is not None:
            try:
                await adapter.on_close()
            except Exception:
                log.exception("socket %s: not closed cleanly", self.peer())

    # -- frames out ---------------------------------------------------------------------------

    async def send_json(self, frame: Any, *, written: bool = False) -> bool:
        """Queue `frame` as JSON text (see send_text)."""
        return await self.send_text(json.dumps(frame, ensure_ascii=False), written=written)

    async def send_text(self, text: str, *, written: bool = False) -> bool:
        """Send one text frame without waiting for the network; False when the socket is gone
        or closing. With `written`, wait until the frame was handed to the network (False if
        it never was)."""
        if not self.open or self._ended:
            return False
        queue = self._queue
        if not queue and not self._paused:
            return self._write(text)
        size = len(text.encode())
        bounds = self.bounds
        if queue and (len(queue) >= bounds.frames or self._bytes + size > bounds.bytes):
            self._overflow()
            return False
        done = asyncio.get_running_loop().create_future() if written else None
        self._push(_Out(text, size, done))
        return await done if done is not None else True

    def _push(self, out: _Out) -> None:
        if self._queue is None:
            self._queue = deque()
        self._queue.append(out)
        self._bytes += out.size

    def _write(self, text: str) -> bool:
        try:
            self._ws.send_text(text.encode())
        except InvalidState:
            return False
        self.flush_wire()
        if self.meter is not None:
            self.meter.frame_out()
        return True

    def _write_queued(self) -> None:
        """The network takes frames again: write what waits, in order, while it does."""
        queue = self._queue
        while queue and not self._paused:
            out = queue.popleft()
            if out.text is None:
                self._close_now(*out.close)
                _settle(out, True)
                return
            self._bytes -= out.size
            _settle(out, self._write(out.text))
        if self._timer is not None and self._closing and self.close_code is None:
            self._cancel_timer()  # overflowed, and the network moves again: say why
            self._close_now(CLOSE_TRY_AGAIN, OVERFLOW_REASON)

    async def close(self, code: int, reason: str = "") -> None:
        """Close with `code` once the frames queued before are written (a no-op when the
        socket is already gone or closing); gives up after GATEWAY_SEND_CLOSE_WAIT_S."""
        if self._closing or self._ended or self._transport is None:
            return
        self._closing = True
        if not self._queue and not self._paused:
            self._close_now(code, reason[:120])
            return
        done = asyncio.get_running_loop().create_future()
        self._push(_Out(None, 0, done, (code, reason[:120])))
        try:
            await asyncio.wait_for(asyncio.shield(done), self.bounds.close_wait_s)
        except TimeoutError:
            log.warning("socket close %d not written in time: abandoned", code)
            self._end()
            self._transport.close()

    def _close_now(self, code: int, reason: str) -> None:
        """Write the close frame; the client has CLOSE_TIMEOUT_S to answer it."""
        self._closing = True
        self.close_code = code
        if self._ws.state is OPEN:
            self._ws.send_close(code, reason)
            self.flush_wire()
            self._cancel_timer()
            if self._transport is not None and not self._transport.is_closing():
                self._timer = asyncio.get_running_loop().call_later(
                    CLOSE_TIMEOUT_S, self._transport.close
                )
        self._end()

    def _fail(self, code: int, reason: str) -> None:
        """The client broke the protocol: close at once."""
        self._ws.fail(code, reason)
        self.flush_wire()
        self.close_code = code
        if self._transport is not None:
            self._transport.close()
        self._end()

    def _overflow(self) -> None:
        """Too much waiting: drop it all, stop reading, and close with 1013 as soon as the
        network takes it. When the client has not read enough to take it within
        `overflow_close_wait_s`, drop the connection: closing it the polite way would not end
        it (the transport flushes what it holds first, and a client that never reads again
        would keep the connection, and megabytes of buffers, for good)."""
        log.warning(
            "socket %s closed: %d frames (%d bytes) waiting to be written",
            self.peer(),
            len(self._queue or ()),
            self._bytes,
        )
        if self.meter is not None:
            self.meter.error("overflow")
        self._closing = True
        self._end()
        self._timer = asyncio.get_running_loop().call_later(
            self.bounds.overflow_close_wait_s, self._drop_overflowed
        )

    def _drop_overflowed(self) -> None:
        self._timer = None
        log.info("close of overflowed socket %s not written in time: dropped", self.peer())
        self.abort()

    def abort(self) -> None:
        """Drop the TCP connection at once, unsent data and all."""
        if self._transport is not None:
            self._transport.abort()

    def _end(self) -> None:
        """Nothing more is read or written: what waits is dropped, the adapter is told."""
        if self._ended:
            return
        self._ended = True
        if self.meter is not None:
            self.meter.closed()
        queue, self._queue, self._bytes = self._queue, None, 0
        for out in queue or ():
            _settle(out, False)
        if self._inbox is not None:
            self._inbox.clear()
        self._take(END)
        self._resume_reading()  # frames are dropped from now on; the client's close is read

    def _resume_reading(self) -> None:
        if self._reading_paused and self._transport is not None:
            self._reading_paused = False
            if not self._transport.is_closing():
                self._transport.resume_reading()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

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
        SOCKET_METER.set(meter)  # in the socket's own task: its adapter's refusals count

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


OVERFLOW_REASON = "too slow: send queue full, try again later"
WIRE_LOG = logging.getLogger("services.gateway.wire")
WIRE_LOG.setLevel(logging.WARNING)  # websockets says "connection open" at INFO for each socket


def _settle(out: _Out, ok: bool) -> None:
    if out.written is not None and not out.written.done():
        out.written.set_result(ok)


async def send_written(out: Callable[[Any], Awaitable[bool]], frame: Any) -> bool:
    """Send `frame` with `out`, and when `out` is a Socket's send_json, wait until the frame
    was written: a robot's command is acknowledged only then (False: it is redelivered)."""
    sock = getattr(out, "__self__", None)
    if isinstance(sock, Socket):
        return await sock.send_json(frame, written=True)
    return await out(frame)


class OpenSockets:
    """Sockets to close with their protocol's own code when this gateway stops."""

    def __init__(self) -> None:
        self._open: dict[Socket, int] = {}

    def add(self, socket: Socket, code: int) -> None:
        self._open[socket] = code

    def discard(self, socket: Socket) -> None:
        self._open.pop(socket, None)

    async def close_all(self, reason: str = "server restarting") -> None:
        """Close every registered socket (their clients reconnect, to another replica)."""
        sockets, self._open = self._open, {}
        await asyncio.gather(*(sock.close(code, reason) for sock, code in sockets.items()))


async def serve(
    sock: Socket,
    adapter: Adapter,
    *,
    project: Any = None,
    sockets: OpenSockets | None = None,
    restart: int = CLOSE_RESTART,
    on_bytes: Callable[[bytes], Awaitable[None]] | None = None,
) -> None:
    """Start `adapter` on an accepted socket, then hand it the socket's frames as they come
    (this returns once none waits: an idle socket has no task).

    A socket over a connection cap (this replica's, or `project`'s), or whose adapter cannot
    start (NATS unreachable), is told to try again later (1013). When the gateway stops, the
    socket is closed with `restart` (the protocol's "reconnect" code) if `sockets` holds it.
    """
    limits = sock.limits
    seat = limits.seat()
    if seat is not None and project is not None and not seat.join(project):
        seat.release()
        seat = None
    if seat is None:
        await _refuse(sock, adapter, "too many connections, try again later")
        return
    try:
        await adapter.start()
    except Exception as err:
        log.warning("socket not started: %r", err)
        seat.release()
        await _refuse(sock, adapter, "try again shortly")
        return
    sock.attach(adapter, seat, sockets=sockets, restart=restart, on_bytes=on_bytes)
    await sock.drain()


async def _refuse(sock: Socket, adapter: Adapter, reason: str) -> None:
    await sock.close(CLOSE_TRY_AGAIN, reason)
    await adapter.on_close()
