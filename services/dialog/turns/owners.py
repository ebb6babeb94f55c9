"""This replica's share of the turn partitions: claimed, renewed, given up, taken over."""

import asyncio
import contextlib
import logging
import zlib
from collections.abc import Callable
from uuid import uuid4

from nats.aio.client import Client
from nats.js.api import KeyValueConfig

from shared import subjects
from shared.db import Database
from shared.retry import reason, with_backoff

from ..config import DialogSettings
from .application import TurnApp
from .loop import TurnLoop
from .partitions import Claim, Leases, Started, Stopped, fair_share, take_over

log = logging.getLogger(__name__)


class Owners:
    """Keeps this replica at its fair share of `partitions`: every `every_s` it says it is
    alive, renews its leases (stopping a partition whose lease another replica took), gives up
    what exceeds its share, and claims free or expired partitions up to it. A claimed
    partition's generation goes into Postgres before its puller starts."""

    def __init__(
        self,
        leases: Leases,
        database: Database,
        *,
        me: str,
        partitions: int,
        every_s: float,
        start: Started,
        stop: Stopped,
    ) -> None:
        self._leases = leases
        self._db = database
        self._partitions = partitions
        self._every_s = every_s
        self._start = start
        self._stop = stop
        self._first = zlib.crc32(me.encode()) % partitions  # replicas start looking apart
        self.owned: dict[int, Claim] = {}
        self._task: asyncio.Task[None] | None = None

    def run(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="dialog partitions")

    async def close(self) -> None:
        """Stop claiming; stop every puller and give the partitions up for others at once."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for claim in list(self.owned.values()):
            await self._give_up(claim)

    async def halt(self) -> None:
        """Stop claiming and renewing, keeping the leases (they expire)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.owned.clear()

    async def lost(self, claim: Claim) -> None:
        """A puller found its claim fenced: stop it (another replica owns the partition)."""
        if self.owned.get(claim.partition) == claim:
            del self.owned[claim.partition]
            await self._stop(claim)

    async def _loop(self) -> None:
        while True:
            try:
                await self.tick()
            except Exception as err:  # NATS or Postgres away: leases expire, others take over
                log.warning("partition ownership not renewed: %s", reason(err))
            await asyncio.sleep(self._every_s)

    async def tick(self) -> None:
        replicas = await self._leases.present()
        for claim in list(self.owned.values()):
            if not await self._leases.renew(claim):
                log.warning("partition %d was taken over", claim.partition)
                await self.lost(claim)
        share = fair_share(self._partitions, replicas)
        for partition in sorted(self.owned, reverse=True)[: max(len(self.owned) - share, 0)]:
            await self._give_up(self.owned[partition])
        for n in range(self._partitions):
            if len(self.owned) >= share:
                break
            partition = (self._first + n) % self._partitions
            if partition not in self.owned:
                await self._claim(partition)

    async def _claim(self, partition: int) -> None:
        claim = await self._leases.claim(partition)
        if claim is None:
            return
        if not await take_over(self._db, claim):
            return
        self.owned[partition] = claim
        try:
            await self._start(claim)
        except Exception as err:  # its consumer not made (a cluster electing): claim it anew
            log.warning("partition %d not started, given up for now: %s", partition, reason(err))
            await self._give_up(claim)
            return
        log.info("took partition %d (generation %d)", partition, claim.generation)

    async def _give_up(self, claim: Claim) -> None:
        self.owned.pop(claim.partition, None)
        await self._stop(claim)  # its batch settled first
        with contextlib.suppress(Exception):
            await self._leases.release(claim)
        log.info("gave partition %d up", claim.partition)


class PartitionedTurns:
    """The dialog's turn path: one TurnLoop per partition this replica owns."""

    def __init__(
        self, app: TurnApp, settings: DialogSettings, database: Database, *, partitions: int
    ) -> None:
        self._app = app
        self._settings = settings
        self._db = database
        self._partitions = partitions
        self._me = uuid4().hex
        self._loops: dict[int, TurnLoop] = {}
        self._pending: set[asyncio.Task[None]] = set()
        self._owners: Owners | None = None
        self._nc: Client | None = None
        self.started: Callable[[Claim], None] = lambda claim: None

    async def start(self, nc: Client, *, replicas: int = 1) -> None:
        """Start claiming partitions (the leases' bucket is made if missing)."""
        self._nc = nc
        config = KeyValueConfig(
            bucket=subjects.dialog_owners_bucket(self._settings.durable),
            history=1,
            replicas=replicas,
        )
        # A cluster still electing (or busy making the other replicas' bucket) times the
        # creation out: try again instead of exiting, as the turns can wait.
        kv = await with_backoff(
            "making the partition leases' bucket",
            lambda: nc.jetstream().create_key_value(config),
        )
        leases = Leases(
            kv, consumer=self._settings.durable, me=self._me, lease_s=self._settings.lease_s
        )
        self._owners = Owners(
            leases,
            self._db,
            me=self._me,
            partitions=self._partitions,
            every_s=self._settings.lease_s / 3,
            start=self._start,
            stop=self._stop,
        )
        self._owners.run()

    async def stop(self) -> None:
        """Give every partition up (each batch being answered settled first)."""
        if self._owners is not None:
            await self._owners.close()

    async def halt(self) -> None:
        """Stop at once as a crashed replica would: nothing is given up, the leases are left to
        expire and another replica takes the partitions over."""
        if self._owners is not None:
            await self._owners.halt()
        for partition in list(self._loops):
            await self._loops.pop(partition).stop()

    @property
    def owned(self) -> list[int]:
        return sorted(self._loops)

    async def _start(self, claim: Claim) -> None:
        assert self._nc is not None
        loop = TurnLoop(self._app, self._settings, claim=claim, fenced=self._fenced)
        await loop.start(self._nc)
        self._loops[claim.partition] = loop
        self.started(claim)

    async def _stop(self, claim: Claim) -> None:
        loop = self._loops.pop(claim.partition, None)
        if loop is not None:
            await loop.stop()

    def _fenced(self, claim: Claim) -> None:
        if self._owners is not None:
            task = asyncio.create_task(self._owners.lost(claim))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)
