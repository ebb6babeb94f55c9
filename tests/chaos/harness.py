"""A whole Switchboard of its own for the chaos suite, and the faults it suffers.

The chaos suite owns its NATS and Postgres (embedded servers in a temporary folder) so it can
restart them without disturbing the rest of the test session. Every fault restores what it broke
before it returns, as a supervisor (compose's restart policy, `make run`'s watcher) would.
"""

import asyncio
import json
import random
import signal
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import uuid4

from websockets.asyncio.client import connect

from shared.db import opened
from shared.devstack.embedded import EmbeddedNats, EmbeddedNatsCluster, free_port
from shared.devstack.postgres import EmbeddedPostgres
from shared.identity import ProjectStore
from shared.migrations import upgrade_async
from tests.support.services import Service

from .load import ECHO_AIML, Bot, Gateway

SERVICE_ENV = {
    "TELEMETRY_ONLINE_WINDOW_S": "3",
    "SCHEDULE_TICK_S": "0.5",
}


@dataclass
class Chaos:
    """NATS (one node or a cluster), Postgres and every service, with replicas."""

    root: Path
    nats: EmbeddedNats | None = None
    cluster: EmbeddedNatsCluster | None = None
    pg: EmbeddedPostgres | None = None
    nats_url: str = ""
    database_url: str = ""
    services: dict[str, list[Service]] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    async def start(self, *, nodes: int = 1, replicas: dict[str, int]) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        if nodes == 1:
            self.nats = EmbeddedNats(self.root / "nats" / "jetstream", port=free_port())
            self.nats_url = await asyncio.to_thread(self.nats.start, self.logs / "nats.log")
        else:
            self.cluster = EmbeddedNatsCluster(self.root / "cluster", nodes=nodes)
            self.nats_url = await asyncio.to_thread(self.cluster.start, self.logs)
        self.pg = EmbeddedPostgres(self.root / "postgres")
        self.database_url = await asyncio.to_thread(self.pg.start)
        await upgrade_async(self.database_url)
        self.env = {
            "NATS_URL": self.nats_url,
            "DATABASE_URL": self.database_url,
            "NATS_STREAM_REPLICAS": str(nodes),
            **SERVICE_ENV,
        }
        for module, count in replicas.items():
            for n in range(count):
                await self._add(module, n + 1)

    async def _add(self, module: str, n: int) -> None:
        env = dict(self.env)
        if module == "gateway":
            env["GATEWAY_BESSER_PORT"] = str(free_port())
        service = Service(module, env, self.logs, name=f"{module}-{n}")
        self.services.setdefault(module, []).append(service)
        await asyncio.to_thread(service.start)

    def gateways(self) -> list[Gateway]:
        return [
            Gateway(f"http://127.0.0.1:{g.port}", f"ws://127.0.0.1:{g.env['GATEWAY_BESSER_PORT']}")
            for g in self.services["gateway"]
        ]

    async def bots(self, count: int) -> list[Bot]:
        """`count` new projects, each with the echo bot."""
        async with opened(self.database_url) as database:
            store = ProjectStore(database)
            made = [await store.create(f"chaos-{uuid4().hex[:12]}") for _ in range(count)]
        bots = [Bot(m.project.key, m.secret) for m in made]
        gateway = self.gateways()[0]
        for bot in bots:
            async with connect(f"{gateway.ws}/chatbot_api/{bot.secret}/{bot.key}/") as ws:
                await ws.send(json.dumps({"save_aiml": ECHO_AIML}))
                saved = json.loads(await ws.recv())
                assert saved["save_aiml"]["status"] is True, saved
        return bots

    def stop(self) -> None:
        for replicas in self.services.values():
            for service in replicas:
                service.stop()
        if self.nats:
            self.nats.stop()
        if self.cluster:
            self.cluster.stop()
        if self.pg:
            self.pg.stop()


@contextmanager
def chaos(root: Path, *, nodes: int = 1, replicas: dict[str, int]) -> Iterator[Chaos]:
    env = Chaos(root)
    try:
        asyncio.run(env.start(nodes=nodes, replicas=replicas))
        yield env
    finally:
        env.stop()


Fault = Callable[[Chaos, asyncio.Event], Coroutine[Any, Any, None]]


async def _restart(service: Service) -> None:
    await asyncio.to_thread(service.start)


def kill_every(module: str, period_s: float) -> Fault:
    """SIGKILL one replica of `module` every `period_s` (another may still be coming up), and
    start it again a second later, as a supervisor would."""

    async def fault(env: Chaos, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await asyncio.sleep(period_s)
            victim = random.choice(env.services[module])
            await asyncio.to_thread(victim.stop, signal.SIGKILL)
            await asyncio.sleep(1.0)
            await _restart(victim)

    return fault


def restart_nats(after_s: float, down_s: float = 2.0) -> Fault:
    """Stop the (single) NATS server, leave it down `down_s`, start it on the same store."""

    async def fault(env: Chaos, stop: asyncio.Event) -> None:
        assert env.nats is not None
        await asyncio.sleep(after_s)
        await asyncio.to_thread(env.nats.stop)
        await asyncio.sleep(down_s)
        await asyncio.to_thread(env.nats.restart)

    return fault


def kill_cluster_node(after_s: float, down_s: float = 5.0) -> Fault:
    """SIGKILL one node of the cluster (the first), start it again after `down_s`."""

    async def fault(env: Chaos, stop: asyncio.Event) -> None:
        assert env.cluster is not None
        node = env.cluster.nodes[0]
        await asyncio.sleep(after_s)
        await asyncio.to_thread(node.kill)
        await asyncio.sleep(down_s)
        await asyncio.to_thread(node.restart)

    return fault


def restart_postgres(after_s: float) -> Fault:
    """Restart Postgres (fast shutdown ends every session; the data stays)."""

    async def fault(env: Chaos, stop: asyncio.Event) -> None:
        assert env.pg is not None
        await asyncio.sleep(after_s)
        await asyncio.to_thread(env.pg.restart)

    return fault


def sigterm_gateway(after_s: float) -> Fault:
    """SIGTERM the first gateway (its clients move to the other), then start it again."""

    async def fault(env: Chaos, stop: asyncio.Event) -> None:
        gateway = env.services["gateway"][0]
        await asyncio.sleep(after_s)
        await asyncio.to_thread(gateway.stop, signal.SIGTERM)
        await asyncio.sleep(1.0)
        await _restart(gateway)

    return fault


async def no_fault(env: Chaos, stop: asyncio.Event) -> None:
    return None
