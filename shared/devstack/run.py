"""`make run`: embedded NATS and Postgres (unless given), migrations, demo project, services."""

import asyncio
import contextlib
import os
import shutil
import signal
import time
from uuid import UUID, uuid4

import nats
from pydantic import BaseModel, ValidationError

from shared import subjects
from shared.broker import servers_of
from shared.contracts import BotContent, GetBotContent, SaveBotContent
from shared.contracts.content import PublishContent, SaveKnowledge
from shared.db import opened
from shared.identity import ProjectStore, TokenStore
from shared.migrations import upgrade_async

from .banner import Demo, banner
from .demo import (
    DEMO_AIML,
    demo_knowledge,
    demo_machine,
    ensure_demo_admin_token,
    ensure_demo_project,
)
from .embedded import EmbeddedNats, EmbeddedNatsCluster, StackError, port_free
from .postgres import EmbeddedPostgres
from .processes import COLORS, ServiceProcess
from .settings import Replica, StackSettings, replica_plan

MIN_FREE_BYTES = 200 * 1024 * 1024


def step(text: str) -> None:
    print(f"==> {text}", flush=True)


class Stack:
    """Everything `make run` starts, stopped in reverse order."""

    def __init__(self, settings: StackSettings) -> None:
        self.s = settings
        self.data = settings.data_dir.resolve()
        self.logs = self.data / "logs"
        self.nats: EmbeddedNats | EmbeddedNatsCluster | None = None
        self.plan: list[Replica] = replica_plan(settings)
        self.pg: EmbeddedPostgres | None = None
        self.services: list[ServiceProcess] = []
        self.stopping = asyncio.Event()

    def prepare(self) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        free = shutil.disk_usage(self.data).free
        if free < MIN_FREE_BYTES:
            raise StackError(
                f"only {free // 2**20} MiB free under {self.data}: free some disk space"
            )
        for replica in self.plan:
            for name, port in replica.ports.items():
                if not port_free("127.0.0.1", port):
                    raise StackError(
                        f"port {port} is taken (wanted by {replica.name}; another `make run`?): "
                        f"stop it or set {name}"
                    )

    @property
    def gateways(self) -> list[Replica]:
        return [r for r in self.plan if r.module == "gateway"]

    def start_backends(self) -> tuple[str, str]:
        nats_url = self.s.nats_url
        if nats_url:
            step(f"Using NATS at {nats_url} (NATS_URL)")
        elif self.s.nats_nodes > 1:
            nodes = self.s.nats_nodes
            ports = [self.s.nats_port + n for n in range(nodes)]
            step(f"Starting a {nodes}-node NATS JetStream cluster on 127.0.0.1:{ports}")
            self.nats = EmbeddedNatsCluster(self.data / "nats-cluster", nodes, ports=ports)
            nats_url = self.nats.start(self.logs)
        else:
            step(f"Starting embedded NATS with JetStream on 127.0.0.1:{self.s.nats_port}")
            self.nats = EmbeddedNats(self.data / "nats" / "jetstream", port=self.s.nats_port)
            nats_url = self.nats.start(self.logs / "nats.log")
        db_url = self.s.database_url
        if db_url:
            step("Using Postgres at DATABASE_URL")
        else:
            step(f"Starting embedded Postgres (data in {self.data / 'postgres'})")
            self.pg = EmbeddedPostgres(self.data / "postgres")
            db_url = self.pg.start()
        return nats_url, db_url

    async def start_services(self, env: dict[str, str]) -> None:
        """Start every replica of the plan (gateways last) and wait until all are ready."""
        for replica in self.plan:
            proc = ServiceProcess(
                replica.name,
                replica.module,
                replica.port,
                {**env, **replica.env},
                log_file=self.logs / f"{replica.name}.log",
                color=COLORS[len(self.services) % len(COLORS)],
            )
            self.services.append(proc)
            await proc.start()
        await asyncio.gather(*(p.wait_ready() for p in self.services))

    async def watch(self) -> None:
        """Restart a service that exits while the stack runs."""

        async def guard(proc: ServiceProcess) -> None:
            while not self.stopping.is_set():
                assert proc.process is not None
                code = await proc.process.wait()
                if self.stopping.is_set():
                    return
                step(
                    f"{proc.name} exited with code {code}; restarting it in 1 s "
                    f"(log: {proc.log_file})"
                )
                await asyncio.sleep(1)
                await proc.start()

        await asyncio.gather(*(guard(p) for p in self.services))

    async def stop(self) -> None:
        self.stopping.set()
        step("Stopping services")
        await asyncio.gather(*(p.stop() for p in reversed(self.services)))
        if self.nats:
            step("Stopping NATS")
            self.nats.stop()
        if self.pg:
            step("Stopping Postgres")
            self.pg.stop()
        step("Stopped; nothing left running")


async def seed_demo_content(nats_url: str, project: UUID) -> None:
    """Give the demo bot content the first time (never overwrite saved content): a few AIML
    categories, the evaluation set's FAQ and intents, the demo state machine, published to
    release."""
    nc = await nats.connect(servers_of(nats_url))

    async def ask(kind: str, message: BaseModel) -> None:
        body = message.model_dump_json().encode()
        await nc.request(subjects.dialog_content(kind, project), body, timeout=30)

    try:
        msg = await nc.request(
            subjects.dialog_content_get(project),
            GetBotContent(project_key=project).model_dump_json().encode(),
            timeout=10,
        )
        if BotContent.model_validate_json(msg.data).version == 0:
            await ask(
                "save", SaveBotContent(project_key=project, aiml=DEMO_AIML, correlation_id=uuid4())
            )
            faq, intents = demo_knowledge()
            await ask(
                "knowledge",
                SaveKnowledge(
                    project_key=project,
                    faq=faq,
                    intents=intents,
                    machine=demo_machine(),
                    correlation_id=uuid4(),
                ),
            )
            await ask("publish", PublishContent(project_key=project, correlation_id=uuid4()))
    finally:
        await nc.close()


def stream_replicas(settings: StackSettings) -> str:
    """NATS_STREAM_REPLICAS for the services: as set, else 3 on an embedded cluster (at most
    its node count), else 1."""
    if "NATS_STREAM_REPLICAS" in os.environ:
        return os.environ["NATS_STREAM_REPLICAS"]
    clustered = settings.nats_url is None and settings.nats_nodes > 1
    return str(min(settings.nats_nodes, 3)) if clustered else "1"


async def main() -> int:
    started = time.monotonic()
    try:
        stack = Stack(StackSettings())
    except ValidationError as err:
        print(f"\nmake run failed: {err}", flush=True)
        return 1
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stack.stopping.set)
    try:
        step(f"Preparing {stack.data}")
        stack.prepare()
        nats_url, db_url = await asyncio.to_thread(stack.start_backends)
        step("Applying database migrations")
        await upgrade_async(db_url)
        step("Checking the demo project")
        key_file = stack.data / "demo-project.env"
        async with opened(db_url) as database:
            key, secret, _ = await ensure_demo_project(ProjectStore(database), key_file)
            await ensure_demo_admin_token(TokenStore(database), key_file)
        step("Starting services: " + ", ".join(r.name for r in stack.plan))
        env = {
            "NATS_URL": nats_url,
            "NATS_STREAM_REPLICAS": stream_replicas(stack.s),
            "DATABASE_URL": db_url,
            "LOG_LEVEL": os.environ.get("LOG_LEVEL", "INFO"),
            "LOG_FORMAT": os.environ.get("LOG_FORMAT", "console"),  # readable; compose: json
            # BESSER's own UIs name no project: the demo answers them unless told otherwise.
            "GATEWAY_BESSER_PROJECT": os.environ.get("GATEWAY_BESSER_PROJECT", str(key)),
        }
        starting = asyncio.create_task(stack.start_services(env))
        await asyncio.wait(
            [starting, asyncio.create_task(stack.stopping.wait())],
            return_when=asyncio.FIRST_COMPLETED,
        )
        if not stack.stopping.is_set():
            await starting
            await seed_demo_content(nats_url, key)
            banner(stack.gateways, Demo(key, secret), stack.data, started, nats=nats_url)
            watcher = asyncio.create_task(stack.watch())
            await stack.stopping.wait()
            watcher.cancel()
        else:
            starting.cancel()
        return 0
    except (StackError, RuntimeError) as err:
        print(f"\nmake run failed: {err}", flush=True)
        return 1
    finally:
        with contextlib.suppress(Exception):
            await stack.stop()
