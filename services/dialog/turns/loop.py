"""The hot consumer: user turns pulled from CHAT in batches (shared.pull.BatchPull), answered,
written in one transaction, replied to with the publish acks gathered, then acked.

FastStream's per-message consumer tops out at ~3,500 messages/s with an empty handler; a raw
`fetch` of up to a few hundred at ~37,000 (reference/perf/FINDINGS.md §3), and BatchPull takes
a batch for ~half of nats-py's `fetch` CPU per message (it waits for each on its own); the
replies go out by shared.batch_publish.BatchPublish, their acks counted into one future.
Everything else of the dialog stays on FastStream. Nothing is acked before its turn is stored
and its reply is in the stream; a turn delivered again after a crash finds its stored reply and
sends it again (same reply id: JetStream drops the repeat).
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import NotJSMessageError
from pydantic import ValidationError
from structlog.contextvars import bound_contextvars

from shared import subjects
from shared.batch_publish import BatchPublish
from shared.broker import REDELIVERY
from shared.contracts import TurnAnswered, TurnReceived
from shared.db import unreachable
from shared.observability.messages import EVENT_ID, hop_trace
from shared.pull import BatchPull
from shared.retry import reason

from ..config import DialogSettings
from ..metrics import handled
from .application import TurnApp
from .known import KnownSessions
from .order import early_retry_delay
from .outcomes import Arrived, TurnOutcome
from .partitions import Claim, Fenced
from .stream import ensure_consumer, publish_replies

log = logging.getLogger(__name__)
REFUSED_RETRY_S = 0.01  # its session changed under it: answer again at once, from the new row


def _deliveries(msg: Msg) -> int:
    try:
        return int(msg.metadata.num_delivered or 1)
    except NotJSMessageError:
        return 1


def _waited_s(msg: Msg, turn: TurnReceived) -> float:
    """Seconds since the turn entered the stream (since the gateway stamped it, without
    JetStream metadata)."""
    try:
        accepted = msg.metadata.timestamp
    except NotJSMessageError:
        accepted = turn.occurred_at
    return (datetime.now(UTC) - accepted).total_seconds()


class TurnBatch:
    """Answers one fetched batch: decode, answer, publish, then ack or nack each message."""

    def __init__(
        self,
        app: TurnApp,
        settings: DialogSettings,
        publish: Callable[[list[tuple[TurnAnswered, dict[str, str]]]], Awaitable[None]],
        *,
        claim: Claim | None = None,
        fenced: Callable[[Claim], None] | None = None,
    ) -> None:
        self._app = app
        self._settings = settings
        self._publish = publish
        self._claim = claim
        self._fenced = fenced
        self._known = KnownSessions() if claim is not None else None

    async def handle(self, msgs: Sequence[Msg]) -> None:
        started = time.perf_counter()
        arrived: list[Arrived] = []
        kept: list[Msg] = []
        traces: dict[Any, dict[str, str]] = {}
        for msg in msgs:
            turn = self._decode(msg)
            if turn is None:
                await msg.term()
                continue
            traces[turn.event_id] = hop_trace(msg.subject, msg.headers, hop="handle")
            force = _waited_s(msg, turn) >= self._settings.early_wait_s
            arrived.append(Arrived(turn, force, again=_deliveries(msg) > 1))
            kept.append(msg)
        if not arrived:
            return

        async def publish(replies: list[TurnAnswered]) -> None:
            await self._publish([(r, traces.get(r.turn_event_id, {})) for r in replies])

        try:
            outcomes = await self._app.answer_turns(
                arrived, publish=publish, claim=self._claim, known=self._known
            )
        except Fenced as err:  # another replica owns the partition now: it answers them
            log.warning("%s: %d turns left to the new owner", err, len(kept))
            if self._fenced is not None:
                self._fenced(err.claim)
            return
        except Exception as err:
            await self._failed(kept, err)
            return
        for msg, a, outcome in zip(kept, arrived, outcomes, strict=True):
            await self._settle(msg, a.turn, outcome, started)

    @staticmethod
    def _decode(msg: Msg) -> TurnReceived | None:
        try:
            return TurnReceived.model_validate_json(msg.data)
        except ValidationError as err:
            log.error("dropping malformed turn %s: %s", (msg.headers or {}).get(EVENT_ID), err)
            return None

    async def _settle(
        self, msg: Msg, turn: TurnReceived, outcome: TurnOutcome, started: float
    ) -> None:
        handled(outcome.reply if outcome.kind == "answered" else None, started)
        if outcome.kind == "early":
            delay = early_retry_delay(_deliveries(msg), first=self._settings.early_retry_s)
            await msg.nak(delay=delay)
        elif outcome.kind == "refused":
            await msg.nak(delay=REFUSED_RETRY_S)
        else:
            if outcome.kind == "gone":
                with bound_contextvars(event_id=str(turn.event_id)):
                    log.info("dropping turn of deleted session %s", turn.session_id)
            await msg.ack()

    @staticmethod
    async def _failed(msgs: Sequence[Msg], err: Exception) -> None:
        """The batch failed as a whole (database down, a deadlock, a bug): nothing of it was
        acked; every turn comes back after a back-off growing with its deliveries."""
        delays = [REDELIVERY.delay(_deliveries(msg)) for msg in msgs]
        if unreachable(err):
            log.warning(
                "%d turns not handled, a dependency is unreachable (%s); again in %.1f s",
                len(msgs),
                reason(err),
                min(delays),
            )
        else:
            log.error("a batch of %d turns failed, delivered again later: %r", len(msgs), err)
            log.debug("batch failure", exc_info=err)
        for msg, delay in zip(msgs, delays, strict=True):
            with contextlib.suppress(Exception):
                await msg.nak(delay=delay)


class TurnLoop:
    """Pulls one partition's turns from CHAT while this replica owns it (`claim`)."""

    def __init__(
        self,
        app: TurnApp,
        settings: DialogSettings,
        *,
        claim: Claim,
        fenced: Callable[[Claim], None] | None = None,
    ) -> None:
        self._app = app
        self._settings = settings
        self._claim = claim
        self._fenced = fenced
        self._task: asyncio.Task[None] | None = None
        self._pull: BatchPull | None = None
        self._publisher: BatchPublish | None = None
        self._stopping = False
        self._busy = False

    async def start(self, nc: Client) -> None:
        js = nc.jetstream()
        subject = subjects.chat_partition_turns(self._claim.partition)
        durable = subjects.dialog_partition_durable(self._claim.partition, self._claim.consumer)
        await ensure_consumer(js, durable, subject, self._settings)
        self._pull = BatchPull(nc, subjects.CHAT_STREAM, durable)
        await self._pull.start()
        publisher = self._publisher = BatchPublish(nc)
        await publisher.start()
        batch = TurnBatch(
            self._app,
            self._settings,
            lambda replies: publish_replies(publisher, replies, self._settings.publish_s),
            claim=self._claim,
            fenced=self._fenced,
        )
        self._task = asyncio.create_task(self._loop(self._pull, batch), name=f"turns {durable}")

    async def stop(self) -> None:
        """Stop pulling; a batch being answered is finished and settled first, and turns
        delivered but not yet taken go back to the consumer at once (for the next owner)."""
        self._stopping = True
        if self._task is None:
            return
        if not self._busy:
            self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        if self._pull is not None:
            await self._pull.close()
        if self._publisher is not None:
            await self._publisher.close()

    async def _loop(self, pull: BatchPull, batch: TurnBatch) -> None:
        failures = 0
        while not self._stopping:
            try:
                msgs = await pull.fetch(self._settings.batch_size, self._settings.fetch_s)
            except asyncio.CancelledError:
                raise
            except Exception as err:  # NATS reconnecting, JetStream refusing: after a back-off
                failures += 1
                log.warning("pulling turns failed: %s", reason(err))
                await asyncio.sleep(REDELIVERY.delay(failures))
                continue
            failures = 0
            if not msgs:
                continue
            self._busy = True
            try:
                await self._working_on(msgs, batch)
            finally:
                self._busy = False

    async def _working_on(self, msgs: list[Msg], batch: TurnBatch) -> None:
        """Handle a batch, telling JetStream every third of ack_wait that it is still being
        handled, so a slow one (a big brain being built) is not delivered to another replica."""

        async def beat() -> None:
            while True:
                await asyncio.sleep(self._settings.ack_wait_s / 3)
                for msg in msgs:
                    with contextlib.suppress(Exception):
                        await msg.in_progress()

        heartbeat = asyncio.create_task(beat())
        try:
            await batch.handle(msgs)
        except Exception:
            log.exception("a batch of turns was not settled")
        finally:
            heartbeat.cancel()
