"""pytest fixtures: real backends, migrated schema, a running stack, fresh projects."""

import asyncio
from collections.abc import AsyncIterator, Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from uuid import UUID, uuid4

import asyncpg
import nats
import pytest
from nats.aio.client import Client as NatsClient

from shared.db import opened
from shared.devstack.embedded import free_port
from shared.identity import ProjectStore, TokenStore
from shared.migrations import upgrade

from .backends import Backends, ClusterBackends, cluster_backends, test_backends
from .services import Service

LOG_TAIL_CHARS = 6000


@pytest.fixture(scope="session")
def backends(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backends]:
    """A real NATS (JetStream) and a real, migrated Postgres for the whole session."""
    with test_backends(tmp_path_factory.mktemp("backends")) as found:
        upgrade(found.database_url)
        yield found


@pytest.fixture(scope="module")
def nats_cluster(
    backends: Backends, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ClusterBackends]:
    """A 3-node NATS JetStream cluster of the module's own (streams with 3 replicas) on the
    session's database: run services on `.backends`, kill and restart `.cluster.nodes`."""
    root = tmp_path_factory.mktemp("nats-cluster")
    with cluster_backends(root, 3, database_url=backends.database_url) as found:
        yield found


@dataclass
class Stack:
    """Gateway and service replicas against the test backends."""

    backends: Backends
    log_dir: Path
    gateway_env: dict[str, str] = field(default_factory=dict)
    service_env: dict[str, str] = field(default_factory=dict)
    gateways: list[Service] = field(default_factory=list)
    dialogs: list[Service] = field(default_factory=list)
    telemetry: list[Service] = field(default_factory=list)
    schedules: list[Service] = field(default_factory=list)
    media: list[Service] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        return self.backends.env()

    @property
    def gateway(self) -> Service:
        """The first gateway replica."""
        return self.gateways[0]

    def start_dialog(self, *, wait: bool = True) -> Service:
        service = Service("dialog", self.env, self.log_dir, name=f"dialog-{len(self.dialogs) + 1}")
        self.dialogs.append(service)  # listed before it is ready: stop() ends a start cut short
        return service.start(wait=wait)

    def start_telemetry(self, *, wait: bool = True) -> Service:
        name = f"telemetry-{len(self.telemetry) + 1}"
        service = Service("telemetry", {**self.env, **self.service_env}, self.log_dir, name=name)
        self.telemetry.append(service)
        return service.start(wait=wait)

    def start_schedule(self, *, wait: bool = True) -> Service:
        name = f"schedule-{len(self.schedules) + 1}"
        service = Service("schedule", {**self.env, **self.service_env}, self.log_dir, name=name)
        self.schedules.append(service)
        return service.start(wait=wait)

    def start_media(self, *, wait: bool = True) -> Service:
        name = f"media-{len(self.media) + 1}"
        service = Service("media", {**self.env, **self.service_env}, self.log_dir, name=name)
        self.media.append(service)
        return service.start(wait=wait)

    def start(
        self,
        dialogs: int,
        *,
        gateways: int = 1,
        telemetry: int = 0,
        schedules: int = 0,
        media: int = 0,
    ) -> "Stack":
        """Start the replicas side by side (as an orchestrator would), then wait until each is
        ready; if one does not come up, stop them all and raise (the fixture that called this
        never gets a stack to stop: its processes would outlive the run, and take CPU from
        every test after it)."""
        try:
            for _ in range(dialogs):
                self.start_dialog(wait=False)
            for _ in range(telemetry):
                self.start_telemetry(wait=False)
            for _ in range(schedules):
                self.start_schedule(wait=False)
            for _ in range(media):
                self.start_media(wait=False)
            for n in range(gateways):
                env = {**self.env, "GATEWAY_BESSER_PORT": str(free_port()), **self.gateway_env}
                name = f"gateway-{n + 1}"
                self.gateways.append(Service("gateway", env, self.log_dir, name=name))
                self.gateways[-1].start(wait=False)
            for service in self.services:
                service.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def http_url(self, replica: int = 0) -> str:
        return f"http://127.0.0.1:{self.gateways[replica].port}"

    def ws_url(
        self, project: "TestProject", *, prefix: str = "", query: str = "", replica: int = 0
    ) -> str:
        """URL of the XPARO command API (`prefix` "/ws" for the robot client's path)."""
        port = self.gateways[replica].port
        base = f"ws://127.0.0.1:{port}{prefix}/chatbot_api/{project.secret}/{project.key}/"
        return f"{base}?{query}" if query else base

    def typed_url(
        self, project: "TestProject", *, robot: str | None = None, replica: int = 0
    ) -> str:
        """URL of the XPARO typed API, optionally naming the robot."""
        port = self.gateways[replica].port
        base = f"ws://127.0.0.1:{port}/ws/chatbot/{project.secret}/{project.key}/"
        return f"{base}?robot_id={robot}" if robot else base

    def besser_url(
        self, project: "TestProject | None" = None, *, query: str = "", replica: int = 0
    ) -> str:
        """URL of the BESSER WebSocket platform (naming `project`, else the port's default)."""
        port = self.gateways[replica].env["GATEWAY_BESSER_PORT"]
        params = [f"project={project.key}&token={project.secret}"] if project else []
        params += [query] if query else []
        return f"ws://127.0.0.1:{port}/" + (f"?{'&'.join(params)}" if params else "")

    def phoenix_url(self, *, vsn: str | None = "2.0.0", replica: int = 0) -> str:
        """URL of AIDA's Phoenix socket (what phoenix.js builds from ws://host/socket)."""
        base = f"ws://127.0.0.1:{self.gateways[replica].port}/socket/websocket"
        return f"{base}?vsn={vsn}" if vsn else base

    @property
    def services(self) -> list[Service]:
        return [*self.gateways, *self.dialogs, *self.telemetry, *self.schedules, *self.media]

    def stop(self) -> None:
        """SIGTERM every replica at once, then wait for each (each drains on its own)."""
        for service in self.services:
            service.signal()
        for service in self.services:
            service.wait_exit()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failed test that ran a stack shows the end of each of its services' logs (in CI, the
    only trace of what a service did)."""
    report = yield
    if report.failed and call.when == "call":
        for value in getattr(item, "funcargs", {}).values():
            if isinstance(value, Stack):
                for service in value.services:
                    report.sections.append(
                        (f"end of {service.name}'s log", service.log_tail(LOG_TAIL_CHARS))
                    )
    return report


@pytest.fixture(scope="module")
def stack(backends: Backends, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Gateway + two dialog replicas, shared by the tests of one module."""
    running = Stack(backends, tmp_path_factory.mktemp("logs")).start(dialogs=2)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def robot_stack(backends: Backends, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Two gateways (fast heartbeats), a dialog, a telemetry (3 s online window) and a schedule
    replica, for one module."""
    fast = {
        "GATEWAY_PING_INTERVAL_S": "0.3",
        "GATEWAY_WS_PING_INTERVAL_S": "1",
        "GATEWAY_WS_PING_TIMEOUT_S": "1",
        "GATEWAY_COMMAND_FETCH_WAIT_S": "1",
    }
    services = {"TELEMETRY_ONLINE_WINDOW_S": "3", "SCHEDULE_TICK_S": "0.2"}
    running = Stack(
        backends, tmp_path_factory.mktemp("logs"), gateway_env=fast, service_env=services
    )
    yield running.start(dialogs=1, gateways=2, telemetry=1, schedules=1)
    running.stop()


@pytest.fixture(scope="module")
def aida_stack(backends: Backends, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Two gateways (2 s Phoenix idle timeout, 1 MiB uploads), a dialog and a media replica."""
    gateway = {
        "GATEWAY_PHOENIX_IDLE_S": "2",
        "GATEWAY_MEDIA_MAX_BYTES": str(1024 * 1024),
        "GATEWAY_AIDA_FETCH_WAIT_S": "0.5",
    }
    running = Stack(backends, tmp_path_factory.mktemp("logs"), gateway_env=gateway)
    yield running.start(dialogs=1, gateways=2, media=1)
    running.stop()


@pytest.fixture(scope="session")
def admin_token(backends: Backends) -> str:
    """An admin token for every project."""

    async def create() -> str:
        async with opened(backends.database_url) as database:
            store = TokenStore(database)
            return (await store.create_admin(f"test-{uuid4().hex}", projects=None)).secret

    return asyncio.run(create())


@pytest.fixture
async def nc(backends: Backends) -> AsyncIterator[NatsClient]:
    """A plain nats-py client on the test NATS (to publish and request as services do)."""
    client = await nats.connect(backends.nats_url)
    yield client
    await client.close()


@pytest.fixture
async def pg(backends: Backends) -> AsyncIterator[asyncpg.Connection]:
    """A plain asyncpg connection to the test database (to check what services stored)."""
    conn = await asyncpg.connect(backends.database_url)
    yield conn
    await conn.close()


@dataclass(frozen=True)
class TestProject:
    __test__ = False
    """A project created for one test, with its secret in clear."""

    key: UUID
    secret: str


def new_project(backends: Backends) -> TestProject:
    """Create a project with a random name."""

    async def create() -> TestProject:
        async with opened(backends.database_url) as database:
            made = await ProjectStore(database).create(f"test-{uuid4().hex}")
        return TestProject(made.project.key, made.secret)

    return asyncio.run(create())


@pytest.fixture
def project(backends: Backends) -> TestProject:
    """A fresh project (so tests never see each other's bots or sessions)."""
    return new_project(backends)


@pytest.fixture
def other_project(backends: Backends) -> TestProject:
    """A second fresh project, for isolation tests."""
    return new_project(backends)
