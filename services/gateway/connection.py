"""The connection loop every WebSocket adapter shares: read frames, write without waiting, close."""

import asyncio
import json
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from .limits import SEAT, UNLIMITED, Seat, SendBounds, limits_of
from .metrics import SOCKET_METER, SocketMeter, meter_of

log = logging.getLogger(__name__)
SOCKET_KEY = "gateway.socket"
TRANSPORT_KEY = "gateway.transport"  # the server's transport of a WebSocket (KeepTransport)
CLOSE_TOO_BIG = 1009
CLOSE_RESTART = 1012  # "service restart": the client reconnects, to another replica
CLOSE_TRY_AGAIN = 1013


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


class Flag:
    """Set once, never waited on (an asyncio.Event's waiter deque costs ~600 bytes a socket)."""

    __slots__ = ("_set",)

    def __init__(self) -> None:
        self._set = False

    def set(self) -> None:
        self._set = True

    def is_set(self) -> bool:
        return self._set


@dataclass
class _Out:
    """A frame waiting to be written (`text` None: the close frame)."""

    text: str | None
    size: int
    written: asyncio.Future[bool] | None = None
    close: tuple[int, str] = (1000, "")


class Socket:
    """A WebSocket many tasks write to without waiting on its reader.

    Frames go into a bounded queue that one writer task drains, so a reply, a bot's broadcast
    or a robot's command never waits for a slow client. When the queue would hold more than
    GATEWAY_SEND_QUEUE_FRAMES frames or GATEWAY_SEND_QUEUE_BYTES bytes, the socket is closed
    with 1013 "try again later" and its queue dropped: the client reconnects (every client we
    serve does after 1013) and the others never notice. 1013 rather than 1008: the client did
    nothing wrong (a slow network, a paused tab), and 1008 already means "refused for good"
    here (a bad secret, a deleted session).
    """

    def __init__(self, ws: WebSocket, bounds: SendBounds | None = None) -> None:
        self.ws = ws
        self._bounds = bounds or (limits_of(ws) or UNLIMITED).send
        self._queue: deque[_Out] | None = None  # made with the first frame (idle: none)
        self._bytes = 0
        self._wake: asyncio.Future[None] | None = None  # the writer waits for a frame
        self._writer: asyncio.Task[None] | None = None
        self._closer: asyncio.Task[None] | None = None
        self._inflight: _Out | None = None
        self._closing = False
        self._reader: asyncio.Task[Any] | None = None  # the task waiting in `receive`, if any
        self._interrupted = False
        self.ended = Flag()  # no more frames will be written: the read loop stops
        self.close_code: int | None = None
        self.meter = meter_of(ws.scope)  # connections and frames of its protocol
        SOCKET_METER.set(self.meter)  # in the socket's own task: its adapter's refusals count
        ws.scope[SOCKET_KEY] = self

    async def receive(self) -> Message | None:
        """The client's next message, read in the calling task (no task per frame); None when
        the socket ended meanwhile (closed, or overflowed): ending interrupts the read."""
        if self.ended.is_set():
            return None
        task = asyncio.current_task()
        self._reader = task
        try:
            return await self.ws.receive()
        except asyncio.CancelledError:
            if not self._interrupted or task is None:
                raise
            self._interrupted = False
            if task.uncancel() > 0:  # cancelled from outside as well (the server stops)
                raise
            return None
        finally:
            self._reader = None

    def _stop_reading(self) -> None:
        """The socket ended: wake its reader (once) if it waits for the client."""
        reader = self._reader
        if reader is not None and not self._interrupted and reader is not asyncio.current_task():
            self._interrupted = True
            reader.cancel()

    async def send_json(self, frame: Any, *, written: bool = False) -> bool:
        """Queue `frame` as JSON text (see send_text)."""
        return await self.send_text(json.dumps(frame, ensure_ascii=False), written=written)

    async def send_text(self, text: str, *, written: bool = False) -> bool:
        """Queue one text frame; False when the socket is gone or closing. With `written`,
        wait until the frame was handed to the network (False if it never was)."""
        if self._closing or self.ended.is_set():
            return False
        if self.ws.client_state != WebSocketState.CONNECTED:
            return False
        size = len(text.encode())
        bounds = self._bounds
        queued = len(self._queue) if self._queue is not None else 0
        if queued and (queued >= bounds.frames or self._bytes + size > bounds.bytes):
            self._overflow()
            return False
        out = _Out(text, size, asyncio.get_running_loop().create_future() if written else None)
        self._push(out)
        return await out.written if out.written is not None else True

    async def close(self, code: int, reason: str = "") -> None:
        """Close with `code` once the frames queued before are written (a no-op when the
        socket is already gone); gives up after GATEWAY_SEND_CLOSE_WAIT_S."""
        if self._closing or self.ended.is_set():
            return
        self._closing = True
        done = asyncio.get_running_loop().create_future()
        self._push(_Out(None, 0, done, (code, reason[:120])))
        try:
            await asyncio.wait_for(asyncio.shield(done), self._bounds.close_wait_s)
        except TimeoutError:
            log.warning("socket close %d not written in time: abandoned", code)
            self._end()

    async def finish(self) -> None:
        """The connection is over: stop writing (a close in progress gets its time)."""
        if self._closer is not None:
            await self._closer
        self._end()

    def _push(self, out: _Out) -> None:
        if self._queue is None:
            self._queue = deque()
        self._queue.append(out)
        self._bytes += out.size
        if self._wake is not None and not self._wake.done():
            self._wake.set_result(None)
        if self._writer is None:
            self._writer = asyncio.create_task(self._write())

    async def _write(self) -> None:
        while True:
            if not self._queue:
                self._wake = asyncio.get_running_loop().create_future()
                await self._wake
                self._wake = None
                continue
            out = self._queue.popleft()
            self._bytes -= out.size
            self._inflight = out
            if out.text is None:
                await self._close_now(*out.close)
                _settle(out, True)
                self._end()
                return
            ok = await self._send(out.text)
            self._inflight = None
            _settle(out, ok)
            if not ok:
                self._end()
                return

    async def _send(self, text: str) -> bool:
        if self.ws.client_state != WebSocketState.CONNECTED:
            return False
        try:
            await self.ws.send_text(text)
        except (WebSocketDisconnect, RuntimeError, OSError):
            return False
        self.meter.frame_out()
        return True

    async def _close_now(self, code: int, reason: str) -> None:
        self.close_code = code
        if self.ws.client_state != WebSocketState.CONNECTED:
            return
        try:
            await self.ws.close(code=code, reason=reason)
        except (WebSocketDisconnect, RuntimeError, OSError):
            return

    def _overflow(self) -> None:
        """Too much waiting: drop it all, stop reading, and close with 1013."""
        log.warning(
            "socket %s closed: %d frames (%d bytes) waiting to be written",
            _peer(self.ws),
            len(self._queue or ()),
            self._bytes,
        )
        self._closing = True
        self.meter.error("overflow")
        self._drop()
        if self._writer is not None:
            self._writer.cancel()  # it waits on the network: nothing of its frame went out
        self.ended.set()
        self._stop_reading()
        self._closer = asyncio.create_task(self._close_after_overflow())

    async def _close_after_overflow(self) -> None:
        """Write the 1013; when the client has not read enough to take it within
        `overflow_close_wait_s`, drop the connection. Closing it the polite way would not end
        it: the server's transport flushes what it holds before closing, and a client that
        never reads again would keep the connection (and megabytes of buffers) for good."""
        reason = "too slow: send queue full, try again later"
        try:
            await asyncio.wait_for(
                self._close_now(CLOSE_TRY_AGAIN, reason), self._bounds.overflow_close_wait_s
            )
        except TimeoutError:
            log.info("close of overflowed socket %s not written in time: dropped", _peer(self.ws))
            abort(self.ws.scope)

    def _end(self) -> None:
        self.ended.set()
        self._stop_reading()
        self.meter.closed()
        self._closing = True
        self._drop()
        if self._writer is not None and self._writer is not asyncio.current_task():
            self._writer.cancel()

    def _drop(self) -> None:
        if self._inflight is not None:
            _settle(self._inflight, False)
        for out in self._queue or ():
            _settle(out, False)
        self._queue = None
        self._bytes = 0


def abort(scope: Scope) -> None:
    """Drop the TCP connection of a WebSocket at once, unsent data and all (no-op when the
    server's transport is unknown or already gone)."""
    transport = scope.get(TRANSPORT_KEY)
    if transport is None:
        return
    # closing with data unsent: waiting to flush to a client that does not read
    if not transport.is_closing() or transport.get_write_buffer_size():
        transport.abort()


class KeepTransport:
    """Pure ASGI middleware (outermost): remembers each WebSocket's server transport in its
    scope, so a socket closed for being too slow can be dropped (`abort`). ASGI has no way to
    abort a connection; uvicorn's protocol object, whose bound `send` the outermost app gets,
    holds the transport."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            transport = getattr(getattr(send, "__self__", None), "transport", None)
            if transport is not None:
                scope[TRANSPORT_KEY] = transport
        await self.app(scope, receive, send)


def _settle(out: _Out, ok: bool) -> None:
    if out.written is not None and not out.written.done():
        out.written.set_result(ok)


def _peer(ws: WebSocket) -> str:
    client = ws.client
    return f"{client.host}:{client.port}" if client else "?"


def socket_of(ws: WebSocket) -> Socket | None:
    """The Socket made for `ws`, if any."""
    found = ws.scope.get(SOCKET_KEY)
    return found if isinstance(found, Socket) else None


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


async def serve(ws: WebSocket, adapter: Adapter, *, max_bytes: int) -> None:
    """Start `adapter` on an accepted socket and run it until the client goes.

    A socket over a connection cap, or whose adapter cannot start (NATS unreachable), is told
    to try again later (1013).
    """
    seat = _seat(ws, project=True)
    if seat is None:
        await _refuse(ws, adapter, "too many connections, try again later")
        return
    try:
        await adapter.start()
    except Exception as err:
        log.warning("socket not started: %r", err)
        seat.release()
        await _refuse(ws, adapter, "try again shortly")
        return
    await run(ws, adapter, max_bytes=max_bytes, on_binary_error=adapter.on_binary_error, seat=seat)


async def run(
    ws: WebSocket,
    adapter: Adapter,
    *,
    max_bytes: int,
    on_binary_error: Any,
    on_bytes: Callable[[bytes], Awaitable[None]] | None = None,
    seat: Seat | None = None,
) -> None:
    """Feed each frame to `adapter` until the client goes (or its socket ended: closed, or
    closed for being too slow); binary frames must be UTF-8 (unless `on_bytes` takes them as
    they are).

    A frame over `max_bytes` closes the socket with 1009. The server (uvicorn) reads frames up
    to a higher hard cap, so an oversized frame is read whole and the close is clean.
    """
    seat = seat or _seat(ws, project=False)
    if seat is None:
        await _refuse(ws, adapter, "too many connections, try again later")
        return
    sock = socket_of(ws)
    meter = sock.meter if sock is not None else None
    seated = SEAT.set(seat)
    try:
        while (message := await _receive(ws, sock)) is not None:
            if meter is not None:
                meter.frame_in()
            size = len(message.get("bytes") or b"") or len((message.get("text") or "").encode())
            if size > max_bytes:
                _count(meter, "too_big")
                await _close(ws, CLOSE_TOO_BIG, f"frame over {max_bytes} bytes")
                return
            text, data = message.get("text"), message.get("bytes")
            if seat.frames is not None and (wait := seat.frames.take()):
                _count(meter, "rate_limited")
                await adapter.on_rate_limited(text if text is not None else data or b"", wait)
                continue
            if text is None and on_bytes is not None and data is not None:
                await on_bytes(data)
                continue
            if text is None and data is not None:
                try:
                    text = data.decode("utf-8")
                except UnicodeDecodeError:
                    _count(meter, "binary")
                    await on_binary_error()
                    continue
            if text is not None:
                await adapter.on_frame(text)
    except WebSocketDisconnect:
        return
    finally:
        SEAT.reset(seated)
        seat.release()
        await adapter.on_close()
        if sock is not None:
            await sock.finish()


def _count(meter: SocketMeter | None, kind: str) -> None:
    if meter is not None:
        meter.error(kind)


def _seat(ws: WebSocket, *, project: bool) -> Seat | None:
    """A place on this replica for `ws` (and in its project's count), or None when full."""
    limits = limits_of(ws) or UNLIMITED
    seat = limits.seat()
    named = limits.named_project(ws) if project else None
    if seat is not None and named is not None and not seat.join(named):
        seat.release()
        return None
    return seat


async def _receive(ws: WebSocket, sock: "Socket | None") -> Message | None:
    """The next message from the client; None when it left or its socket ended first."""
    if sock is None:
        message = await ws.receive()
    else:
        found = await sock.receive()
        if found is None:
            return None
        message = found
    return None if message["type"] == "websocket.disconnect" else message


async def _close(ws: WebSocket, code: int, reason: str) -> None:
    sock = socket_of(ws)
    if sock is not None:
        await sock.close(code, reason)
    else:
        await ws.close(code=code, reason=reason)


async def _refuse(ws: WebSocket, adapter: Adapter, reason: str) -> None:
    await _close(ws, CLOSE_TRY_AGAIN, reason)
    await adapter.on_close()
    sock = socket_of(ws)
    if sock is not None:
        await sock.finish()
