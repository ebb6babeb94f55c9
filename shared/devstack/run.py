"""`make run`: embedded NATS and Postgres (unless given), migrations, demo project, services."""

import asyncio
import contextlib
import os
import shutil
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID, uuid4

import nats
from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared import subjects
from shared.contracts import BotContent, GetBotContent, SaveBotContent
from shared.contracts.content import PublishContent, SaveKnowledge
from shared.db import make_engine, session_factory
from shared.identity import ProjectStore, TokenStore
from shared.migrations import upgrade_async

from .demo import (
    DEMO_AIML,
    demo_knowledge,
    demo_machine,
    ensure_demo_admin_token,
    ensure_demo_project,
)
from .embedded import EmbeddedNats, EmbeddedPostgres, StackError, port_free
from .processes import COLORS, ServiceProcess

MIN_FREE_BYTES = 200 * 1024 * 1024


class StackSettings(BaseSettings):
    """Settings of the local stack (environment variables without prefix)."""

    model_config = SettingsConfigDict(extra="ignore")

    data_dir: Path = Field(Path(".data"), alias="SWITCHBOARD_DATA")
    nats_url: str | None = None
    database_url: str | None = None
    nats_port: int = 4222
    gateway_port: int = 8003
    dialog_port: int = 8101
    schedule_port: int = 8102
    telemetry_port: int = 8103
    media_port: int = 8104
    gateway_besser_port: int = 8765


def step(text: str) -> None:
    print(f"==> {text}", flush=True)


class Stack:
    """Everything `make run` starts, stopped in reverse order."""

    def __init__(self, settings: StackSettings) -> None:
        self.s = settings
        self.data = settings.data_dir.resolve()
        self.logs = self.data / "logs"
        self.nats: EmbeddedNats | None = None
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
        ports = {
            "GATEWAY_PORT": self.s.gateway_port,
            "DIALOG_PORT": self.s.dialog_port,
            "SCHEDULE_PORT": self.s.schedule_port,
            "TELEMETRY_PORT": self.s.telemetry_port,
            "MEDIA_PORT": self.s.media_port,
            "GATEWAY_BESSER_PORT": self.s.gateway_besser_port,
        }
        for name, port in ports.items():
            if not port_free("127.0.0.1", port):
                raise StackError(
                    f"port {port} is taken (another `make run`?): stop it or set {name}"
                )

    def start_backends(self) -> tuple[str, str]:
        nats_url = self.s.nats_url
        if nats_url:
            step(f"Using NATS at {nats_url} (NATS_URL)")
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
        plan = [
            ("dialog", self.s.dialog_port),
            ("schedule", self.s.schedule_port),
            ("telemetry", self.s.telemetry_port),
            ("media", self.s.media_port),
            ("gateway", self.s.gateway_port),
        ]
        for i, (name, port) in enumerate(plan):
            proc = ServiceProcess(
                name,
                name,
                port,
                {**env, f"{name.upper()}_PORT": str(port)},
                log_file=self.logs / f"{name}.log",
                color=COLORS[i % len(COLORS)],
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
    nc = await nats.connect(nats_url)

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


@dataclass(frozen=True)
class Demo:
    """What the banner shows about the demo project."""

    key: UUID
    secret: str


def banner(settings: StackSettings, demo: Demo, data: Path, started: float) -> None:
    port = settings.gateway_port
    url = f"ws://127.0.0.1:{port}/chatbot_api/{demo.secret}/{demo.key}/"
    print(
        f"""
Switchboard is ready ({time.monotonic() - started:.1f} s).

  Demo project key     {demo.key}
  Demo project secret  {demo.secret}
  XPARO WebSocket URL  {url}
  XPARO typed API URL  ws://127.0.0.1:{port}/ws/chatbot/{demo.secret}/{demo.key}/?robot_id=robot_1
  AIDA (phoenix.js)    new Socket("ws://127.0.0.1:{port}/socket"), topic bot:{demo.key},
                       access_token = the secret; images at http://127.0.0.1:{port}/content
  RSVP.ai chat API     http://127.0.0.1:{port}/sandbox/chat?botid={demo.key}&token=<secret>&uid=1&q=hi
  BESSER WebSocket     ws://127.0.0.1:{settings.gateway_besser_port}/  (BESSER's own UIs, unchanged)
  Web chat page        http://127.0.0.1:{port}/chat/
  Operator console     http://127.0.0.1:{port}/console/  (sign in with ADMIN_TOKEN, key file)
  Admin API            http://127.0.0.1:{port}/docs  (Bearer token: ADMIN_TOKEN in the key file)
  Key file for scripts {data / "demo-project.env"}
  Logs                 {data / "logs"}/<service>.log (and below, prefixed)

Try it:  python -c "import websocket; ws = websocket.create_connection('{url}'); \\
  ws.send('{{\\"ask_bot\\": \\"hi\\"}}'); print(ws.recv())"
Press Ctrl-C to stop everything.
""",
        flush=True,
    )


async def main() -> int:
    started = time.monotonic()
    stack = Stack(StackSettings())
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
        engine = make_engine(db_url, pool_size=1)
        sessions = session_factory(engine)
        key_file = stack.data / "demo-project.env"
        key, secret, _ = await ensure_demo_project(ProjectStore(sessions), key_file)
        await ensure_demo_admin_token(TokenStore(sessions), key_file)
        await engine.dispose()
        step("Starting services: dialog, schedule, telemetry, media, gateway")
        env = {
            "NATS_URL": nats_url,
            "DATABASE_URL": db_url,
            "LOG_LEVEL": os.environ.get("LOG_LEVEL", "INFO"),
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
            banner(stack.s, Demo(key, secret), stack.data, started)
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
