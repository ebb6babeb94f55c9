"""shared.batch_publish.BatchPublish on a real JetStream: a batch returns once every message is
stored, in order; a refusal or a subject no stream takes fails the batch instead of waiting."""

from uuid import uuid4

import pytest
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg

from shared.batch_publish import BatchPublish, PublishFailed


async def test_a_batch_returns_once_all_are_stored_in_order(nc: NatsClient) -> None:
    """Every message of a batch is in the stream, in the order given, when publish returns;
    one published again under the same Nats-Msg-Id is acked and not stored twice."""
    js = nc.jetstream()
    name = f"PUB_{uuid4().hex}"
    await js.add_stream(name=name, subjects=[f"{name}.>"])
    publisher = BatchPublish(nc)
    await publisher.start()
    try:
        batch = [(f"{name}.a", str(n).encode(), {"Nats-Msg-Id": f"m{n}"}) for n in range(40)]
        await publisher.publish(batch, within_s=10)
        assert (await js.stream_info(name)).state.messages == 40
        await publisher.publish(batch[:5], within_s=10)
        assert (await js.stream_info(name)).state.messages == 40
    finally:
        await publisher.close()
    sub = await js.pull_subscribe(f"{name}.a", durable="read", stream=name)
    got = await sub.fetch(40, timeout=10)
    assert [m.data.decode() for m in got] == [str(n) for n in range(40)]


async def test_a_refused_or_unheard_message_fails_its_batch(nc: NatsClient) -> None:
    """A message bigger than the stream takes is refused (JetStream's error ack) and a
    subject no stream listens on gets no ack (503): each fails its batch at once, naming why,
    and the publisher goes on publishing the next batch."""
    js = nc.jetstream()
    name = f"PUB_{uuid4().hex}"
    await js.add_stream(name=name, subjects=[f"{name}.>"], max_msg_size=64)
    publisher = BatchPublish(nc)
    await publisher.start()
    try:
        too_big: list[tuple[str, bytes, dict[str, str]]] = [
            (f"{name}.a", b"ok", {}),
            (f"{name}.a", b"x" * 200, {}),
        ]
        with pytest.raises(PublishFailed, match="refused"):
            await publisher.publish(too_big, within_s=30)
        with pytest.raises(PublishFailed, match="503"):
            await publisher.publish([(f"NOWHERE_{uuid4().hex}.a", b"x", {})], within_s=30)
        await publisher.publish([(f"{name}.a", b"after", {})], within_s=10)
    finally:
        await publisher.close()
    assert (await js.stream_info(name)).state.messages == 2


async def test_a_batch_whose_acks_never_come_fails_when_its_wait_is_over(nc: NatsClient) -> None:
    """A subject someone listens on but no stream stores (no ack, and no 503 either) fails the
    batch once its wait is over, and an ack that comes later is ignored."""
    silent = f"SILENT_{uuid4().hex}.x"
    heard: list[str] = []

    async def listener(msg: Msg) -> None:
        heard.append(msg.reply)

    await nc.subscribe(silent, cb=listener)
    publisher = BatchPublish(nc)
    await publisher.start()
    try:
        with pytest.raises(PublishFailed, match="acked within"):
            await publisher.publish([(silent, b"x", {})], within_s=0.5)
        assert len(heard) == 1
        await nc.publish(heard[0], b'{"stream":"X","seq":1}')  # late: nobody waits for it
        await nc.flush()
    finally:
        await publisher.close()
