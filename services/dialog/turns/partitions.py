"""Turn partitions and their owners: each partition is answered by one dialog replica at a time.

A partition's lease lives in a KV bucket (one key per partition): claimed with a
compare-and-set, renewed by its owner every third of its length, taken over by another replica
once it expired (its owner died or hung). Each claim by a new owner raises the partition's
generation, which the claimant first writes into Postgres (`dialog.partition_owners`); every
batch write checks it under a share lock, so a stale owner (one that has not noticed yet) has
its writes refused, and a takeover waits for the batch being written to commit. Replicas count
each other (a presence key each) and hold no more than their fair share of the partitions, so a
second replica gets half of them from the first.
"""

import json
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import asyncpg
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError, NoKeysError
from nats.js.kv import KeyValue

from shared.db import Database

log = logging.getLogger(__name__)
TAKE = """
    INSERT INTO dialog.partition_owners AS o (consumer, partition, generation) VALUES ($1, $2, $3)
    ON CONFLICT (consumer, partition) DO UPDATE SET generation = excluded.generation
    WHERE o.generation < excluded.generation
    RETURNING o.generation"""
CHECK = (
    "SELECT generation FROM dialog.partition_owners WHERE consumer = $1 AND partition = $2"
    " FOR SHARE"
)


class Fenced(Exception):
    """This replica's claim on a partition was superseded: its batch is not written."""

    def __init__(self, claim: "Claim") -> None:
        super().__init__(
            f"partition {claim.partition} is no longer ours (generation {claim.generation})"
        )
        self.claim = claim


@dataclass(frozen=True)
class Claim:
    """This replica owns `partition` of the turns `consumer` (the durable's name) reads, as
    its `generation`-th owner."""

    consumer: str
    partition: int
    generation: int


async def check_claim(conn: asyncpg.Connection, claim: Claim) -> None:
    """Inside a batch's transaction: hold the partition's generation (share lock) or raise
    Fenced when another owner took it over."""
    found = await conn.fetchval(CHECK, claim.consumer, claim.partition)
    if found != claim.generation:
        raise Fenced(claim)


async def take_over(database: Database, claim: Claim) -> bool:
    """Make `claim` the partition's generation in Postgres (waiting for a batch being written
    by the previous owner); False when a newer one is there already."""
    found = await database.pool.fetchval(TAKE, claim.consumer, claim.partition, claim.generation)
    return found is not None


def _lease(owner: str, generation: int, lease_s: float) -> bytes:
    return json.dumps(
        {"owner": owner, "generation": generation, "until": time.time() + lease_s}
    ).encode()


class Leases:
    """Partition leases and replica presence in one KV bucket."""

    def __init__(self, kv: KeyValue, *, consumer: str, me: str, lease_s: float) -> None:
        self._kv = kv
        self._consumer = consumer
        self._me = me
        self._lease_s = lease_s

    async def claim(self, partition: int) -> Claim | None:
        """Take `partition` if nobody holds it (or its lease expired): the next generation."""
        key = f"p{partition}"
        try:
            entry = await self._kv.get(key)
        except KeyNotFoundError:
            entry = None
        if entry is None or entry.value is None:
            generation, last = 1, 0
        else:
            held = json.loads(entry.value)
            if held["owner"] != self._me and held["until"] > time.time():
                return None
            generation, last = int(held["generation"]) + 1, entry.revision or 0
        try:
            await self._kv.update(key, _lease(self._me, generation, self._lease_s), last=last)
        except KeyWrongLastSequenceError:
            return None
        return Claim(self._consumer, partition, generation)

    async def renew(self, claim: Claim) -> bool:
        """Extend our lease; False when it is not ours any more."""
        key = f"p{claim.partition}"
        try:
            entry = await self._kv.get(key)
        except KeyNotFoundError:
            return False
        held = json.loads(entry.value or b"{}")
        if held.get("owner") != self._me or held.get("generation") != claim.generation:
            return False
        try:
            await self._kv.update(
                key, _lease(self._me, claim.generation, self._lease_s), last=entry.revision
            )
        except KeyWrongLastSequenceError:
            return False
        return True

    async def release(self, claim: Claim) -> None:
        """Give a partition up at once (its lease ends now, its generation stays)."""
        key = f"p{claim.partition}"
        entry = await self._kv.get(key)
        held = json.loads(entry.value or b"{}")
        if held.get("owner") == self._me and held.get("generation") == claim.generation:
            ended = json.dumps({"owner": "", "generation": claim.generation, "until": 0}).encode()
            try:
                await self._kv.update(key, ended, last=entry.revision)
            except KeyWrongLastSequenceError:
                return

    async def present(self) -> int:
        """Say this replica is alive; how many replicas are (this one included)."""
        await self._kv.put(
            f"r.{self._me}", json.dumps({"until": time.time() + self._lease_s}).encode()
        )
        try:  # every key: nats-py 2.16's filtered keys() answers none of them
            keys = [key for key in await self._kv.keys() if key.startswith("r.")]
        except NoKeysError:
            return 1
        alive = 0
        for key in keys:
            try:
                entry = await self._kv.get(key)
            except KeyNotFoundError:
                continue
            if entry.value and json.loads(entry.value)["until"] > time.time():
                alive += 1
        return max(alive, 1)


def fair_share(partitions: int, replicas: int) -> int:
    """How many partitions one of `replicas` replicas holds at most."""
    return math.ceil(partitions / max(replicas, 1))


Started = Callable[[Claim], Awaitable[None]]
Stopped = Callable[[Claim], Awaitable[None]]
