"""A replica's share of the turn partitions (services/dialog/turns/owners.py) on fake leases."""

from typing import Any

from services.dialog.turns.owners import Owners
from services.dialog.turns.partitions import Claim


class FakeLeases:
    """Leases nobody else holds: every claim succeeds with the next generation."""

    def __init__(self) -> None:
        self.generations: dict[int, int] = {}
        self.released: list[int] = []

    async def present(self) -> int:
        return 1

    async def claim(self, partition: int) -> Claim:
        self.generations[partition] = self.generations.get(partition, 0) + 1
        return Claim("turns", partition, self.generations[partition])

    async def renew(self, claim: Claim) -> bool:
        return self.generations.get(claim.partition) == claim.generation

    async def release(self, claim: Claim) -> None:
        self.released.append(claim.partition)


class FakePool:
    async def fetchval(self, _sql: str, _consumer: str, _partition: int, generation: int) -> int:
        return generation


class FakeDatabase:
    pool = FakePool()


async def test_a_partition_whose_puller_did_not_start_is_claimed_and_started_again() -> None:
    """Making a partition's consumer fails once (a NATS cluster electing its leaders): the
    partition is not left owned without a puller, which would renew its lease forever while
    its turns wait; the next round claims it again and its puller runs."""
    running: list[Claim] = []
    failures = {3: 1}

    async def start(claim: Claim) -> None:
        if failures.get(claim.partition):
            failures[claim.partition] -= 1
            raise TimeoutError("nats: timeout")
        running.append(claim)

    async def stop(claim: Claim) -> None:  # as PartitionedTurns: a puller not started is none
        if claim in running:
            running.remove(claim)

    leases = FakeLeases()
    owners = Owners(
        leases,  # type: ignore[arg-type]
        FakeDatabase(),  # type: ignore[arg-type]
        me="a",
        partitions=4,
        every_s=1.0,
        start=start,
        stop=stop,
    )
    await owners.tick()
    assert sorted(c.partition for c in running) == [0, 1, 2]
    assert 3 not in owners.owned and leases.released == [3]

    await owners.tick()
    assert sorted(c.partition for c in running) == [0, 1, 2, 3]
    assert owners.owned[3].generation == 2


async def test_every_partition_is_renewed_not_claimed_again_while_its_puller_runs() -> None:
    started: list[Any] = []

    async def start(claim: Claim) -> None:
        started.append(claim)

    async def stop(claim: Claim) -> None:
        raise AssertionError(f"{claim} stopped")

    owners = Owners(
        FakeLeases(),  # type: ignore[arg-type]
        FakeDatabase(),  # type: ignore[arg-type]
        me="a",
        partitions=4,
        every_s=1.0,
        start=start,
        stop=stop,
    )
    await owners.tick()
    await owners.tick()
    assert len(started) == 4
