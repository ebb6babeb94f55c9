"""Real NATS and Postgres for integration tests: testcontainers when Docker answers, else embedded.

`SWITCHBOARD_TEST_BACKEND=embedded|docker|auto` (default auto) forces one or the other; `docker`
without an engine that answers fails at once, saying so.
"""

import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from shared.devstack.embedded import EmbeddedNats, EmbeddedNatsCluster, free_port
from shared.devstack.postgres import EmbeddedPostgres

# The images docker-compose.yml runs (tests/unit/test_compose.py keeps them equal).
NATS_IMAGE = "nats:2.15.1-alpine"
POSTGRES_IMAGE = "postgres:18.6-alpine"


@dataclass(frozen=True)
class Backends:
    """Where the test NATS and Postgres are."""

    nats_url: str
    database_url: str
    kind: str

    stream_replicas: int = 1

    def env(self, **settings: str) -> dict[str, str]:
        """The environment of a service process on these backends, plus its own `settings`."""
        return {
            "NATS_URL": self.nats_url,
            "NATS_STREAM_REPLICAS": str(self.stream_replicas),
            "DATABASE_URL": self.database_url,
            **settings,
        }


@dataclass(frozen=True)
class ClusterBackends:
    """A NATS JetStream cluster of its own (`cluster`, to kill and restart nodes) and a
    database; `backends` is what services run against (NATS_URL lists every node, streams
    keep one replica per node, at most 3)."""

    cluster: EmbeddedNatsCluster
    backends: Backends


def docker_answers() -> bool:
    """True when a Docker engine answers a ping."""
    try:
        import docker

        docker.from_env(timeout=3).ping()
    except Exception:
        return False
    return True


class BackendUnavailable(RuntimeError):
    """The backend SWITCHBOARD_TEST_BACKEND asks for cannot run here."""


def chosen_backend(
    environ: Mapping[str, str] = os.environ, ping: Callable[[], bool] = docker_answers
) -> str:
    """`docker` or `embedded`, from SWITCHBOARD_TEST_BACKEND (auto: docker when `ping` says a
    Docker engine answers)."""
    wanted = environ.get("SWITCHBOARD_TEST_BACKEND", "").strip().lower() or "auto"
    if wanted not in {"auto", "embedded", "docker"}:
        raise ValueError(
            f"SWITCHBOARD_TEST_BACKEND={wanted!r}: use auto (the default), embedded or docker"
        )
    if wanted == "embedded":
        return "embedded"
    if ping():
        return "docker"
    if wanted == "docker":
        raise BackendUnavailable(
            "SWITCHBOARD_TEST_BACKEND=docker, but no Docker engine answers (DOCKER_HOST or "
            "/var/run/docker.sock): start one, or run with SWITCHBOARD_TEST_BACKEND=embedded"
        )
    return "embedded"


@contextmanager
def embedded_backends(root: Path) -> Iterator[Backends]:
    """Embedded nats-server and Postgres under `root`, stopped afterwards."""
    nats = EmbeddedNats(root / "nats" / "jetstream", port=free_port())
    pg = EmbeddedPostgres(root / "postgres")
    try:
        nats_url = nats.start(root / "nats.log")
        yield Backends(nats_url, pg.start(), "embedded")
    finally:
        nats.stop()
        pg.stop()


@contextmanager
def docker_backends() -> Iterator[Backends]:
    """NATS (JetStream on) and Postgres in containers, removed afterwards."""
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.waiting_utils import wait_for_logs
    from testcontainers.postgres import PostgresContainer

    with DockerContainer(NATS_IMAGE).with_command("-js").with_exposed_ports(4222) as nats:
        wait_for_logs(nats, "Server is ready")
        nats_url = f"nats://{nats.get_container_host_ip()}:{nats.get_exposed_port(4222)}"
        with PostgresContainer(POSTGRES_IMAGE, driver=None) as pg:
            yield Backends(nats_url, pg.get_connection_url(), "docker")


@contextmanager
def test_backends(root: Path) -> Iterator[Backends]:
    """The backends the suite runs against (see module docstring)."""
    if chosen_backend() == "docker":
        with docker_backends() as found:
            yield found
    else:
        with embedded_backends(root) as found:
            yield found


@contextmanager
def cluster_backends(
    root: Path, nodes: int = 3, *, database_url: str | None = None
) -> Iterator[ClusterBackends]:
    """A `nodes`-node embedded NATS cluster under `root` (logs in root/logs), and Postgres:
    `database_url` when given (e.g. the session's, already migrated), else an embedded one
    under `root` (not migrated). Everything started here is stopped afterwards."""
    cluster = EmbeddedNatsCluster(root / "nats", nodes)
    pg = None if database_url else EmbeddedPostgres(root / "postgres")
    try:
        url = cluster.start(root / "logs")
        database = database_url or (pg.start() if pg else "")
        backends = Backends(url, database, "embedded-cluster", stream_replicas=min(nodes, 3))
        yield ClusterBackends(cluster, backends)
    finally:
        cluster.stop()
        if pg:
            pg.stop()
