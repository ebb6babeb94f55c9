"""What a socket reads: frames handed to its adapter in order, one task while any wait.

Reading is paused while frames wait for the adapter, so a client that sends faster than its
frames are handled is slowed by TCP. A frame over the size limit closes the socket (1009); one
over the socket's rate is answered by its adapter in the protocol's own error shape.
"""

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol

from websockets.frames import Frame, Opcode

from .limits import Seat
from .outbox import Outbox, _settle

if TYPE_CHECKING:
    from .connection import OpenSockets

log = logging.getLogger(__name__)
CLOSE_TOO_BIG = 1009
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


class Inbox(Outbox):
    """The reading half of a Socket (sockets.py): frames to its adapter, and the socket's end.
    Each half declares the slots of the state it owns."""

    __slots__ = (
        "_inbox",
        "_on_bytes",
        "_parts",
        "_parts_text",
        "_reading_paused",
        "_sockets",
        "_task",
        "adapter",
        "max_bytes",
        "pinged",
        "seat",
    )
    _inbox: deque[str | bytes | int | None] | None
    _task: asyncio.Task[None] | None
    _parts: list[bytes] | None
    _parts_text: bool
    _reading_paused: bool
    _sockets: "OpenSockets | None"
    _on_bytes: Callable[[bytes], Awaitable[None]] | None
    adapter: Adapter | None
    seat: Seat | None
    max_bytes: int
    pinged: float

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
