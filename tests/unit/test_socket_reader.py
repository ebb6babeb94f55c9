"""The socket read loop: one plain loop (no task per frame), and a socket that ends stops it."""

import asyncio
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any

from starlette.websockets import WebSocket

from services.gateway import connection
from services.gateway.limits import SendBounds

FRAMES = 200


class Client:
    """An ASGI client: frames it sends, frames the server wrote (the network can stall)."""

    def __init__(self) -> None:
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.inbox.put_nowait({"type": "websocket.connect"})
        self.written: list[MutableMapping[str, Any]] = []
        self.stalled = asyncio.Event()  # set: writes never finish (a client that stopped reading)

    async def receive(self) -> dict[str, Any]:
        return await self.inbox.get()

    async def send(self, message: MutableMapping[str, Any]) -> None:
        if self.stalled.is_set() and message["type"] == "websocket.send":
            await asyncio.Future()  # blocked on the network for good
        self.written.append(message)


class Recorder:
    """An adapter that keeps the frames it was given."""

    def __init__(self) -> None:
        self.frames: list[str] = []
        self.framed = asyncio.Event()
        self.closed = asyncio.Event()

    async def start(self) -> None:
        return None

    async def on_frame(self, text: str) -> None:
        self.frames.append(text)
        self.framed.set()

    async def on_binary_error(self) -> None:
        return None

    async def on_close(self) -> None:
        self.closed.set()

    async def on_rate_limited(self, frame: str | bytes, retry_after_s: float) -> None:
        return None


async def accepted(client: Client, bounds: SendBounds | None = None) -> connection.Socket:
    scope = {"type": "websocket", "path": "/", "headers": [], "query_string": b""}
    ws = WebSocket(scope, client.receive, client.send)
    await ws.accept()
    return connection.Socket(ws, bounds)


@contextmanager
def counting_tasks() -> Iterator[Callable[[], int]]:
    """Count the tasks the running loop creates inside the block."""
    loop = asyncio.get_running_loop()
    made = [0]
    default: Callable[..., Any] | None = loop.get_task_factory()

    def factory(loop: asyncio.AbstractEventLoop, coro: Awaitable[Any], **kw: Any) -> Any:
        made[0] += 1
        if default is not None:
            return default(loop, coro, **kw)
        return asyncio.Task(coro, loop=loop, **kw)  # type: ignore[arg-type]

    loop.set_task_factory(factory)  # type: ignore[arg-type]
    try:
        yield lambda: made[0]
    finally:
        loop.set_task_factory(default)


async def test_reading_frames_creates_no_task_per_frame() -> None:
    """Every frame reaches the adapter in order, read without starting tasks for each one."""
    client = Client()
    sock = await accepted(client)
    for n in range(FRAMES):
        client.inbox.put_nowait({"type": "websocket.receive", "text": f"frame {n}"})
    client.inbox.put_nowait({"type": "websocket.disconnect", "code": 1000})
    adapter = Recorder()
    with counting_tasks() as made:
        await connection.run(
            sock.ws, adapter, max_bytes=1024, on_binary_error=adapter.on_binary_error
        )
    assert adapter.frames == [f"frame {n}" for n in range(FRAMES)]
    assert made() < 5  # the old loop raced two tasks per frame: 400 here


async def test_a_socket_closed_for_overflow_stops_reading_its_silent_client() -> None:
    """A socket whose send queue overflows (its client stopped reading) ends its read loop at
    once, though the client sends nothing more; the adapter is told it closed."""
    client = Client()
    sock = await accepted(client, SendBounds(frames=2, overflow_close_wait_s=0.1))
    adapter = Recorder()
    reading = asyncio.create_task(
        connection.run(sock.ws, adapter, max_bytes=1024, on_binary_error=adapter.on_binary_error)
    )
    client.inbox.put_nowait({"type": "websocket.receive", "text": "hello"})
    await adapter.framed.wait()  # the loop read it and waits for the next frame
    client.stalled.set()
    for n in range(5):
        await sock.send_text(f"reply {n}")
    await asyncio.wait_for(reading, 5)
    assert adapter.closed.is_set()
    assert sock.ended.is_set()


async def test_a_socket_closed_by_the_server_stops_reading_its_silent_client() -> None:
    """A socket the server closes (a deleted session, a restart) ends its read loop once the
    close frame is written, without waiting for the client to answer it."""
    client = Client()
    sock = await accepted(client)
    adapter = Recorder()
    reading = asyncio.create_task(
        connection.run(sock.ws, adapter, max_bytes=1024, on_binary_error=adapter.on_binary_error)
    )
    client.inbox.put_nowait({"type": "websocket.receive", "text": "hello"})
    await adapter.framed.wait()
    await sock.close(1008, "session deleted")
    await asyncio.wait_for(reading, 5)
    assert {"type": "websocket.close", "code": 1008, "reason": "session deleted"} in client.written
