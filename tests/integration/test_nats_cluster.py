"""A 3-node NATS JetStream cluster: streams keep 3 replicas, and turns are still answered when
the node leading the CHAT stream is killed."""

import asyncio
import time
from collections.abc import Iterator

import nats
import pytest
import websocket

from shared import subjects
from shared.broker import servers_of
from shared.testing.backends import ClusterBackends
from shared.testing.plugin import Stack, TestProject
from shared.testing.telemetry import wait_until

from .xparo import ask, connect, save

ECHO_AIML = "<category><pattern>SAY *</pattern><template><star/></template></category>"
FAILOVER_S = 30.0


@pytest.fixture(scope="module")
def cluster_stack(
    nats_cluster: ClusterBackends, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """A gateway and a dialog replica on the cluster."""
    running = Stack(nats_cluster.backends, tmp_path_factory.mktemp("cluster-logs")).start(dialogs=1)
    yield running
    running.stop()


async def _chat_stream(url: str) -> tuple[int, str]:
    """Replicas of the CHAT stream, and the server name of its leader."""
    nc = await nats.connect(servers_of(url))
    try:
        info = await nc.jetstream().stream_info(subjects.CHAT_STREAM)
    finally:
        await nc.close()
    assert info.cluster is not None and info.cluster.leader
    return info.config.num_replicas or 1, info.cluster.leader


def _answered(url: str, question: str, expected: str, within_s: float) -> float:
    """Ask on fresh sockets until the answer comes (a failover may cost a few attempts);
    the seconds it took."""
    started = time.monotonic()
    last: object = None
    while time.monotonic() - started < within_s:
        try:
            ws = connect(url)
            ws.settimeout(5)
            try:
                last = ask(ws, question)
            finally:
                ws.close()
            if last == expected:
                return time.monotonic() - started
        except (OSError, AssertionError, websocket.WebSocketException, ValueError) as err:
            last = err
    raise AssertionError(f"no answer to {question!r} within {within_s} s (last: {last!r})")


def test_streams_keep_three_replicas_and_survive_their_leader_being_killed(
    nats_cluster: ClusterBackends, cluster_stack: Stack, project: TestProject
) -> None:
    """CHAT has 3 replicas; a turn is answered; SIGKILL the node leading CHAT: turns are
    answered again within the failover window, and the restarted node rejoins."""
    replicas, leader = asyncio.run(_chat_stream(nats_cluster.backends.nats_url))
    assert replicas == 3
    url = cluster_stack.ws_url(project)
    ws = connect(url)
    save(ws, ECHO_AIML)
    assert ask(ws, "say before") == "before"
    ws.close()

    node = next(n for n in nats_cluster.cluster.nodes if n.server_name == leader)
    node.kill()
    took = _answered(url, "say after", "after", FAILOVER_S)
    print(f"answered {took:.1f} s after the CHAT leader {leader} was killed")
    _, new_leader = asyncio.run(_chat_stream(nats_cluster.backends.nats_url))
    assert new_leader != leader

    node.restart()
    asyncio.run(
        wait_until(
            lambda: _all_current(nats_cluster.backends.nats_url),
            within_s=FAILOVER_S,
            what="the restarted node caught up",
            every=0.2,
        )
    )
    assert _answered(url, "say again", "again", FAILOVER_S) >= 0


async def _all_current(url: str) -> bool:
    """True when CHAT has a leader and both followers are online and caught up."""
    nc = await nats.connect(servers_of(url))
    try:
        cluster = (await nc.jetstream().stream_info(subjects.CHAT_STREAM)).cluster
    finally:
        await nc.close()
    followers = (cluster.replicas or []) if cluster else []
    return bool(cluster and cluster.leader and len(followers) == 2) and all(
        f.current and not f.offline for f in followers
    )
