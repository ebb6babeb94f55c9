"""A 3-node NATS JetStream cluster: streams keep 3 replicas, and turns are still answered when
the node leading the CHAT stream is killed."""

import asyncio
import json
import os
import signal
import time
from collections.abc import Iterator

import nats
import psutil
import pytest
import websocket

from shared import subjects
from shared.broker import servers_of
from shared.devstack.embedded import EmbeddedNats
from tests.support.backends import ClusterBackends
from tests.support.plugin import Stack, TestProject
from tests.support.waits import wait_until

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

    _restart_and_catch_up(nats_cluster, node)
    assert _answered(url, "say again", "again", FAILOVER_S) >= 0


def _restart_and_catch_up(nats_cluster: ClusterBackends, node: EmbeddedNats) -> None:
    node.restart()
    asyncio.run(
        wait_until(
            lambda: _all_current(nats_cluster.backends.nats_url),
            within_s=FAILOVER_S,
            what="the restarted node caught up",
            every=0.2,
        )
    )


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


def _node_of(pid: int, nodes: list[EmbeddedNats]) -> EmbeddedNats:
    """The cluster node process `pid` has its NATS connection to."""
    ports = {c.raddr.port for c in psutil.Process(pid).net_connections("tcp") if c.raddr}
    [node] = [n for n in nodes if n.port in ports]
    return node


@pytest.mark.timeout(240)
def test_a_reply_published_while_the_gateway_reconnects_still_reaches_its_socket(
    nats_cluster: ClusterBackends, cluster_stack: Stack, project: TestProject
) -> None:
    """The node a gateway is connected to dies, and the dialog answers a waiting question
    before the gateway is connected again: the answer went out while no node knew the
    gateway's interest, so only the stream has it. Once reconnected, the gateway fetches it
    and the socket gets its answer, once.

    (Made certain by pausing the gateway with SIGSTOP across the node's death and the answer.)
    """
    url = cluster_stack.ws_url(project)
    ws = connect(url)
    ws.settimeout(FAILOVER_S)
    save(ws, ECHO_AIML)
    assert ask(ws, "say warm") == "warm"
    gateway, dialog = cluster_stack.gateway, cluster_stack.dialogs[0]
    assert gateway.process is not None
    dialog.stop()  # the question waits in the stream
    ws.send(json.dumps({"ask_bot": "say missed"}))
    time.sleep(1.0)  # the gateway published it
    node = _node_of(gateway.process.pid, nats_cluster.cluster.nodes)
    os.kill(gateway.process.pid, signal.SIGSTOP)
    try:
        node.kill()
        asyncio.run(  # a dialog replica starting during the election would give up and exit
            wait_until(
                lambda: _led(nats_cluster.backends.nats_url),
                within_s=2 * FAILOVER_S,  # 7 streams and 8 partition consumers elect anew
                what="every stream and the dialog's partition consumers led again",
                every=0.2,
            )
        )
        dialog.start()
        asyncio.run(
            wait_until(
                lambda: _answer_stored(nats_cluster.backends.nats_url, project),
                within_s=FAILOVER_S,
                what="the dialog answered while the gateway was away",
                every=0.2,
            )
        )
    finally:
        os.kill(gateway.process.pid, signal.SIGCONT)
    try:
        ws.settimeout(FAILOVER_S)
        frame = json.loads(ws.recv())
        assert frame["message"]["bot_response"] == "missed", frame
        ws.settimeout(2)
        with pytest.raises(websocket.WebSocketTimeoutException):
            print("a second frame:", ws.recv())  # the answer comes once
    finally:
        ws.close()
        _restart_and_catch_up(nats_cluster, node)


async def _led(url: str) -> bool:
    """True when every stream (the dialog's owner leases' KV bucket among them), and every
    consumer of CHAT (the dialog's partition consumers made so far), has a leader."""
    nc = await nats.connect(servers_of(url))
    try:
        js = nc.jetstream()
        streams = await js.streams_info()
        consumers = await js.consumers_info(subjects.CHAT_STREAM)
    except nats.errors.Error:
        return False
    finally:
        await nc.close()
    led = [s.cluster.leader if s.cluster else None for s in streams]
    return (
        bool(led)
        and all(led)
        and bool(consumers)
        and all(c.cluster and c.cluster.leader for c in consumers)
    )


async def _answer_stored(url: str, project: TestProject) -> bool:
    """True when the CHAT stream holds a reply of `project` saying "missed"."""
    nc = await nats.connect(servers_of(url))
    replies = subjects.chat_project_replies(project.key)
    try:
        msg = await nc.jetstream().get_last_msg(subjects.CHAT_STREAM, replies)
    except nats.errors.Error:
        return False  # none yet, or no stream leader yet
    finally:
        await nc.close()
    return b"missed" in (msg.data or b"")
