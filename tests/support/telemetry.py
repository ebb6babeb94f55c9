"""Telemetry traffic for tests and benchmarks: simulated robots, published as a gateway does."""

import asyncio
import random
from collections.abc import Sequence
from datetime import datetime, timedelta
from uuid import UUID, uuid4

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from shared import subjects
from shared.contracts import Event, TelemetrySampled

METRICS = ("cpu_usage", "battery", "temperature")


def simulated_samples(
    project: UUID,
    *,
    robots: int,
    per_robot: int,
    start: datetime,
    step_s: float = 1.0,
    seed: int = 1,
) -> list[TelemetrySampled]:
    """`per_robot` samples from each of `robots` robots, one every `step_s`, interleaved in time
    order as robots would send them; values are random but reproducible from `seed`."""
    rng = random.Random(seed)
    return [
        TelemetrySampled.first(
            project_key=project,
            robot_id=f"robot-{r:03d}",
            received_at=start + timedelta(seconds=n * step_s),
            metrics={name: round(rng.uniform(0, 100), 3) for name in METRICS},
        )
        for n in range(per_robot)
        for r in range(robots)
    ]


async def publish_samples(
    js: JetStreamContext, samples: Sequence[TelemetrySampled], *, fresh_msg_ids: bool = False
) -> None:
    """Publish into TELEMETRY with Nats-Msg-Id = event_id (the gateway's dedupe key), pipelined,
    and wait until the stream stored them all. `fresh_msg_ids` defeats the stream's own dedupe,
    so the service itself must notice the repeats."""
    pending = []
    for sample in samples:
        msg_id = str(uuid4()) if fresh_msg_ids else str(sample.event_id)
        pending.append(
            await js.publish_async(
                subjects.telemetry_sample(project=sample.project_key, robot=sample.robot_id),
                sample.model_dump_json().encode(),
                headers={"Nats-Msg-Id": msg_id},
            )
        )
    await asyncio.wait_for(asyncio.gather(*pending), 60)


async def publish_event(js: JetStreamContext, subject: str, event: Event) -> None:
    """Publish one event into its stream, deduplicated on its event id."""
    await js.publish(
        subject, event.model_dump_json().encode(), headers={"Nats-Msg-Id": str(event.event_id)}
    )


async def consumer_drained(js: JetStreamContext, stream: str, durable: str) -> bool:
    """True when the consumer has been delivered the newest message of the stream it takes, and
    has nothing delivered unacked.

    Compares sequences rather than trusting `num_pending` alone: the server counts a new message
    into its consumers' pending a moment after it acks the publish, so right after a publish
    `num_pending == 0` can mean "not counted yet" (seen in CI: a presence event read before the
    fleet consumer had it)."""
    newest = await newest_taken(js, stream, durable)
    info = await js.consumer_info(stream, durable)
    delivered = info.delivered.stream_seq if info.delivered else 0
    return bool(info.num_pending == 0 and info.num_ack_pending == 0 and (delivered or 0) >= newest)


async def newest_taken(js: JetStreamContext, stream: str, durable: str) -> int:
    """The stream sequence of the newest message matching the consumer's filters (0: none)."""
    config = (await js.consumer_info(stream, durable)).config
    filters = config.filter_subjects or [config.filter_subject or ">"]
    newest = 0
    for subject in filters:
        try:
            newest = max(newest, (await js.get_last_msg(stream, subject)).seq or 0)
        except NotFoundError:
            continue
    return newest
