"""Every Prometheus metric a Switchboard process exports, and the text answer of `/metrics`.

Metrics are module-level objects in the process's default registry, so a module that counts
something imports the metric and binds its labels once (`.labels(...)` is a dict lookup and a
lock: hot paths keep the bound child instead of looking it up per message).
"""

import asyncio
import logging
import weakref
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

from prometheus_client import Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4 as CONTENT_TYPE
from prometheus_client.registry import REGISTRY, Collector

log = logging.getLogger(__name__)

# Turns take from about a millisecond (AIML) to seconds (a brain built on first use).
LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

TURN_SECONDS = Histogram(
    "switchboard_turn_seconds",
    "Gateway: from a turn published to its answer handed to the client's socket or request",
    ["protocol"],
    buckets=LATENCY_BUCKETS,
)
DIALOG_TURN_SECONDS = Histogram(
    "switchboard_dialog_turn_seconds",
    "Dialog: time to handle one turn (lock, answer, store, publish), by the engine that answered",
    ["engine"],
    buckets=LATENCY_BUCKETS,
)
CONNECTIONS = Gauge(
    "switchboard_connections", "Gateway: WebSocket connections open, by protocol", ["protocol"]
)
FRAMES_IN = Counter(
    "switchboard_frames_in", "Gateway: frames received from clients, by protocol", ["protocol"]
)
FRAMES_OUT = Counter(
    "switchboard_frames_out", "Gateway: frames written to clients, by protocol", ["protocol"]
)
FRAME_ERRORS = Counter(
    "switchboard_frame_errors",
    "Gateway: frames answered with the protocol's error (invalid, refused, unavailable, "
    "rate_limited, binary, too_big) and sockets closed for being too slow (overflow), by "
    "protocol and kind",
    ["protocol", "kind"],
)
TELEMETRY_SAMPLES = Counter(
    "switchboard_telemetry_samples_stored", "Telemetry: samples written to Postgres"
)

Refresh = Callable[[], Awaitable[None]]


async def render(refresh: Sequence[Refresh] = (), timeout_s: float = 2.0) -> tuple[bytes, str]:
    """The body and content type of a `/metrics` answer, after running `refresh` (e.g. asking
    JetStream for consumer lag) for at most `timeout_s`: a slow refresh leaves old values."""
    if refresh:
        try:
            done = await asyncio.wait_for(
                asyncio.gather(*(r() for r in refresh), return_exceptions=True), timeout_s
            )
        except TimeoutError:
            done = [TimeoutError(f"metrics refresh took over {timeout_s} s")]
        for failed in (r for r in done if isinstance(r, BaseException)):
            log.warning("metrics refresh failed: %r", failed)
    return generate_latest(REGISTRY), CONTENT_TYPE  # 0.0.4: every Prometheus reads it


class _Pools(Collector):
    """Database pool use, read from every live pool when scraped (weakly held)."""

    def __init__(self) -> None:
        self.pools: weakref.WeakKeyDictionary[Any, tuple[str, Callable[[Any], Any]]] = (
            weakref.WeakKeyDictionary()
        )

    def collect(self) -> Iterable[GaugeMetricFamily]:
        in_use = GaugeMetricFamily(
            "switchboard_db_pool_in_use", "Database connections checked out", labels=["pool"]
        )
        size = GaugeMetricFamily(
            "switchboard_db_pool_max", "Most connections the pool may open", labels=["pool"]
        )
        totals: dict[str, list[int]] = {}
        for pool, (kind, read) in list(self.pools.items()):
            found = _read(read, pool)
            if found is None:
                continue
            used, most = found
            total = totals.setdefault(kind, [0, 0])
            total[0] += used
            total[1] += most
        for kind, (used, most) in sorted(totals.items()):
            in_use.add_metric([kind], used)
            size.add_metric([kind], most)
        return [in_use, size]


def _read(read: Callable[[Any], Any], pool: Any) -> tuple[int, int] | None:
    """(in use, max) of `pool`; None for a pool not opened yet (or closed)."""
    try:
        used, most = read(pool)
    except Exception:
        return None
    return int(used), int(most)


POOLS = _Pools()
REGISTRY.register(POOLS)


def watch_asyncpg_pool(owner: Any, pool: Callable[[Any], Any]) -> None:
    """Export the use of the asyncpg Pool `pool(owner)` gives (asyncpg's Pool cannot be
    weakly referenced: its owner is, and the pool is read through it)."""
    POOLS.pools[owner] = ("asyncpg", lambda o: _asyncpg_use(pool(o)))


def _asyncpg_use(pool: Any) -> tuple[int, int]:
    return pool.get_size() - pool.get_idle_size(), pool.get_max_size()


CONSUMER_PENDING = Gauge(
    "switchboard_consumer_pending",
    "JetStream: messages of a durable consumer not yet delivered (its lag)",
    ["stream", "consumer"],
)
CONSUMER_ACK_PENDING = Gauge(
    "switchboard_consumer_ack_pending",
    "JetStream: messages delivered to a durable consumer and not yet acknowledged",
    ["stream", "consumer"],
)
