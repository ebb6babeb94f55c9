"""shared.pull.BatchPull on a real JetStream: a fetch ends at the first arrival, nothing is held
back at a stop, an error from JetStream is raised rather than asked again at once."""

import asyncio
from uuid import uuid4

import pytest
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js import api

from shared.pull import BatchPull, PullRefused
from tests.support.waits import wait_until


async def _stream(nc: NatsClient) -> tuple[str, str]:
    name = f"PULL_{uuid4().hex}"
    await nc.jetstream().add_stream(name=name, subjects=[f"{name}.>"])
    return name, f"{name}.x"


async def test_a_fetch_ends_at_the_first_arrival_and_a_stop_hands_back_the_rest(
    nc: NatsClient,
) -> None:
    """A fetch waiting on an empty consumer returns as soon as messages come (not when its
    batch is full); the rest of its request, delivered but never fetched when the puller
    stops, goes back to the consumer at once: another puller gets it long before the ack
    wait (60 s here) would have."""
    js = nc.jetstream()
    stream, subject = await _stream(nc)
    config = api.ConsumerConfig(durable_name="c", ack_policy=api.AckPolicy.EXPLICIT, ack_wait=60)
    await js.add_consumer(stream, config=config)
    first = BatchPull(nc, stream, "c")
    await first.start()
    try:
        fetching = asyncio.create_task(first.fetch(50, wait_s=30))

        async def waiting() -> bool:
            return bool((await js.consumer_info(stream, "c")).num_waiting == 1)

        await wait_until(waiting, within_s=10, what="the fetch waiting for messages")
        for n in range(20):
            await js.publish(subject, str(n).encode())
        got = await asyncio.wait_for(fetching, 10)
        assert 1 <= len(got) < 20

        async def all_delivered() -> bool:
            info = await js.consumer_info(stream, "c")
            return bool(info.num_ack_pending == 20)

        await wait_until(all_delivered, within_s=10, what="the rest delivered to the puller")
        for msg in got:
            await msg.ack()
    finally:
        await first.close()
    second = BatchPull(nc, stream, "c")
    await second.start()
    again: list[Msg] = []

    async def the_rest() -> None:
        while len(got) + len(again) < 20:
            again.extend(await second.fetch(50, wait_s=5))

    try:
        await asyncio.wait_for(the_rest(), 15)
    finally:
        await second.close()
        await js.delete_stream(stream)
    assert sorted(int(m.data) for m in got + again) == list(range(20))
    assert {m.metadata.num_delivered for m in again} == {2}


async def test_pulling_from_a_consumer_that_does_not_exist_raises(nc: NatsClient) -> None:
    """JetStream's error answer (no such consumer) is raised, so the caller backs off, instead
    of fetching empty batches in a tight loop."""
    stream, _subject = await _stream(nc)
    pull = BatchPull(nc, stream, "nobody")
    await pull.start()
    try:
        with pytest.raises(PullRefused):
            await pull.fetch(10, wait_s=1)
    finally:
        await pull.close()
        await nc.jetstream().delete_stream(stream)
