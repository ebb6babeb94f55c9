"""The test helper that runs service processes: a restart never depends on a port being free.

A port a process listened on can be someone else's a moment after it exits (a client's
ephemeral port, another test's server), and free_port's answer is only true until someone
binds it. Each test here takes a service's port away, the way that happens on a busy machine.
"""

import signal
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from shared.devstack.embedded import free_port
from tests.support.backends import Backends
from tests.support.services import Service

pytestmark = pytest.mark.integration


@contextmanager
def taken(port: int) -> Iterator[socket.socket]:
    """Something else listening on `port` (on the address services bind)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", port))
        holder.listen()
        yield holder


def ready(service: Service) -> int:
    return httpx.get(f"http://127.0.0.1:{service.port}/ready", timeout=5).status_code


def test_a_restart_whose_port_was_taken_comes_up_elsewhere(
    backends: Backends, tmp_path: Path
) -> None:
    """A schedule replica killed and started again while another socket holds its old port
    comes up, ready, on a new port (it used to exit with "address already in use")."""
    service = Service("schedule", backends.env(), tmp_path).start()
    try:
        service.stop(signal.SIGKILL)
        old = service.port
        with taken(old):
            service.start()
            assert service.port != old
            assert ready(service) == 200
    finally:
        service.stop()


def test_a_first_start_that_loses_the_race_for_its_port_comes_up_elsewhere(
    backends: Backends, tmp_path: Path
) -> None:
    """A service whose free port was bound by someone else before it started comes up on
    another one."""
    port = free_port()
    with taken(port):
        service = Service("schedule", backends.env(), tmp_path, port=port)
        try:
            service.start()
            assert service.port != port
            assert ready(service) == 200
        finally:
            service.stop()


def test_a_gateway_restart_moves_a_taken_besser_port(backends: Backends, tmp_path: Path) -> None:
    """A gateway started again while its old BESSER port is held elsewhere listens for BESSER
    clients on a new port, and keeps its HTTP port when that one is free."""
    env = backends.env(GATEWAY_BESSER_PORT=str(free_port()))
    gateway = Service("gateway", env, tmp_path).start()
    try:
        gateway.stop()
        http, besser = gateway.port, gateway.env["GATEWAY_BESSER_PORT"]
        with taken(int(besser)):
            gateway.start()
            assert gateway.port == http
            assert gateway.env["GATEWAY_BESSER_PORT"] != besser
            besser_url = f"ws://127.0.0.1:{gateway.env['GATEWAY_BESSER_PORT']}/"
            with pytest.raises(InvalidStatus) as refused:  # no project named: BESSER's refusal
                connect(besser_url, open_timeout=10)
            assert refused.value.response.status_code == 403
    finally:
        gateway.stop()
