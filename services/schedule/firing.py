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

from shared.db import DATABASE_TROUBLE

from .application import Clock, Publish
from .config import ScheduleSettings
from .domain import DueEntry, Firing, fired_command, settle
from .store import ScheduleStore

log = logging.getLogger(__name__)

TRANSIENT: tuple[type[BaseException], ...] = (*DATABASE_TROUBLE, nats.errors.Error)
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
                firing, fired = await self._fire(entry, now=now)
                published += fired
                batch.settle(entry, firing, fired_at=now if fired else None)
        return len(batch.entries), published

    async def _fire(self, entry: DueEntry, *, now: datetime) -> tuple[Firing, bool]:
        """Publish the entry's command if it is not too late; how it settles, and if it fired."""
        where = f"{entry.name!r} of {entry.project_key}/{entry.robot_id}"
        grace_s = self._settings.grace_s
        try:
            firing = settle(entry, now=now, grace_s=grace_s)
            due = firing.fire_for
            command = None if due is None else fired_command(entry, due, now=now, grace_s=grace_s)
        except Exception:  # a row no code can fire must not block the rows due after it
            log.exception("cannot fire %s: it is switched off until it is set again", where)
            return Firing(None, None), False
        if due is None or command is None:
            log.warning(
                "skipped %s: due %s, over %.0f s ago", where, entry.due.isoformat(), grace_s
            )
            return firing, False
        await self._publish(command)
        log.info("fired %s for %s as %s", where, due.isoformat(), command.event_id)
        return firing, True

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
