"""Sample batches: decoded, written while the next batch is fetched, acked after their commit.

The batch subscriber only hands batches over: writing one while the next one is fetched and
parsed roughly doubles what one replica ingests (see bench/telemetry_ingest.py).
"""

import asyncio
import logging
from collections.abc import Sequence

from nats.aio.msg import Msg
from nats.errors import NotJSMessageError

from shared.contracts import TelemetrySampled
from shared.observability.metrics import TELEMETRY_SAMPLES as SAMPLES_STORED

from .domain import MalformedMessage, decode_sample
from .store import DATABASE_TROUBLE, TelemetryStore

log = logging.getLogger(__name__)


def msg_ref(msg: Msg) -> str:
    """Ids to log for a message: subject, Nats-Msg-Id and stream sequence when there is one."""
    try:
        seq = f" seq={msg.metadata.sequence.stream}"
    except NotJSMessageError:
        seq = ""
    return f"{msg.subject} id={(msg.headers or {}).get('Nats-Msg-Id')}{seq}"


class Ingestor:
    """Writes up to `writers` batches at once, each in one transaction; every message is acked
    (one by one, never AckAll: replicas share the consumer) only after its batch committed."""

    def __init__(self, store: TelemetryStore, *, writers: int, retry_delay_s: float) -> None:
        self._store = store
        self._retry_delay_s = retry_delay_s
        self._slots = asyncio.Semaphore(writers)
        self._running: set[asyncio.Task[None]] = set()
        self._closing = False

    async def submit(self, batch: Sequence[Msg]) -> None:
        """Start writing `batch`; waits while every writer is busy, so fetching never runs
        more than `writers` batches ahead of the database."""
        await self._slots.acquire()
        if self._closing:  # shutting down: hand the batch back at once for another replica
            self._slots.release()
            for raw in batch:
                await raw.nak()
            return
        task = asyncio.create_task(self._write(batch))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def drain(self) -> None:
        """Take no more batches and wait for the writes under way (their acks still go out)."""
        self._closing = True
        await asyncio.gather(*self._running, return_exceptions=True)

    async def _write(self, batch: Sequence[Msg]) -> None:
        try:
            samples, accepted = await self._decode(batch)
            if samples:
                await self._store_then_settle(samples, accepted)
        except Exception:  # a bug must not kill the writer; unacked messages come back
            log.exception("batch of %d samples failed; JetStream will redeliver it", len(batch))
        finally:
            self._slots.release()

    @staticmethod
    async def _decode(batch: Sequence[Msg]) -> tuple[list[TelemetrySampled], list[Msg]]:
        """The valid samples and their messages; malformed ones are terminated and logged."""
        samples: list[TelemetrySampled] = []
        accepted: list[Msg] = []
        for raw in batch:
            try:
                samples.append(decode_sample(raw.data))
            except MalformedMessage as err:
                log.error("terminating malformed sample %s: %s", msg_ref(raw), err.reason)
                await raw.term()
                continue
            accepted.append(raw)
        return samples, accepted

    async def _store_then_settle(self, samples: list[TelemetrySampled], msgs: list[Msg]) -> None:
        try:
            await self._store.ingest(samples)
        except DATABASE_TROUBLE as err:
            log.warning("write of %d samples failed, retrying later: %r", len(samples), err)
            for raw in msgs:
                await raw.nak(delay=self._retry_delay_s)
            return
        SAMPLES_STORED.inc(len(samples))
        for raw in msgs:
            await raw.ack()
