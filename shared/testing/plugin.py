"""pytest fixtures: real backends, migrated schema, a running stack, fresh projects."""

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from uuid import UUID, uuid4

import pytest

from shared.db import make_engine, session_factory
from shared.identity import ProjectStore
from shared.migrations import upgrade

from .backends import Backends, test_backends
from .services import Service


@pytest.fixture(scope="session")
def backends(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backends]:
    """A real NATS (JetStream) and a real, migrated Postgres for the whole session."""
    with test_backends(tmp_path_factory.mktemp("backends")) as found:
        upgrade(found.database_url)
        yield found


@dataclass
class Stack:
    """A gateway and some dialog replicas against the test backends."""

    backends: Backends
    log_dir: Path
    gateway: Service | None = None
    dialogs: list[Service] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        return {"NATS_URL": self.backends.nats_url, "DATABASE_URL": self.backends.database_url}

    def start_dialog(self) -> Service:
        service = Service("dialog", self.env, self.log_dir, name=f"dialog-{len(self.dialogs) + 1}")
        self.dialogs.append(service.start())
        return service

    def start(self, dialogs: int) -> "Stack":
        for _ in range(dialogs):
            self.start_dialog()
        self.gateway = Service("gateway", self.env, self.log_dir).start()
        return self

    def ws_url(self, project: "TestProject", *, prefix: str = "", query: str = "") -> str:
        assert self.gateway is not None
        base = f"ws://127.0.0.1:{self.gateway.port}{prefix}/chatbot_api/{project.secret}/{project.key}/"
        return f"{base}?{query}" if query else base

    def stop(self) -> None:
        for service in [self.gateway, *self.dialogs]:
            if service is not None:
                service.stop()


@pytest.fixture(scope="module")
def stack(backends: Backends, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Gateway + two dialog replicas, shared by the tests of one module."""
    running = Stack(backends, tmp_path_factory.mktemp("logs")).start(dialogs=2)
    yield running
    running.stop()


@dataclass(frozen=True)
class TestProject:
    __test__ = False
    """A project created for one test, with its secret in clear."""

    key: UUID
    secret: str


@pytest.fixture
def project(backends: Backends) -> TestProject:
    """A fresh project (so tests never see each other's bots or sessions)."""

    async def create() -> TestProject:
        engine = make_engine(backends.database_url, pool_size=1)
        try:
            made = await ProjectStore(session_factory(engine)).create(f"test-{uuid4().hex}")
        finally:
            await engine.dispose()
        return TestProject(made.project.key, made.secret)

    return asyncio.run(create())
