"""free_port, which every test server and extra replica listens on: no client connection can
take its ports, so a server restarted on the port it had finds it free."""

import pytest

from shared.devstack.embedded import ephemeral_ports_start, free_port, port_free

pytestmark = pytest.mark.unit


def test_free_ports_are_below_the_ephemeral_range() -> None:
    """The ports handed out are free and none is one that the kernel gives an outgoing
    connection (binding port 0 gave exactly those)."""
    start = ephemeral_ports_start()
    ports = [free_port() for _ in range(50)]
    assert all(port < start for port in ports), sorted(ports)
    assert all(port_free("127.0.0.1", port) for port in ports)
