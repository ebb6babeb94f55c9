"""What a socket sends: frames out without waiting, a bounded queue while the network is slow,
and the close.

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
from typing import TYPE_CHECKING, Any, ClassVar

from websockets.exceptions import InvalidState
from websockets.protocol import OPEN
from websockets.server import ServerProtocol

from .limits import UNLIMITED, Limits, SendBounds
from .metrics import SocketMeter

if TYPE_CHECKING:
    from .wsserver import SocketPort

log = logging.getLogger(__name__)
CLOSE_RESTART = 1012  # "service restart": the client reconnects, to another replica
CLOSE_TRY_AGAIN = 1013
CLOSE_TIMEOUT_S = 10.0  # how long a client may take to answer our close frame (as uvicorn)
OVERFLOW_REASON = "too slow: send queue full, try again later"
# json.dumps(frame, ensure_ascii=False) with one encoder made once: json.dumps builds a new
# JSONEncoder for every call that passes an option (half of its cost for a reply frame)
JSON_TEXT = json.JSONEncoder(ensure_ascii=False).encode


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


class Outbox(asyncio.Protocol):
    """The sending half of a Socket (sockets.py): frames out, the send queue, the close. What
    ends the socket for its adapter is the reading half's (`_end`, inbox.py)."""

    __slots__ = (
        "_bounds",
        "_bytes",
        "_closing",
        "_ended",
        "_paused",
        "_queue",
        "_timer",
        "_transport",
        "_ws",
        "close_code",
        "meter",
    )
    port: ClassVar["SocketPort | None"] = None  # routes, limits and wire settings of its port
    _ws: ServerProtocol
    _transport: asyncio.Transport | None
    _queue: deque[_Out] | None
    _bytes: int
    _bounds: SendBounds | None
    _paused: bool
    _closing: bool
    _ended: bool
    _timer: asyncio.TimerHandle | None
    meter: SocketMeter | None
    close_code: int | None

    @property
    def limits(self) -> Limits:
        return self.port.limits if self.port is not None else UNLIMITED

    @property
    def bounds(self) -> SendBounds:
        return self._bounds or self.limits.send

    @property
    def open(self) -> bool:
        return self._ws.state is OPEN and not self._closing

    def peer(self) -> str:
        found = self._transport.get_extra_info("peername") if self._transport else None
        return f"{found[0]}:{found[1]}" if isinstance(found, tuple) else "?"

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

    async def send_json(self, frame: Any, *, written: bool = False) -> bool:
        """Queue `frame` as JSON text (see send_text)."""
        return await self.send_text(JSON_TEXT(frame), written=written)

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

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _end(self) -> None:
        """Nothing more is read or written (inbox.py)."""
        raise NotImplementedError


def _settle(out: _Out, ok: bool) -> None:
    if out.written is not None and not out.written.done():
        out.written.set_result(ok)


async def send_written(out: Callable[[Any], Awaitable[bool]], frame: Any) -> bool:
    """Send `frame` with `out`, and when `out` is a Socket's send_json, wait until the frame
    was written: a robot's command is acknowledged only then (False: it is redelivered)."""
    sock = getattr(out, "__self__", None)
    if isinstance(sock, Outbox):
        return await sock.send_json(frame, written=True)
    return await out(frame)
