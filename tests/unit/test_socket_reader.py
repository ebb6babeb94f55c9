"""The socket read path: no task per frame nor per idle socket, input paused while frames wait
for the adapter, and a socket that ends stops handing frames over."""

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

from services.gateway.edge import connection, sockets
from services.gateway.edge.limits import SendBounds

from .fake_wire import Client, Recorder, until

FRAMES = 200


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


async def served(client: Client, adapter: Recorder) -> None:
    await connection.serve(client.sock, adapter)


async def test_reading_frames_creates_no_task_per_frame() -> None:
    """Every frame reaches the adapter in order, read without starting a task for each one."""
    client = Client()
    adapter = Recorder()
    await served(client, adapter)
    with counting_tasks() as made:
        client.send(*(f"frame {n}" for n in range(FRAMES)))
        await until(lambda: len(adapter.frames) == FRAMES)
    assert adapter.frames == [f"frame {n}" for n in range(FRAMES)]
    # A task drains what is waiting, then ends: frames that arrive in several bursts (a busy
    # machine) may take a few. The old loop raced two tasks per frame: 400 here.
    assert made() <= FRAMES // 20


async def test_an_idle_socket_holds_no_task() -> None:
    """Once started and with no frame waiting, a socket has no task of its own (10,000 idle
    sockets would hold 10,000 parked coroutines); the next frame still reaches its adapter."""
    client = Client()
    adapter = Recorder()
    before = len(asyncio.all_tasks())
    await served(client, adapter)
    client.send("hello")
    await adapter.framed.wait()
    for _ in range(3):
        await asyncio.sleep(0)
    assert len(asyncio.all_tasks()) == before
    client.send("again")
    await until(lambda: adapter.frames == ["hello", "again"])


async def test_reading_pauses_while_a_frame_waits_for_its_adapter() -> None:
    """While the adapter works on a frame (a turn waiting for its answer), the socket stops
    reading the network, so a client sending faster than it is served is slowed by TCP."""
    client = Client()
    answered = asyncio.Event()
    adapter = Recorder(slow=answered)
    await served(client, adapter)
    client.send("ask", "and ask again")
    await adapter.framed.wait()
    assert not client.wire.reading
    answered.set()
    await until(lambda: client.wire.reading)
    assert adapter.frames == ["ask", "and ask again"]


async def test_a_socket_closed_for_overflow_stops_reading_its_silent_client() -> None:
    """A socket whose send queue overflows (its client stopped reading) ends at once, though
    the client sends nothing more; the adapter is told it closed."""
    client = Client()
    client.sock = sockets.Socket.opened(client.wire, SendBounds(frames=2))
    adapter = Recorder()
    await served(client, adapter)
    client.send("hello")
    await adapter.framed.wait()
    client.sock.pause_writing()  # the network takes nothing more
    for n in range(5):
        await client.sock.send_text(f"reply {n}")
    await asyncio.wait_for(adapter.closed.wait(), 5)
    assert client.sock.ended


async def test_a_socket_closed_by_the_server_stops_reading_its_silent_client() -> None:
    """A socket the server closes (a deleted session, a restart) tells its adapter at once,
    without waiting for the client to answer the close frame."""
    client = Client()
    adapter = Recorder()
    await served(client, adapter)
    client.send("hello")
    await adapter.framed.wait()
    await client.sock.close(1008, "session deleted")
    await asyncio.wait_for(adapter.closed.wait(), 5)
    assert client.closed_with() == (1008, "session deleted")


async def test_a_frame_over_the_limit_closes_with_1009() -> None:
    """A frame over the socket's limit is not handed over: the socket closes with 1009."""
    client = Client()
    client.sock = sockets.Socket.opened(client.wire, max_bytes=10)
    adapter = Recorder()
    await served(client, adapter)
    client.send("short", "far too long for it")
    await asyncio.wait_for(adapter.closed.wait(), 5)
    assert adapter.frames == ["short"]
    assert client.closed_with() == (1009, "frame over 10 bytes")


async def test_a_socket_the_server_closed_reads_the_clients_answer_at_once() -> None:
    """After the server closes (here for a frame too big, read while input was paused), the
    socket reads again, so the client's answer to the close frame ends the connection at once
    instead of after the close timeout."""
    client = Client()
    client.sock = sockets.Socket.opened(client.wire, max_bytes=10)
    await served(client, Recorder())
    client.send("far too long for it")
    await until(lambda: client.closed_with() is not None)
    assert client.wire.reading
    client.protocol.receive_data(b"")  # nothing more; the client answers the close
    client.sock.data_received(b"".join(client.protocol.data_to_send()))
    assert client.wire.closing
