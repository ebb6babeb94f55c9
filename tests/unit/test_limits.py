"""Token buckets, connection caps and the bounded send queue (services/gateway/edge/limits.py and
edge/outbox.py), on a fake clock and a fake WebSocket."""

import asyncio
from typing import Any
from uuid import uuid4

import pytest

from services.gateway.config import GatewaySettings
from services.gateway.edge.limits import Limits, RateLimited, SendBounds, TokenBucket
from services.gateway.edge.outbox import CLOSE_TRY_AGAIN
from services.gateway.edge.sockets import Socket

from .fake_wire import Client, until


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def settings(**values: Any) -> GatewaySettings:
    return GatewaySettings.model_construct(**values)


def socket(client: Client, **bounds: Any) -> Socket:
    client.sock = Socket.opened(client.wire, SendBounds(**bounds))
    return client.sock


def test_bucket_allows_a_burst_then_the_rate() -> None:
    """A full bucket lets `burst` through at once, then one per 1/rate seconds."""
    clock = Clock()
    bucket = TokenBucket(rate=10, burst=3, clock=clock)
    assert [bucket.take() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take() == pytest.approx(0.1)
    clock.now += 0.05
    assert bucket.take() == pytest.approx(0.05)
    clock.now += 0.05
    assert bucket.take() == 0.0
    assert not bucket.full()
    clock.now += 10
    assert bucket.full()


def test_project_turns_over_the_rate_are_refused_with_a_retry_delay() -> None:
    """A project's turns past its burst raise RateLimited (a BridgeError) saying when to retry;
    another project is not affected."""
    clock = Clock()
    limits = Limits(settings(project_turn_rate=2.0, project_turn_burst=2), clock=clock)
    busy, quiet = uuid4(), uuid4()
    limits.take_turn(busy)
    limits.take_turn(busy)
    with pytest.raises(RateLimited) as refused:
        limits.take_turn(busy)
    assert refused.value.retry_after_s == 0.5
    assert "try again in 0.5 s" in str(refused.value)
    limits.take_turn(quiet)
    clock.now += 0.5
    limits.take_turn(busy)


def test_zero_rates_and_caps_mean_no_limit() -> None:
    """0 turns off a rate or a cap."""
    limits = Limits(settings(project_turn_rate=0.0, frame_rate=0.0, max_connections=0))
    project = uuid4()
    for _ in range(10_000):
        limits.take_turn(project)
    assert limits.frame_bucket() is None
    assert all(limits.seat() is not None for _ in range(1000))


def test_connection_caps_per_replica_and_per_project() -> None:
    """Seats run out at max_connections; a project's at max_project_connections; releasing a
    socket gives both back, once."""
    limits = Limits(settings(max_connections=3, max_project_connections=2, frame_rate=0.0))
    project = uuid4()
    first, second, third = limits.seat(), limits.seat(), limits.seat()
    assert first and second and third and limits.seat() is None
    assert first.join(project) and second.join(project)
    assert not third.join(project)
    assert third.join(uuid4())
    first.release()
    first.release()
    assert limits.open == 2
    assert third.join(project)
    assert limits.seat() is not None


def test_a_socket_joined_twice_to_a_project_counts_once() -> None:
    """An AIDA socket joining the same bot under two topics holds one place until both leave."""
    limits = Limits(settings(max_connections=0, max_project_connections=1, frame_rate=0.0))
    project = uuid4()
    seat = limits.seat()
    assert seat is not None
    assert seat.join(project) and seat.join(project)
    seat.leave(project)
    assert limits.per_project == {project: 1}
    seat.leave(project)
    assert limits.per_project == {}


async def test_sends_never_wait_for_a_stalled_reader() -> None:
    """With the network full, every send returns at once (queued), and the frames go out in
    order once it takes them again."""
    client = Client()
    sock = socket(client, frames=100, bytes=1_000_000)
    sock.pause_writing()
    async with asyncio.timeout(1):
        assert all([await sock.send_text(f"frame {n}") for n in range(50)])
    assert client.read() == []
    sock.resume_writing()
    assert client.read() == [f"frame {n}" for n in range(50)]


async def test_a_full_queue_closes_the_socket_with_1013_and_drops_it() -> None:
    """One frame past the bound: the send is refused, the queue dropped, the socket ended and
    closed with 1013 (once the network lets the close frame out)."""
    client = Client()
    sock = socket(client, frames=3, bytes=1_000_000, close_wait_s=5)
    sock.pause_writing()
    assert all([await sock.send_text(f"queued {n}") for n in range(3)])
    assert await sock.send_text("one too many") is False
    assert sock.ended
    assert await sock.send_text("after the close") is False
    sock.resume_writing()
    assert client.read() == []  # nothing that waited went out
    assert client.closed_with() == (CLOSE_TRY_AGAIN, "too slow: send queue full, try again later")


async def test_an_overflowed_client_that_never_reads_again_is_dropped() -> None:
    """When the network never takes the 1013 within overflow_close_wait_s, the connection is
    dropped (aborted), not kept open for good."""
    client = Client()
    sock = socket(client, frames=1, overflow_close_wait_s=0.05)
    sock.pause_writing()
    await sock.send_text("queued")
    assert await sock.send_text("one too many") is False
    await until(lambda: client.wire.aborted)
    assert client.closed_with() is None


async def test_the_byte_bound_counts_too_but_lets_one_big_frame_through() -> None:
    """A frame bigger than the byte bound passes when nothing waits; a second one overflows."""
    client = Client()
    sock = socket(client, frames=100, bytes=1000)
    sock.pause_writing()
    assert await sock.send_text("x" * 5000)
    assert await sock.send_text("y" * 600) is False
    assert sock.ended


async def test_written_waits_for_the_network_and_is_false_when_dropped() -> None:
    """A send with `written` returns True only once its frame went out, False when the socket
    was closed for overflow before that (a robot command is then redelivered)."""
    client = Client()
    sock = socket(client, frames=2, bytes=1_000_000, overflow_close_wait_s=0.1)
    assert await sock.send_text("flowing", written=True)
    sock.pause_writing()
    command = asyncio.create_task(sock.send_text("command", written=True))
    await asyncio.sleep(0)
    assert not command.done()
    for n in range(3):
        await sock.send_text(f"reply {n}")
    assert await command is False
    assert client.read() == ["flowing"]


async def test_written_is_true_once_the_network_takes_the_frame() -> None:
    """A command queued behind a full network is acknowledged once it was written."""
    client = Client()
    sock = socket(client)
    sock.pause_writing()
    command = asyncio.create_task(sock.send_text("command", written=True))
    await asyncio.sleep(0)
    assert not command.done()
    sock.resume_writing()
    assert await command is True
    assert client.read() == ["command"]


async def test_close_waits_for_the_frames_queued_before_it() -> None:
    """An error frame queued before a close is written first (BESSER's 'session deleted')."""
    client = Client()
    sock = socket(client)
    sock.pause_writing()
    assert await sock.send_text("error: session deleted")
    closing = asyncio.create_task(sock.close(1008, "session deleted"))
    await asyncio.sleep(0)
    sock.resume_writing()
    await closing
    assert client.read() == ["error: session deleted"]
    assert client.closed_with() == (1008, "session deleted")
    assert sock.ended and await sock.send_text("late") is False


async def test_a_close_the_network_never_takes_is_abandoned_in_time() -> None:
    """Closing a stalled socket gives up after close_wait_s instead of hanging (shutdown)."""
    client = Client()
    sock = socket(client, close_wait_s=0.05)
    sock.pause_writing()
    await sock.send_text("stuck")
    async with asyncio.timeout(1):
        await sock.close(1001, "going away")
    assert sock.ended and client.wire.closing and client.closed_with() is None
