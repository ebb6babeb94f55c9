"""The socket's wire: keepalive pings from one timer per port, fragmented and malformed frames."""

import asyncio

from websockets.frames import Opcode

from services.gateway.edge import connection
from services.gateway.edge.wsserver import KeepAlive

from .fake_wire import Client, Recorder, until


def pings(client: Client) -> int:
    """How many pings the socket wrote since the last look (each answered by the client)."""
    client.read()
    found = [f for f in client.frames if f.opcode is Opcode.PING]
    client.frames = [f for f in client.frames if f.opcode is not Opcode.PING]
    client.sock.data_received(b"".join(client.protocol.data_to_send()))  # the pongs
    return len(found)


async def test_a_client_that_answers_pings_stays_and_a_silent_one_is_closed_with_1011() -> None:
    """Every socket is pinged each interval; one whose pong does not come within the timeout
    is closed with 1011, the one that answers stays open."""
    alive, dead = Client(), Client()
    keepalive = KeepAlive(0.05, 0.05)
    keepalive.add(alive.sock)
    keepalive.add(dead.sock)
    answered = [0]

    def dead_and_alive_answered() -> bool:
        answered[0] += pings(alive)
        return dead.sock.ended

    await until(dead_and_alive_answered)
    assert dead.closed_with() == (1011, "keepalive ping timeout")
    assert answered[0] >= 1 and not alive.sock.ended
    await until(lambda: pings(alive) > 0)  # still pinged after the other one went
    assert not alive.sock.ended


async def test_a_fragmented_message_reaches_the_adapter_whole() -> None:
    """A message sent in fragments is handed over as one frame."""
    client = Client()
    adapter = Recorder()
    await connection.serve(client.sock, adapter)
    client.protocol.send_text(b"hel", fin=False)
    client.protocol.send_continuation(b"lo ", fin=False)
    client.protocol.send_continuation(b"world", fin=True)
    client.sock.data_received(b"".join(client.protocol.data_to_send()))
    await adapter.framed.wait()
    assert adapter.frames == ["hello world"]


async def test_a_text_frame_that_is_not_utf8_closes_with_1007() -> None:
    """A text frame whose bytes are not UTF-8 breaks the protocol: the socket closes (1007)
    and its adapter is told."""
    client = Client()
    adapter = Recorder()
    await connection.serve(client.sock, adapter)
    client.protocol.send_text(b"\xff\xfe")
    client.sock.data_received(b"".join(client.protocol.data_to_send()))
    await asyncio.wait_for(adapter.closed.wait(), 5)
    assert client.closed_with() == (1007, "invalid UTF-8 in a text frame")
    assert adapter.frames == []


async def test_a_client_that_closes_is_answered_and_its_adapter_told() -> None:
    """The client's close frame is echoed (the closing handshake) and the adapter told."""
    client = Client()
    adapter = Recorder()
    await connection.serve(client.sock, adapter)
    client.protocol.send_close(1000, "bye")
    client.sock.data_received(b"".join(client.protocol.data_to_send()))
    await asyncio.wait_for(adapter.closed.wait(), 5)
    assert client.closed_with() == (1000, "bye")
    assert client.wire.closing
