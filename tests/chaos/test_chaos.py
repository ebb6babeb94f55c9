"""Faults under load: no accepted turn is lost or answered twice, no sample lost or stored twice.

`make test` runs the short form (a few dozen users for a few seconds per scenario); `make chaos`
sets CHAOS_USERS and CHAOS_SECONDS for the full one, prints the table and keeps it in
bench/results/chaos.json (CHAOS_RESULTS).
"""

import asyncio
import json
import math
import os
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import nats.errors
import pytest

from .harness import (
    Chaos,
    Fault,
    chaos,
    kill_cluster_node,
    kill_every,
    no_fault,
    restart_nats,
    restart_postgres,
    sigterm_gateway,
)
from .ledger import Books, books
from .load import Load

USERS = int(os.environ.get("CHAOS_USERS", "15"))
SECONDS = float(os.environ.get("CHAOS_SECONDS", "4"))
PACE_S = float(os.environ.get("CHAOS_PACE_S", "0.5"))
RESULTS = os.environ.get("CHAOS_RESULTS")  # make chaos keeps the table here
REPLICAS = {"dialog": 2, "telemetry": 2, "schedule": 2, "media": 0, "gateway": 2}
TABLE: list[Books] = []

SCENARIOS: dict[str, Fault] = {
    "no fault": no_fault,
    "kill -9 a dialog replica every 3 s": kill_every("dialog", 3.0),
    "kill -9 a telemetry replica every 3 s": kill_every("telemetry", 3.0),
    "kill -9 a schedule replica every 3 s": kill_every("schedule", 3.0),
    "restart NATS (single node)": restart_nats(SECONDS / 3),
    "restart Postgres": restart_postgres(SECONDS / 3),
    "SIGTERM a gateway": sigterm_gateway(SECONDS / 3),
}
CLUSTER_SCENARIOS: dict[str, Fault] = {
    "kill -9 one node of the 3-node NATS cluster": kill_cluster_node(SECONDS / 3),
}


@pytest.fixture(scope="module")
def single(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chaos]:
    with chaos(tmp_path_factory.mktemp("chaos"), replicas=REPLICAS) as env:
        yield env


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chaos]:
    replicas = {"dialog": 2, "telemetry": 1, "gateway": 2}
    with chaos(tmp_path_factory.mktemp("chaos-cluster"), nodes=3, replicas=replicas) as env:
        yield env


@pytest.fixture(scope="module", autouse=True)
def table() -> Iterator[None]:
    """Print the table (and keep it) once the module's scenarios ran."""
    yield
    if not TABLE:
        return
    print(f"\nChaos: {USERS} users over 5 protocols, {SECONDS:.0f} s per scenario")
    print(format_table(TABLE))
    if RESULTS:  # bench/results/ is not in a fresh clone (git ignores it)
        figures = {"users": USERS, "seconds": SECONDS, "pace_s": PACE_S}
        rows = [b.row() for b in TABLE]
        Path(RESULTS).parent.mkdir(parents=True, exist_ok=True)
        Path(RESULTS).write_text(json.dumps({**figures, "rows": rows}, indent=2) + "\n")


def format_table(rows: list[Books]) -> str:
    columns = list(rows[0].row())
    width = {c: max(len(c), *(len(str(r.row()[c])) for r in rows)) for c in columns}
    lines = [" | ".join(c.ljust(width[c]) for c in columns)]
    lines.append("-+-".join("-" * width[c] for c in columns))
    lines += [" | ".join(str(r.row()[c]).ljust(width[c]) for c in columns) for r in rows]
    return "\n".join(lines)


async def _run(env: Chaos, scenario: str, fault: Fault, *, aida_per_bot: int = 1) -> Books:
    aida_bots = math.ceil(math.ceil(USERS / 5) / aida_per_bot)
    bots = await env.bots(1 + aida_bots)  # the first for most users, the rest for AIDA users
    load = Load(env.gateways(), bots, USERS, pace_s=PACE_S, aida_per_bot=aida_per_bot)
    stop = asyncio.Event()

    async def count() -> Books:
        keys = [b.key for b in bots]
        tally = load.tally
        return await books(
            scenario, tally, nats_url=env.nats_url, database_url=env.database_url, bots=keys
        )

    async def settled() -> bool:
        try:
            now = await count()
        except Exception:  # JetStream electing a leader, Postgres restarting: ask again
            return False
        return now.lost == now.samples_lost == 0

    async with load.running(settled):
        faults = asyncio.create_task(fault(env, stop))
        await asyncio.sleep(SECONDS)
        stop.set()
        await faults  # every fault leaves the system whole again
    result = await _when_readable(count)
    TABLE.append(result)
    return result


async def _when_readable(count: Callable[[], Awaitable[Books]], within_s: float = 30) -> Books:
    """The final books, asked again while JetStream cannot answer yet (a restarted cluster node
    rejoining may leave a stream without a leader for a moment: that is no loss)."""
    deadline = time.monotonic() + within_s
    while True:
        try:
            return await count()
        except nats.errors.Error:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)


def _holds(result: Books) -> None:
    assert result.accepted > 0 and result.answered > 0, result
    assert result.lost == 0, result
    assert result.duplicated == 0, result
    assert result.samples_lost == 0 and result.samples_duplicated == 0, result


@pytest.mark.timeout(300)
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_no_accepted_turn_is_lost_or_doubled(single: Chaos, scenario: str) -> None:
    """Under steady load on every protocol, with this fault, every turn JetStream accepted is
    answered to its user exactly once, and every accepted telemetry sample is stored once."""
    _holds(asyncio.run(_run(single, scenario, SCENARIOS[scenario])))


@pytest.mark.timeout(300)
def test_aida_users_sharing_a_bot_lose_nothing_when_a_gateway_stops(single: Chaos) -> None:
    """AIDA users three to a bot (AIDA sends a bot's messages to all its sockets): a gateway
    SIGTERMed under load, each user, reconnecting, still gets every answer to its own session
    exactly once, though the others' sockets took those answers while it was away."""
    scenario = "SIGTERM a gateway, AIDA users 3 per bot"
    fault = sigterm_gateway(SECONDS / 3)
    _holds(asyncio.run(_run(single, scenario, fault, aida_per_bot=3)))


@pytest.mark.timeout(300)
@pytest.mark.parametrize("scenario", CLUSTER_SCENARIOS)
def test_no_accepted_turn_is_lost_or_doubled_in_a_cluster(cluster: Chaos, scenario: str) -> None:
    """The same on a 3-node NATS cluster whose streams keep 3 replicas, losing one node."""
    _holds(asyncio.run(_run(cluster, scenario, CLUSTER_SCENARIOS[scenario])))
