"""A sockets.Socket on a fake transport, and a client speaking the WebSocket protocol to it."""

import asyncio
from collections.abc import Callable
from typing import Any

from websockets.client import ClientProtocol
from websockets.frames import Close, Frame, Opcode
from websockets.protocol import OPEN

from services.gateway.edge import sockets


class Wire(asyncio.Transport):
    """The server's side of a TCP connection: keeps what was written; the test decides when
    the network is full (`sock.pause_writing()`, as a transport whose buffer filled up)."""

    def __init__(self) -> None:
        super().__init__()
        self.out = bytearray()
        self.closing = False
        self.aborted = False
        self.reading = True

    def write(self, data: Any) -> None:
        self.out += data

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True

    def abort(self) -> None:
        self.aborted = self.closing = True

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 50000) if name == "peername" else default


class Client:
    """The client end: sends frames to the socket, reads what the socket wrote."""

    def __init__(self) -> None:
        self.wire = Wire()
        self.sock = sockets.Socket.opened(self.wire)
        self.protocol = ClientProtocol("ws://test/", state=OPEN)  # type: ignore[arg-type]
        self.frames: list[Frame] = []

    def send(self, *texts: str) -> None:
        """Send text frames (all in one read of the server)."""
        for text in texts:
            self.protocol.send_text(text.encode())
        self.sock.data_received(b"".join(self.protocol.data_to_send()))

    def read(self) -> list[str]:
        """The text frames the socket wrote since the last read."""
        self.protocol.receive_data(bytes(self.wire.out))
        self.wire.out.clear()
        for event in self.protocol.events_received():
            if isinstance(event, Frame):
                self.frames.append(event)
        texts = [bytes(f.data).decode() for f in self.frames if f.opcode is Opcode.TEXT]
        self.frames = [f for f in self.frames if f.opcode is not Opcode.TEXT]
        return texts

    def closed_with(self) -> tuple[int, str] | None:
        """The close frame the socket wrote, if any."""
        self.read()
        for frame in self.frames:
            if frame.opcode is Opcode.CLOSE:
                close = Close.parse(bytes(frame.data))
                return close.code, close.reason
        return None


class Recorder:
    """An adapter that keeps the frames it was given."""

    def __init__(self, *, slow: asyncio.Event | None = None) -> None:
        self.frames: list[str] = []
        self.framed = asyncio.Event()
        self.closed = asyncio.Event()
        self.slow = slow  # while unset, each frame waits (a turn waiting for its answer)

    async def start(self) -> None:
        return None

    async def on_frame(self, text: str) -> None:
        self.frames.append(text)
        self.framed.set()
        if self.slow is not None:
            await self.slow.wait()

    async def on_binary_error(self) -> None:
        return None

    async def on_close(self) -> None:
        self.closed.set()

    async def on_rate_limited(self, frame: str | bytes, retry_after_s: float) -> None:
        return None


async def until(check: Callable[[], object], within_s: float = 5) -> None:
    """Let the loop run until `check()` holds (state the socket changes in its callbacks)."""
    async with asyncio.timeout(within_s):
        while not check():  # noqa: ASYNC110 (a poll of plain state, no event to wait on)
            await asyncio.sleep(0.001)
