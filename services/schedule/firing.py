"""The firing loop each replica runs: every tick, fire the entries that are due.

Due rows are claimed with `FOR UPDATE SKIP LOCKED`, so each entry is fired by one replica; the
command is published (and acknowledged by the stream) before the claim commits. A replica that
dies in between leaves the row due, and whoever fires it next publishes the same event id, which
the stream's dedupe window drops.
"""

import asyncio
import contextlib
import logging
from datetime import datetime

import nats.errors

from .application import Clock, Publish
from .config import ScheduleSettings
from .domain import DueEntry, Firing, fired_command, settle
from .store import DATABASE_TROUBLE, ScheduleStore

log = logging.getLogger(__name__)

TRANSIENT = (*DATABASE_TROUBLE, nats.errors.Error)
STOP_WAIT_S = 10.0


class Firer:
    """Fires due entries every `tick_s`, in batches of `batch`; started and stopped with the app."""

    def __init__(
        self, store: ScheduleStore, publish: Publish, settings: ScheduleSettings, *, clock: Clock
    ) -> None:
        self._store, self._publish, self._settings, self._clock = store, publish, settings, clock
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def tick(self) -> int:
        """Fire everything due now; the number of commands published."""
        fired = 0
        while not self._stopping.is_set():
            claimed, published = await self._fire_batch()
            fired += published
            if claimed < self._settings.batch:
                break
        return fired

    async def _fire_batch(self) -> tuple[int, int]:
        """Claim a batch, fire it, settle it: one transaction. (claimed, published)"""
        now, published = self._clock(), 0
        async with self._store.due(now=now, limit=self._settings.batch) as batch:
            for entry in batch.entries:
                firing = settle(entry, now=now, grace_s=self._settings.grace_s)
                if await self._fire(entry, firing, now=now):
                    published += 1
                batch.settle(entry, firing, fired_at=None if firing.fire_for is None else now)
        return len(batch.entries), published

    async def _fire(self, entry: DueEntry, firing: Firing, *, now: datetime) -> bool:
        where = f"{entry.name!r} of {entry.project_key}/{entry.robot_id}"
        if firing.fire_for is None:
            grace_s = self._settings.grace_s
            log.warning(
                "skipped %s: due %s, over %.0f s ago", where, entry.due.isoformat(), grace_s
            )
            return False
        command = fired_command(entry, firing.fire_for, now=now, grace_s=self._settings.grace_s)
        await self._publish(command)
        log.info("fired %s for %s as %s", where, firing.fire_for.isoformat(), command.event_id)
        return True

    async def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.tick()
            except TRANSIENT as err:  # the rows stay due: the next tick tries again
                log.warning("firing failed, next try in %.1f s: %r", self._settings.tick_s, err)
            except Exception:
                log.exception("firing failed, next try in %.1f s", self._settings.tick_s)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._settings.tick_s)

    async def start(self) -> None:
        self._stopping.clear()
        self._task = asyncio.create_task(self._loop(), name="schedule-firing")

    async def stop(self) -> None:
        """Let the batch being fired commit, then end the loop (cut off if it hangs)."""
        self._stopping.set()
        if self._task is None:
            return
        done, _ = await asyncio.wait({self._task}, timeout=STOP_WAIT_S)
        if not done:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
