"""Telemetry ingest throughput: JetStream → one telemetry replica → Postgres, against raw COPY.

Starts embedded NATS and Postgres, migrates, runs one telemetry service process, publishes N
samples (from 50 robots) into TELEMETRY as fast as it can and times how long until every metric
row is in Postgres. Then, with the service stopped, N more samples wait in the stream and the
time a freshly started service takes to drain them is measured (no publisher competing for CPU).
Baselines, measured in the same run on the same database: one asyncpg `copy_records_to_table`
of the same rows into an index-free scratch table (the ceiling), and into a copy of
telemetry.samples with its key and indexes. The service's CPU per sample is printed too: the
machine is shared, and that figure moves least with its load.

    .venv/bin/python bench/telemetry_ingest.py [--samples 20000] [--robots 50]
"""

import argparse
import asyncio
import os
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from uuid import UUID, uuid4

import asyncpg
import nats
import psutil
from common import Goal, bars, spy_on, stop_spies, write
from nats.aio.msg import Msg

from services.telemetry.domain import MetricRow, metric_rows
from shared import subjects
from shared.contracts import TelemetrySampled, utcnow
from shared.migrations import upgrade
from tests.support.backends import Backends, embedded_backends
from tests.support.services import Service
from tests.support.telemetry import (
    METRICS,
    consumer_drained,
    simulated_samples,
)
from tests.support.waits import wait_until

NAME = "telemetry_ingest"
COUNT = "SELECT count(*) FROM telemetry.samples WHERE project_key = $1"


def _samples(n: int, robots: int) -> list[TelemetrySampled]:
    start = utcnow() - timedelta(hours=1)
    return simulated_samples(uuid4(), robots=robots, per_robot=n // robots, start=start)


WINDOW = 2_000  # samples published and not yet stored by the stream, at most


async def _publish(backends: Backends, samples: list[TelemetrySampled]) -> float:
    """Publish `samples` as a gateway does (JSON, Nats-Msg-Id = event id) and wait until the
    stream stored them all; returns the seconds it took.

    Lean on purpose, so that the figure is the service's and not the publisher's: nats-py's
    `publish_async` (a future, a semaphore, random bytes and a JSON decode per message) cost
    42-48 µs of CPU a sample on the 2-CPU machine, more than the service itself, and held the
    end-to-end figure at about half of what the service can take. Here each message gets a
    reply subject under one inbox, and one callback counts the stream's acks: about 10 µs a
    sample, at most WINDOW samples in flight."""
    nc = await nats.connect(backends.nats_url)
    inbox, acked, resume_at, refused = nc.new_inbox(), 0, 0, []
    room, done = asyncio.Event(), asyncio.Event()

    async def stored(ack: Msg) -> None:
        nonlocal acked
        acked += 1
        if b'"error"' in ack.data:
            refused.append(ack.data)
        if acked >= resume_at:
            room.set()
        if acked == len(samples):
            done.set()

    try:
        await nc.subscribe(f"{inbox}.*", cb=stored, pending_msgs_limit=-1, pending_bytes_limit=-1)
        started = time.perf_counter()
        for sent, sample in enumerate(samples):
            if sent - acked >= WINDOW:  # wait until half of the window is stored
                resume_at = sent - WINDOW // 2
                room.clear()
                await room.wait()
            await nc.publish(
                subjects.telemetry_sample(project=sample.project_key, robot=sample.robot_id),
                sample.model_dump_json().encode(),
                reply=f"{inbox}.{sent}",
                headers={"Nats-Msg-Id": str(sample.event_id)},
            )
        await asyncio.wait_for(done.wait(), 60)
        assert not refused, refused[:3]
        return time.perf_counter() - started
    finally:
        await nc.close()


async def _stored(pg: asyncpg.Connection, project: UUID) -> int:
    return int(await pg.fetchval(COUNT, project))


async def _until_stored(pg: asyncpg.Connection, project: UUID, rows: int) -> None:
    async def done() -> bool:
        return await _stored(pg, project) >= rows

    await wait_until(done, within_s=600, what=f"{rows} rows", every=0.01)


async def _until_acked(
    backends: Backends, pg: asyncpg.Connection, project: UUID, rows: int
) -> None:
    """Until the service acked every sample in the stream (it acks only after the commit), then
    one count to be sure the rows are there. Cheap to ask every 10 ms, where a count(*) of the
    growing table every 10 ms took Postgres CPU from the service being measured."""
    nc = await nats.connect(backends.nats_url)
    js = nc.jetstream()

    async def acked() -> bool:
        return await consumer_drained(js, subjects.TELEMETRY_STREAM, subjects.TELEMETRY_DURABLE)

    try:
        await wait_until(acked, within_s=600, what="every sample acked", every=0.01)
    finally:
        await nc.close()
    await _until_stored(pg, project, rows)


def cpu_s(service: Service) -> float:
    """CPU seconds (user + system) the service's process has used so far."""
    assert service.process is not None
    times = psutil.Process(service.process.pid).cpu_times()
    return float(times.user + times.system)


async def live(
    service: Service, backends: Backends, samples: list[TelemetrySampled]
) -> tuple[float, float, float]:
    """(publish seconds, seconds until the last row is stored, both from the first publish;
    the service's CPU seconds meanwhile: what a sample costs whatever the machine's load)."""
    pg = await asyncpg.connect(backends.database_url)
    try:
        cpu, started = cpu_s(service), time.perf_counter()
        publish_s = await _publish(backends, samples)
        await _until_acked(backends, pg, samples[0].project_key, len(samples) * len(METRICS))
        stored_s, used = time.perf_counter() - started, cpu_s(service) - cpu
        return publish_s, stored_s, used
    finally:
        await pg.close()


async def drain(service: Service, backends: Backends, samples: list[TelemetrySampled]) -> float:
    """Samples per second a service stores from a backlog, counted from its first commit."""
    project, rows = samples[0].project_key, len(samples) * len(METRICS)
    pg = await asyncpg.connect(backends.database_url)
    try:
        service.start(wait=False)
        await _until_stored(pg, project, 1)
        started, first = time.perf_counter(), await _stored(pg, project)
        await _until_acked(backends, pg, project, rows)
        return (rows - first) / len(METRICS) / (time.perf_counter() - started)
    finally:
        await pg.close()


async def baseline(backends: Backends, rows: list[MetricRow], *, indexed: bool) -> float:
    """Rows per second of one raw binary COPY into a scratch table (bare, or shaped like
    telemetry.samples with its key and indexes)."""
    shape = "INCLUDING INDEXES" if indexed else ""
    pg = await asyncpg.connect(backends.database_url)
    try:
        await pg.execute(f"CREATE TABLE bench_scratch (LIKE telemetry.samples {shape})")
        started = time.perf_counter()
        await pg.copy_records_to_table("bench_scratch", records=rows, columns=MetricRow._fields)
        took = time.perf_counter() - started
        await pg.execute("DROP TABLE bench_scratch")
    finally:
        await pg.close()
    return len(rows) / took


def measure(n: int, robots: int, root: Path) -> dict[str, float]:
    first, second = _samples(n, robots), _samples(n, robots)
    with embedded_backends(root) as backends:
        upgrade(backends.database_url)
        env = {"NATS_URL": backends.nats_url, "DATABASE_URL": backends.database_url}
        service = Service("telemetry", env, root).start()
        spies = spy_on([service], "-live")
        try:
            publish_s, store_s, cpu = asyncio.run(live(service, backends, first))
        finally:
            stop_spies(spies)
            service.stop()
        asyncio.run(_publish(backends, second))
        try:
            drained = asyncio.run(drain(service, backends, second))
        finally:
            service.stop()
        rows = metric_rows(first)
        bare = asyncio.run(baseline(backends, rows, indexed=False))
        indexed = asyncio.run(baseline(backends, rows, indexed=True))
    return figures(len(first), publish_s, store_s, cpu, drained, bare, indexed)


def figures(
    n: int,
    publish_s: float,
    store_s: float,
    cpu_s: float,
    drained: float,
    bare: float,
    indexed: float,
) -> dict[str, float]:
    rows = n * len(METRICS)
    return {
        "samples": n,
        "metric_rows": rows,
        "cpus": os.cpu_count() or 0,
        "published_samples_per_s": n / publish_s,
        "stored_samples_per_s": n / store_s,
        "stored_metric_rows_per_s": rows / store_s,
        "service_cpu_us_per_sample": cpu_s / n * 1e6,
        "backlog_drain_samples_per_s": drained,
        "baseline_copy_rows_per_s": bare,
        "baseline_copy_indexed_rows_per_s": indexed,
        "ratio_ours_to_baseline": rows / store_s / bare,
        "ratio_ours_to_indexed_copy": rows / store_s / indexed,
    }


def print_table(found: dict[str, float]) -> None:
    print(
        f"\ntelemetry ingest: {int(found['samples']):,} samples x {len(METRICS)} metrics "
        f"= {int(found['metric_rows']):,} rows, {int(found['cpus'])} CPUs"
    )
    print(f"{'measure':<40}{'value':>14}")
    print("-" * 54)
    for name, value in found.items():
        if name not in ("samples", "metric_rows", "cpus"):
            print(f"{name.replace('_', ' '):<40}{value:>14,.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--samples", type=int, default=20_000, help="samples to publish")
    parser.add_argument("--robots", type=int, default=50, help="simulated robots")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-telemetry-") as tmp:
        found = measure(args.samples, args.robots, Path(tmp))
    print_table(found)
    rate = found["stored_samples_per_s"]
    goal = Goal(
        goal="5 telemetry stored, ack after commit",
        figure=f"{rate:,.0f} samples/s",
        baseline=f"raw COPY {found['baseline_copy_indexed_rows_per_s'] / len(METRICS):,.0f}/s",
        ratio=found["ratio_ours_to_indexed_copy"],
        target=">= 20,000 samples/s",
        met=rate >= 20_000,
    )
    bars(NAME, found, ["stored_samples_per_s", "backlog_drain_samples_per_s"], len(METRICS))
    write(NAME, found, [goal])


if __name__ == "__main__":
    main()
