"""The hot consumer: samples pulled from TELEMETRY in large batches with nats-py, each batch
written in one transaction, its messages acked only after the commit.

FastStream's batch subscriber, and nats-py's own `fetch` under it, cost more per message than
the write itself; `shared.pull.BatchPull` hands whole batches over (reference/perf/FINDINGS.md
§3). Queries and robot events stay on
FastStream (handlers.py). Writing one batch while the next one is fetched and decoded roughly
doubles what one replica ingests (bench/telemetry_ingest.py).

Nothing is lost or stored twice: a sample is acked only once its rows are committed, a batch
delivered again is a no-op (its COPY fails on the key, and it is written again with
`ON CONFLICT (event_id, metric) DO NOTHING`: store.py), a write that fails
(Postgres restarting, a dead pooled connection: no pre-ping) is nak'ed with a back-off growing
with its deliveries, and a sample Postgres refuses is found by halving its batch and terminated
alone, so it never holds back the good samples it was fetched with.
"""

import asyncio
import contextlib
import logging
from collections.abc import Sequence

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import NotJSMessageError

from shared import subjects
from shared.db import unreachable
from shared.observability.metrics import TELEMETRY_SAMPLES as SAMPLES_STORED
from shared.pull import BatchPull
from shared.retry import Backoff, reason

from .config import TelemetrySettings
from .domain import DecodedSample, MalformedMessage, decode_sample
from .store import DATA_REFUSED, TelemetryStore

log = logging.getLogger(__name__)
Decoded = list[tuple[Msg, DecodedSample]]


def msg_ref(msg: Msg) -> str:
    """Ids to log for a message: subject, Nats-Msg-Id and stream sequence when there is one."""
    try:
        seq = f" seq={msg.metadata.sequence.stream}"
    except NotJSMessageError:
        seq = ""
    return f"{msg.subject} id={(msg.headers or {}).get('Nats-Msg-Id')}{seq}"


def deliveries(msg: Msg) -> int:
    """How often JetStream delivered `msg` (1 for a message without JetStream metadata)."""
    try:
        return int(msg.metadata.num_delivered or 1)
    except NotJSMessageError:
        return 1


class Ingestor:
    """Writes up to `writers` batches at once, each in one transaction; every message is acked
    (one by one, never AckAll: replicas share the consumer) only after its batch committed."""

    def __init__(self, store: TelemetryStore, *, writers: int, retry_delay_s: float) -> None:
        self._store = store
        self._backoff = Backoff(
            first_s=retry_delay_s, factor=2.0, max_s=max(5.0, retry_delay_s), jitter_s=0.0
        )
        self._slots = asyncio.Semaphore(writers)
        self._running: set[asyncio.Task[None]] = set()
        self._closing = False

    async def submit(self, batch: Sequence[Msg]) -> None:
        """Start writing `batch`; waits while every writer is busy, so fetching never runs
        more than `writers` batches ahead of the database."""
        await self.writer_free()
        self.write(batch)

    async def writer_free(self) -> None:
        """Wait for a free writer and hold it for the next `write`: the pull loop fetches only
        then, so a batch takes everything that arrived while the writers were busy (batches
        grow with the load instead of staying as small as the gaps between fetches)."""
        await self._slots.acquire()

    def write(self, batch: Sequence[Msg]) -> None:
        """Write `batch` with the writer `writer_free` held (an empty batch just frees it)."""
        if not batch:
            self._slots.release()
            return
        if self._closing:  # shutting down: hand the batch back at once for another replica
            self._slots.release()
            task = asyncio.create_task(_nak_all(batch))
        else:
            task = asyncio.create_task(self._write(batch))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def drain(self) -> None:
        """Take no more batches and wait for the writes under way (their acks still go out)."""
        self._closing = True
        await asyncio.gather(*self._running, return_exceptions=True)

    async def _write(self, batch: Sequence[Msg]) -> None:
        try:
            decoded = await self._decode(batch)
            if decoded:
                await self._store_then_settle(decoded)
        except Exception:  # a bug must not kill the writer; unacked messages come back
            log.exception("batch of %d samples failed; JetStream will redeliver it", len(batch))
        finally:
            self._slots.release()

    @staticmethod
    async def _decode(batch: Sequence[Msg]) -> Decoded:
        """The valid samples with their messages; malformed ones are terminated and logged."""
        decoded: Decoded = []
        for raw in batch:
            try:
                decoded.append((raw, decode_sample(raw.data)))
            except MalformedMessage as err:
                log.error("terminating malformed sample %s: %s", msg_ref(raw), err.reason)
                await raw.term()
        return decoded

    async def _store_then_settle(self, decoded: Decoded) -> None:
        """Write `decoded` in one transaction, then ack it. Refused data: each half is written
        on its own, down to the one sample that no retry can store, which is terminated."""
        try:
            await self._store.ingest([sample for _, sample in decoded])
        except DATA_REFUSED as err:
            if len(decoded) == 1:
                [(raw, _)] = decoded
                log.error(
                    "terminating sample %s Postgres cannot hold (%s)", msg_ref(raw), reason(err)
                )
                await raw.term()
                return
            half = len(decoded) // 2
            await self._store_then_settle(decoded[:half])
            await self._store_then_settle(decoded[half:])
            return
        except Exception as err:
            await self._later(decoded, err)
            return
        SAMPLES_STORED.inc(len(decoded))
        for raw, _ in decoded:
            await raw.ack()

    async def _later(self, decoded: Decoded, err: Exception) -> None:
        """The write failed as a whole (database down, a dead connection, a deadlock): nothing
        of it was acked; each message comes back after a back-off growing with its deliveries."""
        delays = [self._backoff.delay(deliveries(raw)) for raw, _ in decoded]
        if unreachable(err):
            log.warning(
                "%d samples not stored, Postgres is unreachable (%s); again in %.1f s",
                len(decoded),
                reason(err),
                min(delays),
            )
        else:
            log.error("a write of %d samples failed, retried later: %r", len(decoded), err)
        for (raw, _), delay in zip(decoded, delays, strict=True):
            with contextlib.suppress(Exception):  # NATS away too: ack_wait redelivers it
                await raw.nak(delay=delay)


async def _nak_all(batch: Sequence[Msg]) -> None:
    for raw in batch:
        with contextlib.suppress(Exception):
            await raw.nak()


class SampleLoop:
    """Pulls batches from the samples consumer (shared by every replica) into the ingestor."""

    def __init__(self, ingestor: Ingestor, settings: TelemetrySettings) -> None:
        self._ingestor = ingestor
        self._settings = settings
        self._backoff = Backoff(first_s=0.5, factor=2.0, max_s=5.0, jitter_s=0.0)
        self._task: asyncio.Task[None] | None = None
        self._pull: BatchPull | None = None

    async def start(self, nc: Client) -> None:
        """Pull from the durable consumer (made by `ensure_consumers`)."""
        self._pull = BatchPull(nc, subjects.TELEMETRY_STREAM, subjects.TELEMETRY_DURABLE)
        await self._pull.start()
        self._task = asyncio.create_task(self._loop(self._pull), name="telemetry samples")

    async def stop(self) -> None:
        """Stop pulling (a fetched batch is with a writer already: drain the ingestor next);
        what was delivered but not fetched goes back to the consumer."""
        if self._task is None:
            return
        self._task.cancel()  # fetch and write have no await between them: no batch is cut
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        if self._pull is not None:
            await self._pull.close()

    async def _loop(self, pull: BatchPull) -> None:
        failures = 0
        size, wait = self._settings.batch_size, self._settings.batch_wait_s
        while True:
            await self._ingestor.writer_free()
            try:
                msgs = await pull.fetch(size, wait)
            except asyncio.CancelledError:
                self._ingestor.write([])
                raise
            except Exception as err:  # the connection closed: pull again after a back-off
                self._ingestor.write([])
                failures += 1
                log.warning("pulling samples failed: %s", reason(err))
                await asyncio.sleep(self._backoff.delay(failures))
                continue
            failures = 0
            self._ingestor.write(msgs)
